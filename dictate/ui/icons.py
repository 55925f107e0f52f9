"""Icons for the tray states and windows, from resources/icons (SVG, PNG fallbacks).

If the resources are missing (a broken install) a plain coloured disc is drawn instead, so the
tray still tells the states apart.
"""

from __future__ import annotations

from functools import cache

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap

# Tray state → icon name in resources/icons (tray-<name>.svg) and the fallback colour.
STATES = {
    "idle": "#4a90d9",
    "recording": "#d93a3a",
    "transcribing": "#e0a020",
    "error": "#7a7a7a",
}
_SIZES = (16, 22, 24, 32, 48, 64, 128, 256)


def _from_resources(name: str) -> QIcon | None:
    try:
        from dictate import assets
    except ImportError:
        return None
    icon, found = QIcon(), 0
    for size in (None, *_SIZES):
        try:
            path = assets.icon_path(name, size)
        except (OSError, ValueError, LookupError):
            continue
        if path.is_file():
            icon.addFile(str(path))
            found += 1
    return icon if found else None


def _disc(colour: str) -> QIcon:
    pixmap = QPixmap(64, 64)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(QColor(colour))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.drawEllipse(6, 6, 52, 52)
    painter.end()
    return QIcon(pixmap)


@cache
def tray_icon(state: str) -> QIcon:
    """The tray icon for "idle", "recording", "transcribing" or "error"."""
    return _from_resources(f"tray-{state}") or _disc(STATES[state])


@cache
def app_icon() -> QIcon:
    return _from_resources("dictate") or _disc(STATES["idle"])
