"""The session with live transcription: the real LiveTranscriber over a scripted engine, a fake
microphone that plays a recording in faster-than-real time, and a recording inserter."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dictate.dictation.live import LiveTranscriber
from dictate.dictation.session import Session, State
from tests.test_live import Options, ScriptedEngine, scripted_audio
from tests.test_session import FakeCapture, FakeHistory

SR = 16000
SENTENCES = [list(range(10 * i, 10 * i + 6)) for i in range(1, 13)]
EXPECTED = " ".join(f"w{k}" for s in SENTENCES for k in s)


class PlayingRecorder:
    """Plays `audio` into the session's on_audio in 20 ms chunks at `speed` × real time."""

    def __init__(self, audio: np.ndarray, speed: float = 6.0) -> None:
        self.audio, self.speed = audio, speed
        self.session: Session | None = None
        self.fed = 0
        self._stop = threading.Event()
        self.done = threading.Event()
        self.on_fed: Callable[[int], None] | None = None  # samples fed so far, per chunk

    def start(self) -> None:
        threading.Thread(target=self._play, daemon=True).start()

    def _play(self) -> None:
        step, t0 = round(0.02 * SR), time.perf_counter()
        for i in range(0, self.audio.size, step):
            if self._stop.is_set():
                break
            self.session.on_audio(self.audio[i : i + step])
            self.fed = i + step
            if self.on_fed is not None:
                self.on_fed(self.fed)
            wait = t0 + (i + step) / SR / self.speed - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
        self.done.set()

    def stop(self, tail_max_s: float = 0.4) -> FakeCapture:
        self.done.wait(30)
        return FakeCapture(self.audio[: self.fed])

    def cancel(self) -> None:
        self._stop.set()
        self.done.wait(5)


@dataclass
class Outcome:
    ok: bool = True
    method: str = "type"
    error: str | None = None
    ms: float = 1.0


class RecordingInserter:
    def __init__(self, recorder: PlayingRecorder) -> None:
        self.recorder = recorder
        self.calls: list[tuple[str, bool]] = []  # (text, still recording)

    def insert(self, text: str) -> Outcome:
        self.calls.append((text, not self.recorder.done.is_set()))
        return Outcome()


def make(
    type_while_speaking: bool,
    speed: float = 6.0,
    can_type=lambda: True,
    *,
    engine_fn=None,
    keep_audio: bool = True,
):
    recorder = PlayingRecorder(scripted_audio(SENTENCES), speed)
    inserter = RecordingInserter(recorder)
    history = FakeHistory()
    engine = ScriptedEngine()
    engine_fn = engine_fn or (lambda: engine)
    events = []
    session = Session(
        recorder=recorder,
        transcribe=lambda audio: (_ for _ in ()).throw(AssertionError("live should be used")),
        inserter=inserter,
        history=history,
        on_event=events.append,
        live=lambda on_commit: LiveTranscriber(engine_fn, Options(), on_commit=on_commit).start(),
        type_while_speaking=type_while_speaking,
        can_type=can_type,
        keep_audio=keep_audio,
    )
    recorder.session = session
    return session, recorder, inserter, history, events


def wait_idle(session: Session) -> None:
    deadline = time.monotonic() + 30
    while (session.state is not State.IDLE or session._pending) and time.monotonic() < deadline:
        time.sleep(0.02)


def test_live_dictation_is_inserted_once_whole_with_the_live_breakdown() -> None:
    session, recorder, inserter, history, _events = make(type_while_speaking=False)
    session.start()
    session.stop()
    wait_idle(session)
    assert [text for text, _ in inserter.calls] == [EXPECTED]
    row = history.rows[1]
    assert row["status"] == "inserted" and row["text"] == EXPECTED
    assert row["timings"]["committed_s"] > 0.7 * recorder.audio.size / SR
    # The release's share, honestly: the step in progress, the audio left, its decode (whose
    # stages are the encoder and decoder times; none when the last step had heard it all).
    timings = row["timings"]
    assert {"live_wait_ms", "tail_audio_s", "tail_decode_ms"} <= timings.keys()
    assert timings["tail_audio_s"] < 0.3 * recorder.audio.size / SR
    session.shutdown()


def test_the_latency_line_says_what_live_did_before_and_after_release() -> None:
    from dictate.app import live_summary
    from dictate.dictation.session import Latency

    assert live_summary(Latency(encoder_ms=80, decoding_ms=200)) == ""  # live off
    heard = live_summary(Latency(committed_s=38.2, live_wait_ms=120, tail_decode_ms=15))
    assert "38.2 s done before release" in heard and "nothing decoded after release" in heard
    assert "120 ms waiting for the live step in progress" in heard
    tail = live_summary(Latency(committed_s=30.0, tail_audio_s=4.5, tail_decode_ms=310))
    assert "4.5 s decoded after release in 310 ms" in tail and "waiting" not in tail


