"""Model switching and idle unloading (dictate.engine.holder) with a stand-in engine class.

The stand-in records load/unload calls; the real engine's loading is covered by test_loading.py
and test_engine_real.py, and the full switch through the app by tests/desktop/test_tray_x11.py.
"""

from __future__ import annotations

import time
from typing import ClassVar

import pytest

from dictate.audio.gate import SpeechGate
from dictate.engine.holder import EngineHolder, ModelStatus
from dictate.engine.transcriber import EngineInfo
from dictate.errors import DictateError, ModelNotAvailableError


class FakeEngine:
    created: ClassVar[list[FakeEngine]] = []

    def __init__(self, model, *, device, gate, on_notice, progress, assistant=None) -> None:
        self.model, self.requested_device, self.progress = model, device, progress
        self.assistant = assistant
        self.loaded = False
        self.loads = self.unloads = 0
        self.last_used = time.monotonic()
        FakeEngine.created.append(self)

    def load(self) -> EngineInfo:
        if self.model == "broken":
            raise ModelNotAvailableError("broken: not in the cache and offline")
        self.progress(type("P", (), {"stage": "download", "done": 5, "total": 10, "message": ""}))
        self.loaded = True
        self.loads += 1
        return EngineInfo(self.model, "folder", self.requested_device, "float32", True)

    def warmup(self) -> float:
        return 0.0

    def unload(self) -> None:
        self.loaded = False
        self.unloads += 1


@pytest.fixture
def holder():
    FakeEngine.created.clear()
    statuses: list[ModelStatus] = []
    h = EngineHolder(
        SpeechGate(),
        on_status=statuses.append,
        on_notice=lambda m: None,
        engine_factory=FakeEngine,
    )
    h.statuses = statuses  # type: ignore[attr-defined]
    yield h
    h.shutdown()


def test_switch_loads_new_then_frees_old(holder) -> None:
    holder.load("a", "cpu").result(5)
    first = holder.get()
    assert first.model == "a" and first.loaded
    holder.load("b", "cpu").result(5)
    assert holder.get().model == "b"
    assert not first.loaded and first.unloads == 1  # the old model's memory was given back
    stages = [s.stage for s in holder.statuses]
    assert stages.count("ready") == 2
    downloading = next(s for s in holder.statuses if s.stage == "downloading")
    assert downloading.fraction == 0.5


def test_failed_switch_keeps_the_old_model(holder) -> None:
    holder.load("a", "cpu").result(5)
    assert holder.load("broken", "cpu").result(5) is None
    assert holder.get().model == "a" and holder.get().loaded
    failed = holder.statuses[-1]
    assert failed.stage == "failed"
    assert "broken" in failed.message and "still using a" in failed.message


def test_first_load_failure_is_an_error_for_callers(holder) -> None:
    holder.load("broken", "cpu").result(5)
    with pytest.raises(DictateError, match="offline"):
        holder.get(timeout=2)


def test_idle_unload_and_reload_on_use(holder) -> None:
    holder.load("a", "cpu").result(5)
    engine = holder.get()
    holder.idle_unload_s = 0.5
    deadline = time.monotonic() + 5
    while engine.loaded and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not engine.loaded
    assert holder.statuses[-1].stage == "unloaded"
    holder.idle_unload_s = 0
    assert holder.get(timeout=5) is engine and engine.loaded and engine.loads == 2


def test_engine_in_use_is_not_idle(holder) -> None:
    holder.load("a", "cpu").result(5)
    engine = holder.get()
    holder.idle_unload_s = 0.6
    end = time.monotonic() + 1.5
    while time.monotonic() < end:  # a long file: the engine is used every window
        engine.last_used = time.monotonic()
        time.sleep(0.1)
    assert engine.loaded


def test_a_draft_model_reaches_the_engine(holder) -> None:
    holder.load("large-v3", "cuda", "distil-large-v3").result(5)
    assert holder.get().assistant == "distil-large-v3"
    holder.load("large-v3", "cuda").result(5)
    assert holder.get().assistant is None


def test_the_draft_model_setting_applies_only_to_models_it_fits() -> None:
    from dictate.engine.catalog import draft_model

    assert draft_model("large-v3", "distil-large-v3") == "distil-large-v3"
    assert draft_model("openai/whisper-large-v3", "distil-large-v3.5") == "distil-large-v3.5"
    assert draft_model("tiny.en", "distil-large-v3") is None  # not a pair: no draft model
    assert draft_model(None, "distil-large-v3") is None
    assert draft_model("large-v3", None) is None
