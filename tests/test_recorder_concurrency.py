"""The recorder's settings changed from the settings dialog while dictations start and stop on
other threads (a fake PortAudio: each microphone sends a constant that names it).

Before `Recorder.reconfigure`, the app set the recorder's fields itself, outside its lock, and
closed the stream when no dictation seemed to be running: a dictation that began in between
lost its recording. `reconfigure` changes the fields and the stream under the recorder's lock."""

from __future__ import annotations

import random
import threading
import time
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from dictate.audio import capture
from dictate.audio.capture import Recorder

MARKS = {"Mic A": 0.25, "Mic B": 0.5}  # the value each fake microphone sends


class FakeSoundDevice:
    """Just enough of the sounddevice module: two inputs, streams that deliver blocks fast."""

    class PortAudioError(Exception):
        pass

    def __init__(self) -> None:
        self.default = SimpleNamespace(device=(0, -1))
        self.infos = [
            {"name": name, "max_input_channels": 1, "max_output_channels": 0}
            | {"default_samplerate": 16000.0}
            for name in MARKS
        ]
        self.open: set[Any] = set()
        self.lock = threading.Lock()
        fake = self

        class InputStream:
            def __init__(self, device: int, blocksize: int, callback: Any, **kw: Any) -> None:
                self.name = fake.infos[device]["name"]
                self.block = np.full((blocksize, 1), MARKS[self.name], np.float32)
                self.callback, self.finished = callback, kw["finished_callback"]
                self.stopped = threading.Event()
                self.thread = threading.Thread(target=self._run, daemon=True)

            def start(self) -> None:
                with fake.lock:
                    fake.open.add(self)
                self.thread.start()

            def _run(self) -> None:
                while not self.stopped.wait(0.002):  # 20 ms blocks, ten times real time
                    self.callback(self.block, len(self.block), None, 0)

            def abort(self, ignore_errors: bool = False) -> None:
                self.stopped.set()
                self.thread.join(5)
                self.finished()

            def close(self, ignore_errors: bool = False) -> None:
                with fake.lock:
                    fake.open.discard(self)

        self.InputStream = InputStream

    def query_devices(self, index: int | None = None) -> Any:
        return self.infos if index is None else self.infos[index]

    def check_input_settings(self, **kw: Any) -> None:
        pass

    def streams(self) -> list[str]:
        with self.lock:
            return sorted(s.name for s in self.open)


class QuickGate:
    """No speech at the end of any window: stop() ends at once."""

    def regions(self, window: np.ndarray) -> list:
        return []


def old_reconfigure(rec: Recorder, device: str, keep_open: bool, recording: bool) -> None:
    """What the app did before `Recorder.reconfigure`, on its own reading of the session's
    state (RECORDING was announced once the microphone had opened)."""
    if (device, keep_open) != (rec.device, rec.keep_open):
        if not recording:
            rec.close()
        rec.device, rec.keep_open = device, keep_open
        if keep_open and not recording:
            rec.open()


def new_reconfigure(rec: Recorder, device: str, keep_open: bool, recording: bool) -> None:
    rec.reconfigure(device=device, keep_open=keep_open)


@pytest.fixture
def sd(monkeypatch: pytest.MonkeyPatch) -> FakeSoundDevice:
    fake = FakeSoundDevice()
    monkeypatch.setattr(capture, "_sounddevice", lambda: fake)
    return fake


