"""Global hotkeys: what pressing and releasing the dictation key combination means.

`PressLogic` is the pure decision (hold / toggle / auto); `HotkeyListener` feeds it from pynput on
X11. pynput is imported lazily: without an X display it raises ImportError at import time, and
the rest of the app (tray, IPC, CLI) must still run; on Wayland the user binds a desktop
shortcut to `dictate toggle` instead.

Privacy: the listener sees every key the user types. It keeps only whether each key of the
combination is currently down; it never logs, stores or forwards any other keystroke.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from enum import Enum
from typing import Any

from dictate.errors import DictateError

__all__ = ["HotkeyError", "HotkeyListener", "HotkeyMode", "PressLogic", "parse_combo"]

log = logging.getLogger(__name__)

_WAYLAND_HINT = (
    "on Wayland, or without X, bind a desktop keyboard shortcut to the command `dictate toggle`"
)
_READY_TIMEOUT_S = 5.0
# pynput's key names (pynput.keyboard.Key), so a combo can be checked without importing pynput.
_PYNPUT_KEYS = """alt alt_l alt_r alt_gr backspace caps_lock cmd cmd_l cmd_r ctrl ctrl_l ctrl_r
delete down end enter esc home left page_down page_up right shift shift_l shift_r space tab up
insert menu num_lock pause print_screen scroll_lock media_play_pause media_volume_mute
media_volume_down media_volume_up media_previous media_next"""
_KEY_NAMES = frozenset(_PYNPUT_KEYS.split()) | {f"f{i}" for i in range(1, 21)}


class HotkeyError(DictateError):
    """The hotkey cannot be used: bad combination syntax, or no X display to listen on."""


class HotkeyMode(str, Enum):
    HOLD = "hold"  # press starts, release stops (push-to-talk)
    TOGGLE = "toggle"  # each press starts or stops
    AUTO = "auto"  # a tap toggles; a hold is push-to-talk


def parse_combo(combo: str) -> list[str]:
    """Check a combination like ``<ctrl>+<alt>+d`` (pynput's syntax) and normalise it to its
    lower-case parts; raises HotkeyError with a message that says what is wrong."""

    def bad(why: str) -> HotkeyError:
        return HotkeyError(f"invalid hotkey {combo!r}: {why} (write it like <ctrl>+<alt>+d)")

    text = combo.strip()
    if not text:
        raise bad("it is empty")
    parts, begin = [], 0
    for i, c in enumerate(text):  # split as pynput does: a "+" that begins a part is the key
        if c == "+" and i != begin:
            parts.append(text[begin:i])
            begin = i + 1
    if begin == len(text):
        raise bad("it ends with '+'")
    parts.append(text[begin:])
    keys = []
    for raw in parts:
        part = raw.strip().lower()
        if len(part) == 1:
            keys.append(part)
        elif part.startswith("<") and part.endswith(">") and len(part) > 2:
            name = part[1:-1]
            if name not in _KEY_NAMES and not name.isdigit():
                raise bad(f"unknown key <{name}>")
            keys.append(part)
        elif part.strip("<>") in _KEY_NAMES:
            raise bad(f"key names go in angle brackets: <{part.strip('<>')}>, not {raw!r}")
        else:
            raise bad(f"{raw!r} is not a key")
    if len(set(keys)) != len(keys):
        raise bad("a key appears twice")
    return keys


class PressLogic:
    """Pure: turns presses and releases of the combination into "start" / "stop" / None.

    ``recording`` is the app's state when the event is handled. A press while the combo is
    already down (key auto-repeat) is ignored.
    """

    def __init__(self, mode: HotkeyMode | str, hold_threshold_s: float = 0.4) -> None:
        self.mode = HotkeyMode(mode)
        self.hold_threshold_s = hold_threshold_s
        self._down_at: float | None = None
        self._started = False  # the current press started the recording

    def press(self, now: float, recording: bool) -> str | None:
        if self._down_at is not None:
            return None
        self._down_at, self._started = now, False
        if recording:
            # In hold mode a press during a recording begun elsewhere (IPC) changes nothing:
            # its release will stop it.
            return None if self.mode is HotkeyMode.HOLD else "stop"
        self._started = True
        return "start"

    def release(self, now: float, recording: bool) -> str | None:
        if self._down_at is None:  # e.g. the combo was already down when the listener started
            return None
        held, started = now - self._down_at, self._started
        self._down_at, self._started = None, False
        if not recording:
            return None
        if self.mode is HotkeyMode.HOLD:
            return "stop"
        if self.mode is HotkeyMode.AUTO and started and held >= self.hold_threshold_s:
            return "stop"  # held long enough: push-to-talk; a shorter tap leaves it running
        return None

    @property
    def held(self) -> bool:
        """The combination is down (its release has not come yet)."""
        return self._down_at is not None

    def reset(self) -> None:
        """Forget the current press's recording (after a cancel); the key may still be down."""
        self._started = False


class HotkeyListener:
    """Calls ``on_start`` / ``on_stop`` / ``on_cancel`` for a global key combination.

    Like pynput's GlobalHotKeys, but it also sees the combination's release (hold mode needs
    it). The cancel key acts only while ``is_recording()``. Callbacks run one at a time, in
    order, on a thread of their own, so a slow start (the microphone opening) never stalls
    pynput's listener and the state each decision reads is up to date.
    """

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
        hold_threshold_s: float = 0.4,
    ) -> None:
        self.combo = "+".join(parse_combo(combo))
        self.cancel_combo = "+".join(parse_combo(cancel_key))
        if "+" in self.cancel_combo:
            raise HotkeyError(f"the cancel key must be a single key, not {cancel_key!r}")
        self.logic = PressLogic(mode, hold_threshold_s)
        self._actions = {"start": on_start, "stop": on_stop, "cancel": on_cancel}
        self._is_recording = is_recording
        self._events: queue.SimpleQueue[tuple[str, float] | None] = queue.SimpleQueue()
        self._listener: Any = None
        self._worker: threading.Thread | None = None
        self._canon: Callable[[Any], Any] = lambda key: key
        self._keys: frozenset[Any] = frozenset()
        self._cancel: Any = None
        self._down: set[Any] = set()  # which of the combination's keys are down: nothing else
        self._active = False

    def start(self) -> None:
        """Start listening; raises HotkeyError when there is no X display to listen on."""
        if self._listener is not None:
            return
        keyboard = _pynput_keyboard()
        if keyboard.Listener.__module__.endswith("_xorg") and not os.environ.get("DISPLAY"):
            # pynput was imported while there was a display (or DISPLAY was emptied since): its
            # thread would die on connecting, with an error nobody catches. Say it here.
            raise HotkeyError(
                f"global hotkeys need an X11 display (DISPLAY is empty); {_WAYLAND_HINT}"
            )
        self._events = queue.SimpleQueue()  # fresh: no stale end marker from an earlier stop()
        try:
            listener = keyboard.Listener(on_press=self._on_press, on_release=self._on_release)
            self._canon = listener.canonical  # left/right ctrl alike, "D" as "d", ...
            self._keys = frozenset(map(self._canon, keyboard.HotKey.parse(self.combo)))
            self._cancel = self._canon(keyboard.HotKey.parse(self.cancel_combo)[0])
            listener.start()
        except ValueError as exc:  # e.g. PYNPUT_BACKEND=dummy, or a key this platform lacks
            raise HotkeyError(f"global hotkeys are unavailable ({exc}); {_WAYLAND_HINT}") from None
        self._wait_ready(listener)
        self._listener = listener
        self._worker = threading.Thread(target=self._dispatch, name="dictate-hotkeys", daemon=True)
        self._worker.start()

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            # Not joined: on X its thread only ends at the next input event (RECORD delivers
            # the end of the context with it); it is a daemon and calls nothing after stop().
            listener.stop()
        if self._worker is not None:
            self._events.put(None)  # the dispatcher ends after the events before it
            if self._worker is not threading.current_thread():
                self._worker.join(timeout=5)
        self._worker = None
        self._down.clear()
        self._active = False

    def __enter__(self) -> HotkeyListener:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @staticmethod
    def _wait_ready(listener: Any) -> None:
        # Listener.wait() blocks forever if the listener thread dies before it is ready.
        deadline = time.monotonic() + _READY_TIMEOUT_S
        waiter = threading.Thread(target=listener.wait, daemon=True)
        waiter.start()
        while waiter.is_alive() and listener.is_alive() and time.monotonic() < deadline:
            waiter.join(0.02)
        if waiter.is_alive():
            # pynput's stop() on X waits for readiness too, forever if its thread died: bound it.
            stopper = threading.Thread(target=listener.stop, daemon=True)
            stopper.start()
            stopper.join(0.5)
            try:
                listener.join(0.5)  # re-raises the listener thread's error, if there was one
            except Exception as exc:
                raise HotkeyError(
                    f"cannot listen to the keyboard ({exc}); {_WAYLAND_HINT}"
                ) from None
            raise HotkeyError(f"the keyboard listener did not start; {_WAYLAND_HINT}")

    @property
    def keys_held(self) -> bool:
        """Whether a key of the combination is down (typing now would press it with them)."""
        return bool(self._down)

    # pynput's thread: keep it short, never raise (an exception stops the listener), and never
    # let a key escape: only membership in the combination is looked at.
    def _on_press(self, key: Any) -> None:
        try:
            k = self._canon(key) if key is not None else None
            if k in self._keys:
                self._down.add(k)
                if not self._active and self._down == self._keys:
                    self._active = True
                    self._events.put(("press", time.monotonic()))
            elif k is not None and k == self._cancel:
                self._events.put(("cancel", time.monotonic()))
        except Exception:
            log.error("hotkey press handling failed")  # deliberately without the key

    def _on_release(self, key: Any) -> None:
        try:
            k = self._canon(key) if key is not None else None
            if k in self._keys:
                self._down.discard(k)
                if self._active:
                    self._active = False
                    self._events.put(("release", time.monotonic()))
        except Exception:
            log.error("hotkey release handling failed")  # deliberately without the key

    def _dispatch(self) -> None:
        while (event := self._events.get()) is not None:
            kind, at = event
            try:
                recording = bool(self._is_recording())
                if kind == "cancel":  # Esc means nothing to us unless a recording is running
                    action = "cancel" if recording else None
                    self.logic.reset()
                elif kind == "press":
                    action = self.logic.press(at, recording)
                else:
                    action = self.logic.release(at, recording)
                if action is not None:
                    self._actions[action]()
            except Exception:
                log.exception("hotkey %s handler failed", kind)


def _pynput_keyboard() -> Any:
    try:
        from pynput import keyboard
    except ImportError as exc:  # no X display (Wayland, SSH, headless)
        reason = " ".join(str(exc).split("\n")[0].split())
        raise HotkeyError(
            f"global hotkeys need an X11 display ({reason}); {_WAYLAND_HINT}"
        ) from None
    return keyboard
