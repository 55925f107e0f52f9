"""Decode audio files to 16 kHz mono float32, in bounded memory.

libsndfile (through ``soundfile``) reads WAV, FLAC, OGG/Vorbis/Opus, MP3 and the other formats it
knows; everything else (m4a, mp4, webm, mkv, aac, ...) goes through ``ffmpeg`` when it is installed.
Every user-caused problem (missing, empty, not audio, corrupt, ffmpeg absent) becomes an
:class:`~dictate.errors.AudioError` whose one-line message starts with the file name.

No torch and no Qt here: the CLI imports this on its fast paths.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
import soundfile as sf
import soxr

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

SAMPLE_RATE = 16000

# Extensions libsndfile reads itself: when it refuses one of these and ffmpeg is absent, the file is
# more likely damaged or not audio than in a format that merely needs ffmpeg.
_SNDFILE_EXTS = frozenset(
    {".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".aifc"}
    | {".au", ".snd", ".caf", ".w64", ".rf64"}
)
# Formats only ffmpeg reads: a file with one of these names "needs ffmpeg" when it is absent.
_FFMPEG_EXTS = frozenset(
    {".m4a", ".m4b", ".mp4", ".m4v", ".mov", ".aac", ".webm", ".mkv", ".mka", ".wma", ".wmv"}
    | {".avi", ".3gp", ".3g2", ".amr", ".ac3", ".eac3", ".flv", ".mpg", ".mpeg", ".ts", ".mts"}
    | {".m2ts", ".ape", ".wv", ".dts", ".ogv", ".spx", ".ra", ".rm"}
)
_INSTALL_HINT = "install it, e.g. `apt install ffmpeg`, `brew install ffmpeg`"
_READ_FRAMES = 8192  # per libsndfile read
_PIPE_BYTES = 1 << 16  # per read of ffmpeg's stdout
_PROBE_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class AudioInfo:
    """What :func:`probe` learns about a file without decoding it."""

    path: Path
    duration_s: float | None
    sample_rate: int | None
    channels: int | None
    codec: str  # libsndfile's format name ("FLAC", "WAV", "MP3", ...), or "ffmpeg"


def ffmpeg_path() -> str | None:
    """The ffmpeg to run, or None: ``$DICTATE_FFMPEG`` if set ("" disables it), else PATH's."""
    override = os.environ.get("DICTATE_FFMPEG")
    if override is None:
        return shutil.which("ffmpeg")
    if not override.strip():
        return None
    return shutil.which(override) or (override if os.path.isfile(override) else None)


def probe(path: str | Path) -> AudioInfo:
    """Read a file's header (duration, rate, channels) without decoding the audio."""
    p = _check_file(path)
    try:
        info = sf.info(str(p))
    except (sf.LibsndfileError, RuntimeError) as exc:
        ffmpeg = _ffmpeg_or_raise(p, exc)
        return _ffmpeg_probe(p, ffmpeg)
    except OSError as exc:
        raise AudioError(f"{p}: cannot be read ({_oneline(exc.strerror or exc)})") from None
    duration = info.frames / info.samplerate if info.samplerate > 0 else None
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
        handle = sf.SoundFile(str(p))
    except (sf.LibsndfileError, RuntimeError) as exc:
        ffmpeg = _ffmpeg_or_raise(p, exc)
        return _rebuffer(_ffmpeg_chunks(p, ffmpeg), block)
    except OSError as exc:
        raise AudioError(f"{p}: cannot be read ({_oneline(exc.strerror or exc)})") from None
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


