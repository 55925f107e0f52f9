"""A field that captures a key combination: focus it and press the keys.

It shows the combination the way people write it ("Ctrl+Alt+D") and stores it in pynput's
syntax ("<ctrl>+<alt>+d"), which the hotkey listener reads. Keys: Esc undoes this capture (a
second Esc reaches the dialog and closes it), Backspace or Delete clears the field, Tab and
Enter move on as in any field. With `escape_is_key` (the cancel key) Esc is captured instead.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFocusEvent, QKeyEvent
from PySide6.QtWidgets import QLineEdit, QWidget

from dictate.control.hotkeys import HotkeyError, parse_combo

_MAC = sys.platform == "darwin"
K = Qt.Key
_MODIFIER_KEYS = {
    K.Key_Control,
    K.Key_Alt,
    K.Key_Shift,
    K.Key_Meta,
    K.Key_AltGr,
    K.Key_Super_L,
    K.Key_Super_R,
    K.Key_Hyper_L,
    K.Key_Hyper_R,
}
# Qt key -> pynput key name (pynput.keyboard.Key), for keys that are not a plain character.
_NAMED = {
    K.Key_Space: "space",
    K.Key_Return: "enter",
    K.Key_Enter: "enter",
    K.Key_Tab: "tab",
    K.Key_Backtab: "tab",
    K.Key_Backspace: "backspace",
    K.Key_Delete: "delete",
    K.Key_Escape: "esc",
    K.Key_Home: "home",
    K.Key_End: "end",
    K.Key_PageUp: "page_up",
    K.Key_PageDown: "page_down",
    K.Key_Left: "left",
    K.Key_Right: "right",
    K.Key_Up: "up",
    K.Key_Down: "down",
    K.Key_Insert: "insert",
    K.Key_Menu: "menu",
    K.Key_Pause: "pause",
    K.Key_Print: "print_screen",
    K.Key_ScrollLock: "scroll_lock",
    K.Key_CapsLock: "caps_lock",
    K.Key_NumLock: "num_lock",
    K.Key_MediaTogglePlayPause: "media_play_pause",
    K.Key_MediaPlay: "media_play_pause",
    K.Key_VolumeMute: "media_volume_mute",
    K.Key_VolumeDown: "media_volume_down",
    K.Key_VolumeUp: "media_volume_up",
    K.Key_MediaPrevious: "media_previous",
    K.Key_MediaNext: "media_next",
} | {K(K.Key_F1.value + i): f"f{i + 1}" for i in range(20)}
M = Qt.KeyboardModifier
_OWN_FLAG = {
    K.Key_Control: M.ControlModifier,
    K.Key_Alt: M.AltModifier,
    K.Key_Shift: M.ShiftModifier,
    K.Key_Meta: M.MetaModifier,
    K.Key_Super_L: M.MetaModifier,
    K.Key_Super_R: M.MetaModifier,
}
_MODIFIER_NAMES = ("ctrl", "alt", "shift", "cmd", "alt_gr")
_LABELS = {
    "ctrl": "Ctrl",
    "alt": "Option" if _MAC else "Alt",
    "alt_gr": "AltGr",
    "shift": "Shift",
    "cmd": "Cmd" if _MAC else "Super",
    "esc": "Esc",
    "page_up": "PgUp",
    "page_down": "PgDown",
    "print_screen": "Print",
    "delete": "Del",
    "insert": "Ins",
    "media_play_pause": "Play/Pause",
    "media_volume_mute": "Mute",
    "media_volume_down": "Volume Down",
    "media_volume_up": "Volume Up",
    "media_previous": "Previous Track",
    "media_next": "Next Track",
}
# Keys that type or edit text: as a global hotkey on their own they would fire while typing.
_TYPING_KEYS = {"space", "enter", "tab", "backspace", "delete", "esc", "left", "right", "up"}
_TYPING_KEYS |= {"down", "home", "end", "page_up", "page_down", "caps_lock"}


def _modifier_parts(modifiers: Qt.KeyboardModifier) -> list[str]:
    # On macOS Qt reports the Command key as ControlModifier and Control as MetaModifier.
    ctrl, cmd = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.MetaModifier
    if _MAC:
        ctrl, cmd = cmd, ctrl
    parts = []
    for flag, name in (
        (ctrl, "ctrl"),
        (Qt.KeyboardModifier.AltModifier, "alt"),
        (Qt.KeyboardModifier.ShiftModifier, "shift"),
        (cmd, "cmd"),
    ):
        if modifiers & flag:
            parts.append(f"<{name}>")
    return parts


def key_name(key: int) -> str | None:
    """pynput's name for a non-modifier Qt key ("d", "<f9>", "<space>"), or None."""
    try:
        qkey = K(key)
    except ValueError:
        qkey = None
    if qkey in _NAMED:
        return f"<{_NAMED[qkey]}>"
    if 0x21 <= key <= 0x7E or 0xA1 <= key <= 0xFF:  # Qt's codes for Latin-1 keys are the chars
        char = chr(key).lower()
        return None if char == "+" else char  # "+" cannot be written in pynput's syntax
    return None


