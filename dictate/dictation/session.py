"""The dictation state machine: idle → recording → transcribing → inserting → idle.

start/stop/toggle/cancel may come from any thread (the app sends them all through its one
command thread; tests hammer them from many). Each command *claims* its transition under the
lock (idle → starting, recording → stopping) and then does the slow part (opening the
microphone, waiting for the end of speech) outside it, so two commands can never act on one
recording and readers of `state` never wait for a microphone. The engine runs on one worker
thread fed by a queue, so a new recording can start while the previous one is still being
transcribed: it is queued, never dropped. Every change is an `Event` for the UI. Before a
recording's audio reaches the engine it is already on disk with a history row (the recorder's
chunks are written as they arrive), so a crash at any point loses nothing.

A job carries its audio, and `transcribe` is any callable, so a live (decode-while-recording)
transcriber can stand in for it without the state machine changing.
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
from dictate.dictation.spacing import Spacing
from dictate.errors import DictateError, EngineGone
from dictate.transcript import describe_gaps

log = logging.getLogger(__name__)

# How often one dictation follows the model when it is switched (or unloaded) under it.
MODEL_SWAPS_PER_DICTATION = 2
# How long the text at release waits for the hotkey's keys to be let go (they usually are within
# a tenth of a second; a key held longer is the person's, and the text goes in anyway).
KEYS_UP_WAIT_S = 0.5


class _Mic(Enum):
    """Who holds the microphone. STARTING and STOPPING are claims: the command that set them
    is opening the microphone or waiting for the end of speech, outside the lock."""

    IDLE = "idle"
    STARTING = "starting"
    RECORDING = "recording"
    STOPPING = "stopping"


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
    # Live dictation, after release: the live step in progress, then the audio left (0 s when
    # the last step had heard it all: then no encoder or decoder time is spent after release).
    live_wait_ms: float = 0.0
    tail_audio_s: float = 0.0
    tail_decode_ms: float = 0.0  # live dictation: decoding what was left at release
    release_to_text_ms: float = 0.0  # key release (or stop) to the text being in the window
    remote_ms: float = 0.0  # the round trip to a transcription server, when one is used
    engine: str = ""  # "server HOST", or who stood in when it failed; "" for the local model

    def as_dict(self) -> dict[str, float]:
        """The figures (the history keeps numbers only; `engine` is for the message)."""
        return {k: round(v, 1) for k, v in self.__dict__.items() if isinstance(v, (int, float))}


@dataclass(frozen=True)
class Event:
    state: State
    dictation_id: int | None = None
    message: str = ""
    text: str | None = None
    latency: Latency | None = None
    # Speech (seconds from the start) that gave no text: the audio is kept for it.
    gaps: tuple[tuple[float, float], ...] = ()


KEPT = "its audio is kept in the history"


# What the session needs from its collaborators (the real ones live in audio/, engine/,
# output/ and dictation/history.py; tests pass fakes).
class Recorder(Protocol):
    def start(self) -> None: ...
    def stop(self, tail_max_s: float = 0.4) -> Any: ...  # -> Capture
    def cancel(self) -> None: ...


class Inserter(Protocol):
    def insert(self, text: str) -> Any: ...  # -> InsertResult(ok, method, error, ms)


class History(Protocol):  # dictation.history.History: every dictation's row and audio
    def start(self) -> Any: ...  # -> Recording (write, close, id)
    def finish_recording(self, rec: Any) -> None: ...
    def set_result(
        self,
        id: int,
        text: str,
        timings: dict[str, float],
        status: str = "transcribed",
        *,
        gaps: Any = (),
    ) -> None: ...
    def set_inserted(self, id: int, ok: bool, method: str, error: str | None = None) -> None: ...
    def set_cancelled(self, id: int) -> None: ...
    def set_error(self, id: int, error: str) -> None: ...
    def unfinished(self) -> list[Any]: ...
    def load_audio(self, id: int) -> np.ndarray: ...
    def drop_audio(self, id: int) -> None: ...


class Transcribe(Protocol):
    def __call__(self, audio: np.ndarray, /) -> Any: ...  # -> DictationResult


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
    queued: bool = False  # on the worker's queue (not while stop() still records the tail)
    live: _LiveTake | None = None
    # Claimed for insertion (under the session lock): from here on a cancel is too late, so
    # it says so instead of reporting a cancel while the text goes in.
    inserting: bool = False


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
        history: History,
        on_event: Callable[[Event], None] = lambda e: None,
        rules: CleanupRules | None = None,
        focused_window: Callable[[], object | None] = lambda: None,
        tail_max_s: float = 0.4,
        keep_audio: bool = True,
        clock: Callable[[], float] = time.perf_counter,
        live: LiveFactory | None = None,
        type_while_speaking: bool = False,
        can_type: Callable[[], bool] = lambda: True,
        spacing: Spacing | None = None,
    ) -> None:
        self.recorder = recorder
        self.transcribe = transcribe
        self.inserter = inserter
        self.history = history
        self.rules = rules or CleanupRules()
        self._on_event = on_event
        self._focused_window = focused_window
        self.tail_max_s = tail_max_s
        self.keep_audio = keep_audio  # False: a dictation's audio is deleted once it is text
        self._clock = clock
        # Held only for a few field reads and writes, never across I/O: readers stay instant.
        self._lock = threading.Condition(threading.Lock())
        self._mic = _Mic.IDLE
        self._start_cancelled = False  # cancel() arrived while the microphone was opening
        self._recording: Any = None  # history.Recording while the microphone is open
        self._record_started = 0.0
        self._recovered = False
        self._busy: State | None = None  # what the worker is doing, if anything
        self._pending: list[_Job] = []  # queued or being transcribed, oldest first
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        # The leading space after the last insertion into a window (kept across restarts).
        self.spacing = spacing or Spacing()
        self.live = live
        self.type_while_speaking = type_while_speaking
        self._can_type = can_type  # False while the hotkey is held: keys would mix with it
        self._live: _LiveTake | None = None  # the recording's live transcription
        self._worker = threading.Thread(target=self._work, name="dictate-engine", daemon=True)
        self._worker.start()

    # ---- state ------------------------------------------------------------------------

    def configure(
        self,
        *,
        rules: CleanupRules | None = None,
        tail_max_s: float | None = None,
        keep_audio: bool | None = None,
    ) -> None:
        """Apply changed settings: the tail to the next stop, the rules and keep-audio to
        every dictation transcribed from now on (also one already queued)."""
        with self._lock:
            if rules is not None:
                self.rules = rules
            if tail_max_s is not None:
                self.tail_max_s = tail_max_s
            if keep_audio is not None:
                self.keep_audio = keep_audio

    @property
    def state(self) -> State:
        with self._lock:
            if self._mic is not _Mic.IDLE:
                return State.RECORDING  # opening and the tail count as recording
            if self._busy is not None:
                return self._busy
            # Queued, not yet taken by the worker: still on its way, not idle.
            return State.TRANSCRIBING if any(j.queued for j in self._pending) else State.IDLE

    @property
    def queued(self) -> int:
        """Dictations waiting behind the one being transcribed."""
        with self._lock:
            return max(0, sum(j.queued for j in self._pending) - 1)

    def _emit(self, state: State, job_id: int | None = None, **kw: Any) -> None:
        try:
            self._on_event(Event(state, job_id, **kw))
        except Exception:  # a broken listener must not break dictation
            log.exception("event listener failed")

    # ---- commands (any thread) ----------------------------------------------------------

    def start(self) -> bool:
        """Open the microphone and start a dictation; False if one is already recording."""
        with self._lock:
            if self._mic is not _Mic.IDLE:
                return False
            self._mic, self._start_cancelled = _Mic.STARTING, False
        rec = None
        try:
            rec = self.history.start()
            take = self._start_live()  # before the recorder: it gets every chunk
            with self._lock:
                self._recording, self._record_started = rec, self._clock()
                self._live = take
            self.recorder.start()
        except Exception as exc:
            self._drop_live()
            if rec is not None:
                self.history.set_error(rec.id, str(exc))
                rec.close()
            self._release()
            self._emit(State.ERROR, message=str(exc))
            return False
        with self._lock:
            cancelled = self._start_cancelled
            if not cancelled:
                self._mic = _Mic.RECORDING
                self._lock.notify_all()  # a stop() may be waiting for the microphone
        if cancelled:  # cancel() said CANCELLED already; the claim is still ours to undo
            self.recorder.cancel()
            self._drop_live()
            rec.close()
            self.history.set_cancelled(rec.id)
            self._release()
            self._emit(self.state)
            return False
        self._emit(State.RECORDING, rec.id)
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
        """Key released: finish capturing (the tail), then queue the audio for transcription.
        False if nothing was recording (or another stop already claimed this recording)."""
        with self._lock:
            self._lock.wait_for(lambda: self._mic is not _Mic.STARTING)
            if self._mic is not _Mic.RECORDING:
                return False
            self._mic = _Mic.STOPPING
            rec, tail_max_s = self._recording, self.tail_max_s
            # Pending from now on, so a cancel() during the tail finds and cancels it.
            job = _Job(rec.id, np.zeros(0, np.float32), Latency(), self._clock())
            self._pending.append(job)
        try:
            capture = self.recorder.stop(tail_max_s)
        except Exception as exc:  # keep what is on disk; the history says why
            log.exception("stopping the recording failed")
            self._drop_live()
            rec.close()
            self.history.set_error(rec.id, f"the recording could not be stopped: {exc}")
            with self._lock:
                self._pending.remove(job)
            self._release()
            self._emit(State.ERROR, rec.id, message=str(exc))
            return True
        with self._lock:
            job.live, self._live = self._live, None
        rec.close()
        self.history.finish_recording(rec)
        job.audio = capture.audio
        job.latency.record_ms = (job.released_at - self._record_started) * 1000
        job.latency.tail_ms = capture.tail_s * 1000
        if capture.device_lost:
            self._emit(State.ERROR, rec.id, message=f"microphone lost: {capture.device_lost}")
        with self._lock:
            busy, job.queued = self._busy is not None, True
        self._release()
        self._jobs.put(job)
        self._emit(self.state, rec.id, message="queued" if busy else "")
        return True

    def _release(self) -> None:
        """End a claim on the microphone: the next start may come."""
        with self._lock:
            self._mic, self._recording = _Mic.IDLE, None
            self._lock.notify_all()

    def toggle(self) -> None:
        if not self.stop():
            self.start()

    def cancel(self) -> bool:
        """Cancel the recording, or else the dictation being transcribed: nothing is inserted."""
        with self._lock:
            mic, rec = self._mic, self._recording
            if mic is _Mic.STARTING:
                if self._start_cancelled:
                    return False
                self._start_cancelled = True  # start() undoes its claim once the mic is open
                target = rec.id if rec is not None else None
            elif mic is _Mic.RECORDING:
                self._mic = _Mic.STOPPING  # claimed: no stop() can queue this recording now
                target = rec.id
            elif live := [j for j in self._pending if not j.cancelled.is_set() and not j.inserting]:
                live[-1].cancelled.set()  # the newest dictation not yet inserted
                target = live[-1].dictation_id
                rec = None
            else:
                return False
        if mic is _Mic.RECORDING:
            self.recorder.cancel()
            rec.close()
            typed = self._drop_live()
            if typed:  # typed while speaking: it stays typed, and in the history
                self.history.set_result(rec.id, typed, {})
            self.history.set_cancelled(rec.id)
            self._release()
        self._emit(State.CANCELLED, target)
        self._emit(self.state)
        return True

    def recover(self) -> list[int]:
        """Queue the dictations a crash left unfinished; they are transcribed and offered
        (kept in history and on the clipboard), not typed into whatever has focus now.

        Once per session: call it whenever the engine becomes ready; later calls do nothing."""
        with self._lock:
            if self._recovered:
                return []
            self._recovered = True
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
            job.queued = True
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
        with self._lock:
            take, self._live = self._live, None
        if take is None:
            return ""
        take.live.cancel()
        return "".join(take.typed)

    def _type_piece(self, take: _LiveTake, piece: str) -> None:
        take.waiting.append(piece)
        if not self._can_type():
            return  # typed with the next piece, or at release
        with self._lock:
            rules = self.rules
        text = clean(" ".join(take.waiting), rules)
        take.waiting.clear()
        if not text:
            return
        if take.typed:
            text = join_with_previous(text, take.typed[-1])
        else:  # the first words typed: after the previous dictation into this window
            text = self.spacing.join(text, self._focused_window())
        outcome = self.inserter.insert(text)
        if outcome.ok:
            take.typed.append(text)
        else:
            log.warning("typing while speaking failed: %s", outcome.error)

    def _wait_keys_up(self) -> None:
        """Wait, briefly, for the hotkey's keys to be let go before inserting. Keys sent while
        they are down combine with them, and xdotool's --clearmodifiers presses the modifiers
        it found down again when it ends: a person who let go meanwhile can be left with Ctrl
        or Alt stuck down (xdotool's known stuck-modifier trouble)."""
        deadline = time.monotonic() + KEYS_UP_WAIT_S
        while not self._can_type() and time.monotonic() < deadline:
            time.sleep(0.01)

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
                if isinstance(exc, DictateError):  # a clear message: no traceback for it
                    log.warning("dictation %s failed: %s", job.dictation_id, exc)
                else:
                    log.exception("dictation %s failed", job.dictation_id)
                self.history.set_error(job.dictation_id, str(exc))
                self._emit(State.ERROR, job.dictation_id, message=str(exc))
            finally:
                with self._lock:
                    self._pending.remove(job)
                    self._busy = None
                self._emit(self.state)

    def _transcribe(self, job: _Job) -> Any:
        """The engine's result for the job's audio, live or whole (a `DictationResult` or a
        `LiveResult`: text, speech_s, gaps, timings); when the model was switched or unloaded
        under it (EngineGone), the same audio again, with the engine there is now (a live
        dictation redoes only its tail: what it committed was final)."""
        for attempt in range(MODEL_SWAPS_PER_DICTATION + 1):
            try:
                if job.live is not None:
                    return job.live.live.finish(job.audio)
                return self.transcribe(job.audio)
            except EngineGone:
                if attempt == MODEL_SWAPS_PER_DICTATION or job.cancelled.is_set():
                    raise
                log.info("dictation %s: the model changed under it; again", job.dictation_id)
        raise AssertionError("unreachable")

    def _run(self, job: _Job) -> None:
        """One pipeline for every dictation, live or whole, typed while speaking or at
        release: transcribe (with the model-switch retry), clean (stock phrases, rules),
        check coverage, claim, insert, keep the history and the audio as the settings say."""
        self._emit(State.TRANSCRIBING, job.dictation_id)
        result = self._transcribe(job)
        lat = job.latency
        if job.live is not None:
            lat.committed_s = result.committed_s
            lat.live_wait_ms = result.wait_ms
            lat.tail_audio_s = result.tail_s
            lat.tail_decode_ms = result.tail_ms
        t = result.timings  # live: the stages of the tail's decode after release
        lat.gate_ms, lat.features_ms = t.gate_ms, t.features_ms
        lat.encoder_ms, lat.decoding_ms = t.encoder_ms, t.decoding_ms
        lat.remote_ms, lat.engine = t.remote_ms, t.engine
        with self._lock:
            rules = self.rules
        take = job.live
        typed = "".join(take.typed) if take is not None else ""
        if typed:  # the rest of a dictation typed while speaking
            assert take is not None
            rest = clean(" ".join([*take.waiting, result.tail_text]).strip(), rules)
            rest = join_with_previous(rest, typed)
        else:
            rest = clean(result.text, rules, speech_s=result.speech_s)
        text = typed + rest
        gaps = tuple(result.gaps)
        note = f"no text came from the speech at {describe_gaps(gaps)}; {KEPT}" if gaps else ""
        if not self._claim_insertion(job):  # what was typed stays typed (and in the history)
            if typed:
                self.history.set_result(job.dictation_id, typed, lat.as_dict())
            self.history.set_cancelled(job.dictation_id)
            return
        if not text:
            if gaps:  # speech, but no text from it: say so, keep the audio
                self.history.set_result(job.dictation_id, "", lat.as_dict(), gaps=gaps)
                self._emit(State.ERROR, job.dictation_id, message=note, latency=lat, gaps=gaps)
            else:
                self.history.set_result(job.dictation_id, "", lat.as_dict(), status="no_speech")
                self._emit(State.IDLE, job.dictation_id, message="no speech", latency=lat)
            return
        self.history.set_result(job.dictation_id, text, lat.as_dict(), gaps=gaps)
        if job.recovered:
            if not gaps:
                self._drop_audio(job.dictation_id)
            self._emit(State.IDLE, job.dictation_id, message="recovered", text=text)
            return
        with self._lock:
            self._busy = State.INSERTING
        self._emit(State.INSERTING, job.dictation_id, text=text)
        window = self._focused_window()
        if not typed:
            rest = text = self.spacing.join(text, window)
        if rest:
            self._wait_keys_up()
        outcome = self.inserter.insert(rest) if rest else None
        lat.insert_ms = outcome.ms if outcome is not None else 0.0
        lat.release_to_text_ms = (self._clock() - job.released_at) * 1000
        self.history.set_result(job.dictation_id, text, lat.as_dict(), gaps=gaps)  # + insertion
        if outcome is None:  # all of it was typed while speaking
            self.history.set_inserted(job.dictation_id, True, "while speaking")
        else:
            self.history.set_inserted(job.dictation_id, outcome.ok, outcome.method, outcome.error)
        if outcome is None or outcome.ok:
            self.spacing.remember(window, text)
            if not gaps:  # speech that gave no text: its audio is all there is of it
                self._drop_audio(job.dictation_id)
            self._emit(
                State.IDLE, job.dictation_id, message=note, text=text, latency=lat, gaps=gaps
            )
            return
        if typed:  # what was typed while speaking is in the window
            self.spacing.remember(window, typed)
        # The inserter's error says whether the text is on the clipboard; it is in the
        # history either way.
        message = f"could not insert the text: {outcome.error}; it is kept in the history"
        self._emit(State.ERROR, job.dictation_id, message=message, text=rest, latency=lat)

    def _claim_insertion(self, job: _Job) -> bool:
        """The point of no return: False if the job was cancelled; else no cancel() can take
        it any more (it would report a cancel while the text goes in)."""
        with self._lock:
            if job.cancelled.is_set():
                return False
            job.inserting = True
            return True

    def _drop_audio(self, dictation_id: int) -> None:
        """Without keep-audio a dictation's audio lives only until it is text (the text is in
        the history by now); a failed or silent one keeps it, so nothing is lost."""
        if self.keep_audio:
            return
        try:
            self.history.drop_audio(dictation_id)
        except Exception:  # the text is safe; a leftover file is no reason to fail it
            log.exception("could not delete the audio of dictation %s", dictation_id)
