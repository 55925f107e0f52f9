"""Backends that type text and press key combinations in the focused window.

xdotool (X11, XTEST), pynput (X11, macOS, Windows), wtype (wlroots Wayland compositors) and
ydotool (any Wayland or X11, through /dev/uinput and its daemon). A combination is written
like "ctrl+shift+v", "shift+Insert" or "cmd+v", and each backend translates it.

pynput is imported only when used: without an X server its import raises ImportError.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from typing import Any, Protocol

from dictate.errors import DictateError
from dictate.output.clipboard import run_tool, stderr_line


class InputError(DictateError):
    """Keys could not be sent or text could not be typed."""


class KeySender(Protocol):
    name: str

    def type_text(self, text: str) -> None: ...

    def send_keys(self, combo: str) -> None: ...


def _parts(combo: str) -> tuple[list[str], str]:
    """'ctrl+shift+v' -> (['ctrl', 'shift'], 'v')."""
    *mods, key = combo.split("+")
    return [m.lower() for m in mods], key


class XdotoolSender:
    """X11 through xdotool's XTEST events: real key events, which xterm accepts and which
    type characters missing from the keymap correctly (it remaps a spare keycode per key)."""

    name = "xdotool"

    def __init__(
        self,
        path: str = "xdotool",
        delay_ms: int = 12,
        key_delay_ms: int = 4,
        timeout: float = 30.0,
    ) -> None:
        # delay_ms paces typed characters (xdotool's default, 12 ms: fast typing drops keys in
        # some apps). A paste combination needs little: the default 12 cost 28 ms, 4 ms ~10 ms.
        self.path, self.delay_ms, self.key_delay_ms = path, delay_ms, key_delay_ms
        self.timeout = timeout

    def type_text(self, text: str) -> None:
        # --clearmodifiers: the dictation hotkey's modifiers may still be held down.
        self._run("type", "--clearmodifiers", "--delay", str(self.delay_ms), "--", text)

    def send_keys(self, combo: str) -> None:
        self._run("key", "--clearmodifiers", "--delay", str(self.key_delay_ms), combo)

    def _run(self, *args: str) -> None:
        proc = run_tool([self.path, *args], timeout=self.timeout, error=InputError)
        if proc.returncode != 0:
            raise InputError(f"xdotool {args[0]} failed: {stderr_line(proc)}")


class PynputSender:
    """pynput's Controller. A fresh Controller per call (3-6 ms measured on X11): a Controller
    caches the keymap on first use and types garbage after a layout switch (setxkbmap fr)."""

    name = "pynput"

    def __init__(self, char_delay_s: float = 0.0) -> None:
        self.char_delay_s = char_delay_s

    def _keyboard(self) -> Any:
        try:
            import pynput.keyboard as keyboard  # lazily: raises ImportError without a display
        except ImportError as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise InputError(f"pynput cannot send keys here: {first}") from e
        return keyboard

    def type_text(self, text: str) -> None:
        kb = self._keyboard()
        controller = kb.Controller()
        try:
            if self.char_delay_s <= 0:
                controller.type(text)
                return
            for char in text:  # slow targets (remote desktops) drop keys sent in a burst
                controller.type(char)
                time.sleep(self.char_delay_s)
        except Exception as e:  # pynput raises its own InvalidCharacterException and Xlib errors
            raise InputError(f"pynput could not type the text: {e}") from e

    def send_keys(self, combo: str) -> None:
        kb = self._keyboard()
        mods, key = _parts(combo)
        try:
            held = [getattr(kb.Key, "cmd" if m == "super" else m) for m in mods]
            target = getattr(kb.Key, key.lower()) if len(key) > 1 else key
        except AttributeError as e:
            raise InputError(f"pynput has no key {e.name!r} here") from e
        controller = kb.Controller()
        try:
            with controller.pressed(*held):
                controller.tap(target)
        except Exception as e:
            raise InputError(f"pynput could not press {combo}: {e}") from e


# One idle `wtype -` per (wtype, Wayland display): see WtypeSender.
_keepers: dict[tuple[str, str], subprocess.Popen[bytes]] = {}
_keepers_lock = threading.Lock()


def _keep_keyboard(path: str) -> bool | None:
    """Make sure an idle virtual keyboard stays on the seat. True: one was just started;
    False: one is there; None: none can be (no Wayland display, wtype missing, refused)."""
    display = os.environ.get("WAYLAND_DISPLAY", "")
    if not display:
        return None
    with _keepers_lock:
        keeper = _keepers.get((path, display))
        if keeper is not None:
            # A keeper that ended: this compositor has no virtual keyboard (GNOME, KDE) or went
            # away. Not started again: each start would cost the first insertion a pause.
            return False if keeper.poll() is None else None
        try:
            # It waits for text on stdin that never comes, and ends when we do (EOF).
            _keepers[path, display] = subprocess.Popen(
                [path, "-"],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        except OSError:
            return None
        return True


class WtypeSender:
    """Wayland through wtype (virtual-keyboard protocol: Sway, Hyprland and other wlroots
    compositors; GNOME's Mutter does not offer it and wtype then fails with a message).

    The lost first character: each wtype run brings its own virtual keyboard and takes it away
    on exit. On a seat with no other keyboard (headless, remote, kiosk) that keyboard is what
    gives the seat a keyboard at all, and the focused window asks for one only on hearing so.
    wtype's first key raced that request; when it won, the window's `enter` event listed the
    key as already held (WAYLAND_DEBUG: `wl_keyboard.enter(..., array[4])`) and only its
    release arrived: 12/20 runs intact in sway with foot. A pause before the first key (wtype
    -s) only narrows the race: 50 ms still lost two characters under load. So an idle wtype
    stays attached for as long as dictate runs: the seat keeps a keyboard, the window keeps
    its wl_keyboard, and a new run's keymap reaches the window before its keys, in order on
    the same connection (30/30 with no pause, under the same load). The first run after the
    keeper starts still waits `settle_ms`; where no keeper can run, every run does.
    """

    name = "wtype"

    def __init__(self, path: str = "wtype", timeout: float = 30.0, settle_ms: int = 50) -> None:
        self.path, self.timeout, self.settle_ms = path, timeout, settle_ms

    def type_text(self, text: str) -> None:
        self._run("--", text)

    def send_keys(self, combo: str) -> None:
        mods, key = _parts(combo)
        mods = ["logo" if m in ("cmd", "super") else m for m in mods]
        args = [a for m in mods for a in ("-M", m)] + ["-k", key]
        self._run(*args, *[a for m in reversed(mods) for a in ("-m", m)])

    def _run(self, *args: str) -> None:
        kept = _keep_keyboard(self.path)
        if kept:
            time.sleep(self.settle_ms * 4 / 1000)  # the window binds the keeper's keyboard
        settle = ["-s", str(self.settle_ms)] if kept is None and self.settle_ms > 0 else []
        proc = run_tool([self.path, *settle, *args], timeout=self.timeout, error=InputError)
        if proc.returncode != 0:
            raise InputError(f"wtype failed: {stderr_line(proc)}")


# Linux input event codes (linux/input-event-codes.h) for the keys paste needs.
_EVDEV = {"ctrl": 29, "shift": 42, "alt": 56, "super": 125, "cmd": 125, "v": 47, "insert": 110}


class YdotoolSender:
    """ydotool (1.0 syntax) through its ydotoold daemon and /dev/uinput. It sends US keycodes,
    so `type_text` is only right for ASCII on a US-like layout; paste is used for the rest."""

    name = "ydotool"

    def __init__(self, path: str = "ydotool", timeout: float = 30.0) -> None:
        self.path, self.timeout = path, timeout

    def type_text(self, text: str) -> None:
        self._run("type", "--", text)

    def send_keys(self, combo: str) -> None:
        mods, key = _parts(combo)
        try:
            codes = [_EVDEV[m] for m in mods] + [_EVDEV[key.lower()]]
        except KeyError as e:
            raise InputError(f"ydotool: no key code known for {e.args[0]!r}") from e
        events = [f"{c}:1" for c in codes] + [f"{c}:0" for c in reversed(codes)]
        self._run("key", *events)

    def _run(self, *args: str) -> None:
        # ydotool finds its daemon through YDOTOOL_SOCKET or /run/user/UID/.ydotool_socket.
        proc = run_tool([self.path, *args], timeout=self.timeout, error=InputError)
        if proc.returncode != 0 or b"failed to connect socket" in proc.stderr:
            hint = "" if os.environ.get("YDOTOOL_SOCKET") else " (is ydotoold running?)"
            raise InputError(f"ydotool failed: {stderr_line(proc)}{hint}")
