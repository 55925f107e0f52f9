"""Global shortcuts through the XDG desktop portal (org.freedesktop.portal.GlobalShortcuts).

On Wayland no program may listen to the keyboard; the desktop (GNOME 48+, KDE Plasma 5.27+,
Hyprland, ...) binds shortcuts for it instead and reports each press (Activated) and release
(Deactivated) over D-Bus. This is what makes hold-to-talk possible there.

The portal's protocol: CreateSession, then BindShortcuts with our shortcuts and the trigger we
would like; each call answers with a Request object whose Response signal carries the result
(subscribed to before the call, as the specification asks). The desktop may ask the person
and choose another trigger: the one it reports is what the settings show.

D-Bus through jeepney (pure Python, no Qt, no GLib): the core stays Qt-free.
"""

from __future__ import annotations

import logging
import queue
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from dictate.control.hotkeys import HotkeyError, HotkeyMode, PressLogic, parse_combo

log = logging.getLogger(__name__)

BUS_NAME = "org.freedesktop.portal.Desktop"
PATH = "/org/freedesktop/portal/desktop"
INTERFACE = "org.freedesktop.portal.GlobalShortcuts"
_REQUEST = "org.freedesktop.portal.Request"
_SESSION = "org.freedesktop.portal.Session"
_DBUS = "org.freedesktop.DBus"
TOGGLE_HINT = (
    "bind a desktop keyboard shortcut to the command `dictate toggle` "
    "(the README's desktop section shows how for GNOME, KDE, Sway and Hyprland)"
)

# pynput key names -> XKB keysym names, which the portal's triggers use ("CTRL+ALT+d").
_KEYSYMS = {
    "esc": "Escape", "space": "space", "enter": "Return", "tab": "Tab",
    "backspace": "BackSpace", "delete": "Delete", "insert": "Insert", "home": "Home",
    "end": "End", "page_up": "Prior", "page_down": "Next", "up": "Up", "down": "Down",
    "left": "Left", "right": "Right", "pause": "Pause", "print_screen": "Print",
    "menu": "Menu", "caps_lock": "Caps_Lock", "num_lock": "Num_Lock",
    "scroll_lock": "Scroll_Lock",
}  # fmt: skip
_MODIFIERS = {
    "ctrl": "CTRL", "ctrl_l": "CTRL", "ctrl_r": "CTRL", "alt": "ALT", "alt_l": "ALT",
    "alt_r": "ALT", "alt_gr": "ALT", "shift": "SHIFT", "shift_l": "SHIFT", "shift_r": "SHIFT",
    "cmd": "LOGO", "cmd_l": "LOGO", "cmd_r": "LOGO",
}  # fmt: skip


class PortalError(HotkeyError):
    """The desktop portal cannot give us global shortcuts (none, too old, refused)."""


def portal_trigger(combo: str) -> str:
    """`<ctrl>+<alt>+d` (the settings' syntax) as the portal's `CTRL+ALT+d`."""
    parts = []
    for key in parse_combo(combo):
        name = key.strip("<>") if len(key) > 1 else key
        if name in _MODIFIERS:
            parts.append(_MODIFIERS[name])
        elif name.startswith("f") and name[1:].isdigit():
            parts.append(name.upper())
        else:
            parts.append(_KEYSYMS.get(name, name))
    return "+".join(parts)


