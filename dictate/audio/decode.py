"""Decode audio files to 16 kHz mono float32, in bounded memory.

libsndfile (through ``soundfile``) reads WAV, FLAC, OGG/Vorbis/Opus, MP3 and the other formats it
knows; everything else (m4a, mp4, webm, mkv, aac, ...) goes through ``ffmpeg`` when it is installed.
This module is the entry point and the libsndfile half; the ffmpeg half is
:mod:`dictate.audio.ffmpeg`, and what both share (:class:`AudioInfo`, ``SAMPLE_RATE``) is
:mod:`dictate.audio.info`.
Every user-caused problem (missing, empty, not audio, corrupt, ffmpeg absent) becomes an
:class:`~dictate.errors.AudioError` whose one-line message starts with the file name.

No torch and no Qt here: the CLI imports this on its fast paths.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from dictate import choices
from dictate.audio.ffmpeg import _ffmpeg_chunks, _ffmpeg_probe, ffmpeg_path
from dictate.audio.info import SAMPLE_RATE, AudioInfo, _oneline, _sanitize, _shown
from dictate.errors import AudioError

__all__ = [
    "SAMPLE_RATE",
    "AudioInfo",
    "ffmpeg_path",
    "load_audio",
    "probe",
    "stream_audio",
    "to_mono_16k",
]

_SNDFILE_EXTS = choices.NATIVE_SUFFIXES
_FFMPEG_EXTS = choices.FFMPEG_SUFFIXES  # a file with one of these names "needs ffmpeg"
_INSTALL_HINT = "install it, e.g. `apt install ffmpeg`, `brew install ffmpeg`"
# Below this a file cannot carry intelligible speech, and a header claiming, say, 1 Hz would turn
# a few kilobytes into hours of 16 kHz audio for the speech gate to wade through.
MIN_SAMPLE_RATE = 4000
_READ_FRAMES = 8192  # per libsndfile read


def probe(path: str | Path) -> AudioInfo:
    """Read a file's header (duration, rate, channels) without decoding the audio."""
    p = _check_file(path)
    try:
        with _mpg123_muted():
            info = sf.info(_native(p))
    except (sf.LibsndfileError, RuntimeError) as exc:
        info = _ffmpeg_probe(p, _ffmpeg_or_raise(p, exc))
        _check_rate(p, info.sample_rate)
        return info
    except OSError as exc:
        raise AudioError(f"{_shown(p)}: cannot be read ({_oneline(exc.strerror or exc)})") from None
    _check_rate(p, info.samplerate)
    duration = info.frames / info.samplerate
    return AudioInfo(p, duration, info.samplerate, info.channels, info.format)


def stream_audio(path: str | Path, block_s: float = 30.0) -> Iterator[np.ndarray]:
    """Yield the file as float32 mono 16 kHz blocks of ``block_s`` seconds (the last is shorter).

    Path problems (missing, empty, ffmpeg needed but absent) are raised right away; decoding
    problems when the blocks are read. Memory stays bounded whatever the file's length.
    """
    if not (block_s > 0 and np.isfinite(block_s)):
        raise ValueError(f"block_s must be a positive number of seconds, not {block_s!r}")
    block = max(1, round(block_s * SAMPLE_RATE))
    p = _check_file(path)
    try:
        with _mpg123_muted():
            handle = sf.SoundFile(_native(p))
    except (sf.LibsndfileError, RuntimeError) as exc:
        ffmpeg = _ffmpeg_or_raise(p, exc)
        return _rebuffer(_ffmpeg_chunks(p, ffmpeg), block)
    except OSError as exc:
        raise AudioError(f"{_shown(p)}: cannot be read ({_oneline(exc.strerror or exc)})") from None
    try:
        _check_rate(p, handle.samplerate)
    except AudioError:
        handle.close()
        raise
    return _rebuffer(_sndfile_chunks(p, handle), block)


def load_audio(path: str | Path) -> np.ndarray:
    """The whole file as one float32 mono 16 kHz array."""
    blocks = list(stream_audio(path, block_s=60.0))
    if not blocks:  # a few input samples can resample to none at all
        return np.zeros(0, dtype=np.float32)
    return np.concatenate(blocks) if len(blocks) > 1 else blocks[0]