def _hammer(sd: FakeSoundDevice, reconfigure: Any, seconds: float, seed: int) -> list[str]:
    """Dictations on one thread, microphone changes on another; what went wrong."""
    rng = random.Random(seed)
    rec = Recorder("Mic A", gate=QuickGate(), preroll_s=0.0)  # type: ignore[arg-type]
    problems: list[str] = []
    stop = threading.Event()
    recording = threading.Event()  # the session's RECORDING state, as the app saw it

    def dictations() -> None:
        n = 0
        while not stop.is_set():
            rec.start()
            recording.set()
            take, until = rec._take, time.monotonic() + 2.0
            # Until this take has audio (a loaded machine can be slow to deliver a block), or
            # something dropped it.
            while take is not None and rec._take is take and take.n == 0:
                if time.monotonic() > until:
                    problems.append("no audio reached a recording in 2 s")
                    break
                time.sleep(0.001)
            time.sleep(rng.random() * 0.006)
            recording.clear()
            audio = rec.stop(tail_max_s=0.0).audio
            n += 1
            if audio.size == 0:
                problems.append(f"dictation {n} lost its recording")
            elif not np.isin(np.round(audio[audio.size // 2 :], 3), list(MARKS.values())).all():
                problems.append(f"dictation {n} mixed two microphones")

    def settings_changes() -> None:
        while not stop.is_set():
            reconfigure(rec, rng.choice(list(MARKS)), rng.random() < 0.5, recording.is_set())
            time.sleep(rng.random() * 0.004)

    workers = [threading.Thread(target=f) for f in (dictations, settings_changes)]
    try:
        for w in workers:
            w.start()
        stop.wait(seconds)
    finally:
        stop.set()
        for w in workers:
            w.join(20)
    # Settled: the microphone last chosen records the next dictation, and is open only when
    # it should be kept open.
    for device, keep_open in (("Mic B", True), ("Mic A", False), ("Mic B", False)):
        reconfigure(rec, device, keep_open, False)
        until = time.monotonic() + 5.0  # a stream let go after a take may reopen meanwhile
        while sd.streams() != ([device] if keep_open else []) and time.monotonic() < until:
            time.sleep(0.005)
        if (open_now := sd.streams()) != ([device] if keep_open else []):
            problems.append(f"after choosing {device} (keep open: {keep_open}): {open_now} open")
        rec.start()
        take, until = rec._take, time.monotonic() + 2.0
        while take is not None and take.n < 320 and time.monotonic() < until:
            time.sleep(0.001)
        audio = rec.stop(tail_max_s=0.0).audio
        if audio.size == 0 or abs(float(np.median(audio)) - MARKS[device]) > 1e-3:
            problems.append(f"after choosing {device} a dictation recorded another microphone")
    rec.close()
    if sd.streams():
        problems.append(f"closed, yet {sd.streams()} open")
    return sorted(set(problems))


@pytest.mark.parametrize("seed", range(3))
def test_changing_the_microphone_while_dictating_loses_no_recording(sd, seed: int) -> None:
    assert _hammer(sd, new_reconfigure, 1.0, seed) == []


def test_the_hammer_catches_fields_set_outside_the_lock(sd) -> None:
    """The stress above fails on the app's old way: a dictation that started between its
    "not recording" check and its close() lost its recording."""
    problems = _hammer(sd, old_reconfigure, 2.0, 0)
    assert any("lost its recording" in p for p in problems), problems


def _wait_for(predicate: Any, timeout: float = 5.0) -> bool:
    until = time.monotonic() + timeout
    while not predicate() and time.monotonic() < until:
        time.sleep(0.005)
    return bool(predicate())


def test_a_microphone_chosen_during_a_dictation_is_kept_open_after_it(sd) -> None:
    """Keep-open mode, a new microphone chosen while recording: the take keeps its stream; once
    it ends the new microphone is opened, so the next dictation has its pre-roll (it used to
    stay closed until the next dictation opened it, clipping that one's first word)."""
    rec = Recorder("Mic A", keep_open=True, gate=QuickGate())  # type: ignore[arg-type]
    try:
        rec.open()
        rec.start()
        rec.reconfigure(device="Mic B", keep_open=True)
        assert sd.streams() == ["Mic A"]  # the take keeps its stream
        assert _wait_for(lambda: rec._take is not None and rec._take.n > 0)
        audio = rec.stop(tail_max_s=0.0).audio
        assert audio.size and float(np.median(audio)) == pytest.approx(MARKS["Mic A"])
        assert _wait_for(lambda: sd.streams() == ["Mic B"]), sd.streams()
    finally:
        rec.close()


def test_closing_right_after_such_a_dictation_leaves_the_microphone_closed(sd) -> None:
    rec = Recorder("Mic A", keep_open=True, gate=QuickGate())  # type: ignore[arg-type]
    rec.open()
    rec.start()
    rec.reconfigure(device="Mic B", keep_open=True)
    rec.stop(tail_max_s=0.0)
    rec.close()  # quit: a reopen planned by stop() must not happen after this
    time.sleep(0.3)
    assert sd.streams() == []
