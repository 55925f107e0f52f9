"""The app's file-transcription queue: one worker thread runs the files in order.

Jobs are plain objects that the worker updates in place while it runs them (each field assignment
is atomic, segments are only ever appended); listeners are told after every change, from the
worker thread, or from the caller's thread for `add` and the cancel of a queued job. A UI must
therefore hand the notifications over to its own thread before it touches any widget.

A dictation is never stuck behind a file: the engine's PriorityLock serves it before the file's
next window (≤ 30 s of audio), so it waits at most for the window already on the engine.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dictate import choices, threads
from dictate.audio.info import SAMPLE_RATE
from dictate.engine.longform import Gap
from dictate.errors import Cancelled, DictateError, ModelError
from dictate.transcript import Segment

if TYPE_CHECKING:  # both pull in torch; the queue is built before the engine exists
    from dictate.engine.options import TranscribeOptions
    from dictate.engine.transcriber import Engine

__all__ = [
    "AUDIO_SUFFIXES",
    "MEDIA_SUFFIXES",
    "VIDEO_SUFFIXES",
    "FileJob",
    "FileQueue",
]

log = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
FINISHED = frozenset({DONE, FAILED, CANCELLED})

# What a dropped folder contributes and what the file dialog offers; a file given by name is
# queued whatever its name, and the decoder then says what is wrong with it.
AUDIO_SUFFIXES = choices.AUDIO_SUFFIXES
VIDEO_SUFFIXES = choices.VIDEO_SUFFIXES
MEDIA_SUFFIXES = choices.MEDIA_SUFFIXES
MODEL_SWAPS_PER_JOB = 3  # a file survives this many model switches while it runs


@dataclass
class FileJob:
    """One file in the queue; the worker updates it in place."""

    id: int
    path: Path
    status: str  # "queued" | "running" | "done" | "failed" | "cancelled"
    duration_s: float | None = None  # from a probe, when known
    done_s: float = 0.0  # seconds of audio processed (progress)
    segments: list[Segment] = field(default_factory=list)
    # Speech that gave no text after every retry (seconds from the file's start), in order.
    gaps: list[Gap] = field(default_factory=list)
    error: str | None = None  # one line, for the user
    elapsed_s: float | None = None  # wall-clock seconds, once finished
    detail: str = ""  # what a running job is doing when it is not transcribing yet
    started_at: float | None = None  # time.monotonic() when it started running
    model: str | None = None  # what transcribed it (for the JSON export)
    device: str | None = None
    language: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def fraction(self) -> float | None:
        """Progress in [0, 1]; None while the length is unknown."""
        if self.status == DONE:
            return 1.0
        if self.duration_s and self.duration_s > 0:
            return max(0.0, min(1.0, self.done_s / self.duration_s))
        return None

    @property
    def text(self) -> str:
        """The transcript as plain text (what the TXT export holds)."""
        return " ".join(t for s in list(self.segments) if (t := s.text.strip()))

    @property
    def running_s(self) -> float | None:
        """Seconds since it started: final once finished, growing while it runs."""
        if self.elapsed_s is not None:
            return self.elapsed_s
        if self.started_at is None:
            return None
        return time.monotonic() - self.started_at


class FileQueue:
    """Transcribes files one at a time, in the order they were added, on its own thread."""

    def __init__(
        self,
        get_engine: Callable[[], Engine],
        options: Callable[[], TranscribeOptions],
    ) -> None:
        """`get_engine` blocks until the app's engine is ready (or raises DictateError saying
        why there is none); `options` gives the decoding options at the time a job starts."""
        self._get_engine = get_engine
        self._options = options
        self.listeners: list[Callable[[FileJob], None]] = []
        self._cond = threading.Condition()
        self._jobs: dict[int, FileJob] = {}  # in the order added
        self._pending: deque[int] = deque()
        self._cancels: dict[int, threading.Event] = {}
        self._ids = itertools.count(1)
        self._stopping = False
        self._worker: threading.Thread | None = None

    # ---- requests (any thread; all quick) -------------------------------------------------

    def add(self, path: str | Path) -> FileJob:
        """Queue a file. Never raises for a bad file: its job fails, with a one-line reason."""
        # abspath, not resolve(): no file-system access here, the caller may be a GUI thread.
        job_path = Path(os.path.abspath(os.path.expanduser(os.fspath(path))))
        with self._cond:
            if self._stopping:
                raise RuntimeError("the file queue has been shut down")
            job = FileJob(next(self._ids), job_path, QUEUED)
            self._jobs[job.id] = job
            self._cancels[job.id] = threading.Event()
            self._pending.append(job.id)
            if self._worker is None:
                self._worker = threading.Thread(
                    target=self._work, name="dictate-files", daemon=True
                )
                self._worker.start()
            self._cond.notify_all()
        self._notify(job)
        return job

    def cancel(self, job_id: int) -> None:
        """A queued job is cancelled at once; a running one stops before its next window."""
        with self._cond:
            job = self._jobs.get(job_id)
            if job is None or job.finished:
                return
            self._cancels[job_id].set()
            if job.status == QUEUED:
                self._pending.remove(job_id)
                job.status = CANCELLED
            else:
                job.detail = "stopping…"
        self._notify(job)

    def retry(self, job_id: int) -> FileJob:
        """Queue a failed or cancelled job again, as the same job (its row stays), from the
        start and with the model and options of now. ValueError for any other."""
        with self._cond:
            job = self._jobs.get(job_id)
            if job is None:
                raise KeyError(f"no file job {job_id}")
            if job.status not in (FAILED, CANCELLED):
                raise ValueError(
                    f"{job.path.name} is {job.status}; only a failed or cancelled file is retried"
                )
            if self._stopping:
                raise RuntimeError("the file queue has been shut down")
            job.segments, job.gaps = [], []
            job.done_s, job.error, job.elapsed_s, job.started_at = 0.0, None, None, None
            job.detail = ""
            job.status = QUEUED
            self._cancels[job_id] = threading.Event()
            self._pending.append(job_id)
            self._cond.notify_all()
        self._notify(job)
        return job

    def remove(self, job_id: int) -> None:
        """Forget a finished job (listeners are not told: the caller knows)."""
        with self._cond:
            job = self._jobs.get(job_id)
            if job is None:
                raise KeyError(f"no file job {job_id}")
            if not job.finished:
                raise ValueError(f"{job.path.name} is still {job.status}; cancel it first")
            del self._jobs[job_id]
            del self._cancels[job_id]

    @property
    def jobs(self) -> list[FileJob]:
        with self._cond:
            return list(self._jobs.values())

    def get(self, job_id: int) -> FileJob:
        with self._cond:
            try:
                return self._jobs[job_id]
            except KeyError:
                raise KeyError(f"no file job {job_id}") from None

    def export(self, job_id: int, fmt: str, path: Path | None = None) -> Path:
        """Write a finished transcript as txt, srt, vtt or json; returns where it went.

        With no `path` the file goes beside the source ("talk.mp3" → "talk.srt"), and an
        existing file there is kept: the new one becomes "talk (2).srt". A given `path` is
        overwritten (a save dialog has already asked). Write failures raise DictateError.
        """
        from dictate.export import FORMATS, write

        kind = str(fmt).strip().lower().removeprefix(".")
        if kind not in FORMATS:
            raise ValueError(f"unknown transcript format {fmt!r}; choose one of {FORMATS}")
        job = self.get(job_id)
        if job.status != DONE:
            raise ValueError(f"{job.path.name} has no finished transcript ({job.status})")
        target = Path(path) if path is not None else self.default_export_path(job_id, kind)
        try:
            return write(list(job.segments), kind, target, meta=self._meta(job))
        except OSError as exc:
            raise DictateError(f"{target}: cannot write ({exc.strerror or exc})") from None

    def default_export_path(self, job_id: int, fmt: str) -> Path:
        """Beside the source, named after it; "name (2).fmt" and up when that is taken."""
        source = self.get(job_id).path
        kind = fmt.lower().removeprefix(".")
        target = source.with_suffix(f".{kind}")
        n = 2
        while target.exists() or target == source:
            target = source.with_name(f"{source.stem} ({n}).{kind}")
            n += 1
        return target

    def shutdown(self, timeout: float | None = 5.0) -> None:
        """Cancel everything and stop the worker (waits up to `timeout` for the current window)."""
        with self._cond:
            self._stopping = True
            dropped = [self._jobs[i] for i in self._pending]
            self._pending.clear()
            for job in dropped:
                job.status = CANCELLED
            for event in self._cancels.values():
                event.set()
            self._cond.notify_all()
            worker = self._worker
        for job in dropped:
            self._notify(job)
        if worker is not None and worker is not threading.current_thread():
            worker.join(timeout)

    # ---- worker thread ----------------------------------------------------------------------

    def _notify(self, job: FileJob) -> None:
        for listener in list(self.listeners):
            try:
                listener(job)
            except Exception:  # a broken listener must not stop the queue
                log.exception("file queue listener failed")

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                job = self._jobs[self._pending.popleft()]
                cancel = self._cancels[job.id]
                job.started_at = time.monotonic()
                job.detail = "reading the file"
                job.status = RUNNING
            self._notify(job)
            self._run(job, cancel)

    def _run(self, job: FileJob, cancel: threading.Event) -> None:
        from dictate.audio.decode import probe

        status, error = FAILED, None
        try:
            # The file first: a missing or broken one fails at once, without a model load.
            job.duration_s = probe(job.path).duration_s
            for attempt in range(MODEL_SWAPS_PER_JOB + 1):
                if cancel.is_set():
                    raise Cancelled("cancelled")
                job.detail = "waiting for the model"
                self._notify(job)
                engine = self._get_engine()
                if cancel.is_set():
                    raise Cancelled("cancelled")
                try:
                    self._transcribe(job, engine, cancel)
                    break
                except ModelError:
                    # The app switched models (or unloaded this one) under the running file:
                    # carry on with the new one from the last finished window.
                    if engine.loaded or attempt == MODEL_SWAPS_PER_JOB:
                        raise
                    log.info("%s: the model went away; resuming at %.1f s", job.path, job.done_s)
            if job.duration_s is not None:
                job.done_s = max(job.done_s, job.duration_s)
            status = DONE
        except Cancelled:
            status = CANCELLED
        except DictateError as exc:
            error = _oneline(exc)
        except Exception as exc:  # a bug must not stop the rest of the queue
            log.exception("transcribing %s failed", job.path)
            error = _oneline(f"internal error: {type(exc).__name__}: {exc}")
        job.elapsed_s = time.monotonic() - (job.started_at or time.monotonic())
        job.error = error
        job.detail = ""
        job.status = status  # last: a reader that sees the final status sees the rest too
        self._notify(job)

    def _transcribe(self, job: FileJob, engine: Engine, cancel: threading.Event) -> None:
        """Transcribe the file from `job.done_s` on (0, or where a previous engine stopped)."""
        from dictate.audio.decode import stream_audio

        options = self._options()
        self._describe(job, engine, options)
        job.detail = ""
        self._notify(job)
        start = job.done_s  # always the end of a window: its segments are all in job.segments

        def progress(done_s: float) -> None:
            job.done_s = start + done_s
            self._notify(job)

        def gap(found: Gap) -> None:
            job.gaps.append(Gap(round(found.start + start, 3), round(found.end + start, 3)))
            self._notify(job)

        threads.adopt()  # this thread decodes on the app's torch thread count
        blocks = _skip(stream_audio(job.path), start)
        segments = engine.transcribe_long(
            blocks, options, cancel=cancel, on_progress=progress, on_gap=gap
        )
        try:
            for segment in segments:
                if start:
                    segment = Segment(
                        round(segment.start + start, 3), round(segment.end + start, 3), segment.text
                    )
                job.segments.append(segment)
                self._notify(job)
        finally:
            getattr(segments, "close", lambda: None)()  # a generator: stop it now
            blocks.close()  # and the decoder with it (file handle, ffmpeg process)

    @staticmethod
    def _describe(job: FileJob, engine: Engine, options: TranscribeOptions) -> None:
        job.language = options.language
        try:
            info = engine.info
        except DictateError:  # unloaded meanwhile: the export just says less
            return
        job.model, job.device = info.model, info.device

    @staticmethod
    def _meta(job: FileJob) -> dict[str, object]:
        meta: dict[str, object] = {"file": str(job.path)}
        if job.duration_s is not None:
            meta["duration"] = round(job.duration_s, 3)
        if job.model:
            meta["model"] = job.model
        if job.device:
            meta["device"] = job.device
        if job.language:
            meta["language"] = job.language
        if job.gaps:  # speech that gave no text: the JSON export says where
            meta["gaps"] = [{"start": g.start, "end": g.end} for g in job.gaps]
        return meta


def _skip(blocks: Iterator[np.ndarray], seconds: float) -> Generator[np.ndarray, None, None]:
    """The stream without its first `seconds` (decoded and dropped: streams cannot seek)."""
    todo = round(seconds * SAMPLE_RATE)
    try:
        for block in blocks:
            if todo >= block.size:
                todo -= block.size
                continue
            yield block[todo:] if todo else block
            todo = 0
    finally:
        close = getattr(blocks, "close", None)
        if close is not None:
            close()


def _oneline(text: object) -> str:
    return " ".join(str(text).split()) or "failed"