def to_mono_16k(samples: np.ndarray, rate: int) -> np.ndarray:
    """Convert in-memory samples, shaped (n,) or (n, channels), of any numeric dtype.

    Integers are scaled to [-1, 1) by their type's range; non-finite values become 0.
    """
    if rate <= 0:
        raise ValueError(f"sample rate must be positive, not {rate!r}")
    x = np.asarray(samples)
    if x.ndim not in (1, 2) or (x.ndim == 2 and x.shape[1] == 0):
        raise ValueError(f"expected samples shaped (n,) or (n, channels), got {x.shape}")
    x = _to_float32(x)
    if x.ndim == 2:
        x = x.mean(axis=1, dtype=np.float32) if x.shape[1] != 1 else x[:, 0]
    x = _sanitize(np.array(x, dtype=np.float32, copy=True))
    if rate != SAMPLE_RATE and x.size:
        x = soxr.resample(x, rate, SAMPLE_RATE, quality="HQ").astype(np.float32, copy=False)
    return x


# --- helpers ---------------------------------------------------------------------------------


def _to_float32(x: np.ndarray) -> np.ndarray:
    if x.dtype.kind == "f":
        return x.astype(np.float32, copy=False)
    if x.dtype.kind == "i":
        return x.astype(np.float32) / float(-np.iinfo(x.dtype).min)
    if x.dtype.kind == "u":  # unsigned PCM (8-bit WAV) is centred on half its range
        mid = float(np.iinfo(x.dtype).max // 2 + 1)
        return (x.astype(np.float32) - mid) / mid
    raise ValueError(f"cannot treat samples of dtype {x.dtype} as audio")


def _check_file(path: str | Path) -> Path:
    """Catch the path-level problems with clear messages before any decoder sees the file."""
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise AudioError(f"{_shown(p)}: no such file") from None
    except PermissionError:
        raise AudioError(f"{_shown(p)}: permission denied") from None
    except OSError as exc:
        raise AudioError(f"{_shown(p)}: cannot be read ({_oneline(exc.strerror or exc)})") from None
    if p.is_dir():
        raise AudioError(f"{_shown(p)}: is a directory, not an audio file")
    if not p.is_file():
        raise AudioError(f"{_shown(p)}: not a regular file")
    if st.st_size == 0:
        raise AudioError(f"{_shown(p)}: empty file (0 bytes)")
    try:
        with open(p, "rb"):
            pass
    except PermissionError:
        raise AudioError(f"{_shown(p)}: permission denied") from None
    except OSError as exc:
        raise AudioError(f"{_shown(p)}: cannot be read ({_oneline(exc.strerror or exc)})") from None
    return p


class _StderrMute:
    """Silences the process's stderr (fd 2) while libsndfile opens a file or reads an MP3.

    libsndfile's MP3 decoder, mpg123, prints its own notes about damaged frames straight to
    fd 2 ("Note: Illegal Audio-MPEG-Header ...", "Warning: Xing stream size off ...") and
    libsndfile offers no way to turn them off; they would break the promise of one line per
    bad file. The calls take milliseconds; a line another thread writes to stderr in that
    moment is lost, which is why reads of other formats are left alone. Nested and concurrent
    uses share one redirection (counted), so the last one out always restores the real fd 2.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._saved: int | None = None

    @contextlib.contextmanager
    def __call__(self, active: bool = True) -> Iterator[None]:
        if not active:
            yield
            return
        with self._lock:
            if self._depth == 0:
                self._saved = self._redirect()
            self._depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                if self._depth == 0 and self._saved is not None:
                    os.dup2(self._saved, 2)
                    os.close(self._saved)
                    self._saved = None

    @staticmethod
    def _redirect() -> int | None:
        with contextlib.suppress(AttributeError, OSError, ValueError):
            sys.stderr.flush()  # what Python already wrote must not land in /dev/null
        try:
            saved = os.dup(2)
        except OSError:  # no stderr at all: nothing to protect
            return None
        try:
            null = os.open(os.devnull, os.O_WRONLY)
        except OSError:
            os.close(saved)
            return None
        try:
            os.dup2(null, 2)
        finally:
            os.close(null)
        return saved


_mpg123_muted = _StderrMute()


def _native(p: Path) -> str | bytes:
    """The name to give libsndfile: bytes on POSIX, where a name need not be valid UTF-8
    (soundfile would encode a str strictly and fail on it); str on Windows (wide-char API)."""
    return str(p) if os.name == "nt" else os.fsencode(p)


def _check_rate(p: Path, rate: int | None) -> None:
    if rate is not None and rate < MIN_SAMPLE_RATE:
        raise AudioError(
            f"{_shown(p)}: sample rate {rate} Hz is too low to hold speech "
            f"(at least {MIN_SAMPLE_RATE} Hz); the file is damaged or not a recording"
        )


def _ffmpeg_or_raise(p: Path, exc: Exception) -> str:
    """libsndfile refused the file: return the ffmpeg to try next, or raise saying why."""
    ffmpeg = ffmpeg_path()
    if ffmpeg is not None:
        return ffmpeg
    ext = p.suffix.lower()
    if ext in _FFMPEG_EXTS:
        raise AudioError(
            f"{_shown(p)}: {ext} needs ffmpeg, which is not installed ({_INSTALL_HINT})"
        )
    code = getattr(exc, "code", None)
    if code == 1:  # SF_ERR_UNRECOGNISED_FORMAT
        if ext in _SNDFILE_EXTS:
            raise AudioError(f"{_shown(p)}: not a recognised audio file")
        raise AudioError(
            f"{_shown(p)}: not a recognised audio file (ffmpeg, which reads more formats, "
            f"is not installed: {_INSTALL_HINT})"
        )
    if code == 4:  # SF_ERR_UNSUPPORTED_ENCODING: a known container holding an unusual codec
        raise AudioError(
            f"{_shown(p)}: libsndfile cannot decode this file's encoding; ffmpeg may, "
            f"but it is not installed ({_INSTALL_HINT})"
        )
    # Code 7 is what libsndfile reports when mpg123 rejects an "MP3"; its text (about pipes)
    # would only mislead.
    detail = "" if code == 7 else getattr(exc, "error_string", None) or str(exc)
    raise AudioError(
        f"{_shown(p)}: damaged or not a recognised audio file"
        + (f" ({_oneline(detail)})" if detail else "")
    )


def _rebuffer(chunks: Iterator[np.ndarray], size: int) -> Iterator[np.ndarray]:
    """Regroup chunks of any length into blocks of ``size`` samples (the last may be shorter)."""
    pending: list[np.ndarray] = []
    have = 0
    try:
        for chunk in chunks:
            if not chunk.size:
                continue
            pending.append(chunk)
            have += chunk.size
            if have < size:
                continue
            joined = np.concatenate(pending) if len(pending) > 1 else pending[0]
            start = 0
            while have - start >= size:
                yield joined[start : start + size]
                start += size
            rest = joined[start:]
            pending = [rest] if rest.size else []
            have = rest.size
        if have:
            yield np.concatenate(pending) if len(pending) > 1 else pending[0]
    finally:
        # Closing this generator early must close the decoder (file handle, ffmpeg process) now.
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


def _sndfile_chunks(p: Path, f: sf.SoundFile) -> Iterator[np.ndarray]:
    """Decode with libsndfile, downmix, and resample with a streaming soxr (constant memory)."""
    with f:
        rate = f.samplerate
        resampler = None
        if rate != SAMPLE_RATE:
            resampler = soxr.ResampleStream(rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ")
        buf = np.empty((_READ_FRAMES, f.channels), dtype=np.float32)  # reused for every read
        mp3 = f.format == "MP3"
        decoded = 0
        while True:
            try:
                with _mpg123_muted(mp3):
                    got = _read_into(f, buf)
            except (sf.LibsndfileError, RuntimeError, OSError) as exc:
                if decoded:
                    break  # truncated or damaged part-way: keep what decoded before the damage
                detail = getattr(exc, "error_string", None) or str(exc)
                raise AudioError(
                    f"{_shown(p)}: corrupt or truncated, no audio could be decoded "
                    f"({_oneline(detail)})"
                ) from None
            if not got:
                break
            decoded += got
            data = buf[:got]
            # Both branches make a new array: buf is overwritten by the next read.
            mono = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0].copy()
            mono = _sanitize(mono)
            yield resampler.resample_chunk(mono) if resampler is not None else mono
        if not decoded:
            raise AudioError(f"{_shown(p)}: contains no audio (0 samples)")
        if resampler is not None:
            yield resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True)


def _read_into(f: sf.SoundFile, buf: np.ndarray) -> int:
    """Read up to ``len(buf)`` frames into ``buf`` (C-ordered float32); how many were read.

    Not ``SoundFile.read``: after every read it seeks to where the file already is, and
    libsndfile's MP3 seeking (mpg123) is inexact, so MP3s read block by block came out garbled
    (libsndfile 1.2.2, soundfile 0.14). Reading sequentially with ``sf_readf_float`` avoids any
    seek, and also keeps the frames a failing read decoded before the damage.
    """
    snd, ffi, handle = (
        getattr(sf, "_snd", None),
        getattr(sf, "_ffi", None),
        getattr(f, "_file", None),
    )
    if snd is None or ffi is None or handle is None:  # a soundfile without these internals
        return len(f.read(len(buf), dtype="float32", always_2d=True, out=buf))
    got = snd.sf_readf_float(handle, ffi.cast("float *", buf.ctypes.data), len(buf))
    if got <= 0 and (code := snd.sf_error(handle)):
        raise sf.LibsndfileError(code)
    return max(int(got), 0)