class PortalShortcuts:
    """Calls `on_start` / `on_stop` / `on_cancel` from the portal's shortcuts.

    Three shortcuts: "dictate" (the settings' hotkey and mode: hold, toggle or auto, decided by
    the same `PressLogic` as the X11 listener), "toggle" and "cancel" (no preferred trigger
    unless the cancel key is a combination: a bare Esc grabbed desktop-wide would break Esc
    everywhere). `bindings` maps each shortcut to the trigger the desktop chose.

    Callbacks run one at a time, in order, on a thread of ours. `on_lost` hears, once, that the
    portal went away; when it comes back the shortcuts are bound again and `on_bound` hears it.
    """

    grabs_keyboard = False  # the desktop holds the keys: nothing to let go of in the settings

    def __init__(
        self,
        combo: str,
        mode: HotkeyMode | str,
        on_start: Callable[[], Any],
        on_stop: Callable[[], Any],
        on_cancel: Callable[[], Any],
        *,
        cancel_key: str = "<esc>",
        is_recording: Callable[[], bool],
        on_lost: Callable[[str], Any] = lambda message: None,
        on_bound: Callable[[dict[str, str]], Any] = lambda bindings: None,
        bus: str = "SESSION",
        timeout_s: float = 30.0,
        hold_threshold_s: float = 0.4,
    ) -> None:
        self.trigger = portal_trigger(combo)
        cancel = parse_combo(cancel_key)
        self.cancel_trigger = portal_trigger(cancel_key) if len(cancel) > 1 else ""
        self.logic = PressLogic(mode, hold_threshold_s)
        self.mode = self.logic.mode
        self._on = {"start": on_start, "stop": on_stop, "cancel": on_cancel}
        self._is_recording = is_recording
        self._on_lost, self._on_bound = on_lost, on_bound
        self.bus, self.timeout_s = bus, timeout_s
        self.bindings: dict[str, str] = {}
        self.session: str | None = None
        self.version = 0
        self._events: queue.Queue[Any] = queue.Queue()
        self._conn: Any = None
        self._router: Any = None
        self._filters: list[Any] = []
        self._worker: threading.Thread | None = None
        self._lost = False

    # ---- life cycle --------------------------------------------------------------------

    def start(self) -> None:
        """Connect, check the interface, bind; raises PortalError saying why not."""
        try:
            from jeepney.io.threading import DBusRouter, open_dbus_connection
        except ImportError as e:  # pragma: no cover - a dependency on Linux
            raise PortalError(f"jeepney is not installed ({e}); {TOGGLE_HINT}") from None
        try:
            self._conn = open_dbus_connection(self.bus)
        except (OSError, KeyError, ValueError) as e:  # KeyError: no DBUS_SESSION_BUS_ADDRESS
            raise PortalError(f"no D-Bus session bus ({e or type(e).__name__})") from None
        self._router = DBusRouter(self._conn)
        try:
            self._watch()
            self._bind()
        except BaseException:
            self.stop()
            raise
        self._worker = threading.Thread(target=self._dispatch, name="dictate-portal", daemon=True)
        self._worker.start()

    def stop(self) -> None:
        if self._worker is not None:
            self._events.put(None)
            if self._worker is not threading.current_thread():
                self._worker.join(timeout=5)
            self._worker = None
        if self._router is not None:
            if self.session and not self._lost:
                from jeepney import DBusAddress, new_method_call

                close = new_method_call(DBusAddress(self.session, BUS_NAME, _SESSION), "Close")
                try:
                    self._router.send_and_get_reply(close, timeout=2)
                except Exception as e:  # the portal may be gone already
                    log.debug("closing the portal session: %s", e)
            for handle in self._filters:
                handle.close()
            self._filters.clear()
            self._router.close()
            self._router = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self.session = None

    def __enter__(self) -> PortalShortcuts:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def describe(self) -> str:
        """One line for the settings and the start-up message."""
        if self._lost:
            return f"desktop portal gone; {TOGGLE_HINT}"
        chosen = self.bindings.get("dictate") or "not bound yet (the desktop's settings)"
        return f"desktop portal: {chosen} ({self.mode.value})"

    # ---- D-Bus ---------------------------------------------------------------------------

    def _call(self, path: str, interface: str, method: str, sig: str, body: tuple) -> tuple:
        from jeepney import DBusAddress, new_method_call
        from jeepney.wrappers import DBusErrorResponse, unwrap_msg

        msg = new_method_call(DBusAddress(path, BUS_NAME, interface), method, sig, body)
        try:
            reply = self._router.send_and_get_reply(msg, timeout=self.timeout_s)
            return unwrap_msg(reply)
        except DBusErrorResponse as e:
            raise PortalError(f"the desktop portal refused {method}: {e}") from None
        except TimeoutError:
            raise PortalError(f"the desktop portal did not answer {method}") from None

    def _subscribe(self, **rule: Any) -> Any:
        """Match rule on the bus and in the router; returns the router's filter handle."""
        from jeepney import MatchRule, message_bus

        match = MatchRule(type="signal", **rule)
        self._router.send_and_get_reply(message_bus.AddMatch(match), timeout=self.timeout_s)
        handle = self._router.filter(match, queue=self._events)
        self._filters.append(handle)
        return handle

    def _watch(self) -> None:
        """Signals we follow for the whole run: the shortcuts, and the portal's presence."""
        owner = self._owner()
        if owner is None:
            raise PortalError(f"no desktop portal is running ({BUS_NAME} is not on the bus)")
        try:
            version = self._call(PATH, "org.freedesktop.DBus.Properties", "Get", "ss",
                                 (INTERFACE, "version"))  # fmt: skip
        except PortalError as e:
            raise PortalError(f"the desktop portal has no global shortcuts ({e})") from None
        self.version = int(version[0][1])
        self._subscribe(interface=INTERFACE, path=PATH)
        self._subscribe(sender=_DBUS, interface=_DBUS, member="NameOwnerChanged", path=
                        "/org/freedesktop/DBus")  # fmt: skip

    def _owner(self) -> str | None:
        from jeepney import message_bus
        from jeepney.wrappers import unwrap_msg

        reply = self._router.send_and_get_reply(
            message_bus.NameHasOwner(BUS_NAME), timeout=self.timeout_s
        )
        return BUS_NAME if unwrap_msg(reply)[0] else None

    def _request(self, method: str, sig: str, body: tuple, options: dict) -> dict:
        """Call a portal method that answers through a Request object; its results."""
        from jeepney import MatchRule, message_bus

        token = "dictate_" + secrets.token_hex(6)
        sender = self._router.unique_name.lstrip(":").replace(".", "_")
        path = f"{PATH}/request/{sender}/{token}"
        rule = MatchRule(type="signal", interface=_REQUEST, member="Response", path=path)
        self._router.send_and_get_reply(message_bus.AddMatch(rule), timeout=self.timeout_s)
        try:
            with self._router.filter(rule) as responses:
                options = {**options, "handle_token": ("s", token)}
                self._call(PATH, INTERFACE, method, sig, (*body, options))
                try:
                    # The desktop may ask the person first: wait as long as a person might.
                    code, results = responses.get(timeout=self.timeout_s).body
                except queue.Empty:
                    raise PortalError(f"the desktop portal never answered {method}") from None
        finally:
            self._router.send(message_bus.RemoveMatch(rule))
        if code != 0:
            why = "cancelled by the user" if code == 1 else "refused"
            raise PortalError(f"the desktop portal's {method} was {why}")
        return {key: value for key, (_, value) in results.items()}

    def _bind(self) -> None:
        token = "dictate_" + secrets.token_hex(6)
        created = self._request("CreateSession", "a{sv}", (),
                                {"session_handle_token": ("s", token)})  # fmt: skip
        self.session = str(created["session_handle"])  # 's' in the spec; 'o' in some portals
        self._subscribe(interface=_SESSION, member="Closed", path=self.session)
        hold = {HotkeyMode.HOLD: "hold to talk", HotkeyMode.TOGGLE: "press to start and stop"}
        shortcuts = [
            ("dictate", self._options(f"Dictate ({hold.get(self.mode, 'tap or hold')})",
                                      self.trigger)),
            ("toggle", self._options("Start or stop dictating", "")),
            ("cancel", self._options("Cancel the dictation", self.cancel_trigger)),
        ]  # fmt: skip
        bound = self._request(
            "BindShortcuts", "oa(sa{sv})sa{sv}", (self.session, shortcuts, ""), {}
        ).get("shortcuts", [])
        self._set_bindings(bound)
        self._lost = False
        self._on_bound(dict(self.bindings))

    @staticmethod
    def _options(description: str, trigger: str) -> dict[str, tuple[str, str]]:
        options = {"description": ("s", description)}
        if trigger:
            options["preferred_trigger"] = ("s", trigger)
        return options

    def _set_bindings(self, shortcuts: list) -> None:
        self.bindings = {
            name: str(opts.get("trigger_description", ("s", ""))[1]) for name, opts in shortcuts
        }

    # ---- events ----------------------------------------------------------------------------

    def _dispatch(self) -> None:
        while (msg := self._events.get()) is not None:
            try:
                self._handle(msg)
            except Exception:
                log.exception("portal event handling failed")

    def _handle(self, msg: Any) -> None:
        from jeepney.low_level import HeaderFields

        member = msg.header.fields.get(HeaderFields.member)
        body = msg.body
        if member == "NameOwnerChanged":
            name, _old, new = body
            if name != BUS_NAME:
                return
            if not new and not self._lost:
                self._gone("the desktop portal went away")
            elif new and self._lost:
                self._rebind()
            return
        if member == "Closed" and not self._lost:
            self._gone("the desktop closed the shortcut session")
            return
        if not body or str(body[0]) != self.session:
            return  # another app's session
        if member == "ShortcutsChanged":
            self._set_bindings(body[1])
            self._on_bound(dict(self.bindings))
        elif member in ("Activated", "Deactivated"):
            self._shortcut(str(body[1]), member == "Activated")

    def _shortcut(self, name: str, pressed: bool) -> None:
        now, recording = time.monotonic(), bool(self._is_recording())
        if name == "dictate":
            logic = self.logic
            action = logic.press(now, recording) if pressed else logic.release(now, recording)
        elif name == "toggle" and pressed:
            action = "stop" if recording else "start"
        elif name == "cancel" and pressed and recording:
            action = "cancel"
            self.logic.reset()
        else:
            action = None
        if action is not None:
            self._on[action]()

    def _gone(self, why: str) -> None:
        self._lost = True
        self.session, self.bindings = None, {}
        if self.logic.held and self._is_recording():
            self._on["stop"]()  # a hold whose release will never come: end it, keep the speech
        self.logic = PressLogic(self.mode, self.logic.hold_threshold_s)
        self._on_lost(f"{why}: the global shortcut no longer works; {TOGGLE_HINT}")

    def _rebind(self) -> None:
        try:
            self._bind()
        except PortalError as e:
            self._on_lost(f"the desktop portal came back but would not bind: {e}")
