"""Health at a glance (issue 28): problems held by dictate.health, the microphone watch, the
probe, and how the app's status says them (`dictate status`, the tooltip, the main window)."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pytest

from dictate import health
from dictate.audio import capture
from dictate.health import Health, MicrophoneWatch


def test_problems_come_most_important_first_and_changes_are_announced() -> None:
    changes: list[list[str]] = []
    h = Health()
    h.on_change = lambda: changes.append([p.part for p in h.problems()])
    assert h.ok and h.blocking() is None
    h.set(health.hotkey_problem("the keys are taken"))
    h.set(health.microphone_problem("no microphone found (no audio input device is available)"))
    h.set(health.microphone_problem("no microphone found (no audio input device is available)"))
    assert changes == [["hotkey"], ["microphone", "hotkey"]]  # the same problem again: no news
    mic = h.blocking()
    assert mic is not None and mic.summary == "no microphone"
    assert mic.reason == "no audio input device was found" and "Settings ▸ Audio" in mic.fix
    h.clear(health.MICROPHONE)
    h.clear(health.MICROPHONE)
    assert changes[-1] == ["hotkey"] and len(changes) == 3
    assert h.blocking() is None and not h.ok  # a missing hotkey does not stop dictation


def _watch(h: Health, answers: list[str | None], **kw: Any) -> MicrophoneWatch:
    def probe() -> str | None:
        return answers.pop(0) if answers else None

    return MicrophoneWatch(h, probe, **kw)


def test_watch_checks_at_start_and_again_when_the_devices_change() -> None:
    h = Health()
    devices = ["none"]
    answers: list[str | None] = ["no microphone found", None]
    watch = _watch(h, answers, fingerprint=lambda: devices[0], poll_s=0.02, retry_s=60)
    watch.start()
    try:
        _until(lambda: h.get(health.MICROPHONE) is not None)
        time.sleep(0.1)
        assert watch.probes == 1  # nothing changed: no probe (it opens the microphone)
        devices[0] = "usb mic plugged in"
        _until(lambda: h.get(health.MICROPHONE) is None)
        assert watch.probes == 2
    finally:
        watch.stop()


def test_watch_retries_a_missing_microphone_and_takes_a_kick() -> None:
    h = Health()
    answers: list[str | None] = ["no microphone found", "still none", None]
    watch = _watch(h, answers, fingerprint=lambda: 0, poll_s=0.02, retry_s=0.1)
    watch.start()
    try:
        _until(lambda: watch.probes >= 3 and h.ok)  # retried on its own until it works
        probes = watch.probes
        time.sleep(0.2)
        assert watch.probes == probes  # working: no more probes without a reason
        watch.kick()  # a recording failed, a setting changed
        _until(lambda: watch.probes == probes + 1)
    finally:
        watch.stop()


def test_watch_leaves_a_recording_microphone_alone() -> None:
    h = Health()
    watch = _watch(h, ["no microphone found"], busy=lambda: True)
    watch.check()
    assert watch.probes == 0 and h.ok


def _until(cond: Any, timeout: float = 30.0) -> None:  # a hang guard: CI is loaded
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


# ---- the probe (capture.probe) with a stand-in sounddevice --------------------------------


class FakeStream:
    def __init__(self, sd: FakeSd, callback: Any, **kw: Any) -> None:
        self.sd, self.callback, self.closed = sd, callback, False

    def start(self) -> None:
        if self.sd.delivers:
            threading.Timer(
                0.01, self.callback, (np.zeros((160, 1), np.float32), 160, None, None)
            ).start()

    def abort(self, ignore_errors: bool = False) -> None:
        pass

    def close(self, ignore_errors: bool = False) -> None:
        self.closed = True
        self.sd.closed += 1


class FakeSd:
    class PortAudioError(Exception):
        pass

    def __init__(self, devices: list[dict[str, Any]], delivers: bool = True) -> None:
        self._devices, self.delivers, self.closed = devices, delivers, 0
        self.default = type("D", (), {"device": (0, 0)})()

    def query_devices(self, index: int | None = None) -> Any:
        return self._devices if index is None else self._devices[index]

    def check_input_settings(self, **kw: Any) -> None:
        pass

    def InputStream(self, **kw: Any) -> FakeStream:  # sounddevice's name
        return FakeStream(self, **kw)


MIC = {"name": "USB mic", "max_input_channels": 1, "default_samplerate": 48000}


@pytest.mark.parametrize(
    ("devices", "delivers", "expected"),
    [
        ([MIC], True, None),
        ([], True, "no microphone found"),
        ([{**MIC, "max_input_channels": 0}], True, "no microphone found"),
        ([MIC], False, "delivers no audio"),
    ],
)
def test_probe_opens_the_microphone_briefly(monkeypatch, devices, delivers, expected) -> None:
    sd = FakeSd(devices, delivers)
    monkeypatch.setattr(capture, "_sounddevice", lambda: sd)
    found = capture.probe(timeout_s=0.3)
    if expected is None:
        assert found is None
    else:
        assert found is not None and expected in found
    opened = bool(devices and devices[0]["max_input_channels"])
    assert sd.closed == (1 if opened else 0)  # never left open


def test_recorder_probe_answers_from_its_open_stream(monkeypatch) -> None:
    rec = capture.Recorder()
    stream = type("S", (), {"dead": None, "first_block": threading.Event()})()
    stream.first_block.set()
    rec._stream = stream  # a keep-open stream that delivers
    monkeypatch.setattr(capture, "probe", lambda *a, **k: pytest.fail("opened another stream"))
    assert rec.probe() is None


# ---- the app's status: `dictate status`, the tooltip and the main window read it ----------


@pytest.fixture
def app(tmp_path, monkeypatch):
    from dictate.app import App
    from dictate.config import Settings

    for name in ("DATA", "CONFIG", "CACHE"):
        monkeypatch.setenv(f"DICTATE_{name}_DIR", str(tmp_path / name.lower()))
    monkeypatch.setenv("DICTATE_SOCKET", str(tmp_path / "control.sock"))
    for name in ("DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    said: list[str] = []
    app = App(Settings(device="cpu"), say=said.append)
    app.said = said
    yield app
    app.shutdown()


def test_no_microphone_at_start_is_the_status_not_ready(app, monkeypatch) -> None:
    from dictate.commands.control import status_line

    def no_microphone(*_: Any, **__: Any) -> None:
        raise capture.MicrophoneError("no microphone found (no audio input device is available)")

    monkeypatch.setattr(app.recorder, "open", no_microphone)
    # The pre-roll reconfigures the recorder to stay open (which opens the real device where
    # a sound server runs): no device here either.
    monkeypatch.setattr(app.recorder, "reconfigure", no_microphone)
    monkeypatch.setattr(app.recorder, "probe", lambda: "no microphone found")
    events: list[Any] = []
    app.listeners.append(events.append)
    app.start(load_model=False)
    # The problem is set, then said and announced on the health thread: wait for all three.
    _until(lambda: any(m.startswith("microphone: no microphone") for m in app.said))
    _until(lambda: any(e.message == "health" for e in events))
    assert app.health.get(health.MICROPHONE) is not None
    word, detail = app.status()
    assert word == "no microphone"
    assert "Settings ▸ Audio" in detail and "the model is loading" in detail
    line = status_line(app._handle("status", {}))  # what `dictate status` prints
    assert line.startswith("no microphone: no audio input device was found")
    assert any(m.startswith("microphone: no microphone") for m in app.said)
    assert any(e.message == "health" for e in events)  # the UI is told to look again
    # The microphone comes back (plugged in): a recording that starts clears it at once.
    from dictate.dictation.session import Event, State

    monkeypatch.setattr(app.cues, "play", lambda name: None)
    monkeypatch.setattr(app.holder, "ensure_loaded", lambda: None)
    app._on_event(Event(State.RECORDING, 1))
    assert app.health.get(health.MICROPHONE) is None
    assert "microphone: working again" in app.said


def test_a_model_that_cannot_load_and_a_missing_hotkey_say_where_to_fix_them(app) -> None:
    from dictate.engine.holder import ModelStatus

    app._started = True
    app.holder.error = "tiny.en is not in the cache and the network is off"
    app._on_model_status(ModelStatus("failed", "tiny.en", "cpu", message=app.holder.error))
    word, detail = app.status()
    assert word == "error" and "not in the cache" in detail and "Settings ▸ Model" in detail
    app.health.set(health.hotkey_problem("Ctrl+Alt+D is taken by another program"))
    assert "no global hotkey (Ctrl+Alt+D is taken" in app.status()[1]
    assert "dictate toggle" in app.status()[1]


def test_while_the_model_loads_a_dictation_says_it_will_be_typed(app, monkeypatch) -> None:
    from dictate.dictation.session import State

    app._started = True
    monkeypatch.setattr(type(app.holder), "loading", property(lambda self: True))
    assert app.holder.engine is None
    now = [State.RECORDING]
    monkeypatch.setattr(type(app.session), "state", property(lambda self: now[0]))
    assert app.status() == ("recording", "will type when the model is ready")
    now[0] = State.TRANSCRIBING  # released, queued behind the loading model
    assert app.status() == ("loading model", "will type your dictation when the model is ready")
    now[0] = State.IDLE
    assert app.status() == ("loading model", "")


def test_a_microphone_error_has_it_checked_again_at_once(app, monkeypatch) -> None:
    from dictate.dictation.session import Event, State

    kicks: list[int] = []
    app.mic_watch = type("W", (), {"kick": lambda self: kicks.append(1), "stop": lambda s: 0})()
    monkeypatch.setattr(app.cues, "play", lambda name: None)
    app._on_event(Event(State.ERROR, message="could not insert the text: no window"))
    assert kicks == []  # not the microphone's business
    app._on_event(Event(State.ERROR, message="microphone lost: the sound server is gone"))
    assert kicks == [1]


def test_the_spacing_lives_in_the_history_and_follows_the_setting(app) -> None:
    from dataclasses import replace

    assert app.session.spacing.store is app.history and app.session.spacing.mode == "smart"
    app.apply_settings(replace(app.settings, start_space="never"))
    assert app.session.spacing.mode == "never"


def test_a_microphone_that_fails_at_start_is_not_kept_open_later(app, monkeypatch) -> None:
    """The pre-roll while the model loads asks the recorder to keep its stream open; when
    the microphone cannot be opened, that is undone (or the next dictation's stream would stay
    open for good)."""

    def no_microphone() -> None:
        raise capture.MicrophoneError("no microphone found")

    monkeypatch.setattr(app.recorder, "_ensure_stream", no_microphone)
    assert app._check_microphone() == "no microphone found"
    assert app.recorder.keep_open is False and app._preroll_timer is None
