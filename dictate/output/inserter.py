"""Put dictated text into whatever window has the keyboard focus.

Methods: "paste" (clipboard + the paste keys, then the old clipboard put back), "type" (pynput),
"xdotool", "wtype", "ydotool" (typing through those tools). `choose_method` picks one per
desktop session; a setting can name one instead. Whatever goes wrong, the text ends up on the
clipboard and the result says why it was not inserted: a dictation is never lost.

X11 default, "paste": its cost does not grow with the text (~50 ms to text-in-window for 13 or
1000 characters, against ~7 ms a character for `xdotool type` at its default delay), it is
Unicode-safe, lands as one edit (no interleaving with keys the user presses meanwhile, no
per-keystroke auto-completion), and it is the one method that can be confirmed: xclip's log
shows the window fetching the text. Typing stays available for apps where ctrl+v is not paste.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from dictate import choices
from dictate.errors import DictateError
from dictate.output.clipboard import (
    TEXT_TARGETS,
    Clipboard,
    ClipboardError,
    Owner,
    ProcessOwner,
    Snapshot,
    run_tool,
    session_kind,
    system_clipboard,
)
from dictate.output.typing import (
    InputError,
    KeySender,
    PynputSender,
    WtypeSender,
    XdotoolSender,
    YdotoolSender,
)

log = logging.getLogger(__name__)

METHODS = tuple(m for m in choices.values(choices.INSERT_METHODS) if m != "auto")
_TOOLS = ("xdotool", "xprop", "xclip", "xsel", "wtype", "ydotool", "wl-copy", "wl-paste")

# WM_CLASS names (instance or class, lower case) of terminal emulators: they paste on
# ctrl+shift+v, since ctrl+v is a control character for the program inside.
_TERMINAL_NAMES = """xterm uxterm urxvt rxvt urxvt-unicode rxvt-unicode gnome-terminal
    gnome-terminal-server org.gnome.terminal kgx org.gnome.console konsole org.kde.konsole kitty
    alacritty org.wezfurlong.wezterm wezterm terminator tilix com.gexperts.tilix xfce4-terminal
    foot footclient st st-256color lxterminal mate-terminal terminology qterminal sakura guake
    tilda termite cool-retro-term yakuake deepin-terminal io.elementary.terminal ghostty
    com.mitchellh.ghostty ptyxis org.gnome.ptyxis contour blackbox"""
TERMINALS = frozenset(_TERMINAL_NAMES.split())
# These bind no key to the CLIPBOARD by default; shift+Insert pastes the PRIMARY selection.
PRIMARY_PASTERS = TERMINALS & {"xterm", "uxterm", "urxvt", "rxvt", "urxvt-unicode", "rxvt-unicode"}


@dataclass(frozen=True)
class InsertResult:
    ok: bool
    method: str
    error: str | None
    ms: float  # time until the text was in the window (the clipboard restore runs afterwards)


@dataclass(frozen=True)
class WindowInfo:
    """An X11 top-level window. Equal when id and class match: titles change as you type."""

    id: int
    wm_class: tuple[str, ...]  # (instance, class), as in WM_CLASS
    title: str = field(default="", compare=False)

    @property
    def is_terminal(self) -> bool:
        return any(name.lower() in TERMINALS for name in self.wm_class)


@dataclass(frozen=True)
class DesktopSession:
    """The kind of desktop we run in and the helper programs found on PATH (absolute paths)."""

    kind: str  # x11 | wayland | macos | windows | none
    tools: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def detect(
        cls,
        env: Mapping[str, str] | None = None,
        platform: str | None = None,
        path: str | None = None,
    ) -> DesktopSession:
        found = {t: p for t in _TOOLS if (p := shutil.which(t, path=path))}
        return cls(session_kind(env, platform), found)

    def has(self, tool: str) -> bool:
        return tool in self.tools


def choose_method(session: DesktopSession) -> str:
    """The method for this session when the setting says "auto" (see the module docstring)."""
    if session.kind == "x11":
        if session.has("xclip") or session.has("xsel"):
            return "paste"
        return "xdotool" if session.has("xdotool") else "type"
    if session.kind == "wayland":
        return wayland_routes(session, "x")[0]
    return "paste"  # macOS, Windows (pynput sends cmd/ctrl+v); "none" fails with a message


def wayland_routes(session: DesktopSession, text: str) -> list[str]:
    """The methods "auto" tries on Wayland for `text`, best first; the next one is tried when
    a tool fails (a compositor without the virtual-keyboard protocol, no seat, no daemon).

    Paste comes first, whatever the length: it is the one route that is confirmed. wtype
    typing is not: with no window to type into it exits 0 having done nothing (seen in sway).
    wtype and the clipboard both keep every character on any layout (wtype uploads a keymap
    holding the text's own characters); ydotool sends US key codes, so it only presses the
    paste keys (shift+Insert is the same key on every layout) or types ASCII as a last resort.
    """
    clipboard = session.has("wl-copy") and session.has("wl-paste")
    keys = session.has("wtype") or session.has("ydotool")
    routes = []
    if clipboard and keys:
        routes.append("paste")
    if session.has("wtype"):
        routes.append("wtype")
    if session.has("ydotool") and not clipboard and text.isascii():
        routes.append("ydotool")
    return routes or ["paste"]  # fails, saying what to install; the text stays in history


def describe_route(session: DesktopSession) -> str:
    """One line for the settings: how "auto" inserts text here, and why."""
    kind, has = session.kind, session.has
    if kind == "x11":
        if has("xclip") or has("xsel"):
            return "X11: clipboard paste (exact on any keyboard layout; confirmed by xclip)"
        if has("xdotool"):
            return "X11: typing with xdotool (no xclip/xsel for the clipboard)"
        return "X11: typing with pynput, ASCII only (install xclip and xdotool)"
    if kind == "wayland":
        sender = next((m for m in ("wtype", "ydotool") if has(m)), None)
        if has("wl-copy") and has("wl-paste") and sender:
            return (
                f"Wayland: clipboard (wl-copy) + Shift+Insert sent by {sender}, the paste "
                "confirmed and the old clipboard put back"
            )
        if has("wtype"):
            return "Wayland: typing with wtype, not confirmed (install wl-clipboard: a paste is)"
        if has("ydotool"):
            return "Wayland: typing with ydotool, ASCII on a US layout only (install wl-clipboard)"
        return (
            "Wayland: nothing can send keys here (install wtype on Sway/Hyprland, or ydotool): "
            "the text is left on the clipboard and in the history"
        )
    if kind == "none":
        return "no graphical session: the text stays in the history"
    return f"{kind}: clipboard paste"


def paste_keys(session: DesktopSession, window: WindowInfo | None) -> str:
    """The key combination that pastes the clipboard (PRIMARY for xterm-likes) into `window`."""
    if session.kind == "macos":
        return "cmd+v"
    if session.kind == "wayland":
        # The focused window is unknown on Wayland. shift+Insert pastes in GTK, Qt, browsers
        # and terminals alike (these paste PRIMARY: both selections get the text) and, unlike
        # ctrl+v, is one key on every layout (ydotool sends key codes, not characters).
        return "shift+Insert"
    if window is not None and window.is_terminal:
        if any(name.lower() in PRIMARY_PASTERS for name in window.wm_class):
            return "shift+Insert"
        return "ctrl+shift+v"
    return "ctrl+v"


_ID = re.compile(r"(0x[0-9a-fA-F]+|\d+)")
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


@functools.lru_cache(maxsize=8)
def _root_window(xdotool: str, display: str) -> int | None:
    proc = run_tool([xdotool, "search", "--maxdepth", "0", ""], timeout=1.0, error=InputError)
    m = _ID.search(proc.stdout.decode())
    return int(m.group(1), 0) if proc.returncode == 0 and m else None


def _root_id(xdotool: str | None) -> int | None:
    """The root window's id (cached per display): focus there means no window has it."""
    return _root_window(xdotool, os.environ.get("DISPLAY", "")) if xdotool else None


def _x11_focus(session: DesktopSession, details: bool = True) -> tuple[bool, WindowInfo | None]:
    """(known, window): known is False when no tool can tell; window None when nothing has focus."""
    wid = None
    if xdotool := session.tools.get("xdotool"):
        # getwindowfocus reports the focused window (or its ancestor with a WM_CLASS), which is
        # where keys go; getactivewindow covers window managers that focus a frame window.
        for cmd in ("getwindowfocus", "getactivewindow"):
            proc = run_tool([xdotool, cmd], timeout=1.0, error=InputError)
            if proc.returncode == 0 and (m := _ID.search(proc.stdout.decode())):
                wid = int(m.group(1), 0)
                break
    elif xprop := session.tools.get("xprop"):
        proc = run_tool([xprop, "-root", "_NET_ACTIVE_WINDOW"], timeout=1.0, error=InputError)
        m = re.search(r"# (0x[0-9a-f]+)", proc.stdout.decode())
        wid = int(m.group(1), 16) if m else None
    else:
        return False, None
    # None, PointerRoot (no window manager, nothing focused) or the root window itself.
    if not wid or wid == 1 or wid == _root_id(session.tools.get("xdotool")):
        return True, None
    if "xprop" in session.tools and wid == _wm_check_id(session.tools["xprop"]):
        return True, None  # a window manager holds the focus itself when no window has it
    if not details or "xprop" not in session.tools:
        return True, WindowInfo(wid, ())
    proc = run_tool(
        [session.tools["xprop"], "-id", str(wid), "WM_CLASS", "_NET_WM_NAME", "WM_NAME"],
        timeout=1.0,
        error=InputError,
    )
    props: dict[str, list[str]] = {}
    for line in proc.stdout.decode(errors="replace").splitlines():
        name = line.split("(", 1)[0].split(":", 1)[0].strip()
        values = [re.sub(r"\\(.)", r"\1", v) for v in _QUOTED.findall(line)]
        props.setdefault(name, values)
    title = (props.get("_NET_WM_NAME") or props.get("WM_NAME") or [""])[0]
    return True, WindowInfo(wid, tuple(props.get("WM_CLASS", ())), title)


_wm_windows: dict[str, int] = {}  # $DISPLAY → its window manager's own window


def _wm_check_id(xprop: str) -> int | None:
    """The window manager's own window (_NET_SUPPORTING_WM_CHECK): openbox focuses it when
    nothing else has the focus. Asked once per display (it lives as long as the manager)."""
    display = os.environ.get("DISPLAY", "")
    if display not in _wm_windows:
        proc = run_tool([xprop, "-root", "_NET_SUPPORTING_WM_CHECK"], timeout=1.0, error=InputError)
        m = re.search(r"# (0x[0-9a-f]+)", proc.stdout.decode())
        if m is None:
            return None
        _wm_windows[display] = int(m.group(1), 16)
    return _wm_windows[display]


def focused_window(session: DesktopSession | None = None) -> WindowInfo | None:
    """The X11 window with the keyboard focus; None elsewhere, when unknown or on error."""
    session = session or DesktopSession.detect()
    if session.kind != "x11":
        return None
    try:
        return _x11_focus(session)[1]
    except DictateError as e:
        log.debug("focused window unknown: %s", e)
        return None


class _Restore:
    """Put the old clipboard back at a deadline, on a timer thread or when `finish` is called.

    The timer is not a daemon: a process that exits within the delay still restores first.
    """

    def __init__(self, action: Callable[[], None], at: float) -> None:
        self._action, self._at = action, at
        self._lock = threading.Lock()
        self._done = False
        self._timer = threading.Timer(max(0.0, at - time.monotonic()), self._fire)
        self._timer.name = "dictate-clipboard-restore"
        self._timer.start()

    def _fire(self) -> None:
        # The action runs under the lock: `finish` must return only once the restore is done,
        # even when the timer thread got there first.
        with self._lock:
            if self._done:
                return
            self._done = True
            try:
                self._action()
            except DictateError as e:
                log.warning("could not restore the clipboard: %s", e)

    def finish(self) -> None:
        time.sleep(max(0.0, self._at - time.monotonic()))
        self._timer.cancel()
        self._fire()


def is_own(window: WindowInfo | None) -> bool:
    """Whether `window` is one of dictate's own (its main window, settings or history)."""
    return window is not None and any(n.lower() == "dictate" for n in window.wm_class)


def not_taken(window: WindowInfo | None, keys: str, timeout_s: float) -> str:
    """Why a paste went nowhere, in words: which window had the focus, by its application."""
    if is_own(window):
        return (
            "dictate's own window had the focus, not the window you were typing in, so the "
            f"paste ({keys}) went nowhere"
        )
    app = f" ({window.wm_class[-1]})" if window and window.wm_class else ""
    return f"the window in front{app} did not take the text within {timeout_s:g} s of {keys}"


class PasteNotTaken(InputError):
    """The paste keys were sent but no window fetched the text: trying another route could
    insert it twice, so none is tried."""


class Inserter:
    """Inserts text into the focused window with one method ("auto": `choose_method`).

    restore_delay_s: after the paste keys, how long the target has to read the clipboard before
    the old content goes back (0 ms pasted the old text in tests, 20 ms was enough; busy apps
    need more). confirm_timeout_s: how long to wait for the window to fetch the text (xclip).
    """

    def __init__(
        self,
        method: str = "auto",
        *,
        session: DesktopSession | None = None,
        restore_delay_s: float = 0.25,
        confirm_timeout_s: float = 1.0,
        type_delay_ms: int = 12,
        check_focus: bool = True,
    ) -> None:
        if method != "auto" and method not in METHODS:
            raise ValueError(f"unknown insert method {method!r}; use auto or one of {METHODS}")
        self.session = session or DesktopSession.detect()
        self.method = method
        self.restore_delay_s = max(0.2, restore_delay_s)  # below 0.2 s slow apps paste old text
        self.confirm_timeout_s = confirm_timeout_s
        self.type_delay_ms = type_delay_ms
        self.check_focus = check_focus
        self._lock = threading.Lock()
        self._pending: _Restore | None = None
        self._clipboards: dict[str, Clipboard] = {}

    # ---- public ---------------------------------------------------------------------

    def insert(self, text: str) -> InsertResult:
        """Insert `text`; on failure it is left on the clipboard and `error` says why."""
        start = time.perf_counter()
        with self._lock:
            self.flush()  # a previous paste's restore must not land in the middle of this one
            method = self.method if self.method != "auto" else choose_method(self.session)
            try:
                if text and self.method == "auto" and self.session.kind == "wayland":
                    method = self._insert_wayland(text)
                elif text:
                    method = self._insert(method, text)
                error = None
            except DictateError as e:
                error = self._keep_on_clipboard(text, str(e))
        return InsertResult(error is None, method, error, (time.perf_counter() - start) * 1000)

    def flush(self) -> None:
        """Wait for a pending clipboard restore (call before exit or before reading it)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.finish()

    close = flush

    def route(self) -> str:
        """How text is inserted now, and why (for the settings and the start-up message)."""
        if self.method != "auto":
            return f"{self.method} (chosen in the settings)"
        return describe_route(self.session)

    # ---- methods --------------------------------------------------------------------

    def _insert_wayland(self, text: str) -> str:
        """Try `wayland_routes` in turn until one inserts the text; the method used."""
        failures = []
        for method in wayland_routes(self.session, text):
            try:
                return self._insert(method, text)
            except PasteNotTaken:
                raise
            except DictateError as e:
                log.info("insertion by %s failed, trying the next route: %s", method, e)
                failures.append(f"{method}: {e}")
        raise InputError("no way of inserting text worked here (" + "; ".join(failures) + ")")

    def _insert(self, method: str, text: str) -> str:
        """Insert with `method` (or the method that can do this text); returns the one used."""
        kind = self.session.kind
        if kind == "none":
            raise InputError("no graphical session (neither DISPLAY nor WAYLAND_DISPLAY is set)")
        window = None
        if kind == "x11" and (self.check_focus or method == "paste"):
            known, window = _x11_focus(self.session, details=method == "paste")
            if known and window is None and self.check_focus:
                raise InputError("no window has the keyboard focus")
        if method in ("type", "xdotool") and kind == "x11" and not text.isascii():
            # Neither types it exactly. pynput garbles characters missing from the keymap;
            # xdotool maps each one onto a spare key code and maps it back right after the
            # key; a window that reads the keymap late lost or changed a character in 9 of
            # 24 runs (Qt; us, de, fr and dvorak alike). Paste keeps every character.
            if self.session.has("xclip") or self.session.has("xsel"):
                method = "paste"
            elif method == "type" and not self.session.has("xdotool"):
                raise InputError(
                    "pynput cannot type non-ASCII text reliably (install xclip, or xdotool)"
                )
            else:
                log.warning("typing non-ASCII text with xdotool: install xclip to paste it")
                method = "xdotool"
        if method == "ydotool" and not text.isascii():
            method = "paste"  # ydotool types US keycodes only; it can still press ctrl+v
        if method == "paste":
            self._paste(text, window)
        else:
            self._sender(method).type_text(text)
        return method

    def _sender(self, method: str) -> KeySender:
        tools = self.session.tools
        if method == "type":
            return PynputSender()
        if method not in tools:
            raise InputError(f"{method} is not installed")
        if method == "xdotool":
            return XdotoolSender(tools[method], delay_ms=self.type_delay_ms)
        return WtypeSender(tools[method]) if method == "wtype" else YdotoolSender(tools[method])

    def _key_senders(self) -> list[KeySender]:
        """Who can press the paste keys here, best first; none on Wayland without wtype or
        ydotool."""
        kind, has = self.session.kind, self.session.has
        if kind == "x11":
            return [self._sender("xdotool") if has("xdotool") else PynputSender()]
        if kind == "wayland":
            return [self._sender(m) for m in ("wtype", "ydotool") if has(m)]
        return [PynputSender()]

    def _clipboard(self, selection: str = "clipboard") -> Clipboard:
        if selection not in self._clipboards:
            which: Callable[[str], str | None] = self.session.tools.get
            self._clipboards[selection] = system_clipboard(self.session.kind, which, selection)
        return self._clipboards[selection]

    def _paste(self, text: str, window: WindowInfo | None) -> None:
        keys = paste_keys(self.session, window)
        wayland = self.session.kind == "wayland"
        senders = self._key_senders()
        if not senders:
            raise InputError(
                "cannot send keys on this Wayland desktop: install wtype (wlroots "
                "compositors) or ydotool, or paste with ctrl+v"
            )
        boards = [self._clipboard()]
        if keys == "shift+Insert":  # xterm-likes paste PRIMARY: offer the text there too
            boards.append(self._clipboard("primary"))
        saved = [_snapshot(b) for b in boards]
        owners = [b.set_text(text) for b in boards]
        before = [o.requests() if o else 0 for o in owners]
        if wayland and any(o is not None and o.requests() > b for o, b in zip(owners, before)):
            log.info("a clipboard manager took the text before the paste keys")
        for n, sender in enumerate(senders):
            try:
                sender.send_keys(keys)
                break
            except InputError:
                if n == len(senders) - 1:
                    raise
        pressed = time.monotonic()
        if any(owners) and not _wait_any(owners, before, self.confirm_timeout_s):
            raise PasteNotTaken(not_taken(window, keys, self.confirm_timeout_s))

        def restore() -> None:
            for board, owner, snap in zip(boards, owners, saved):
                # Put the old content back only while the clipboard still holds our text:
                # if the user copied something meanwhile, theirs wins.
                if wayland:
                    # wl-copy --paste-once leaves the selection empty once pasted; an owner
                    # still there (the selection that was not pasted) is ours to replace.
                    # Asking an owner still there would use up its one paste: not asked.
                    alive = owner is not None and owner.alive()
                    mine = alive or board.get_text() is None
                    if mine and snap is None:
                        board.clear()
                else:
                    # xclip exits a few ms after losing the selection: ask the clipboard too.
                    mine = (owner is None or owner.alive()) and board.get_text() == text
                if snap is not None and mine:
                    board.restore(snap)

        self._pending = _Restore(restore, pressed + self.restore_delay_s)

    def _keep_on_clipboard(self, text: str, error: str) -> str:
        """Make sure a text that was not inserted is on the clipboard; the error to report."""
        if not text:
            return error
        try:
            board = self._clipboard()
            if self.session.kind == "wayland":
                # A lasting owner: the one-paste owner from the attempt may be used up, and
                # asking it would use it up.
                board.restore(Snapshot(TEXT_TARGETS[0], text.encode("utf-8")))
            elif board.get_text() != text:
                board.set_text(text)
        except DictateError as e:
            return f"{error}; it could not be put on the clipboard either: {e}"
        return f"{error}; the text is on the clipboard"


def _snapshot(board: Clipboard) -> Snapshot | None:
    try:
        return board.snapshot()
    except ClipboardError as e:  # an owner that does not answer: paste anyway, restore nothing
        log.warning("could not save the clipboard (it will not be restored): %s", e)
        return None


def _wait_any(
    owners: Sequence[Owner | ProcessOwner | None], before: list[int], timeout: float
) -> bool:
    """True once any owner has served a request beyond its count in `before`."""
    deadline = time.monotonic() + timeout
    while True:
        if any(o is not None and o.requests() > b for o, b in zip(owners, before)):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
