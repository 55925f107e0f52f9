"""A live input level: opens one microphone and reports its level in dBFS, block by block.

For the settings dialog's meter. It finds the device as the Recorder does (same names, same
"no microphone found" error) and measures as it does (RMS of the mono mix in dBFS, floored at
SILENCE_DB), so it shows what a dictation would record. No Qt: callbacks run on the meter's
worker thread; a UI marshals them onto its own thread.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from dictate.audio import portaudio
from dictate.audio.capture import INPUT, SILENCE_DB, _quietly, _resolve, _sounddevice

__all__ = ["LevelMeter", "block_level_db"]

log = logging.getLogger(__name__)

_BLOCK_S = 0.05  # 20 readings a second: smooth for the eye, light on a busy GUI thread
_FIRST_BLOCK_TIMEOUT_S = 3.0  # a fresh PulseAudio stream can take ~1 s to deliver its first block
_STALL_S = 2.0
_CLOSE_TIMEOUT_S = 2.0  # abort/close can hang on a dead source: never wait longer


def block_level_db(block: np.ndarray) -> float:
    """RMS level of a (frames,) or (frames, channels) float block in dBFS, as the Recorder
    measures it: channels averaged first, NaN/inf as 0, never below SILENCE_DB."""
    a = np.asarray(block, dtype=np.float32)
    mono = a if a.ndim == 1 else (a[:, 0] if a.shape[1] == 1 else a.mean(axis=1))
    mono = np.nan_to_num(mono, nan=0.0, posinf=0.0, neginf=0.0)
    if mono.size == 0:
        return SILENCE_DB
    power = float(np.mean(np.square(mono, dtype=np.float64))) or 1e-30
    return max(SILENCE_DB, 10.0 * math.log10(power))


class LevelMeter:
    """Reports the level of an input device (None: the system default) until stop().

    start() opens the device and returns (MicrophoneError if it cannot); on_level(dBFS) then
    runs for each block, on_error(message) once if the device goes silent or away. Both run on
    a worker thread. stop() releases the device; start() may be called again after it.
    """

    def __init__(
        self,
        device: str | int | None = None,
        *,
        on_level: Callable[[float], None] | None = None,
        on_error: Callable[[str], None] | None = None,
        block_s: float = _BLOCK_S,
    ) -> None:
        self.device = device
        self.on_level, self.on_error = on_level, on_error
        self.block_s = block_s
        self.level_db: float = SILENCE_DB
        self.device_name: str | None = None  # the device actually opened
        self._lock = threading.Lock()  # start/stop, from any thread
        self._stream: Any = None
        self._worker: threading.Thread | None = None
        self._queue: queue.SimpleQueue[np.ndarray | None] = queue.SimpleQueue()
        self._closing = False
        self._failed = False

    @property
    def running(self) -> bool:
        return self._stream is not None

    def start(self) -> None:
        """Open the device and begin reporting; does nothing when already running."""
        with self._lock:
            if self._stream is not None:
                return
            sd = _sounddevice()
            index, info = _resolve(sd, self.device)
            name = str(info["name"])
            rate, channels = portaudio.native_format(sd, index, info, INPUT)  # no resampling
            self._queue = queue.SimpleQueue()
            self._closing, self._failed = False, False
            stream = portaudio.open_stream(
                sd,
                INPUT,
                name,
                "; in use by another program?",
                device=index,
                samplerate=rate,
                channels=channels,
                dtype="float32",
                blocksize=max(1, round(rate * self.block_s)),
                callback=self._callback,
                finished_callback=self._finished,
            )
            self._stream, self.device_name = stream, name
            self._worker = threading.Thread(target=self._work, name="dictate-meter", daemon=True)
            self._worker.start()

    def stop(self) -> None:
        """Release the device; safe to call twice, and from any thread."""
        with self._lock:
            stream, self._stream = self._stream, None
            if stream is None:
                return
            self._closing = True
            portaudio.shut(stream, _CLOSE_TIMEOUT_S)
            self._queue.put(None)
            if self._worker is not None:
                self._worker.join(_CLOSE_TIMEOUT_S)
                self._worker = None
            self.level_db = SILENCE_DB

    # PortAudio's thread: copy and return.
    def _callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        self._queue.put(indata.copy())

    def _finished(self) -> None:
        if not self._closing:
            self._fail("the audio stream ended on its own (microphone unplugged?)")

    def _fail(self, message: str) -> None:
        if not self._failed:
            self._failed = True
            log.info("level meter: %s", message)
            if self.on_error is not None:
                _quietly(self.on_error, message)

    def _work(self) -> None:
        opened, last = time.monotonic(), None
        while True:
            try:
                block = self._queue.get(timeout=0.25)
            except queue.Empty:
                now = time.monotonic()
                if last is None and now - opened > _FIRST_BLOCK_TIMEOUT_S:
                    self._fail(f"no audio from {self.device_name!r} (it delivers nothing)")
                elif last is not None and now - last > _STALL_S:
                    self._fail(f"no audio from {self.device_name!r} for {_STALL_S:.0f} s")
                continue
            if block is None:
                return
            last = time.monotonic()
            self.level_db = block_level_db(block)
            if self.on_level is not None:
                _quietly(self.on_level, self.level_db)

    def __enter__(self) -> LevelMeter:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