def test_type_while_speaking_types_before_release_and_the_rest_once() -> None:
    session, _recorder, inserter, history, events = make(type_while_speaking=True)
    session.start()
    session.stop()
    wait_idle(session)
    assert any(during for _, during in inserter.calls), inserter.calls  # typed while speaking
    typed = "".join(text for text, _ in inserter.calls)
    assert typed == EXPECTED  # every word once, spaced as one text
    assert history.rows[1]["text"] == EXPECTED
    done = [e for e in events if e.state is State.IDLE and e.text]
    assert [e.text for e in done] == [EXPECTED] and done[0].latency.committed_s > 0
    session.shutdown()


def test_cancel_while_typing_keeps_what_was_typed_and_types_nothing_more() -> None:
    session, _recorder, inserter, history, _ = make(type_while_speaking=True, speed=2.0)
    session.start()
    deadline = time.monotonic() + 20
    while not inserter.calls and time.monotonic() < deadline:
        time.sleep(0.02)
    assert inserter.calls, "nothing was typed while speaking"
    session.cancel()
    at_cancel = len(inserter.calls)
    time.sleep(1.0)
    # Nothing is typed after the cancel (a piece already on its way may land).
    assert len(inserter.calls) <= at_cancel + 1
    typed = "".join(text for text, _ in inserter.calls)
    row = history.rows[1]
    assert row["status"] == "cancelled"
    assert EXPECTED.startswith(row["text"]) and row["text"] and typed.startswith(row["text"])
    session.shutdown()


def test_while_the_hotkey_is_held_nothing_is_typed_until_release() -> None:
    """Hold-to-talk: keys typed now would be pressed together with the held hotkey."""
    session, _, inserter, history, _ = make(type_while_speaking=True, can_type=lambda: False)
    session.start()
    session.stop()
    wait_idle(session)
    assert inserter.calls == [(EXPECTED, False)]
    assert history.rows[1]["text"] == EXPECTED
    session.shutdown()


# ---- the same guarantees as the whole-recording path (issue 23) ------------------------------


class GoneEngine(ScriptedEngine):
    """An engine switched away under the dictation: once `gone` is set, every call says so."""

    def __init__(self) -> None:
        super().__init__()
        self.gone = threading.Event()
        self.refused = 0

    def transcribe(self, audio, options):
        from dictate.errors import EngineGone

        if self.gone.is_set():
            self.refused += 1
            raise EngineGone("the model was switched")
        return super().transcribe(audio, options)


def test_a_model_switch_at_release_redoes_the_live_tail_with_the_new_model() -> None:
    old, new = GoneEngine(), ScriptedEngine()
    # The old engine is handed out until it has refused once (the holder's swap).
    session, recorder, inserter, history, _ = make(
        False, engine_fn=lambda: new if old.refused else old
    )
    # Switched while the last words are still undecoded: on the recorder's thread, before the
    # last fifth of the audio reaches the session (from the test's thread, a loaded machine let
    # the live steps decode it all with the old model first).
    last = 0.8 * recorder.audio.size
    recorder.on_fed = lambda fed: old.gone.set() if fed >= last else None
    session.start()
    assert recorder.done.wait(30)
    session.stop()
    wait_idle(session)
    assert old.refused >= 1 and new.decoded  # the old model refused, the new one finished
    assert [text for text, _ in inserter.calls] == [EXPECTED]
    assert history.rows[1]["status"] == "inserted"
    session.shutdown()


def test_a_model_switch_while_speaking_goes_on_with_the_new_model() -> None:
    old, new = GoneEngine(), ScriptedEngine()
    session, _recorder, inserter, _history, _ = make(
        False, speed=3.0, engine_fn=lambda: new if old.refused else old
    )
    session.start()
    deadline = time.monotonic() + 20
    while len(old.decoded) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    old.gone.set()  # in the middle of the dictation
    session.stop()
    wait_idle(session)
    assert old.refused >= 1 and len(new.decoded) >= 2  # live steps went on with the new one
    assert [text for text, _ in inserter.calls] == [EXPECTED]
    session.shutdown()


def test_keep_audio_off_deletes_a_live_dictations_audio_once_it_is_text() -> None:
    session, _, inserter, history, _ = make(False, keep_audio=False)
    session.start()
    session.stop()
    wait_idle(session)
    assert [text for text, _ in inserter.calls] == [EXPECTED]
    assert history.dropped == [1]
    session.shutdown()


