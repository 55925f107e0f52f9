"""The tray app shows itself before the model is in: nothing on the way to its first window
imports torch or transformers (seconds and hundreds of MB); the engine holder's loader thread
does, in the background. The timings themselves are in benchmarks/footprint.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import REPO

HEAVY = ("torch", "transformers", "onnxruntime", "silero_vad", "ctranslate2")


def _imported_by(*modules: str) -> list[str]:
    probe = (
        "import json, sys\n"
        f"for name in {list(modules)!r}: __import__(name)\n"
        f"print(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_window_app_s_modules_import_nothing_heavy() -> None:
    assert (
        _imported_by(
            "dictate.cli",
            "dictate.app",
            "dictate.engine.holder",
            "dictate.audio.capture",
            "dictate.audio.gate",
            "dictate.files.queue",
            "dictate.ui.qt_app",
            "dictate.ui.files_panel",
            "dictate.ui.tray",
        )
        == []
    )


def test_the_engine_still_brings_its_own() -> None:
    """The probe above can see a heavy import (it would pass vacuously if it could not)."""
    assert "torch" in _imported_by("dictate.engine.transcriber")