def _sanitize(x: np.ndarray) -> np.ndarray:
    """Replace NaN/Inf in place: one bad sample would otherwise smear through the resampler."""
    if not np.isfinite(x).all():
        np.nan_to_num(x, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    return x


def _oneline(text: object, limit: int = 200) -> str:
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _check_file(path: str | Path) -> Path:
    """Catch the path-level problems with clear messages before any decoder sees the file."""
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise AudioError(f"{p}: no such file") from None
    except PermissionError:
        raise AudioError(f"{p}: permission denied") from None
    except OSError as exc:
        raise AudioError(f"{p}: cannot be read ({_oneline(exc.strerror or exc)})") from None
    if p.is_dir():
        raise AudioError(f"{p}: is a directory, not an audio file")
    if not p.is_file():
        raise AudioError(f"{p}: not a regular file")
    if st.st_size == 0:
        raise AudioError(f"{p}: empty file (0 bytes)")
    try:
        with open(p, "rb"):
            pass
    except PermissionError:
        raise AudioError(f"{p}: permission denied") from None
    except OSError as exc:
        raise AudioError(f"{p}: cannot be read ({_oneline(exc.strerror or exc)})") from None
    return p


def _ffmpeg_or_raise(p: Path, exc: Exception) -> str:
    """libsndfile refused the file: return the ffmpeg to try next, or raise saying why."""
    ffmpeg = ffmpeg_path()
    if ffmpeg is not None:
        return ffmpeg
    ext = p.suffix.lower()
    if ext in _FFMPEG_EXTS:
        raise AudioError(f"{p}: {ext} needs ffmpeg, which is not installed ({_INSTALL_HINT})")
    code = getattr(exc, "code", None)
    if code == 1:  # SF_ERR_UNRECOGNISED_FORMAT
        if ext in _SNDFILE_EXTS:
            raise AudioError(f"{p}: not a recognised audio file")
        raise AudioError(
            f"{p}: not a recognised audio file (ffmpeg, which reads more formats, "
            f"is not installed: {_INSTALL_HINT})"
        )
    if code == 4:  # SF_ERR_UNSUPPORTED_ENCODING: a known container holding an unusual codec
        raise AudioError(
            f"{p}: libsndfile cannot decode this file's encoding; ffmpeg may, "
            f"but it is not installed ({_INSTALL_HINT})"
        )
    # Code 7 is what libsndfile reports when mpg123 rejects an "MP3"; its text (about pipes)
    # would only mislead.
    detail = "" if code == 7 else getattr(exc, "error_string", None) or str(exc)
    raise AudioError(
        f"{p}: damaged or not a recognised audio file"
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
        decoded = 0
        while True:
            try:
                got = _read_into(f, buf)
            except (sf.LibsndfileError, RuntimeError, OSError) as exc:
                if decoded:
                    break  # truncated or damaged part-way: keep what decoded before the damage
                detail = getattr(exc, "error_string", None) or str(exc)
                raise AudioError(
                    f"{p}: corrupt or truncated, no audio could be decoded ({_oneline(detail)})"
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
            raise AudioError(f"{p}: contains no audio (0 samples)")
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


def _ffmpeg_chunks(p: Path, ffmpeg: str) -> Iterator[np.ndarray]:
    """Decode with an ffmpeg subprocess writing 16 kHz float32 WAV to a pipe; downmix here.

    Not ``-ac 1``: ffmpeg's downmix adds channels with gains (stereo comes out 3 dB louder, 5.1
    over three times louder), while the libsndfile path takes the mean; the same file must give
    the same level whichever decoder reads it. The WAV header tells the channel count.
    """
    # "file:" stops ffmpeg reading names like "pipe:1" or "concat:..." as protocols.
    source = "file:" + str(p.absolute())
    cmd = [ffmpeg, "-nostdin", "-v", "error", "-i", source, "-vn", "-sn", "-dn"]
    cmd += ["-map_metadata", "-1", "-fflags", "+bitexact"]  # a bare header: no LIST chunk
    cmd += ["-f", "wav", "-c:a", "pcm_f32le", "-ar", str(SAMPLE_RATE), "-"]
    try:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
    except OSError as exc:
        raise AudioError(f"{p}: could not run ffmpeg ({_oneline(exc)})") from None
    assert proc.stdout is not None and proc.stderr is not None
    # Drain stderr on a thread: a damaged file can make ffmpeg log more than a pipe holds, which
    # would block it (and us, waiting on stdout). Only the last lines matter for the message.
    errors: deque[str] = deque(maxlen=20)
    drain = threading.Thread(target=_drain, args=(proc.stderr, errors), daemon=True)
    drain.start()
    decoded = 0
    try:
        try:
            nch = _skip_wav_header(proc.stdout)
        except ValueError as exc:
            raise AudioError(f"{p}: unexpected output from ffmpeg ({exc})") from None
        except OSError as exc:
            raise AudioError(f"{p}: reading from ffmpeg failed ({_oneline(exc)})") from None
        frame_bytes = 4 * (nch or 1)
        while nch:
            try:
                # read(n) returns less than n only at EOF, so only the end can hold a part-frame.
                data = proc.stdout.read(max(1, _PIPE_BYTES // frame_bytes) * frame_bytes)
            except OSError as exc:
                raise AudioError(f"{p}: reading from ffmpeg failed ({_oneline(exc)})") from None
            data = data[: len(data) - len(data) % frame_bytes]
            if not data:
                break
            frames = np.frombuffer(data, dtype="<f4").reshape(-1, nch)
            decoded += len(frames)
            if nch > 1:
                mono = frames.mean(axis=1, dtype=np.float32)
            else:
                mono = frames[:, 0].astype(np.float32)  # a writable, native-order copy
            yield _sanitize(mono)
        rc = proc.wait()
        drain.join(timeout=5)
        if decoded:
            return  # a non-zero rc after some audio means a damaged tail: keep what decoded
        if rc == 0:
            raise AudioError(f"{p}: contains no audio (0 samples)")
        raise AudioError(_ffmpeg_message(p, source, list(errors)))
    finally:
        if proc.poll() is None:  # the consumer stopped early: don't leave ffmpeg running
            proc.kill()
        proc.stdout.close()
        proc.wait()
        drain.join(timeout=5)
        proc.stderr.close()


def _skip_wav_header(stream: IO[bytes]) -> int | None:
    """Read ffmpeg's WAV header up to the samples; the channel count, None if no output at all.

    Sizes in the header are placeholders (ffmpeg cannot seek back into a pipe): read to EOF.
    """
    riff = stream.read(12)
    if not riff:
        return None  # ffmpeg failed before writing anything; its stderr says why
    if len(riff) < 12 or riff[:4] != b"RIFF" or riff[8:12] != b"WAVE":
        raise ValueError("not a WAV stream")
    channels = None
    while True:
        head = stream.read(8)
        if len(head) < 8:
            return None  # a header and no samples
        size = int.from_bytes(head[4:], "little")
        if head[:4] == b"data":
            if not channels:
                raise ValueError("no 'fmt ' chunk before the samples")
            return channels
        body = stream.read(size + (size & 1))  # chunks are padded to an even length
        if head[:4] == b"fmt ":
            if len(body) < 16 or int.from_bytes(body[14:16], "little") != 32:
                raise ValueError("expected 32-bit float samples")
            channels = int.from_bytes(body[2:4], "little")


def _drain(stream: IO[bytes], sink: deque[str]) -> None:
    for raw in iter(stream.readline, b""):
        line = raw.decode("utf-8", "replace").strip()
        if line:
            sink.append(line)


def _ffmpeg_message(p: Path, source: str, lines: list[str]) -> str:
    """Turn ffmpeg's stderr into one line that starts with the file name."""
    text = "\n".join(lines)
    if "does not contain any stream" in text or "matches no streams" in text:
        return f"{p}: has no audio stream"
    # ffmpeg prefixes a failure to open the input with the input's name, and its log lines with
    # "[demuxer @ 0x...]": neither helps the user.
    opened = not any(ln.startswith(source + ":") for ln in lines)
    details = [re.sub(r"^\[[^\]]*\]\s*", "", ln.removeprefix(source + ":").strip()) for ln in lines]
    if not opened:
        # The demuxer's own complaint ("moov atom not found") says more than the final line.
        useful = [d for d in details if d and "Invalid data found when processing input" not in d]
        if not useful:
            return f"{p}: not a recognised audio file"
        return f"{p}: damaged or not a recognised audio file (ffmpeg: {_oneline(useful[0])})"
    last = _oneline(details[-1]) if details else "unknown error"
    return f"{p}: corrupt or truncated, no audio could be decoded (ffmpeg: {last})"


_DURATION_RE = re.compile(r"Duration:\s*(\d+):(\d+):(\d+(?:\.\d+)?)")
_AUDIO_RE = re.compile(r"Stream #\d+:\d+.*?: Audio: (.*)")
_LAYOUTS = {"mono": 1, "stereo": 2, "quad": 4, "hexagonal": 6, "octagonal": 8}


def _ffmpeg_probe(p: Path, ffmpeg: str) -> AudioInfo:
    """Parse ``ffmpeg -i FILE``'s stream summary (so ffprobe is not needed too)."""
    source = "file:" + str(p.absolute())
    try:
        run = subprocess.run(
            [ffmpeg, "-nostdin", "-hide_banner", "-i", source],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=_PROBE_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise AudioError(f"{p}: ffmpeg took too long to read the file's header") from None
    except OSError as exc:
        raise AudioError(f"{p}: could not run ffmpeg ({_oneline(exc)})") from None
    text = run.stderr.decode("utf-8", "replace")
    audio = _AUDIO_RE.search(text)
    if audio is None:
        if "Input #" in text:
            raise AudioError(f"{p}: has no audio stream")
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        raise AudioError(_ffmpeg_message(p, source, lines))
    duration = None
    if m := _DURATION_RE.search(text):
        duration = int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3])
    fields = [f.strip() for f in audio[1].split(",")]
    rate = channels = None
    for i, field in enumerate(fields):
        if m := re.fullmatch(r"(\d+) Hz", field):
            rate = int(m[1])
            if i + 1 < len(fields):
                channels = _layout_channels(fields[i + 1])
            break
    if rate is None:
        # ffmpeg guessed a format (from the name, say) but found no codec parameters in it.
        raise AudioError(f"{p}: damaged or not a recognised audio file")
    return AudioInfo(p, duration, rate, channels, "ffmpeg")


def _layout_channels(layout: str) -> int | None:
    """Channel count from an ffmpeg layout name: "mono", "5.1(side)", "3 channels", ..."""
    layout = layout.split("(")[0].strip()
    if layout in _LAYOUTS:
        return _LAYOUTS[layout]
    if m := re.fullmatch(r"(\d+) channels", layout):
        return int(m[1])
    if m := re.fullmatch(r"(\d+)\.(\d+)", layout):
        return int(m[1]) + int(m[2])
    return None
