"""The dictation state machine: idle → recording → transcribing → inserting → idle.

Hotkeys and IPC call start/stop/toggle/cancel from their own threads; the engine runs on one
worker thread fed by a queue, so a new recording can start while the previous one is still
being transcribed: it is queued, never dropped. Every change is an `Event` for the UI. Before a
recording's audio reaches the engine it is already on disk with a history row (the recorder's
chunks are written as they arrive), so a crash at any point loses nothing.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

import numpy as np

from dictate.dictation.cleanup import CleanupRules, clean, join_with_previous

log = logging.getLogger(__name__)


class State(str, Enum):
    IDLE = "idle"
    RECORDING = "recording"
    TRANSCRIBING = "transcribing"
    INSERTING = "inserting"
    CANCELLED = "cancelled"
    ERROR = "error"


@dataclass
class Latency:
    """Where the time of one dictation went, in milliseconds (the UI's latency breakdown)."""

    record_ms: float = 0.0
    tail_ms: float = 0.0
    gate_ms: float = 0.0
    features_ms: float = 0.0
    encoder_ms: float = 0.0
    decoding_ms: float = 0.0
    insert_ms: float = 0.0
    committed_s: float = 0.0  # live dictation: audio already transcribed at release
    tail_decode_ms: float = 0.0  # live dictation: decoding what was left at release
    release_to_text_ms: float = 0.0  # key release (or stop) to the text being in the window

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 1) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class Event:
    state: State
    dictation_id: int | None = None
    message: str = ""
    text: str | None = None
    latency: Latency | None = None


# What the session needs from its collaborators (the real ones live in audio/, engine/,
# output/ and dictation/history.py; tests pass fakes).
class Recorder(Protocol):
    def start(self) -> None: ...
    def stop(self, tail_max_s: float = 0.4) -> Any: ...  # -> Capture
    def cancel(self) -> None: ...


class Inserter(Protocol):
    def insert(self, text: str) -> Any: ...  # -> InsertResult(ok, method, error, ms)


class Transcribe(Protocol):
    def __call__(self, audio: np.ndarray) -> Any: ...  # -> DictationResult


class Live(Protocol):  # dictation.live.LiveTranscriber: transcribes while recording
    def feed(self, chunk: np.ndarray) -> None: ...
    def finish(self, audio: np.ndarray) -> Any: ...  # -> LiveResult
    def cancel(self) -> None: ...


# Makes one dictation's live transcriber, or None (live transcription off); it is given
# what to call with each piece of committed text (None: nothing is typed while speaking).
LiveFactory = Callable[[Callable[[str], None] | None], Live | None]


@dataclass
class _Job:
    dictation_id: int
    audio: np.ndarray
    latency: Latency
    released_at: float
    cancelled: threading.Event = field(default_factory=threading.Event)
    recovered: bool = False
    live: _LiveTake | None = None


@dataclass
class _LiveTake:
    """One dictation's live transcription, and what of it was typed while speaking."""

    live: Live
    typed: list[str] = field(default_factory=list)  # cleaned pieces, in order
    waiting: list[str] = field(default_factory=list)  # committed, not typed yet


