"""PySide6's import hook must not keep the source of every module imported after it: the
model's imports (torch, transformers: ~2,300 files) come after the window, and shiboken's
`inspect.getsource` kept ~120 MB of their lines in linecache (benchmarks/footprint.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

PROBE = """
import json, linecache, sys
import PySide6.QtCore  # installs shiboken's import hook
if sys.argv[1] == "lightened":
    from dictate.ui.pyside_hook import lighten
    assert lighten()
sys.path.insert(0, sys.argv[2])
import plain_module, qt_module
from shibokensupport.feature import pyside_feature_dict
print(json.dumps({
    "cached": [m for m in ("plain_module", "qt_module") if any(m in f for f in linecache.cache)],
    "features": [pyside_feature_dict.get(m) for m in ("plain_module", "qt_module")],
}))
"""


def _probe(mode: str, folder: Path) -> dict:
    (folder / "plain_module.py").write_text("X = 1\n" * 1000)
    (folder / "qt_module.py").write_text("from PySide6 import QtCore\n")
    done = subprocess.run(
        [sys.executable, "-c", PROBE, mode, str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO), "QT_QPA_PLATFORM": "offscreen"},
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_modules_imported_after_pyside_are_not_kept_in_linecache(tmp_path: Path) -> None:
    before = _probe("as shipped", tmp_path)
    # The probe sees shiboken keep them (else the test below would pass vacuously).
    assert before["cached"] == ["plain_module", "qt_module"]
    after = _probe("lightened", tmp_path)
    assert after["cached"] == []
    # The same answers to shiboken's question: -1 "ignore this module", 0 "uses PySide".
    assert after["features"] == before["features"] == [-1, 0]


def test_uses_pyside_answers_as_shiboken_does(tmp_path: Path) -> None:
    import types

    from dictate.ui.pyside_hook import uses_pyside

    qt = tmp_path / "a.py"
    qt.write_text("import PySide6\n")
    plain = tmp_path / "b.py"
    plain.write_text("import os\n")
    assert uses_pyside(types.SimpleNamespace(__file__=str(qt)))  # type: ignore[arg-type]
    assert not uses_pyside(types.SimpleNamespace(__file__=str(plain)))  # type: ignore[arg-type]
    assert not uses_pyside(sys)  # built in: no file
    assert not uses_pyside(types.SimpleNamespace(__file__=str(tmp_path / "gone.py")))  # type: ignore[arg-type]
    import _socket  # an extension module

    assert not uses_pyside(_socket)


def test_the_window_app_lightens_the_hook_before_anything_else(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dictate.config import Settings
    from dictate.ui import qt_app

    class Called(Exception):
        pass

    def lighten() -> bool:
        raise Called

    monkeypatch.setattr(qt_app, "lighten", lighten)
    with pytest.raises(Called):
        qt_app.run(Settings(), [])