def combo_from_key(key: int, modifiers: Qt.KeyboardModifier) -> str | None:
    """The pynput combination for a key press, e.g. (Key_D, Ctrl|Alt) -> "<ctrl>+<alt>+d"."""
    name = key_name(key)
    if name is None:
        return None
    return "+".join([*_modifier_parts(modifiers), name])


def _label(part: str) -> str:
    name = part[1:-1] if part.startswith("<") and len(part) > 2 else part
    if name in _LABELS:
        return _LABELS[name]
    if len(name) == 1:
        return name.upper()
    if name[0] == "f" and name[1:].isdigit():
        return name.upper()
    return name.replace("_", " ").title()


def display_text(combo: str) -> str:
    """How a combination is shown: "<ctrl>+<alt>+d" -> "Ctrl+Alt+D"; "" if it is not valid."""
    try:
        parts = parse_combo(combo)
    except HotkeyError:
        return ""
    return "+".join(_label(p) for p in parts)


def combo_problem(combo: str, *, require_modifier: bool, single_key: bool = False) -> str | None:
    """Why `combo` cannot be used, in words, or None when it is fine. `single_key`: one key and
    no modifiers (the cancel key)."""
    if not combo.strip():
        return "Press a key." if single_key else "Press a key combination."
    try:
        parts = parse_combo(combo)
    except HotkeyError as exc:
        return str(exc)[0].upper() + str(exc)[1:] + "."
    names = [p.strip("<>") if p.startswith("<") else p for p in parts]
    main = [n for n in names if n not in _MODIFIER_NAMES]
    if single_key and len(names) > 1:
        return "Press one key, such as Esc or F8, without Ctrl, Alt or Shift."
    if not main:
        return "Add a key to the modifiers (for example Ctrl+Alt+D)."
    if require_modifier and len(names) == 1 and (len(main[0]) == 1 or main[0] in _TYPING_KEYS):
        return (
            f"{_label(parts[0])} on its own would fire while you type: add Ctrl, Alt or "
            f"{_LABELS['cmd']}, or use a function key such as F9."
        )
    return None


class HotkeyEdit(QLineEdit):
    """Press-to-capture field; `combo` is the value in pynput syntax ("" when cleared)."""

    combo_changed = Signal(str)
    capture_active = Signal(bool)  # True while the field has focus and takes the keys

    def __init__(
        self,
        combo: str = "",
        *,
        escape_is_key: bool = False,
        require_modifier: bool = True,
        single_key: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.escape_is_key = escape_is_key
        self.require_modifier = require_modifier
        self.single_key = single_key
        self._combo = combo
        self._before = combo  # the value when this capture began, for Esc
        self.setReadOnly(True)  # no caret editing; keyPressEvent takes every key
        self.setAttribute(Qt.WidgetAttribute.WA_InputMethodEnabled, False)
        self.setPlaceholderText("Click here, then press the keys")
        what = "the key" if single_key else "the key combination"
        undo = "." if escape_is_key else ", Esc undoes the change."
        self.setToolTip(f"Click and press {what}. Backspace clears it{undo}")
        self._show()

    @property
    def combo(self) -> str:
        return self._combo

    def set_combo(self, combo: str) -> None:
        changed = combo != self._combo
        self._combo = combo
        if not self.hasFocus():  # set from outside: Esc has nothing to undo
            self._before = combo
        self._show()
        if changed:
            self.combo_changed.emit(combo)

    def problem(self) -> str | None:
        return combo_problem(
            self._combo, require_modifier=self.require_modifier, single_key=self.single_key
        )

    def _show(self, pending: str | None = None) -> None:
        if pending is not None:
            self.setText(pending)
        else:
            self.setText(display_text(self._combo) or self._combo)

    # ---- keys ---------------------------------------------------------------------------

    def focusInEvent(self, event: QFocusEvent) -> None:
        super().focusInEvent(event)
        self._before = self._combo
        self.setPlaceholderText("Press the keys now…")
        self.capture_active.emit(True)

    def focusOutEvent(self, event: QFocusEvent) -> None:
        super().focusOutEvent(event)
        self.setPlaceholderText("Click here, then press the keys")
        self._show()
        self.capture_active.emit(False)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key, mods = event.key(), event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        plain = mods == Qt.KeyboardModifier.NoModifier
        if key in _MODIFIER_KEYS:  # a combination in progress: show what is held so far
            # Platforms differ on whether a modifier's own press carries its flag: add it.
            held = [_label(p) for p in _modifier_parts(mods | _OWN_FLAG.get(key, mods))]
            self._show("+".join([*held, "…"]))
            event.accept()
            return
        if plain and key in (K.Key_Return, K.Key_Enter, K.Key_Tab, K.Key_Backtab):
            event.ignore()  # the dialog's default button, or focus moves on
            return
        if plain and key == K.Key_Escape and not self.escape_is_key:
            if self._combo == self._before:
                event.ignore()  # nothing to undo: the dialog's Esc (Cancel)
                return
            self.set_combo(self._before)
            event.accept()
            return
        if plain and key in (K.Key_Backspace, K.Key_Delete):
            self.set_combo("")
            event.accept()
            return
        combo = combo_from_key(key, mods)
        if combo is not None:
            self.set_combo(combo)
        else:
            self._show()
        event.accept()

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
            self._show()  # modifiers let go with no key: back to the value
        event.accept()
