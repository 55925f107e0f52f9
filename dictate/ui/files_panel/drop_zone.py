"""The dashed "drop files here" area, and what a drop carries (always taken as a copy)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDragEnterEvent, QDragLeaveEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QStyle, QWidget


def split_urls(urls: Iterable[QUrl]) -> tuple[list[Path], list[str]]:
    """Local files (as paths) and everything else (as text, to say why it was refused)."""
    local, other = [], []
    for url in urls:
        if url.isLocalFile() and url.toLocalFile():
            local.append(Path(url.toLocalFile()))
        else:
            other.append(url.toDisplayString())
    return local, other


def accept_copy(event: QDropEvent) -> bool:
    """Take a drag that carries URLs, always as a copy: a "move" could make the file manager
    delete the file once it is dropped. (Enter and move events are drop events in Qt.)"""
    if not event.mimeData().hasUrls():
        event.ignore()
        return False
    event.setDropAction(Qt.DropAction.CopyAction)
    event.accept()
    return True


class DropZone(QFrame):
    """The dashed "drop files here" area with the "Add files…" button."""

    dropped = Signal(list, list)  # local paths, refused URLs (as text)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dropZone")
        self.setAcceptDrops(True)
        self.setProperty("hover", False)
        self.setStyleSheet(
            "#dropZone { border: 2px dashed palette(mid); border-radius: 8px; }"
            '#dropZone[hover="true"] { border-color: palette(highlight);'
            " background: palette(alternate-base); }"
        )
        self.setMinimumHeight(64)
        icon = QLabel()
        icon.setPixmap(self.style().standardIcon(QStyle.StandardPixmap.SP_DirOpenIcon).pixmap(32))
        self.label = QLabel("<b>Drop audio or video files here</b><br>or folders that hold them")
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.add_button = QPushButton("&Add files…")
        self.add_button.setToolTip("Choose audio or video files to transcribe (Ctrl+O)")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(16, 10, 16, 10)
        layout.setSpacing(12)
        layout.addWidget(icon)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.add_button)

    def set_hover(self, hover: bool) -> None:
        self.setProperty("hover", hover)
        self.style().unpolish(self)  # restyle for the [hover] selector
        self.style().polish(self)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if accept_copy(event):
            self.set_hover(True)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        accept_copy(event)

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:
        self.set_hover(False)

    def dropEvent(self, event: QDropEvent) -> None:
        self.set_hover(False)
        if accept_copy(event):
            self.dropped.emit(*split_urls(event.mimeData().urls()))
