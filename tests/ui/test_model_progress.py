"""The model window (issue 23): it closes by itself once the model is ready, start-up load
included; it is shown without activation; it names the device chosen and says each step once."""

from __future__ import annotations

import time
from types import SimpleNamespace

from PySide6.QtCore import Qt

from dictate.engine.holder import ModelStatus, _device_shown
from dictate.ui.model_progress import ModelProgress, describe
from dictate.ui.qt_app import DictateUI


def test_each_step_is_said_once() -> None:
    assert describe(ModelStatus("loading", "tiny.en", "cpu", message="loading tiny.en")) == (
        "loading tiny.en"
    )
    assert describe(ModelStatus("warming up", "tiny.en", "cpu", message="warming up")) == (
        "warming up tiny.en"
    )
    assert describe(ModelStatus("loading", "big", "cpu", message="assistant small")) == (
        "loading big (assistant small)"
    )
    assert describe(ModelStatus("loading", "tiny.en", "cpu")) == "loading tiny.en"


def test_auto_is_named_as_the_device_it_picks() -> None:
    from dictate.engine.device import auto_kind

    assert _device_shown("auto") == auto_kind() != "auto"
    assert _device_shown("cpu") == "cpu"


def test_the_start_up_load_window_closes_itself_within_2_s_of_ready(qtbot) -> None:
    progress = ModelProgress()
    qtbot.addWidget(progress)
    assert progress.testAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating)
    # DictateUI's handler on a stand-in: the first "ready" (the start-up load) used to be
    # skipped, which left the window showing "warming up" with a busy bar for good.
    ui = SimpleNamespace(refresh=lambda: None, progress=progress, tray=None)
    for status in (
        ModelStatus("loading", "tiny.en", "cpu", message="loading tiny.en"),
        ModelStatus("warming up", "tiny.en", "cpu", message="warming up"),
    ):
        DictateUI.on_model_status(ui, status)  # type: ignore[arg-type]
    assert progress.isVisible()
    assert progress.title.text() == "tiny.en on cpu"
    assert progress.detail.text() == "warming up tiny.en"
    assert progress.bar.maximum() == 0  # busy
    ready_at = time.monotonic()
    DictateUI.on_model_status(ui, ModelStatus("ready", "tiny.en", "cpu", message="tiny.en on cpu"))
    assert progress.bar.format() == "ready"
    qtbot.waitUntil(lambda: not progress.isVisible(), timeout=2000)
    assert time.monotonic() - ready_at <= 2.0


def test_a_failure_stays_on_screen(qtbot) -> None:
    progress = ModelProgress()
    qtbot.addWidget(progress)
    ui = SimpleNamespace(refresh=lambda: None, progress=progress, tray=None)
    DictateUI.on_model_status(ui, ModelStatus("loading", "x", "cpu", message="loading x"))
    DictateUI.on_model_status(ui, ModelStatus("failed", "x", "cpu", message="x: not found"))
    qtbot.wait(1500)
    assert progress.isVisible() and progress.detail.text() == "x: not found"
