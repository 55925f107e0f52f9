"""The small window that follows a model switch: downloading (bytes, percent), loading, warming up.

It closes itself a second after the model is ready; on failure it stays open with the reason.
It is shown without activation: it appears while the person may already be typing elsewhere, and
a window manager that focused it would take their next dictation (issue 23).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QDialogButtonBox, QLabel, QProgressBar, QVBoxLayout, QWidget

from dictate.ui.icons import app_icon

CLOSE_AFTER_MS = 1000  # after "ready": long enough to read, well within the 2 s promised


def _mb(n: int) -> str:
    return f"{n / 1e6:,.0f} MB" if n >= 1e6 else f"{n / 1e3:,.0f} kB"


def describe(status: Any) -> str:
    """One line for the tooltip and the window: what is happening to which model."""
    if status.stage == "downloading" and status.total:
        pct = 100 * status.done / status.total
        return (
            f"downloading {status.model}: {pct:.0f} % ({_mb(status.done)} of {_mb(status.total)})"
        )
    if status.stage in ("ready", "failed", "unloaded"):
        return status.message or f"{status.model}: {status.stage}"
    line, message = f"{status.stage} {status.model}", status.message.strip()
    if not message or message == status.stage:
        return line
    if message.startswith(status.stage):  # "loading X", "loading X again": says it all
        return message
    return f"{line} ({message})"


class ModelProgress(QWidget):
    """Shows one switch at a time; `update_status` is connected to the bridge's model_status."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setWindowTitle("dictate — model")
        self.setAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating)  # X11: _NET_WM_USER_TIME 0
        self.setWindowIcon(app_icon())
        self.setMinimumWidth(420)
        self.title = QLabel()
        self.title.setStyleSheet("font-weight: 600")
        self.detail = QLabel()
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.bar = QProgressBar()
        self.bar.setTextVisible(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.hide)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.bar)
        layout.addWidget(self.detail)
        layout.addWidget(buttons)
        self._close_timer = QTimer(self, singleShot=True, interval=CLOSE_AFTER_MS)
        self._close_timer.timeout.connect(self.hide)

    def present(self) -> None:
        """Show (or keep showing) on top, without taking the keyboard focus."""
        self.show()
        self.raise_()

    def update_status(self, status: Any) -> None:
        self._close_timer.stop()
        self.title.setText(f"{status.model} on {status.device or 'auto'}")
        self.detail.setText(describe(status))
        if status.stage == "downloading" and status.total:
            self.bar.setRange(0, 1000)
            self.bar.setValue(int(1000 * status.done / status.total))
            self.bar.setFormat("%p %")
        elif status.busy:
            self.bar.setRange(0, 0)  # busy: Qt animates an indeterminate bar
        else:
            self.bar.setRange(0, 1)
            self.bar.setValue(1 if status.stage == "ready" else 0)
            self.bar.setFormat("ready" if status.stage == "ready" else status.stage)
            if status.stage == "ready":
                self._close_timer.start()
