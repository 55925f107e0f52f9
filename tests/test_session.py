"""The dictation state machine, with fakes for the microphone, engine, window and history
(the real ones have their own tests; here the point is order, queueing and never losing work)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
import pytest

from dictate.dictation.cleanup import CleanupRules
from dictate.dictation.session import Session, State
from dictate.transcript import DictationResult, Timings

SR = 16000


@dataclass
class FakeCapture:
    audio: np.ndarray
    tail_s: float = 0.1
    truncated: bool = False
    device_lost: str | None = None


class FakeRecorder:
    def __init__(self, session_ref: list) -> None:
        self.session_ref = session_ref
        self.cancelled = 0
        self.fail: Exception | None = None

    def start(self) -> None:
        if self.fail:
            raise self.fail
        self.session_ref[0].on_audio(np.full(SR // 2, 0.1, np.float32))

    def stop(self, tail_max_s: float = 0.4) -> FakeCapture:
        self.session_ref[0].on_audio(np.full(SR // 2, 0.2, np.float32))
        return FakeCapture(np.full(SR, 0.1, np.float32))

    def cancel(self) -> None:
        self.cancelled += 1


@dataclass
class FakeRecording:
    id: int
    chunks: list = field(default_factory=list)
    closed: bool = False

    def write(self, samples: np.ndarray) -> None:
        self.chunks.append(samples.copy())

    def close(self) -> None:
        self.closed = True


class FakeHistory:
    def __init__(self) -> None:
        self.rows: dict[int, dict] = {}
        self.recordings: dict[int, FakeRecording] = {}
        self.dropped: list[int] = []  # audio deleted (keep-audio off)

    def start(self) -> FakeRecording:
        rec = FakeRecording(len(self.rows) + 1)
        self.rows[rec.id] = {"status": "recording"}
        self.recordings[rec.id] = rec
        return rec

    def finish_recording(self, rec) -> None:
        self.rows[rec.id]["status"] = "recorded"

    def set_result(self, id, text, timings, status="transcribed", *, gaps=()) -> None:
        self.rows[id].update(status=status, text=text, timings=timings, gaps=tuple(gaps))

    def set_inserted(self, id, ok, method, error=None) -> None:
        self.rows[id].update(status="inserted" if ok else "insert_failed", method=method)

    def drop_audio(self, id) -> None:
        self.dropped.append(id)

    def set_cancelled(self, id) -> None:
        self.rows[id]["status"] = "cancelled"

    def set_error(self, id, error) -> None:
        self.rows[id].update(status="error", error=error)

    def unfinished(self):
        return [
            type("E", (), {"id": i})
            for i, r in self.rows.items()
            if r["status"] in ("recording", "recorded")
        ]

    def load_audio(self, id):
        return np.concatenate(self.recordings[id].chunks)


@dataclass
class Outcome:
    ok: bool
    method: str = "paste"
    error: str | None = None
    ms: float = 5.0


class FakeInserter:
    def __init__(self) -> None:
        self.texts: list[str] = []
        self.ok = True

    def insert(self, text: str) -> Outcome:
        self.texts.append(text)
        error = None if self.ok else "no focused window; the text is on the clipboard"
        return Outcome(self.ok, error=error)


def make_session(texts, *, gate=None, rules=None, window=lambda: 1):
    """A session whose engine answers `texts` in order; `gate` (an Event) holds the engine."""
    ref: list = [None]
    recorder = FakeRecorder(ref)
    history = FakeHistory()
    inserter = FakeInserter()
    events = []
    answers = iter(texts)

    def transcribe(audio):
        if gate is not None:
            gate.wait(5)
        text = next(answers)
        if isinstance(text, DictationResult):
            return text
        return DictationResult(text, Timings(1, 2, 3, 4), speech_s=1.0 if text else 0.0)

    session = Session(
        recorder=recorder,
        transcribe=transcribe,
        inserter=inserter,
        history=history,
        on_event=events.append,
        rules=rules,
        focused_window=window,
    )
    ref[0] = session
    return session, recorder, history, inserter, events


def drain(session: Session) -> None:
    session.shutdown()


def test_a_dictation_goes_through_every_state_and_is_inserted():
    s, _, history, inserter, events = make_session(["Hello world."])
    assert s.state is State.IDLE
    s.start()
    assert s.state is State.RECORDING
    s.stop()
    drain(s)
    assert inserter.texts == ["Hello world."]
    states = [e.state for e in events]
    assert states[:1] == [State.RECORDING]
    assert State.TRANSCRIBING in states and State.INSERTING in states
    assert states.index(State.TRANSCRIBING) < states.index(State.INSERTING)
    assert states[-1] is State.IDLE
    row = history.rows[1]
    assert row["status"] == "inserted" and row["text"] == "Hello world."
    lat = row["timings"]
    assert lat["tail_ms"] == 100 and lat["encoder_ms"] == 3 and lat["insert_ms"] == 5
    assert lat["release_to_text_ms"] > 0
    # the audio reached "disk" (the history recording) as it arrived, before transcription
    assert len(history.recordings[1].chunks) == 2 and history.recordings[1].closed


def test_a_new_recording_while_transcribing_is_queued_not_dropped():
    gate = threading.Event()
    s, _, history, inserter, _ = make_session(["first", "second"], gate=gate, window=lambda: None)
    s.start()
    s.stop()
    s.start()  # the engine is still busy with the first
    assert s.state is State.RECORDING
    s.stop()
    gate.set()
    drain(s)
    assert inserter.texts == ["first", "second"]
    assert [r["status"] for r in history.rows.values()] == ["inserted", "inserted"]


def test_following_dictation_into_the_same_window_continues_the_sentence():
    s, *_, inserter, _ = make_session(["One.", "Two."])
    for _ in range(2):
        s.start()
        s.stop()
    drain(s)
    assert inserter.texts == ["One.", " Two."]


def test_silence_inserts_nothing_and_history_says_no_speech():
    s, _, history, inserter, events = make_session([""])
    s.toggle()
    s.toggle()
    drain(s)
    assert inserter.texts == [] and history.rows[1]["status"] == "no_speech"
    assert any(e.message == "no speech" for e in events)


def test_cancel_while_recording_inserts_nothing():
    s, recorder, history, inserter, events = make_session(["never"])
    s.start()
    assert s.cancel()
    drain(s)
    assert inserter.texts == [] and recorder.cancelled == 1
    assert history.rows[1]["status"] == "cancelled" and s.state is State.IDLE
    assert State.CANCELLED in [e.state for e in events]


def test_cancel_while_transcribing_inserts_nothing():
    gate = threading.Event()
    s, _, history, inserter, _ = make_session(["too late"], gate=gate)
    s.start()
    s.stop()
    for _ in range(100):
        if s.state is State.TRANSCRIBING:
            break
        threading.Event().wait(0.01)
    assert s.cancel()
    gate.set()
    drain(s)
    assert inserter.texts == [] and history.rows[1]["status"] == "cancelled"


def test_failed_insertion_keeps_the_text_and_says_so():
    s, _, history, inserter, events = make_session(["keep me"])
    inserter.ok = False
    s.start()
    s.stop()
    drain(s)
    assert history.rows[1]["status"] == "insert_failed" and history.rows[1]["text"] == "keep me"
    error = [e for e in events if e.state is State.ERROR][-1]
    assert "clipboard" in error.message and "history" in error.message
    assert error.text == "keep me"


def test_microphone_failure_is_an_error_event_not_a_crash():
    s, recorder, history, _, events = make_session([])
    recorder.fail = RuntimeError("no input device")
    assert not s.start()
    assert s.state is State.IDLE and history.rows[1]["status"] == "error"
    assert events[-1].state is State.ERROR and "no input device" in events[-1].message
    drain(s)


def test_engine_failure_keeps_the_audio_and_the_worker_alive():
    answers = iter([RuntimeError("engine exploded"), "after"])
    s, _, history, inserter, _ = make_session(["unused"])

    def transcribe(audio):
        a = next(answers)
        if isinstance(a, Exception):
            raise a
        return DictationResult(a, Timings(), speech_s=1.0)

    s.transcribe = transcribe
    for _ in range(2):
        s.start()
        s.stop()
    drain(s)
    assert history.rows[1]["status"] == "error" and "exploded" in history.rows[1]["error"]
    assert inserter.texts == ["after"]


def test_unfinished_dictations_are_recovered_and_offered_not_typed():
    s, _, history, inserter, events = make_session(["recovered words"])
    rec = history.start()  # as a killed process left it: audio on disk, never transcribed
    rec.write(np.zeros(SR, np.float32))
    assert s.recover() == [rec.id]
    drain(s)
    assert inserter.texts == []
    assert history.rows[rec.id]["text"] == "recovered words"
    assert any(e.message == "recovered" and e.text == "recovered words" for e in events)


def test_replacement_rules_apply_before_insertion():
    rules = CleanupRules(replacements={"smiley": "😀"})
    s, *_, inserter, _ = make_session(["Nice smiley"], rules=rules)
    s.start()
    s.stop()
    drain(s)
    assert inserter.texts == ["Nice 😀"]


@pytest.mark.parametrize("command", ["stop", "cancel"])
def test_commands_when_idle_do_nothing(command):
    s, *_ = make_session([])
    assert getattr(s, command)() is False
    drain(s)


def test_cancel_right_after_stop_cancels_the_queued_dictation():
    gate = threading.Event()
    s, _, history, inserter, _ = make_session(["first", "second"], gate=gate, window=lambda: None)
    s.start()
    s.stop()  # "first" is being transcribed (held by the gate)
    s.start()
    s.stop()  # "second" waits in the queue
    assert s.queued == 1
    assert s.cancel()  # cancels the newest: "second"
    gate.set()
    drain(s)
    assert inserter.texts == ["first"]
    assert [r["status"] for r in history.rows.values()] == ["inserted", "cancelled"]
