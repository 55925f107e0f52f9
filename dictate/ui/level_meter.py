"""The microphone level, live: a bar (LevelMeterBar) and the widget that feeds it (MicLevel).

MicLevel opens the device with the core LevelMeter only while it is visible (so the Audio tab
of the settings uses the microphone, the other tabs do not), opening and closing it on worker
threads so the GUI never waits for PortAudio. Levels arrive on the meter's thread and reach the
GUI thread through a queued signal.
"""

from __future__ import annotations

import logging
import threading
import time

from PySide6.QtCore import QObject, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QHideEvent, QPainter, QPalette, QShowEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from dictate.audio.capture import SILENCE_DB
from dictate.audio.meter import LevelMeter
from dictate.errors import DictateError

log = logging.getLogger(__name__)

FLOOR_DB = -60.0  # the bar's left end: quieter than this reads as silence
_FALL_DB_PER_S = 30.0  # how fast the bar sinks after a loud block (the eye needs a moment)
_PEAK_HOLD_S = 1.0
_TICK_MS = 33
_CLIP_DB = -1.0


class LevelMeterBar(QWidget):
    """A horizontal level bar from FLOOR_DB to 0 dBFS with a peak mark; set_level() feeds it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.level_db = SILENCE_DB  # the last level given
        self.shown_db = SILENCE_DB  # what the bar draws: rises at once, falls slowly
        self.peak_db = SILENCE_DB
        self._peak_at = 0.0
        self._last_tick = time.monotonic()
        self._timer = QTimer(self, interval=_TICK_MS)
        self._timer.timeout.connect(self._tick)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setAccessibleName("Microphone level")
        self.setToolTip("Microphone level")

    def sizeHint(self) -> QSize:
        return QSize(240, 14)

    def minimumSizeHint(self) -> QSize:
        return QSize(60, 10)

    def set_level(self, db: float) -> None:
        self.level_db = db
        if db > self.shown_db:
            self.shown_db = db
        if db >= self.peak_db:
            self.peak_db, self._peak_at = db, time.monotonic()
        self.setToolTip(f"Microphone level: {db:.0f} dBFS" if db > SILENCE_DB else "Silence")
        if not self._timer.isActive():
            self._last_tick = time.monotonic()
            self._timer.start()
        self.update()

    def reset(self) -> None:
        self._timer.stop()
        self.level_db = self.shown_db = self.peak_db = SILENCE_DB
        self.update()

    def _tick(self) -> None:
        now = time.monotonic()
        fall = _FALL_DB_PER_S * (now - self._last_tick)
        self._last_tick = now
        self.shown_db = max(self.level_db, self.shown_db - fall)
        if now - self._peak_at > _PEAK_HOLD_S:
            self.peak_db = max(self.shown_db, self.peak_db - fall)
        if self.shown_db <= FLOOR_DB and self.peak_db <= FLOOR_DB:
            self._timer.stop()
        self.update()

    @staticmethod
    def fraction(db: float) -> float:
        return min(1.0, max(0.0, (db - FLOOR_DB) / -FLOOR_DB))

    def paintEvent(self, event: object) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        group = QPalette.ColorGroup.Active if self.isEnabled() else QPalette.ColorGroup.Disabled
        frame = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        radius = min(4.0, frame.height() / 2)
        p.setPen(pal.color(group, QPalette.ColorRole.Mid))
        p.setBrush(pal.color(group, QPalette.ColorRole.Base))
        p.drawRoundedRect(frame, radius, radius)
        inner = frame.adjusted(2, 2, -2, -2)
        width = inner.width() * self.fraction(self.shown_db)
        if width > 0:
            clipping = self.shown_db >= _CLIP_DB
            colour = (
                QColor("#d93a3a") if clipping else pal.color(group, QPalette.ColorRole.Highlight)
            )
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(colour)
            p.drawRoundedRect(QRectF(inner.left(), inner.top(), width, inner.height()), 2, 2)
        if self.peak_db > FLOOR_DB:
            x = inner.left() + inner.width() * self.fraction(self.peak_db)
            p.setPen(pal.color(group, QPalette.ColorRole.Text))
            p.drawLine(int(x), int(inner.top()), int(x), int(inner.bottom()))
        p.end()


class _Relay(QObject):
    """Carries the meter thread's reports to the GUI thread. Not parented to the widget: a
    worker that reports after the widget is gone must find a live object."""

    level = Signal(int, float)  # (generation, dBFS)
    opened = Signal(int, str)  # (generation, device name)
    failed = Signal(int, str)  # (generation, message)


class MicLevel(QWidget):
    """The level of an input device (None: the system default) while visible, or why not.

    `state` is "off", "opening", "live" or "error"; `message` the text shown beside the bar.
    """

    state_changed = Signal(str)

    def __init__(self, device: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._device = device
        self._gen = 0
        self._meter: LevelMeter | None = None
        self._opener: threading.Thread | None = None
        self.state = "off"
        self.bar = LevelMeterBar(self)
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.db_label = QLabel(self)
        self.db_label.setMinimumWidth(self.db_label.fontMetrics().horizontalAdvance("−100 dB"))
        self.db_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.bar, 1)
        row.addWidget(self.db_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.status)
        self._relay = _Relay()
        self._relay.level.connect(self._on_level)
        self._relay.opened.connect(self._on_opened)
        self._relay.failed.connect(self._on_failed)
        self._set_state("off", "")

    @property
    def message(self) -> str:
        return self.status.text()

    @property
    def device(self) -> str | None:
        return self._device

    def set_device(self, device: str | None) -> None:
        """Meter another device (restarts the meter if it runs)."""
        if device == self._device:
            return
        self._device = device
        if self._meter is not None or self.state == "error":
            self.start()

    def start(self) -> None:
        """(Re)open the device on a worker thread; the result shows up as the state."""
        self.stop()
        gen = self._gen
        relay = self._relay
        meter = LevelMeter(
            self._device,
            on_level=lambda db: relay.level.emit(gen, db),
            on_error=lambda message: relay.failed.emit(gen, message),
        )

        def open_it() -> None:
            try:
                meter.start()
            except DictateError as exc:
                relay.failed.emit(gen, str(exc))
            except Exception as exc:  # PortAudio oddities: shown, never raised into Qt
                log.exception("level meter failed to open")
                relay.failed.emit(gen, f"the microphone cannot be opened ({exc})")
            else:
                relay.opened.emit(gen, meter.device_name or "")

        self._meter = meter
        self._opener = threading.Thread(target=open_it, name="dictate-meter-open", daemon=True)
        self._set_state("opening", "Opening the microphone…")
        self._opener.start()

    def stop(self) -> None:
        """Release the device (on a worker thread, after any open still in progress)."""
        self._gen += 1  # reports from the old meter are ignored from now on
        meter, opener = self._meter, self._opener
        self._meter = self._opener = None
        if meter is not None:

            def close_it() -> None:
                if opener is not None:
                    opener.join()
                meter.stop()

            threading.Thread(target=close_it, name="dictate-meter-close", daemon=True).start()
        self.bar.reset()
        self.db_label.clear()
        if self.state != "off":
            self._set_state("off", "")

    def _set_state(self, state: str, message: str) -> None:
        self.state = state
        self.status.setText(message)
        self.status.setVisible(bool(message))
        self.bar.setEnabled(state == "live")
        self.state_changed.emit(state)

    def _on_opened(self, gen: int, name: str) -> None:
        if gen == self._gen:
            self._set_state("live", f"Listening to {name}" if name else "Listening")

    def _on_level(self, gen: int, db: float) -> None:
        if gen == self._gen:
            self.bar.set_level(db)
            self.db_label.setText(f"{db:.0f} dB" if db > SILENCE_DB else "silent")

    def _on_failed(self, gen: int, message: str) -> None:
        if gen != self._gen:
            return
        self.bar.reset()
        self.db_label.clear()
        self._set_state("error", message[:1].upper() + message[1:])

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._meter is None:
            self.start()

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)
        self.stop()
