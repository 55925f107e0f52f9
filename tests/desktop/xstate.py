"""What a test left behind on the shared X display: keys still held down and input grabs.

The desktop tests share one X server per session. A key left down by one test (an `xdotool
keydown` whose `keyup` never ran, or a key chord cut short) is still down in the next: the
hotkey's Ctrl+Alt+D then arrives as an extra press of keys already down, and a menu's mnemonic
"m" as Ctrl+M. Every later X test then fails for a reason of the first one's making.
"""

from __future__ import annotations

from Xlib import XK, X, display
from Xlib.error import DisplayError
from Xlib.ext import xtest


def keys_down(name: str) -> list[str]:
    """The keys held down on display `name`, by keysym name (key code where it has none)."""
    d = display.Display(name)
    try:
        return [_key_name(d, code) for code in _codes_down(d)]
    finally:
        d.close()


def release_all(name: str) -> list[str]:
    """Release every key held down on display `name` (XTEST); the names of those released."""
    d = display.Display(name)
    try:
        codes = _codes_down(d)
        for code in codes:
            xtest.fake_input(d, X.KeyRelease, code)
        d.sync()
        return [_key_name(d, code) for code in codes]
    finally:
        d.close()


def grabbed(name: str) -> list[str]:
    """Which of the keyboard and the pointer another client holds grabbed on display `name`."""
    try:
        d = display.Display(name)
    except DisplayError:
        return []
    try:
        root = d.screen().root
        held = []
        if root.grab_keyboard(False, X.GrabModeAsync, X.GrabModeAsync, X.CurrentTime) != 0:
            held.append("keyboard")
        d.ungrab_keyboard(X.CurrentTime)
        status = root.grab_pointer(False, 0, X.GrabModeAsync, X.GrabModeAsync, 0, 0, X.CurrentTime)
        if status != 0:
            held.append("pointer")
        d.ungrab_pointer(X.CurrentTime)
        d.sync()
        return held
    finally:
        d.close()


def _codes_down(d: display.Display) -> list[int]:
    keymap = d.query_keymap()
    return [i * 8 + bit for i, byte in enumerate(keymap) for bit in range(8) if byte >> bit & 1]


_NAMES = {value: name[3:] for name, value in vars(XK).items() if name.startswith("XK_")}


def _key_name(d: display.Display, code: int) -> str:
    return _NAMES.get(d.keycode_to_keysym(code, 0)) or f"keycode {code}"
