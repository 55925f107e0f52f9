"""Widget tests: Qt offscreen (no display needed), pytest-qt's `qtbot`, and screenshots.

Screenshots go to $DICTATE_TEST_OUTPUT/screenshots (default tests/output/screenshots, ignored by
git); the README's images are refreshed from there by hand.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest


def output_dir() -> Path:
    root = Path(os.environ.get("DICTATE_TEST_OUTPUT", Path(__file__).parent.parent / "output"))
    folder = root / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session", autouse=True)
def _offscreen_qt():
    """Qt offscreen for the widget tests (with no display and no platform Qt aborts the process).

    Set here rather than at import: conftest files are imported for the whole run, and the
    desktop tests' Qt processes inherit os.environ — offscreen there means no window on X.
    """
    saved = os.environ.get("QT_QPA_PLATFORM")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    yield
    if saved is None:
        os.environ.pop("QT_QPA_PLATFORM", None)
    else:
        os.environ["QT_QPA_PLATFORM"] = saved


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
