"""Sound out: play samples or a WAV file on an output device, without waiting for the end.

For the history's "play audio" and the start/stop cues. One sound at a time per Player: a new
play() cuts the previous one. The sound is converted to the device's own rate (soxr) and
channel count before it starts, so PortAudio never resamples and the callback only copies.
Failures raise PlaybackError (a DictateError, one line for the user), or with quiet=True
are logged and play() returns False: a missing speaker must never stop a dictation.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np
import soxr

from dictate.audio import portaudio
from dictate.choices import SAMPLE_RATE
from dictate.errors import AudioError, DictateError

__all__ = ["PlaybackError", "Player", "prepare"]

log = logging.getLogger(__name__)

_CLOSE_TIMEOUT_S = 2.0


class PlaybackError(DictateError):
    """No usable output device: PortAudio missing, no speaker, device busy."""


OUTPUT = portaudio.Direction(
    PlaybackError,
    "max_output_channels",
    1,
    "no audio output device found (no speaker or headphones available)",
    "audio output",
    "output devices",
)


def _sounddevice() -> Any:
    return portaudio.sounddevice(PlaybackError)


def prepare(samples: np.ndarray, rate: int, out_rate: int, channels: int) -> np.ndarray:
    """(frames, channels) float32 for the device: mixed to mono, cleaned, clipped, resampled,
    then copied to every output channel."""
    a = np.asarray(samples, dtype=np.float32)
    if a.ndim == 2:
        a = a.mean(axis=1, dtype=np.float32)
    elif a.ndim != 1:
        raise ValueError(f"samples must be 1-D or (frames, channels), not shape {a.shape}")
    a = np.clip(np.nan_to_num(a, nan=0.0, posinf=1.0, neginf=-1.0), -1.0, 1.0)
    if rate != out_rate and a.size:
        a = soxr.resample(a, rate, out_rate).astype(np.float32, copy=False)
    return np.ascontiguousarray(np.repeat(a[:, None], channels, axis=1))


class Player:
    """Plays on `device` (None: the system default output; or a name, or a PortAudio index).

    `latency` is PortAudio's: "low" for cues that must sound the moment recording starts,
    "high" for longer sounds on a busy machine, where "low" can underrun (clicks).
    """

    def __init__(self, device: str | int | None = None, *, latency: str = "low") -> None:
        self.device = device
        self.latency = latency
        self._lock = threading.Lock()
        self._stream: Any = None
        self._data = np.zeros((0, 1), np.float32)
        self._pos = 0
        self._stop_exc: type[BaseException] = Exception
        self._done = threading.Event()
        self._done.set()

    @property
    def playing(self) -> bool:
        return not self._done.is_set()

    def play(self, samples: np.ndarray, rate: int = SAMPLE_RATE, *, quiet: bool = False) -> bool:
        """Start playing float samples (mono, or (frames, channels)) and return at once.
        True when it started; False with quiet=True when it could not."""
        try:
            self._start(samples, rate)
        except DictateError as exc:
            if not quiet:
                raise
            log.debug("sound not played: %s", exc)
            return False
        return True

    def play_file(self, path: str | Path, *, quiet: bool = False) -> bool:
        """Start playing an audio file soundfile can read (WAV, FLAC, OGG)."""
        try:
            samples, rate = _read(Path(path))
        except AudioError as exc:
            if not quiet:
                raise
            log.debug("sound not played: %s", exc)
            return False
        return self.play(samples, rate, quiet=quiet)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the sound has ended (or was stopped); False on timeout."""
        return self._done.wait(timeout)

    def stop(self) -> None:
        """Cut the sound now; safe to call at any time."""
        with self._lock:
            self._close()

    # ---- internals ----------------------------------------------------------------------

    def _start(self, samples: np.ndarray, rate: int) -> None:
        sd = _sounddevice()
        with self._lock:
            self._close()
            index, info = portaudio.find(sd, self.device, OUTPUT)
            name = str(info["name"])
            out_rate, channels = portaudio.native_format(sd, index, info, OUTPUT)
            self._data = prepare(samples, rate, out_rate, channels)
            self._pos, self._stop_exc = 0, sd.CallbackStop
            done = threading.Event()
            stream = None

            def finished() -> None:  # PortAudio's thread: it may not close its own stream
                done.set()
                threading.Thread(target=self._reap, args=(stream,), daemon=True).start()

            try:
                stream = sd.OutputStream(
                    device=index,
                    samplerate=out_rate,
                    channels=channels,
                    dtype="float32",
                    latency=self.latency,
                    callback=self._callback,
                    finished_callback=finished,
                )
                self._done = done
                stream.start()
            except (sd.PortAudioError, ValueError) as exc:
                done.set()
                if stream is not None:
                    stream.close(ignore_errors=True)
                raise PlaybackError(f"the audio output {name!r} cannot be opened ({exc})") from None
            self._stream = stream

    def _callback(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        # PortAudio's thread: copy the next frames, then end the stream after the last one.
        chunk = self._data[self._pos : self._pos + frames]
        self._pos += len(chunk)
        outdata[: len(chunk)] = chunk
        if len(chunk) < frames:
            outdata[len(chunk) :] = 0
            raise self._stop_exc

    def _reap(self, stream: Any) -> None:
        """Release the device once a sound has played to its end."""
        with self._lock:
            if stream is not None and stream is self._stream:
                self._close()

    def _close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is None:
            return
        portaudio.shut(stream, _CLOSE_TIMEOUT_S)
        self._done.set()


def _read(path: Path) -> tuple[np.ndarray, int]:
    import soundfile

    try:
        samples, rate = soundfile.read(str(path), dtype="float32", always_2d=False)
    except (OSError, RuntimeError) as exc:  # LibsndfileError is a RuntimeError
        raise AudioError(f"{path}: cannot be played ({exc})") from None
    return samples, int(rate)
