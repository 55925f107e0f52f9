"""The Audio tab: the microphone with a live level meter, keeping it open, the longest
recording and how long to wait for the last word."""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QSpinBox

from dictate.audio import portaudio
from dictate.audio.capture import INPUT
from dictate.config import Settings
from dictate.errors import DictateError
from dictate.ui.level_meter import MicLevel
from dictate.ui.settings.widgets import Tab, fixed, form, hint, row, select, stack

log = logging.getLogger(__name__)


class AudioTab(Tab):
    title = "Audio"

    def __init__(self) -> None:
        super().__init__()
        layout = form(self)
        self.input_combo = QComboBox()
        self.input_combo.setAccessibleName("Microphone")
        self.input_combo.addItem("System default", None)
        self.input_combo.setItemData(
            0, "The microphone chosen in the system's sound settings", Qt.ItemDataRole.ToolTipRole
        )
        try:
            found = portaudio.choices(portaudio.sounddevice(INPUT.error), INPUT)
        except DictateError as exc:  # no PortAudio: the meter below says why
            log.info("no input devices listed: %s", exc)
            found = []
        for name, label in found:
            self.input_combo.addItem(label, name)
        self.input_combo.currentIndexChanged.connect(self.emit_changed)
        layout.addRow("&Microphone:", self.input_combo)
        self.mic_level = MicLevel()
        self.input_combo.currentIndexChanged.connect(
            lambda: self.mic_level.set_device(self.input_combo.currentData())
        )
        note = hint("Speak: the bar should move well past the middle.")
        self.mic_level.state_changed.connect(lambda state: note.setVisible(state != "error"))
        layout.addRow("Level:", stack(self.mic_level, note))
        self.keep_open_check = self.check("Keep the microphone open between dictations")
        self.keep_open_check.setToolTip(
            "The first word is never clipped (the last half second before the key press is "
            "kept), but the microphone stays in use while dictate runs."
        )
        layout.addRow("", self.keep_open_check)
        self.max_record_spin = QSpinBox()
        self.max_record_spin.setRange(1, 3600)
        self.max_record_spin.setSuffix(" s")
        self.max_record_spin.valueChanged.connect(self.emit_changed)
        layout.addRow("&Longest recording:", fixed(self.max_record_spin))
        self.tail_spin = QDoubleSpinBox()
        self.tail_spin.setRange(0.0, 2.0)
        self.tail_spin.setDecimals(2)
        self.tail_spin.setSingleStep(0.1)
        self.tail_spin.setSuffix(" s")
        self.tail_spin.valueChanged.connect(self.emit_changed)
        note = hint("After you release the key, recording goes on until you stop talking.")
        row(layout, "Wait for the last &word:", stack(fixed(self.tail_spin), note), self.tail_spin)

    def load(self, s: Settings) -> None:
        if s.input_device is not None and self.input_combo.findData(s.input_device) < 0:
            self.input_combo.addItem(self._absent_label(s.input_device), s.input_device)
        select(self.input_combo, s.input_device)
        self.keep_open_check.setChecked(s.keep_mic_open)
        self.max_record_spin.setValue(round(s.max_record_s))
        self.tail_spin.setValue(s.tail_max_s)

    @staticmethod
    def _absent_label(name: str) -> str:
        """A saved microphone not in the list: an alias of the default ("pulse", chosen before
        they were hidden) says so; anything else is not connected now."""
        if name.strip().lower() in portaudio.DEFAULT_ALIASES:
            return f"{name} (the system default)"
        return f"{name} (not connected)"

    def values(self, shown: Settings) -> dict[str, Any]:
        max_record = self.max_record_spin.value()
        tail = self.tail_spin.value()
        return {
            "input_device": self.input_combo.currentData(),
            "keep_mic_open": self.keep_open_check.isChecked(),
            # The spin boxes round: a value they show unchanged is given back as it was.
            "max_record_s": float(
                shown.max_record_s if max_record == round(shown.max_record_s) else max_record
            ),
            "tail_max_s": shown.tail_max_s if abs(tail - shown.tail_max_s) < 0.005 else tail,
        }

    def stop(self) -> None:
        """Let the microphone go (the dialog is closing)."""
        self.mic_level.stop()
