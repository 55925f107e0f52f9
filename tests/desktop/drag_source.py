"""A stand-in for a file manager, run as a separate process by the drag-and-drop test.

A small window that starts a drag of one file's URL when the mouse is pressed on it, as a file
manager does. Prints ``READY <window id>`` once shown and ``DROPPED <action>`` when the drag ends
(``DROPPED ignore`` if nobody took it).

    python drag_source.py FILE [--x X --y Y]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PySide6.QtCore import QMimeData, Qt, QTimer, QUrl
from PySide6.QtGui import QDrag, QMouseEvent
from PySide6.QtWidgets import QApplication, QLabel

ACTIONS = {
    Qt.DropAction.CopyAction: "copy",
    Qt.DropAction.MoveAction: "move",
    Qt.DropAction.LinkAction: "link",
    Qt.DropAction.IgnoreAction: "ignore",
}


class Source(QLabel):
    def __init__(self, path: Path) -> None:
        super().__init__(f"drag me: {path.name}")
        self.path = path
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setWindowTitle("dictate drag source")

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(str(self.path))])
        drag = QDrag(self)
        drag.setMimeData(mime)
        # Offer a move too, as file managers do: the drop target must still choose a copy.
        action = drag.exec(Qt.DropAction.CopyAction | Qt.DropAction.MoveAction)
        print(f"DROPPED {ACTIONS.get(action, str(action))}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("file", type=Path)
    parser.add_argument("--x", type=int, default=40)
    parser.add_argument("--y", type=int, default=80)
    args = parser.parse_args()

    app = QApplication([sys.argv[0], "-name", "dictate-drag-source"])
    source = Source(args.file.resolve())
    source.setGeometry(args.x, args.y, 220, 140)
    source.show()
    QTimer.singleShot(100, lambda: print(f"READY {int(source.winId())}", flush=True))
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
