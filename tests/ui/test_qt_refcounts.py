"""The Qt binding keeps Python's reference counts: PySide6 6.12.0 on Python 3.11 returned None
from void methods without a reference, so every QPainter call took one from None, and the
window app aborted ("Fatal Python error: none_dealloc") after minutes of painting the level
meter during a long dictation. pyproject.toml keeps that release off Python < 3.12."""

from __future__ import annotations

import sys

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter


def test_painting_takes_no_reference_from_none(qapp) -> None:
    image = QImage(64, 16, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    rect = QRectF(0, 0, 60, 12)
    try:
        before = sys.getrefcount(None)
        for _ in range(500):  # a few seconds of the meter's frames; far below None's count
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor("#d93a3a"))
            painter.drawRoundedRect(rect, 2, 2)
            painter.drawLine(1, 2, 3, 4)
        lost = before - sys.getrefcount(None)
    finally:
        painter.end()
    assert lost < 100, f"None lost {lost} references in 2000 QPainter calls"
