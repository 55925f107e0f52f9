"""The General tab: the hotkeys, the mode, how text is inserted, sounds, start-up and live
dictation (dictation/live.py: transcribe while speaking, preview, typing)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFormLayout, QHBoxLayout, QToolButton, QWidget

from dictate import choices
from dictate.config import Settings
from dictate.output.clipboard import session_kind
from dictate.ui.hotkey_edit import HotkeyEdit, display_text
from dictate.ui.settings.widgets import ErrorLabel, Tab, form, hint, row, select, stack

MODES = tuple((c.value, c.description) for c in choices.MODES)
INSERT_METHODS = tuple((c.value, c.description) for c in choices.INSERT_METHODS)
# The methods that work in each kind of session: xdotool and pynput type into X windows only,
# wtype and ydotool are Wayland's. Elsewhere (macOS, Windows, none) what pynput and the
# clipboard can do.
METHODS_FOR = {
    "x11": ("auto", "paste", "type", "xdotool"),
    "wayland": ("auto", "paste", "wtype", "ydotool"),
}
_PYNPUT_COMBO = re.compile(r"(?:<\w+>|\w+)(?:\+(?:<\w+>|\w+))*")


def insert_methods(kind: str) -> tuple[tuple[str, str], ...]:
    """The insertion methods offered in a session of `kind` (session_kind's word)."""
    offered = METHODS_FOR.get(kind, ("auto", "paste", "type"))
    return tuple(m for m in INSERT_METHODS if m[0] in offered)


def readable_route(text: str) -> str:
    """A route line with its key combinations as people write them: "<ctrl>+<alt>+d" →
    "Ctrl+Alt+D" (the app describes the X listener in pynput's syntax)."""
    return _PYNPUT_COMBO.sub(
        lambda m: display_text(m.group(0)) if "<" in m.group(0) else m.group(0), text
    )


START_SPACE = (  # config.START_SPACE
    ("smart", "After a dictation into the same window (smart)"),
    ("always", "Always"),
    ("never", "Never"),
)


class GeneralTab(Tab):
    capture_active = Signal(bool)  # a hotkey field has focus: the app may pause its hotkey
    title = "General"
    fields = ("hotkey", "cancel_key")
    labelled = ("hotkey", "cancel_key")

    def __init__(self, routes: Mapping[str, str], session: str | None = None) -> None:
        """`routes`: how the hotkey and insertion work on this desktop (App.desktop_routes);
        `session`: the kind of desktop session (None: this one's)."""
        super().__init__()
        self.session = session or session_kind()
        layout = form(self)
        defaults = Settings()
        self.hotkey_edit = HotkeyEdit()
        self.hotkey_edit.setAccessibleName("Dictation hotkey")
        self.hotkey_error = ErrorLabel()
        note = hint("Click the field, then press the keys. Esc undoes, Backspace clears.")
        field = stack(self._hotkey_row(self.hotkey_edit, defaults.hotkey), self.hotkey_error, note)
        row(layout, "Dictation &hotkey:", field, self.hotkey_edit)
        self.mode_combo = self.combo(MODES)
        layout.addRow("&Mode:", self.mode_combo)
        self.cancel_edit = HotkeyEdit(escape_is_key=True, require_modifier=False, single_key=True)
        self.cancel_edit.setAccessibleName("Cancel key")
        self.cancel_error = ErrorLabel()
        note = hint("One key that throws the recording away while you are recording.")
        field = stack(
            self._hotkey_row(self.cancel_edit, defaults.cancel_key), self.cancel_error, note
        )
        row(layout, "&Cancel key:", field, self.cancel_edit)
        self.insert_combo = self.combo(insert_methods(self.session))
        layout.addRow("&Insert text by:", self.insert_combo)
        self.space_combo = self.combo(START_SPACE)
        self.space_combo.setToolTip(
            "Smart: a dictation that follows another one into the same window starts with a "
            "space (remembered across restarts). Never before a comma or full stop."
        )
        layout.addRow("Start with a &space:", self.space_combo)
        for key, label in (("hotkey", "Hotkey here:"), ("insertion", "Insertion here:")):
            if key in routes:  # read-only facts about this desktop, not settings
                shown = hint(readable_route(routes[key]))
                shown.setObjectName(f"route_{key}")
                shown.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
                layout.addRow(label, shown)
        self.sounds_check = self.check("Play a sound when recording starts and stops")
        layout.addRow("Sounds:", self.sounds_check)
        self.login_check = self.check("Start dictate when I log in")
        layout.addRow("Start-up:", self.login_check)
        self._live_rows(layout)

    def _hotkey_row(self, edit: HotkeyEdit, default: str) -> QWidget:
        reset = QToolButton()
        reset.setText("Default")
        reset.setToolTip(f"Use the default, {display_text(default)}")
        reset.clicked.connect(lambda: edit.set_combo(default))
        edit.combo_changed.connect(self.emit_changed)
        edit.capture_active.connect(self.capture_active.emit)
        field = QWidget()
        box = QHBoxLayout(field)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(edit, 1)
        box.addWidget(reset)
        return field

    def _live_rows(self, layout: QFormLayout) -> None:
        """Live dictation (dictation/live.py): transcribe while speaking, preview, typing."""
        self.live_check = self.check("Transcribe while I speak (a short wait after release)")
        self.preview_check = self.check("Show the words near the bottom of the screen")
        self.preview_check.setToolTip(
            "A strip that never takes the keyboard focus. Not on Wayland, where a window cannot"
            " be kept from taking it: there the dictate window and the tray tooltip show the words."
        )
        if QGuiApplication.platformName().startswith("wayland"):
            self.preview_check.setText(
                "Show the words while I speak (on Wayland: in the dictate window and the tray"
                " tooltip, not on screen)"
            )
        self.type_live_check = self.check("Type the words while I speak")
        self.type_live_check.setToolTip(
            "Text is typed as soon as it is final. Cancel then removes nothing already typed."
        )
        field = stack(self.live_check, self.preview_check, self.type_live_check)
        layout.addRow("Live:", field)

    def load(self, s: Settings) -> None:
        self.hotkey_edit.set_combo(s.hotkey)
        self.cancel_edit.set_combo(s.cancel_key)
        select(self.mode_combo, s.mode)
        if self.insert_combo.findData(s.insert_method) < 0:  # chosen on another desktop
            label = dict(INSERT_METHODS).get(s.insert_method, s.insert_method)
            self.insert_combo.addItem(f"{label} — not for this desktop", s.insert_method)
        select(self.insert_combo, s.insert_method)
        select(self.space_combo, s.start_space)
        self.sounds_check.setChecked(s.sounds)
        self.login_check.setChecked(s.launch_at_login)
        self.live_check.setChecked(s.live_transcription)
        self.preview_check.setChecked(s.live_preview)
        self.type_live_check.setChecked(s.type_while_speaking)

    def values(self, shown: Settings) -> dict[str, Any]:
        return {
            "hotkey": self.hotkey_edit.combo,
            "mode": self.mode_combo.currentData(),
            "cancel_key": self.cancel_edit.combo,
            "insert_method": self.insert_combo.currentData(),
            "start_space": self.space_combo.currentData(),
            "sounds": self.sounds_check.isChecked(),
            "launch_at_login": self.login_check.isChecked(),
            "live_transcription": self.live_check.isChecked(),
            "live_preview": self.preview_check.isChecked(),
            "type_while_speaking": self.type_live_check.isChecked(),
        }

    def problems(self) -> dict[str, str]:
        found: dict[str, str] = {}
        if p := self.hotkey_edit.problem():
            found["hotkey"] = p
        if p := self.cancel_edit.problem():
            found["cancel_key"] = p
        elif self.cancel_edit.combo and self.cancel_edit.combo == self.hotkey_edit.combo:
            found["cancel_key"] = "The cancel key must differ from the dictation hotkey."
        return found

    def show_problems(self, found: Mapping[str, str]) -> None:
        self.hotkey_error.show_problem(found.get("hotkey"))
        self.cancel_error.show_problem(found.get("cancel_key"))
