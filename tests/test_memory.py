"""Memory the app frees is given back to the OS: after the model's warm-up and after each
transcription (dictation or file). The resident-memory figures are in benchmarks/footprint.py."""

from __future__ import annotations

import ctypes
import sys
import time
from pathlib import Path

import pytest

from dictate import memory

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's heap")


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024.0
    raise AssertionError("no VmRSS")


@linux_only
def test_freed_heap_goes_back_to_the_os() -> None:
    # 80 MB in 64 kB blocks from the C heap (below glibc's mmap threshold, so they live in the
    # heap); all but the last are freed: they sit below it, where glibc's own trimming on
    # free() cannot reach, as a warm-up's buffers do.
    malloc, free = ctypes.CDLL("libc.so.6").malloc, ctypes.CDLL("libc.so.6").free
    malloc.restype, malloc.argtypes, free.argtypes = (
        ctypes.c_void_p,
        [ctypes.c_size_t],
        [ctypes.c_void_p],
    )
    blocks = [malloc(64 * 1024) for _ in range(1280)]
    for b in blocks:
        ctypes.memset(b, 1, 64 * 1024)  # touched: resident
    keep = blocks.pop()
    for b in blocks:
        free(b)
    before = _rss_mb()
    assert memory.give_back() is True
    after = _rss_mb()
    free(keep)
    assert before - after > 50, (before, after)


def test_give_back_collects_cycles_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    collected = []
    monkeypatch.setattr(memory.gc, "collect", lambda: collected.append(1) or 0)
    memory.give_back()
    assert collected == []
    memory.give_back(collect=True)
    assert collected == [1]


def test_give_back_soon_does_not_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    release, done = threading.Event(), threading.Event()

    def slow(collect: bool = False) -> bool:
        release.wait(5)
        done.set()
        return True

    monkeypatch.setattr(memory, "give_back", slow)
    t0 = time.monotonic()
    memory.give_back_soon()
    assert time.monotonic() - t0 < 1.0 and not done.is_set()
    release.set()
    assert done.wait(5)


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import tempfile

    from dictate.app import App
    from dictate.config import Settings

    monkeypatch.setenv("DICTATE_SOCKET", str(Path(tempfile.mkdtemp(prefix="dct-")) / "c.sock"))
    monkeypatch.setenv("DICTATE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DICTATE_CONFIG_DIR", str(tmp_path / "config"))
    for name in ("DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    app = App(Settings(), say=lambda message: None)
    yield app
    app.shutdown()


def test_the_app_gives_memory_back_after_warm_up_and_each_transcription(
    app, monkeypatch: pytest.MonkeyPatch
) -> None:
    from types import SimpleNamespace

    from dictate.dictation.session import Event, State
    from dictate.engine.holder import ModelStatus

    calls: list[bool] = []
    monkeypatch.setattr(memory, "give_back_soon", lambda collect=False: calls.append(collect))
    monkeypatch.setattr(app.cues, "play", lambda name: None)
    app._on_model_status(ModelStatus("loading", "tiny.en", "cpu"))
    assert calls == []  # nothing while it loads
    app._on_model_status(ModelStatus("ready", "tiny.en", "cpu", message="tiny.en on cpu"))
    assert calls == [True]  # after the warm-up: cycles too, once
    app._on_event(Event(State.RECORDING))
    app._on_event(Event(State.TRANSCRIBING))
    assert calls == [True]
    app._on_event(Event(State.IDLE, text="hello"))
    assert calls == [True, False]
    app._on_event(Event(State.ERROR, message="the model failed"))
    assert calls == [True, False, False]
    job = SimpleNamespace(id=1, status="done", text="words", elapsed_s=1.0, path=Path("a.wav"))
    app._on_file_job(job)
    assert calls == [True, False, False, False]


def test_the_stop_cue_plays_once_per_dictation(app, monkeypatch: pytest.MonkeyPatch) -> None:
    """stop() says TRANSCRIBING when it queues the dictation, and the worker says it again when
    it takes it: one cue, not two (and a second dictation gets its own)."""
    from dictate.dictation.session import Event, State

    played: list[str] = []
    monkeypatch.setattr(app.cues, "play", played.append)
    for dictation in (1, 1, 2, 2):
        app._on_event(Event(State.TRANSCRIBING, dictation))
    assert played == ["stop", "stop"]
