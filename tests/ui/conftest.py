"""Widget tests: Qt offscreen (no display needed), pytest-qt's `qtbot`, and screenshots.

Screenshots go to $DICTATE_TEST_OUTPUT/screenshots (default tests/output/screenshots, ignored by
git); the README's images are refreshed from there by hand.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

# Must be set before the QApplication exists; with no display and no platform Qt aborts the process.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def output_dir() -> Path:
    root = Path(os.environ.get("DICTATE_TEST_OUTPUT", Path(__file__).parent.parent / "output"))
    folder = root / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def screenshot() -> Callable[..., Path]:
    """screenshot(widget, "name") → saves name.png (widget.grab()) and returns its path."""

    def take(widget, name: str) -> Path:  # widget: QWidget (no Qt import in conftest scope)
        path = output_dir() / f"{name}.png"
        assert widget.grab().save(str(path)), f"could not save {path}"
        return path

    return take


@pytest.fixture(autouse=True)
def _private_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each widget test gets its own settings, history and cache folders."""
    for name in ("DATA", "CONFIG", "CACHE"):
        monkeypatch.setenv(f"DICTATE_{name}_DIR", str(tmp_path / name.lower()))
