"""What the dictation layer now decides itself: keeping a dictation's audio, recovering once,
and changed settings applied through Session.configure."""

from __future__ import annotations

import time

import numpy as np

from dictate.dictation.cleanup import CleanupRules
from dictate.dictation.session import Session
from tests.test_concurrency import History, Inserter, SlowEngine, SlowRecorder


class AudioHistory(History):
    def __init__(self, unfinished: list[int] | None = None) -> None:
        super().__init__()
        self.dropped: list[int] = []
        self._unfinished = unfinished or []

    def drop_audio(self, id: int) -> None:
        self.dropped.append(id)

    def unfinished(self) -> list:
        return [type("E", (), {"id": i}) for i in self._unfinished]

    def load_audio(self, id: int) -> np.ndarray:
        self.statuses.setdefault(id, ["recorded"])
        return np.full(1600, 7.0, np.float32)


class FailingInserter(Inserter):
    def insert(self, text: str):
        out = super().insert(text)
        out.ok, out.error = False, "no focused window"
        return out


def session(history: AudioHistory, inserter: Inserter | None = None, **kw) -> Session:
    return Session(
        recorder=SlowRecorder(tail_s=0.0),
        transcribe=SlowEngine(0.0),
        inserter=inserter or Inserter(),
        history=history,
        **kw,
    )


def dictate_once(s: Session) -> None:
    s.start()
    s.stop()


def test_without_keep_audio_the_audio_goes_once_the_text_is_in() -> None:
    history = AudioHistory()
    s = session(history, keep_audio=False)
    dictate_once(s)
    s.shutdown()
    assert history.statuses[1][-1] == "inserted" and history.dropped == [1]


def test_a_failed_insertion_keeps_the_audio() -> None:
    history = AudioHistory()
    s = session(history, FailingInserter(), keep_audio=False)
    dictate_once(s)
    s.shutdown()
    assert history.statuses[1][-1] == "insert_failed" and history.dropped == []


def test_configure_applies_to_dictations_transcribed_after_it() -> None:
    history, inserter = AudioHistory(), Inserter()
    s = session(history, inserter)
    dictate_once(s)
    deadline = time.monotonic() + 10  # a hang guard
    while history.statuses[1][-1] != "inserted" and time.monotonic() < deadline:
        time.sleep(0.01)
    s.configure(rules=CleanupRules(replacements={"take": "Shot"}), keep_audio=False, tail_max_s=0.1)
    dictate_once(s)
    s.shutdown()
    assert inserter.texts[0] == "take 1" and inserter.texts[1].endswith("Shot 2")
    assert history.dropped == [2] and s.tail_max_s == 0.1


def test_recovery_happens_once_however_often_the_model_becomes_ready() -> None:
    history = AudioHistory(unfinished=[5])
    s = session(history)
    assert s.recover() == [5]
    assert s.recover() == []  # a second "ready" (a model switch) recovers nothing again
    s.shutdown()
    assert history.statuses[5][-1] == "transcribed"  # offered, not typed