def test_keep_audio_off_deletes_the_audio_of_text_typed_while_speaking() -> None:
    session, _, inserter, history, events = make(True, keep_audio=False)
    session.start()
    session.stop()
    wait_idle(session)
    assert "".join(text for text, _ in inserter.calls) == EXPECTED
    assert history.dropped == [1] and history.rows[1]["status"] == "inserted"
    assert State.INSERTING in [e.state for e in events]  # the tray shows the text going in
    session.shutdown()


class DeafEngine(ScriptedEngine):
    """Hears nothing of some words (Whisper skipping speech) and, as the real engine's
    coverage check does, reports where that speech was (seconds from the clip's start)."""

    def __init__(self, deaf: set[int]) -> None:
        super().__init__()
        self.deaf = deaf

    def transcribe(self, audio, options):
        result = super().transcribe(audio, options)
        result.text = " ".join(
            w for w in result.text.split() if int(w.strip("w~")) not in self.deaf
        )
        deaf = np.isin(np.round(audio * 1000), list(self.deaf))
        if deaf.any():
            where = np.flatnonzero(deaf)
            result.gaps = [(where[0] / SR, (where[-1] + 1) / SR)]
        return result


def sentence_span(k: int) -> tuple[float, float]:
    """Seconds from the start of the recording where sentence `k` of SENTENCES is spoken."""
    audio = scripted_audio(SENTENCES)
    where = np.flatnonzero(np.isin(np.round(audio * 1000), SENTENCES[k]))
    return where[0] / SR, (where[-1] + 1) / SR


def test_speech_that_gives_no_text_in_a_live_chunk_is_reported_and_its_audio_kept() -> None:
    deaf = set(SENTENCES[3])
    engine = DeafEngine(deaf)
    session, _, inserter, history, events = make(False, keep_audio=False, engine_fn=lambda: engine)
    session.start()
    session.stop()
    wait_idle(session)
    expected = " ".join(f"w{k}" for s in SENTENCES for k in s if k not in deaf)
    assert [text for text, _ in inserter.calls] == [expected]
    row = history.rows[1]
    assert row["gaps"], row  # where the speech without text was, from the recording's start
    low, high = sentence_span(3)
    assert all(low - 0.05 <= a < b <= high + 0.05 for a, b in row["gaps"]), (row["gaps"], low, high)
    assert history.dropped == []  # the audio is all there is of those words
    said = [e.message for e in events if e.state is State.IDLE and e.text]
    assert said and "no text came from the speech at" in said[0]
    session.shutdown()


def test_a_live_chunk_of_speech_with_no_text_at_all_is_a_gap() -> None:
    """Even an engine without a coverage check of its own: a final chunk whose speech gave
    no word is reported, as the whole-recording path reports it."""
    from dictate.dictation.live import LiveTranscriber as LT

    class Mute(ScriptedEngine):
        def transcribe(self, audio, options):
            result = super().transcribe(audio, options)
            result.text, result.gaps = "", []
            return result

    engine = Mute()
    audio = scripted_audio(SENTENCES[:4], pause_s=1.2)
    live = LT(lambda: engine, Options())
    for i in range(0, audio.size, 320):
        live.feed(audio[i : i + 320])
        live.poll(engine)
    result = live.finish(audio)
    assert result.text == ""
    speech = sum(e - s for s, e in result.gaps)
    assert speech > 0.8 * sum(e - s for s, e in engine.gate.regions(audio)), result.gaps


def test_the_text_at_release_waits_for_the_hotkey_to_be_let_go() -> None:
    """Toggle mode stops on the key press, hold mode on the first key let go: the other keys of
    the combination are still down, and the text must not be pressed together with them."""
    held = threading.Event()
    held.set()
    session, _, inserter, history, events = make(
        type_while_speaking=False, can_type=lambda: not held.is_set()
    )
    inserted_at: list[float] = []
    insert = inserter.insert
    inserter.insert = lambda text: (inserted_at.append(time.monotonic()), insert(text))[1]
    session.start()
    session.stop()
    deadline = time.monotonic() + 30
    while not any(e.state is State.INSERTING for e in list(events)):
        assert time.monotonic() < deadline
        time.sleep(0.005)
    time.sleep(0.15)
    let_go = time.monotonic()
    held.clear()
    wait_idle(session)
    assert [text for text, _ in inserter.calls] == [EXPECTED]
    assert inserted_at[0] >= let_go
    assert history.rows[1]["status"] == "inserted"
    session.shutdown()
