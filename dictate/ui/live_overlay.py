"""The live preview: a small always-on-top strip near the bottom centre of the screen while a
dictation is recorded, with the microphone level, the committed text, and the tentative tail in a
lighter colour.

It must never take keyboard focus: the text is for the window the person is typing in. So it is
a frameless tool window that does not accept focus, is shown without activation, lets mouse
clicks through, and on X11 bypasses the window manager (an override-redirect window: the window
manager never sees it, so it cannot focus it).

On Wayland there is no such window: "show without activating" is only a request there, and sway
focuses every new toplevel, so the paste at release went nowhere (issue 23). The layer-shell
protocol would give a surface that takes no focus, but Qt offers it only through KDE's
LayerShellQt, a C++ plugin built against the system's Qt that PySide6's own Qt cannot load. So
on Wayland the words are shown by the dictate window, the tray tooltip and `dictate status`.
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout, QWidget

from dictate.ui.level_meter import LevelMeterBar

WIDTH = 560
MAX_CHARS = 220  # the end of a long dictation: what the person is saying now
BOTTOM_MARGIN = 48


def overlay_supported() -> bool:
    """Whether the strip can be shown here without ever taking the focus: not on Wayland."""
    return not QGuiApplication.platformName().startswith("wayland")


def preview_html(committed: str, tentative: str, limit: int = MAX_CHARS) -> str:
    """Committed text, then the tentative tail in a lighter colour, cut to the last `limit`
    characters (at a word) so the strip stays two or three lines."""
    committed, tentative = committed.strip(), tentative.strip()
    split = len(committed)  # where the tentative words start in `text`
    text = f"{committed} {tentative}" if committed and tentative else committed or tentative
    start = 0
    if len(text) > limit:
        space = text.find(" ", len(text) - limit)
        start = space + 1 if space != -1 else len(text) - limit
    firm = committed[start:] if start < split else ""
    soft = text[max(start, split) :].strip() if tentative else ""
    out = ("… " if start else "") + html.escape(firm)
    if soft:
        out += (" " if firm else "") + f'<span style="color:#9aa0a6">{html.escape(soft)}</span>'
    return out


class LiveOverlay(QWidget):
    """Shown with `begin()`, fed with `set_preview()`, hidden with `end()`."""

    def __init__(self, level: Any = None) -> None:  # level: () -> dBFS (the recorder's)
        flags = (
            Qt.WindowType.Tool
            | Qt.WindowType.FramelessWindowHint
            | Qt.WindowType.WindowStaysOnTopHint
            | Qt.WindowType.WindowDoesNotAcceptFocus
            | Qt.WindowType.X11BypassWindowManagerHint
        )
        super().__init__(None, flags)
        self.setObjectName("dictate-live-preview")
        self.setWindowTitle("dictate live preview")
        self.setAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self._level = level
        frame = QFrame(self)
        frame.setStyleSheet(
            "QFrame { background: rgba(32, 33, 36, 235); border-radius: 10px; }"
            "QLabel { color: #f1f3f4; background: transparent; }"
        )
        inner = QVBoxLayout(frame)
        inner.setContentsMargins(14, 10, 14, 10)
        self.meter = LevelMeterBar()
        self.meter.setFixedHeight(6)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setMinimumHeight(self.fontMetrics().lineSpacing() * 2)
        inner.addWidget(self.meter)
        inner.addWidget(self.label)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(frame)
        self.setFixedWidth(WIDTH)
        self.committed = ""
        self.tentative = ""
        self._timer = QTimer(self)
        self._timer.setInterval(50)
        self._timer.timeout.connect(self._poll_level)

    def begin(self) -> None:
        """A dictation started: show the strip, empty, without taking focus."""
        self.set_preview("", "")
        self.label.setText('<span style="color:#9aa0a6">Listening…</span>')
        self.adjustSize()
        self._place()
        self.show()
        self.raise_()
        self._timer.start()

    def set_preview(self, committed: str, tentative: str) -> None:
        self.committed, self.tentative = committed, tentative
        self.label.setText(preview_html(committed, tentative))
        if self.isVisible():
            self.adjustSize()
            self._place()

    def end(self) -> None:
        self._timer.stop()
        self.meter.reset()
        self.hide()

    def _place(self) -> None:
        screen = QGuiApplication.primaryScreen()
        if screen is None:
            return
        area = screen.availableGeometry()
        x = area.x() + (area.width() - self.width()) // 2
        y = area.y() + area.height() - self.height() - BOTTOM_MARGIN
        self.move(x, y)

    def _poll_level(self) -> None:
        if self._level is not None:
            try:
                self.meter.set_level(float(self._level()))
            except Exception:  # a vanished recorder: the strip is about to hide anyway
                self._timer.stop()