class Session:
    """Owns the state; safe to drive from several threads."""

    def __init__(
        self,
        *,
        recorder: Recorder,
        transcribe: Transcribe,
        inserter: Inserter,
        history: Any,  # dictation.history.History
        on_event: Callable[[Event], None] = lambda e: None,
        rules: CleanupRules | None = None,
        focused_window: Callable[[], object | None] = lambda: None,
        tail_max_s: float = 0.4,
        clock: Callable[[], float] = time.perf_counter,
        live: LiveFactory | None = None,
        type_while_speaking: bool = False,
        can_type: Callable[[], bool] = lambda: True,
    ) -> None:
        self.recorder = recorder
        self.transcribe = transcribe
        self.inserter = inserter
        self.history = history
        self.rules = rules or CleanupRules()
        self._on_event = on_event
        self._focused_window = focused_window
        self.tail_max_s = tail_max_s
        self._clock = clock
        self._lock = threading.RLock()
        self._recording = None  # history.Recording while the microphone is open
        self._record_started = 0.0
        self._busy: State | None = None  # what the worker is doing, if anything
        self._pending: list[_Job] = []  # queued or being transcribed, oldest first
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._last_insert: tuple[object | None, str] | None = None  # (window, text)
        self.live = live
        self.type_while_speaking = type_while_speaking
        self._can_type = can_type  # False while the hotkey is held: keys would mix with it
        self._live: _LiveTake | None = None  # the recording's live transcription
        self._worker = threading.Thread(target=self._work, name="dictate-engine", daemon=True)
        self._worker.start()

    # ---- state ------------------------------------------------------------------------

    @property
    def state(self) -> State:
        with self._lock:
            if self._recording is not None:
                return State.RECORDING
            return self._busy or State.IDLE

    @property
    def queued(self) -> int:
        """Dictations waiting behind the one being transcribed."""
        with self._lock:
            return max(0, len(self._pending) - 1)

    def _emit(self, state: State, job_id: int | None = None, **kw: Any) -> None:
        try:
            self._on_event(Event(state, job_id, **kw))
        except Exception:  # a broken listener must not break dictation
            log.exception("event listener failed")

    # ---- commands (any thread) ----------------------------------------------------------

    def start(self) -> bool:
        """Open the microphone and start a dictation; False if one is already recording."""
        with self._lock:
            if self._recording is not None:
                return False
            self._recording = self.history.start()
            self._record_started = self._clock()
            self._live = self._start_live()  # before the recorder: it gets every chunk
            try:
                self.recorder.start()
            except Exception as exc:
                self._drop_live()
                self.history.set_error(self._recording.id, str(exc))
                self._recording.close()
                self._recording = None
                self._emit(State.ERROR, message=str(exc))
                return False
            rec_id = self._recording.id
        self._emit(State.RECORDING, rec_id)
        return True

    def on_audio(self, chunk: np.ndarray) -> None:
        """The recorder's on_chunk: audio goes to disk as it arrives."""
        rec = self._recording
        if rec is not None:
            rec.write(chunk)
        take = self._live
        if take is not None:
            take.live.feed(chunk)  # appends only: the recorder is never held up

    def stop(self) -> bool:
        """Key released: finish capturing (the tail), then queue the audio for transcription."""
        with self._lock:
            rec = self._recording
            if rec is None:
                return False
        released = self._clock()
        capture = self.recorder.stop(self.tail_max_s)
        with self._lock:
            self._recording = None
            take, self._live = self._live, None
        rec.close()
        self.history.finish_recording(rec)
        latency = Latency(
            record_ms=(released - self._record_started) * 1000, tail_ms=capture.tail_s * 1000
        )
        if capture.device_lost:
            self._emit(State.ERROR, rec.id, message=f"microphone lost: {capture.device_lost}")
        self._enqueue(_Job(rec.id, capture.audio, latency, released, live=take))
        self._emit(self.state, rec.id, message="queued" if self._busy else "")
        return True

    def toggle(self) -> None:
        if not self.stop():
            self.start()

    def cancel(self) -> bool:
        """Cancel the recording, or else the dictation being transcribed: nothing is inserted."""
        with self._lock:
            rec = self._recording
            if rec is not None:
                self._recording = None
                self.recorder.cancel()
                rec.close()
                typed = self._drop_live()
                if typed:  # typed while speaking: it stays typed, and in the history
                    self.history.set_result(rec.id, typed, {})
                self.history.set_cancelled(rec.id)
                target = rec.id
            elif live := [j for j in self._pending if not j.cancelled.is_set()]:
                live[-1].cancelled.set()  # the newest dictation not yet inserted
                target = live[-1].dictation_id
            else:
                return False
        self._emit(State.CANCELLED, target)
        self._emit(self.state)
        return True

    def recover(self) -> list[int]:
        """Queue the dictations a crash left unfinished; they are transcribed and offered
        (kept in history and on the clipboard), not typed into whatever has focus now."""
        ids = []
        for entry in self.history.unfinished():
            try:
                audio = self.history.load_audio(entry.id)
            except Exception as exc:  # its audio is gone: say so, recover the others
                self.history.set_error(entry.id, f"audio could not be read: {exc}")
                continue
            self._enqueue(_Job(entry.id, audio, Latency(), self._clock(), recovered=True))
            ids.append(entry.id)
        return ids

    def _enqueue(self, job: _Job) -> None:
        with self._lock:
            self._pending.append(job)
        self._jobs.put(job)

    def shutdown(self, timeout: float = 5.0) -> None:
        self._jobs.put(None)
        self._worker.join(timeout)

    # ---- live transcription (dictation/live.py) -----------------------------------------

    def _start_live(self) -> _LiveTake | None:
        if self.live is None:
            return None
        take: _LiveTake | None = None

        def typed(piece: str) -> None:  # on the live thread, in order
            if take is not None:
                self._type_piece(take, piece)

        try:
            live = self.live(typed if self.type_while_speaking else None)
        except Exception:  # live text is a bonus; the dictation goes on without it
            log.exception("live transcription could not start")
            return None
        take = _LiveTake(live) if live is not None else None
        return take

    def _drop_live(self) -> str:
        """Cancel the recording's live transcription; the text it typed, if any."""
        take, self._live = self._live, None
        if take is None:
            return ""
        take.live.cancel()
        return "".join(take.typed)

    def _type_piece(self, take: _LiveTake, piece: str) -> None:
        take.waiting.append(piece)
        if not self._can_type():
            return  # typed with the next piece, or at release
        text = clean(" ".join(take.waiting), self.rules)
        take.waiting.clear()
        if not text:
            return
        text = join_with_previous(text, take.typed[-1] if take.typed else None)
        outcome = self.inserter.insert(text)
        if outcome.ok:
            take.typed.append(text)
        else:
            log.warning("typing while speaking failed: %s", outcome.error)

    def _finish_typed(self, job: _Job, result: Any) -> None:
        """Type what was not typed while speaking; history gets the whole text."""
        assert job.live is not None
        lat = job.latency
        typed = "".join(job.live.typed)
        if job.cancelled.is_set():  # what was typed stays typed (and in the history)
            self.history.set_result(job.dictation_id, typed, lat.as_dict())
            self.history.set_cancelled(job.dictation_id)
            return
        rest = clean(" ".join([*job.live.waiting, result.tail_text]).strip(), self.rules)
        rest = join_with_previous(rest, typed)
        outcome = self.inserter.insert(rest) if rest else None
        lat.insert_ms = outcome.ms if outcome else 0.0
        lat.release_to_text_ms = (self._clock() - job.released_at) * 1000
        text = typed + (rest if outcome is not None and outcome.ok else "")
        self.history.set_result(job.dictation_id, typed + rest, lat.as_dict())
        if outcome is not None:
            self.history.set_inserted(job.dictation_id, outcome.ok, outcome.method, outcome.error)
        else:  # all of it was typed while speaking
            self.history.set_inserted(job.dictation_id, True, "while speaking")
        self._last_insert = (self._focused_window(), text)
        if outcome is None or outcome.ok:
            self._emit(State.IDLE, job.dictation_id, text=typed + rest, latency=lat)
        else:
            message = f"could not insert the text: {outcome.error}; it is kept in the history"
            self._emit(State.ERROR, job.dictation_id, message=message, text=rest, latency=lat)

    # ---- worker thread ------------------------------------------------------------------

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            with self._lock:
                self._busy = State.TRANSCRIBING
            try:
                if job.cancelled.is_set():
                    self.history.set_cancelled(job.dictation_id)
                else:
                    self._run(job)
            except Exception as exc:  # keep the worker alive; the audio stays in history
                log.exception("dictation %s failed", job.dictation_id)
                self.history.set_error(job.dictation_id, str(exc))
                self._emit(State.ERROR, job.dictation_id, message=str(exc))
            finally:
                with self._lock:
                    self._pending.remove(job)
                    self._busy = None
                self._emit(self.state)

    def _run(self, job: _Job) -> None:
        self._emit(State.TRANSCRIBING, job.dictation_id)
        lat = job.latency
        if job.live is not None:
            result = job.live.live.finish(job.audio)
            lat.committed_s, lat.tail_decode_ms = result.committed_s, result.tail_ms
            if job.live.typed:  # the rest of a dictation typed while speaking
                return self._finish_typed(job, result)
        else:
            result = self.transcribe(job.audio)
        t = result.timings
        lat.gate_ms, lat.features_ms = t.gate_ms, t.features_ms
        lat.encoder_ms, lat.decoding_ms = t.encoder_ms, t.decoding_ms
        text = clean(result.text, self.rules, speech_s=result.speech_s)
        if job.cancelled.is_set():
            self.history.set_cancelled(job.dictation_id)
            return
        if not text:
            self.history.set_result(job.dictation_id, "", lat.as_dict(), status="no_speech")
            self._emit(State.IDLE, job.dictation_id, message="no speech", latency=lat)
            return
        self.history.set_result(job.dictation_id, text, lat.as_dict())
        if job.recovered:
            self._emit(State.IDLE, job.dictation_id, message="recovered", text=text)
            return
        with self._lock:
            self._busy = State.INSERTING
        self._emit(State.INSERTING, job.dictation_id, text=text)
        window = self._focused_window()
        if self._last_insert is not None and self._last_insert[0] == window and window is not None:
            text = join_with_previous(text, self._last_insert[1])
        outcome = self.inserter.insert(text)
        lat.insert_ms = outcome.ms
        lat.release_to_text_ms = (self._clock() - job.released_at) * 1000
        self.history.set_result(job.dictation_id, text, lat.as_dict())  # now with insertion
        self.history.set_inserted(job.dictation_id, outcome.ok, outcome.method, outcome.error)
        if outcome.ok:
            self._last_insert = (window, text)
            self._emit(State.IDLE, job.dictation_id, text=text, latency=lat)
        else:
            self._last_insert = None
            # The inserter's error says whether the text is on the clipboard; it is in the
            # history either way.
            message = f"could not insert the text: {outcome.error}; it is kept in the history"
            self._emit(State.ERROR, job.dictation_id, message=message, text=text, latency=lat)
