"""Microphone capture: a sounddevice input stream turned into 16 kHz mono float32 as it arrives.

The PortAudio callback only copies each block into a queue; a worker thread downmixes and
resamples (streaming soxr: no clicks at block edges). No Qt. ``sounddevice`` is imported lazily:
without PortAudio it raises OSError at import, and the CLI must still work then.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
import soxr

from dictate import threads
from dictate.audio import portaudio
from dictate.choices import SAMPLE_RATE
from dictate.errors import DictateError

if TYPE_CHECKING:
    from dictate.audio.gate import SpeechGate

__all__ = ["SAMPLE_RATE", "Capture", "MicrophoneError", "Recorder", "input_devices", "probe"]

log = logging.getLogger(__name__)

SILENCE_DB = -100.0  # level_db floor: a meter cannot draw -inf
_BLOCK_S = 0.02  # PortAudio block: short, so the level meter and the tail check stay responsive
_FIRST_BLOCK_TIMEOUT_S = 3.0  # a fresh PulseAudio stream can take ~1 s to deliver its first block
_STALL_S = 2.0  # no block for this long on a running stream: the device is gone
_ABORT_TIMEOUT_S = 2.0  # Pa_AbortStream/Pa_CloseStream can hang on a dead source: never wait more
# The tail check. Silero needs context (on 0.3 s alone it misses most speech), so it reads the
# last 2 s and asks whether its last speech region is still open at the end, i.e. whether the
# last ~0.3 s hold speech not yet followed by the gate's 100 ms of silence.
_GATE_CONTEXT_S = 2.0
_TAIL_STEP_S = 0.03  # re-check after this much new audio
_ENDED = "the audio stream ended on its own (microphone unplugged or sound server gone)"


class MicrophoneError(DictateError):
    """No usable input device: PortAudio missing, no microphone, device busy or silent."""


@dataclass
class Capture:
    """One recording, as 16 kHz mono float32."""

    audio: np.ndarray
    tail_s: float = 0.0  # how long stop() kept recording after the key was released
    truncated: bool = False  # the recording reached max_s; later audio was dropped
    device_lost: str | None = None  # why the device vanished mid-recording (audio so far is kept)


INPUT = portaudio.Direction(
    MicrophoneError,
    "max_input_channels",
    0,
    "no microphone found (no audio input device is available)",
    "microphone",
    "input devices",
)


def _sounddevice() -> Any:
    return portaudio.sounddevice(MicrophoneError)


def input_devices() -> list[tuple[int, str]]:
    """(index, name) of every input device PortAudio knows (as of its initialisation)."""
    return list(portaudio.devices(_sounddevice(), INPUT).items())


def probe(device: str | int | None = None, timeout_s: float = _FIRST_BLOCK_TIMEOUT_S) -> str | None:
    """Whether the input device works: opened, its first block awaited, closed again. None when
    it delivers audio, else why not (for the app's health: "no microphone" at a glance)."""
    try:
        sd = _sounddevice()
        index, info = _resolve(sd, device)
        rate, channels = portaudio.native_format(sd, index, info, INPUT)
        got = threading.Event()
        stream = portaudio.open_stream(
            sd,
            INPUT,
            str(info["name"]),
            device=index,
            samplerate=rate,
            channels=channels,
            dtype="float32",
            callback=lambda *_: got.set(),
        )
    except MicrophoneError as exc:
        return str(exc)
    try:
        if not got.wait(timeout_s):
            return f"the microphone {info['name']!r} delivers no audio within {timeout_s:.0f} s"
    finally:
        portaudio.shut(stream)
    return None


def _resolve(sd: Any, device: str | int | None) -> tuple[int, dict[str, Any]]:
    """The PortAudio index and info of the requested (or default) input device."""
    return portaudio.find(sd, device, INPUT)


_failed: set[int] = set()  # callbacks that failed: logged once, not 50 times a second


def _quietly(fn: Callable[..., Any], *args: Any) -> None:
    """Run a user callback on the capture thread; its failure must not stop the capture."""
    try:
        fn(*args)
    except Exception:
        (log.debug if id(fn) in _failed else log.exception)("capture callback %r failed", fn)
        _failed.add(id(fn))


def _grown(take: _Take, samples: int) -> bool:
    return take.n >= samples or take.lost is not None


@dataclass
class _Take:  # one recording in progress
    limit: int  # samples at 16 kHz (max_s)
    chunks: list[np.ndarray] = field(default_factory=list)
    n: int = 0
    truncated: bool = False
    lost: str | None = None

    def append(self, chunk: np.ndarray) -> np.ndarray:  # -> the part kept, under the limit
        if chunk.size > self.limit - self.n:
            chunk, self.truncated = chunk[: max(0, self.limit - self.n)], True
        if chunk.size:
            self.chunks.append(chunk)
            self.n += chunk.size
        return chunk

    def last(self, samples: int) -> np.ndarray:  # chunks are 20 ms: 200 of them hold 4 s
        return np.concatenate([np.zeros(0, np.float32), *self.chunks[-200:]])[-samples:]


class _Stream:
    """One running PortAudio stream with its queue, resampler and worker thread."""

    def __init__(self, rec: Recorder, sd: Any, index: int, info: dict[str, Any]) -> None:
        self.rec, self.name = rec, str(info["name"])
        self.queue: queue.SimpleQueue[tuple[np.ndarray, bool] | None] = queue.SimpleQueue()
        self.first_block = threading.Event()
        self.last_block = time.monotonic()
        self.closing, self.overflows = False, 0  # closing: we stopped it; its end is no loss
        self.dead: str | None = None  # why it died by itself
        self.rate, self.channels = portaudio.native_format(sd, index, info, INPUT)
        self.resampler = soxr.ResampleStream(self.rate, SAMPLE_RATE, 1, dtype="float32")
        kw: dict[str, Any] = dict(device=index, samplerate=self.rate, channels=self.channels)
        kw.update(dtype="float32", blocksize=max(1, round(self.rate * _BLOCK_S)), latency="low")
        # finished_callback: PortAudio ended the stream; unless we asked, the device is gone.
        kw.update(callback=self._callback, finished_callback=lambda: self.fail(_ENDED))
        hint = "; unplugged, or in use by another program?"
        self.stream = portaudio.open_stream(sd, INPUT, self.name, hint, **kw)
        self.worker = threading.Thread(target=self._work, name="dictate-capture", daemon=True)
        self.worker.start()

    # PortAudio's thread: copy and return; no logging, no locks, no numpy work.
    def _callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        self.queue.put((indata.copy(), bool(status)))

    def fail(self, reason: str) -> None:
        if self.dead is None and not self.closing:
            self.dead = reason
            self.queue.put(None)

    def _work(self) -> None:
        while True:
            try:
                item = self.queue.get(timeout=0.25)
            except queue.Empty:
                if self.first_block.is_set() and time.monotonic() - self.last_block > _STALL_S:
                    self.fail(f"no audio from the microphone for {_STALL_S:.0f} s")
                continue
            if item is None:
                break
            block, flagged = item
            self.last_block = time.monotonic()
            self.overflows += flagged  # input overflow: samples were dropped, the device is fine
            mono = block[:, 0] if block.shape[1] == 1 else block.mean(axis=1, dtype=np.float32)
            mono = np.nan_to_num(mono, nan=0.0, posinf=0.0, neginf=0.0)
            chunk = self.resampler.resample_chunk(mono)
            power = float(np.mean(np.square(mono, dtype=np.float64))) or 1e-30  # -> RMS in dBFS
            self.rec._deliver(self, chunk, max(SILENCE_DB, 10.0 * math.log10(power)))
            self.first_block.set()
        # The last milliseconds still inside the resampler's filter.
        self.rec._deliver(self, self.resampler.resample_chunk(np.zeros(0, np.float32), True))
        if self.overflows:
            log.warning("microphone input overflowed %d time(s): audio was lost", self.overflows)
        if self.dead is not None:
            self.rec._lost(self, self.dead)

    def close(self) -> None:
        """Stop the stream (abort(): stop() can hang on a dead source) and drain the worker."""
        self.closing = True
        portaudio.shut(self.stream, _ABORT_TIMEOUT_S)
        self.queue.put(None)
        self.worker.join(_ABORT_TIMEOUT_S)


class Recorder:
    """Records the microphone between start() and stop(); thread-safe. keep_open: the stream runs
    on, the last preroll_s in a ring buffer, so no first word is lost. on_level (dBFS per block),
    on_chunk (each 16 kHz chunk of a recording, in order) run on the capture thread."""

    def __init__(
        self,
        device: str | int | None = None,
        *,
        keep_open: bool = False,
        preroll_s: float = 0.5,
        max_s: float = 120.0,
        on_level: Callable[[float], None] | None = None,
        on_chunk: Callable[[np.ndarray], None] | None = None,
        gate: SpeechGate | None = None,
    ) -> None:
        self.device, self.keep_open = device, keep_open
        self.preroll_s, self.max_s = max(0.0, preroll_s), max_s
        self.on_level, self.on_chunk = on_level, on_chunk
        self.gate = gate
        self.level_db: float = SILENCE_DB
        self._cond = threading.Condition()  # guards _stream, _take, _ring
        self._ops = threading.RLock()  # serialises start/stop/cancel/open/close across threads
        self._stream: _Stream | None = None
        self._take: _Take | None = None
        self._ring: deque[np.ndarray] = deque()
        self._gate_warmed = False
        self._stale = False  # the stream is for a device no longer chosen: close after the take
        self._releases = 0  # close()s so far: a reopen planned before one is dropped

    def reconfigure(
        self,
        *,
        device: str | int | None,
        keep_open: bool,
        max_s: float | None = None,
    ) -> None:
        """Apply changed settings. A recording in progress keeps its stream; the new device
        is used from the next one. Otherwise a changed device or keep_open takes effect now
        (with keep_open the new stream is opened: raises MicrophoneError if it cannot be)."""
        with self._ops:  # atomic with start/stop/cancel: none of them sees half a change
            changed = (device, keep_open) != (self.device, self.keep_open)
            with self._cond:
                self.device, self.keep_open = device, keep_open
                if max_s is not None:
                    self.max_s = max_s
                recording = self._take is not None
            if not changed:
                return
            if recording:  # the take keeps its stream; stop() or cancel() lets it go
                self._stale = True
                return
            self._close_stream()
            if keep_open:
                self._ensure_stream()

    def probe(self) -> str | None:
        """Whether the chosen microphone works (module `probe`); a stream of ours that is open
        and delivering answers without opening another."""
        with self._cond:
            stream, device = self._stream, self.device
        if stream is not None and stream.dead is None and stream.first_block.is_set():
            return None
        return probe(device)

    def open(self) -> None:
        """Open the input stream now (with keep_open it then runs until close())."""
        with self._ops:
            self._ensure_stream()

    def start(self) -> None:
        """Begin a recording; returns once audio is flowing, so a start cue played after it is
        never spoken over a closed microphone. Raises MicrophoneError."""
        with self._ops:
            if self._take is not None:
                return
            take = _Take(limit=max(0, round(self.max_s * SAMPLE_RATE)))
            with self._cond:
                # The take exists before a stream opens, so it keeps the stream's first block.
                # The pre-roll goes to on_chunk under the lock, so no newer chunk overtakes it.
                for chunk in self._ring:
                    if (kept := take.append(chunk)).size and self.on_chunk is not None:
                        _quietly(self.on_chunk, kept)
                self._ring.clear()
                self._take = take
            try:
                self._ensure_stream()
            except BaseException:
                with self._cond:
                    self._take = None
                raise

    def stop(self, tail_max_s: float = 0.4) -> Capture:
        """End the recording when speech has ended (at most ``tail_max_s`` later); the audio."""
        with self._ops:
            take = self._take
            if take is None:
                return Capture(np.zeros(0, dtype=np.float32))
            t0 = time.monotonic()
            self._wait_tail(take, t0 + max(0.0, tail_max_s))
            tail_s = time.monotonic() - t0
            if not self.keep_open or self._stale:
                self._close_stream()  # flushes the resampler into the take first
                self._reopen_if_kept()
            with self._cond:
                self._take = None
            audio = np.concatenate(take.chunks) if take.chunks else np.zeros(0, np.float32)
            return Capture(audio, tail_s, take.truncated, take.lost)

    def cancel(self, *, release: bool = False) -> None:
        """Drop the recording in progress (chunks already given to on_chunk stay there)."""
        with self._ops:
            with self._cond:
                self._take = None
                self._ring.clear()
            if release:
                self._releases += 1
            if release or not self.keep_open or self._stale:
                self._close_stream()
                if not release:
                    self._reopen_if_kept()
                self._stale = False

    def close(self) -> None:
        """Drop any recording and release the microphone."""
        self.cancel(release=True)

    def _reopen_if_kept(self) -> None:
        """After a take that kept the stream of a device no longer chosen (under `_ops`): with
        keep_open, open the chosen one now, so the next dictation has its pre-roll. Off this
        thread: stop() must not wait for a microphone to open."""
        stale, self._stale = self._stale, False
        if not (stale and self.keep_open):
            return
        releases = self._releases

        def reopen() -> None:
            with self._ops:
                if self._releases != releases or not self.keep_open or self._take is not None:
                    return  # closed since, no longer kept open, or start() opened it
                try:
                    self._ensure_stream()
                except MicrophoneError as exc:
                    log.warning("the microphone could not be kept open: %s", exc)

        threading.Thread(target=reopen, name="dictate-mic-reopen", daemon=True).start()

    def _ensure_stream(self) -> _Stream:
        stream = self._stream
        if stream is not None and stream.dead is None:
            return stream
        self._close_stream()
        sd = _sounddevice()
        stream = _Stream(self, sd, *_resolve(sd, self.device))
        with self._cond:
            self._stream = stream
        if not stream.first_block.wait(_FIRST_BLOCK_TIMEOUT_S) or stream.dead is not None:
            reason = stream.dead or f"no audio within {_FIRST_BLOCK_TIMEOUT_S:.0f} s"
            self._close_stream()
            raise MicrophoneError(f"the microphone {stream.name!r} delivers no audio ({reason})")
        if not self._gate_warmed:  # load the VAD (and torch) now, off this thread: stop() is quick
            self._gate_warmed = True
            zeros = np.zeros(1024, dtype=np.float32)
            threading.Thread(target=lambda: _quietly(self._speaking, zeros), daemon=True).start()
        return stream

    def _close_stream(self) -> None:
        stream = self._stream
        if stream is not None:
            stream.close()  # meanwhile its worker delivers its last chunks to the take
            with self._cond:
                self._stream = None

    def _deliver(self, stream: _Stream, chunk: np.ndarray, level: float | None = None) -> None:
        """Capture thread: one new 16 kHz chunk (and the level of the block it came from)."""
        if level is not None:
            self.level_db = level
            if self.on_level is not None:
                _quietly(self.on_level, level)
        with self._cond:
            take = self._take
            if stream is not self._stream:
                return
            if take is None:
                if self.keep_open and chunk.size and self.preroll_s > 0:
                    self._ring.append(chunk)
                    keep = round(self.preroll_s * SAMPLE_RATE)
                    while sum(c.size for c in self._ring) - self._ring[0].size >= keep:
                        self._ring.popleft()
                return
            chunk = take.append(chunk)
            self._cond.notify_all()
        if chunk.size and self.on_chunk is not None:
            _quietly(self.on_chunk, chunk)

    def _lost(self, stream: _Stream, reason: str) -> None:
        """Capture thread: the device went away. The take keeps its audio; start() reopens."""
        log.warning("microphone lost: %s", reason)
        with self._cond:
            if stream is self._stream and not stream.closing:  # not one being replaced
                if self._take is not None:
                    self._take.lost = reason
                self._stream = None
                threading.Thread(target=stream.close, daemon=True).start()
            self._cond.notify_all()

    def _wait_tail(self, take: _Take, deadline: float) -> None:
        step, context = round(_TAIL_STEP_S * SAMPLE_RATE), round(_GATE_CONTEXT_S * SAMPLE_RATE)
        while True:
            with self._cond:
                if take.lost or take.truncated or self._stream is None:
                    return
                n, window = take.n, take.last(context)
            if not self._speaking(window) or time.monotonic() >= deadline:
                return
            with self._cond:  # until `step` more audio has arrived
                self._cond.wait_for(
                    partial(_grown, take, n + step), timeout=max(0.0, deadline - time.monotonic())
                )

    def _speaking(self, window: np.ndarray) -> bool:
        """Whether speech is still going on at the end of ``window``."""
        # One torch thread: Silero on 2 s takes ~12 ms so; with torch's 2 OpenMP threads on a
        # busy 2-core machine (Whisper transcribing the previous dictation) calls took 0.2-6 s.
        # dictate.threads owns the count (restored once the last such section ends).
        try:
            with threads.one_thread():
                if self.gate is None:
                    from dictate.audio.gate import SpeechGate  # imports torch: only when needed

                    self.gate = SpeechGate()
                regions = self.gate.regions(window)
        except Exception:  # a broken gate must not clip the last word: wait the full tail
            log.exception("speech gate failed during the tail check")
            return True
        end = window.size / SAMPLE_RATE
        return bool(regions) and regions[-1][1] >= end - 0.05  # the last region is still open
