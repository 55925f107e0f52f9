"""The Privacy tab: how long the history is kept and whether each dictation's audio is."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSpinBox

from dictate import paths
from dictate.config import Settings
from dictate.ui.settings.widgets import Tab, fixed, form, hint, row, stack


class PrivacyTab(Tab):
    title = "Privacy"

    def __init__(self) -> None:
        super().__init__()
        layout = form(self)
        self.history_spin = QSpinBox()
        self.history_spin.setRange(0, 36500)
        self.history_spin.setSuffix(" days")
        self.history_spin.setSpecialValueText("Forever")
        self.history_spin.setAccessibleName("Keep dictations for")
        self.history_spin.valueChanged.connect(self.emit_changed)
        note = hint("Older dictations and their audio are deleted.")
        field = stack(fixed(self.history_spin), note)
        row(layout, "&Keep dictations for:", field, self.history_spin)
        self.keep_audio_check = self.check("Keep the audio of each dictation (to play it back)")
        layout.addRow("", self.keep_audio_check)
        where = hint(
            f"The history and its audio stay on this computer, in {paths.data_dir()}. "
            "Nothing is sent anywhere."
        )
        where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addRow("", where)

    def load(self, s: Settings) -> None:
        self.history_spin.setValue(s.history_days)
        self.keep_audio_check.setChecked(s.keep_audio)

    def values(self, shown: Settings) -> dict[str, Any]:
        return {
            "history_days": self.history_spin.value(),
            "keep_audio": self.keep_audio_check.isChecked(),
        }
