"""A stand-in for "the window the user dictates into", run as a separate process by the tests.

A QTextEdit that focuses itself and, on every change, rewrites a JSON file with its text, the
key combinations it received and whether it has focus. Ctrl+Shift+V pastes too, like a
terminal, so a test can tell which paste keys arrived. Prints ``READY <window id>`` once shown.

    python target_app.py STATE.json [--name INSTANCE] [--class CLASS] [--read-only]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication, QTextEdit


class Target(QObject):
    def __init__(self, state: Path, edit: QTextEdit) -> None:
        super().__init__()
        self.state = state
        self.edit = edit
        self.keys: list[str] = []
        edit.textChanged.connect(self.dump)
        edit.installEventFilter(self)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            combo = self.describe(event)
            if combo:
                self.keys.append(combo)
                self.dump()
            if combo == "ctrl+shift+v" and not self.edit.isReadOnly():  # a terminal's paste key
                self.edit.paste()
                return True
        elif event.type() in (QEvent.Type.FocusIn, QEvent.Type.FocusOut):
            QTimer.singleShot(0, self.dump)
        return False

    @staticmethod
    def describe(event: QKeyEvent) -> str:
        """'ctrl+shift+v' for modified keys; plain typing is visible in the text instead."""
        mods = event.modifiers()
        parts = [
            name
            for flag, name in (
                (Qt.KeyboardModifier.ControlModifier, "ctrl"),
                (Qt.KeyboardModifier.AltModifier, "alt"),
                (Qt.KeyboardModifier.ShiftModifier, "shift"),
            )
            if mods & flag
        ]
        key = event.key()
        if key in (Qt.Key.Key_Control, Qt.Key.Key_Shift, Qt.Key.Key_Alt, Qt.Key.Key_Meta):
            return ""
        if not parts or (parts == ["shift"] and key != Qt.Key.Key_Insert):
            return ""
        name = "insert" if key == Qt.Key.Key_Insert else chr(key).lower() if key < 128 else str(key)
        return "+".join([*parts, name])

    def dump(self) -> None:
        # Written whole and renamed, so a reader never sees half a file.
        data = {
            "text": self.edit.toPlainText(),
            "keys": self.keys,
            "focus": self.edit.hasFocus() and self.edit.window().isActiveWindow(),
        }
        tmp = self.state.with_suffix(".tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, self.state)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("state", type=Path)
    parser.add_argument("--name", default="dictate-target", help="WM_CLASS instance")
    parser.add_argument("--class", dest="cls", default="DictateTarget", help="WM_CLASS class")
    parser.add_argument("--read-only", action="store_true", help="a window that never pastes")
    args = parser.parse_args()

    # Qt takes the WM_CLASS instance from -name and the class from the application name.
    app = QApplication([sys.argv[0], "-name", args.name])
    app.setApplicationName(args.cls)
    edit = QTextEdit()
    edit.setAcceptRichText(False)
    edit.setReadOnly(args.read_only)
    edit.setWindowTitle("dictate test target")
    edit.resize(500, 200)
    target = Target(args.state, edit)
    edit.show()

    def announce() -> None:
        # No window manager runs: Qt then calls XSetInputFocus itself on activateWindow().
        edit.activateWindow()
        edit.setFocus()
        target.dump()
        print(f"READY {int(edit.winId())}", flush=True)

    QTimer.singleShot(100, announce)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
