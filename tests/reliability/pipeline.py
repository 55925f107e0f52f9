"""The dictation pipeline for reliability tests: the real session, history, speech gate, engine and
clean-up, with a clip standing in for the microphone and a recorder of text for the window.

Only the two ends are replaced, each by the smallest thing that keeps the contract
(`dictate.dictation.session.Recorder` / `Inserter`): a microphone needs a sound server and a
window a display, and what matters here is what reaches them. The desktop tests drive the real
ones.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from dictate.audio.capture import Capture
from dictate.dictation.history import UNFINISHED, History
from dictate.dictation.session import Event, Session, State
from dictate.output.inserter import InsertResult

SR = 16000
CHUNK = SR // 50  # 20 ms, as the microphone delivers it


class ClipRecorder:
    """Plays a clip into `on_chunk` in 20 ms chunks on its own thread, like a microphone.

    `pace_s` is the pause after each chunk (0: as fast as the session takes them); `stop()` waits
    for the whole clip (the person finished speaking before releasing the key).
    """

    def __init__(self, on_chunk: Callable[[np.ndarray], None], pace_s: float = 0.0) -> None:
        self.on_chunk = on_chunk
        self.pace_s = pace_s
        self.clip = np.zeros(0, np.float32)
        self.fail: Exception | None = None  # raised by the next start(): a missing microphone
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None
        self._delivered: list[np.ndarray] = []

    def start(self) -> None:
        if self.fail is not None:
            raise self.fail
        self._halt.clear()
        self._delivered = []
        self._thread = threading.Thread(target=self._play, args=(self.clip,), daemon=True)
        self._thread.start()

    def _play(self, clip: np.ndarray) -> None:
        for i in range(0, len(clip), CHUNK):
            if self._halt.is_set():
                return
            chunk = clip[i : i + CHUNK]
            self._delivered.append(chunk)
            self.on_chunk(chunk)
            if self.pace_s:
                time.sleep(self.pace_s)

    def _join(self) -> None:
        if self._thread is not None:
            self._thread.join(30)
            assert not self._thread.is_alive(), "the clip player is stuck"
            self._thread = None

    def stop(self, tail_max_s: float = 0.4) -> Capture:
        self._join()
        audio = np.concatenate(self._delivered) if self._delivered else np.zeros(0, np.float32)
        return Capture(audio, tail_s=0.0)

    def cancel(self) -> None:
        self._halt.set()
        self._join()


@dataclass
class Window:
    """Stands in for the focused window: keeps everything inserted into it."""

    texts: list[str] = field(default_factory=list)
    fail: str | None = None  # the error of every insertion, when set

    def insert(self, text: str) -> InsertResult:
        if self.fail is not None:
            return InsertResult(False, "test", self.fail, 0.0)
        self.texts.append(text)
        return InsertResult(True, "test", None, 0.1)

    @property
    def characters(self) -> int:
        return sum(len(t) for t in self.texts)


class Pipeline:
    """One session wired to a real History, the given transcribe function, a clip recorder and
    a window; `events` keeps every event the session sent."""

    def __init__(self, history: History, transcribe: Callable[[np.ndarray], object]) -> None:
        self.history = history
        self.window = Window()
        self.events: list[Event] = []
        self.recorder = ClipRecorder(lambda chunk: self.session.on_audio(chunk))
        self.session = Session(
            recorder=self.recorder,
            transcribe=transcribe,
            inserter=self.window,
            history=history,
            on_event=self.events.append,
            focused_window=lambda: None,
        )

    def dictate(self, clip: np.ndarray, *, cancel: str | None = None) -> int | None:
        """One dictation of `clip`; `cancel` "recording" or "transcribing" cancels it there.
        Returns the dictation id (None if it could not start)."""
        self.recorder.clip = np.asarray(clip, np.float32)
        before = len(self.events)
        if not self.session.start():
            return None
        started = [e for e in self.events[before:] if e.state is State.RECORDING]
        assert started, self.events[before:]
        dictation = started[0].dictation_id
        if cancel == "recording":
            assert self.session.cancel()
            return dictation
        assert self.session.stop()
        if cancel == "transcribing":
            self.session.cancel()  # False if it was already done: a cancel that came too late
        return dictation

    def wait_done(self, dictation: int, timeout: float = 60.0) -> str:
        """Wait until the dictation has its final status and the session is idle; the status."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            # The state first: once idle, nothing is queued or running, so the status read
            # after it is final (read the other way round, a row read mid-insertion could pass).
            idle = self.session.state is State.IDLE
            status = self.history.get(dictation).status
            if idle and status not in UNFINISHED:
                return status
            time.sleep(0.005)
        raise AssertionError(
            f"dictation {dictation} stuck: state {self.session.state}, status "
            f"{self.history.get(dictation).status}, events {self.events[-5:]}"
        )
