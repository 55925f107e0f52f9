"""The files panel in a real window, run as a separate process by the drag-and-drop test.

A FilesPanel over a real FileQueue and Engine (the model folder given, on the CPU; it loads in
the background while the window is up). Every 100 ms it rewrites a JSON file with the jobs, the
results text and where the drop zone is inside the window. Prints ``READY <window id>``.

    python files_panel_app.py MODEL_DIR STATE.json [--x X --y Y]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from pathlib import Path

from PySide6.QtCore import QPoint, QTimer
from PySide6.QtWidgets import QApplication

from dictate.engine.options import TranscribeOptions
from dictate.engine.transcriber import Engine
from dictate.errors import DictateError
from dictate.files.queue import FileQueue
from dictate.ui.files_panel import FilesPanel

TITLE = "dictate files test"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("model", type=Path)
    parser.add_argument("state", type=Path)
    parser.add_argument("--x", type=int, default=400)
    parser.add_argument("--y", type=int, default=60)
    args = parser.parse_args()

    engine = Engine(str(args.model), device="cpu")
    ready = threading.Event()
    failure: list[str] = []

    def load() -> None:
        try:
            engine.load()
            engine.warmup()
        except DictateError as exc:
            failure.append(str(exc))
        ready.set()

    def get_engine() -> Engine:
        ready.wait()
        if failure:
            raise DictateError(failure[0])
        return engine

    threading.Thread(target=load, daemon=True).start()
    app = QApplication([sys.argv[0], "-name", "dictate-files"])
    queue = FileQueue(get_engine, TranscribeOptions)
    panel = FilesPanel(queue)
    panel.setWindowTitle(TITLE)
    panel.setGeometry(args.x, args.y, 760, 560)
    panel.show()

    def dump() -> None:
        zone = panel.drop_zone
        corner = zone.mapTo(panel, QPoint(0, 0))
        data = {
            "model_ready": ready.is_set() and not failure,
            "drop_zone": [corner.x(), corner.y(), zone.width(), zone.height()],
            "jobs": [
                {"path": str(j.path), "status": j.status, "text": j.text, "error": j.error}
                for j in queue.jobs
            ],
            "rows": [
                panel.tree.topLevelItem(i).text(1) for i in range(panel.tree.topLevelItemCount())
            ],
            "results": panel.results_text(),
            "message": panel.message,
        }
        tmp = args.state.with_suffix(".tmp")  # written whole and renamed: never half a file
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, args.state)

    timer = QTimer(interval=100)
    timer.timeout.connect(dump)
    timer.start()
    QTimer.singleShot(100, lambda: (dump(), print(f"READY {int(panel.winId())}", flush=True)))
    try:
        return app.exec()
    finally:
        queue.shutdown(timeout=1)


if __name__ == "__main__":
    sys.exit(main())
