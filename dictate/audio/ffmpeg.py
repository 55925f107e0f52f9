"""Decode audio through an ``ffmpeg`` subprocess, for the formats libsndfile cannot read.

:mod:`dictate.audio.decode` is the public entry point and comes here only once libsndfile has
refused a file. :func:`ffmpeg_path` finds the binary (``$DICTATE_FFMPEG``, else PATH's);
``_ffmpeg_chunks`` streams the file as 16 kHz mono float32 through a pipe, in bounded memory;
``_ffmpeg_probe`` reads duration, rate and channels with ``ffprobe -of json`` (ffprobe ships beside
ffmpeg); only for an ffmpeg without its ffprobe does it still parse ``ffmpeg -i``'s human-readable
stream summary. ffmpeg's stderr becomes a one-line :class:`~dictate.errors.AudioError` that starts
with the file name.

This module never imports :mod:`dictate.audio.decode` (which imports it); what both use lives in
:mod:`dictate.audio.info`. No torch and no Qt here: the CLI imports this on its fast paths.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import numpy as np

from dictate.audio.info import SAMPLE_RATE, AudioInfo, _oneline, _sanitize, _shown
from dictate.errors import AudioError

__all__ = ["ffmpeg_path"]

_PIPE_BYTES = 1 << 16  # per read of ffmpeg's stdout
_PROBE_TIMEOUT_S = 30.0


def ffmpeg_path() -> str | None:
    """The ffmpeg to run, or None: ``$DICTATE_FFMPEG`` if set ("" disables it), else PATH's."""
    override = os.environ.get("DICTATE_FFMPEG")
    if override is None:
        return shutil.which("ffmpeg")
    if not override.strip():
        return None
    return shutil.which(override) or (override if os.path.isfile(override) else None)


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
        raise AudioError(f"{_shown(p)}: could not run ffmpeg ({_oneline(exc)})") from None
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
            raise AudioError(f"{_shown(p)}: unexpected output from ffmpeg ({exc})") from None
        except OSError as exc:
            raise AudioError(f"{_shown(p)}: reading from ffmpeg failed ({_oneline(exc)})") from None
        frame_bytes = 4 * (nch or 1)
        while nch:
            try:
                # read(n) returns less than n only at EOF, so only the end can hold a part-frame.
                data = proc.stdout.read(max(1, _PIPE_BYTES // frame_bytes) * frame_bytes)
            except OSError as exc:
                raise AudioError(
                    f"{_shown(p)}: reading from ffmpeg failed ({_oneline(exc)})"
                ) from None
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
            raise AudioError(f"{_shown(p)}: contains no audio (0 samples)")
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
        return f"{_shown(p)}: has no audio stream"
    # ffmpeg prefixes a failure to open the input with the input's name, and its log lines with
    # "[demuxer @ 0x...]": neither helps the user. The name is removed from the whole text, not
    # line by line: a file name may itself hold a newline.
    opened = f"\n{source}:" not in f"\n{text}"
    text = text.replace(f"{source}:", "")
    details = [re.sub(r"^\[[^\]]*\]\s*", "", ln.strip()) for ln in text.splitlines()]
    if not opened:
        # The demuxer's own complaint ("moov atom not found") says more than the final line.
        # "detected only with low score" is a guess ffmpeg then rejects: not the reason either.
        noise = ("Invalid data found when processing input", "misdetection possible")
        useful = [d for d in details if d and not any(n in d for n in noise)]
        if not useful:
            return f"{_shown(p)}: not a recognised audio file"
        detail = _oneline(useful[0])
        return f"{_shown(p)}: damaged or not a recognised audio file (ffmpeg: {detail})"
    last = _oneline(details[-1]) if details else "unknown error"
    return f"{_shown(p)}: corrupt or truncated, no audio could be decoded (ffmpeg: {last})"


_DURATION_RE = re.compile(r"Duration:\s*(\d+):(\d+):(\d+(?:\.\d+)?)")
_AUDIO_RE = re.compile(r"Stream #\d+:\d+.*?: Audio: (.*)")
_LAYOUTS = {"mono": 1, "stereo": 2, "quad": 4, "hexagonal": 6, "octagonal": 8}


def ffprobe_path(ffmpeg: str) -> str | None:
    """The ffprobe that belongs to `ffmpeg`: the one beside it, else PATH's when ffmpeg is
    PATH's own (a DICTATE_FFMPEG build is not paired with some other ffprobe)."""
    folder = Path(shutil.which(ffmpeg) or ffmpeg).parent
    beside = folder / ("ffprobe" + Path(ffmpeg).suffix)  # ffprobe.exe beside ffmpeg.exe
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    if os.environ.get("DICTATE_FFMPEG") is None:
        return shutil.which("ffprobe")
    return None


def _ffmpeg_probe(p: Path, ffmpeg: str) -> AudioInfo:
    """Duration, rate and channels of the file's first audio stream, from ffprobe's JSON."""
    ffprobe = ffprobe_path(ffmpeg)
    if ffprobe is None:
        return _ffmpeg_i_probe(p, ffmpeg)
    source = "file:" + str(p.absolute())
    cmd = [ffprobe, "-v", "error", "-of", "json", "-show_format", "-show_streams"]
    try:
        run = subprocess.run(
            [*cmd, "-select_streams", "a:0", source],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=_PROBE_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise AudioError(f"{_shown(p)}: ffprobe took too long to read the file's header") from None
    except OSError as exc:
        raise AudioError(f"{_shown(p)}: could not run ffprobe ({_oneline(exc)})") from None
    try:
        found = json.loads(run.stdout.decode("utf-8", "replace") or "{}")
    except ValueError:
        found = {}
    streams, container = found.get("streams") or [], found.get("format")
    if run.returncode != 0 or not isinstance(container, dict):
        lines = [ln.strip() for ln in run.stderr.decode("utf-8", "replace").splitlines()]
        raise AudioError(_ffmpeg_message(p, source, [ln for ln in lines if ln]))
    if not streams:
        raise AudioError(f"{_shown(p)}: has no audio stream")
    stream = streams[0]
    rate = _int(stream.get("sample_rate"))
    if not rate:
        # ffmpeg guessed a format (from the name, say) but found no codec parameters in it.
        raise AudioError(f"{_shown(p)}: damaged or not a recognised audio file")
    duration = _float(container.get("duration"))
    if duration is None:
        duration = _float(stream.get("duration"))
    return AudioInfo(p, duration, rate, _int(stream.get("channels")) or None, "ffmpeg")


def _float(value: object) -> float | None:
    """ffprobe's numbers come as strings ("44100", "12.345000"), or are absent, or "N/A"."""
    try:
        return float(value) if isinstance(value, (str, int, float)) else None
    except ValueError:
        return None


def _int(value: object) -> int | None:
    number = _float(value)
    return int(number) if number is not None else None


def _ffmpeg_i_probe(p: Path, ffmpeg: str) -> AudioInfo:
    """Parse ``ffmpeg -i FILE``'s stream summary: kept for an ffmpeg that came without its
    ffprobe (some static builds), where it is the only way to read the header."""
    source = "file:" + str(p.absolute())
    try:
        run = subprocess.run(
            [ffmpeg, "-nostdin", "-hide_banner", "-i", source],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=_PROBE_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise AudioError(f"{_shown(p)}: ffmpeg took too long to read the file's header") from None
    except OSError as exc:
        raise AudioError(f"{_shown(p)}: could not run ffmpeg ({_oneline(exc)})") from None
    text = run.stderr.decode("utf-8", "replace")
    audio = _AUDIO_RE.search(text)
    if audio is None:
        if "Input #" in text:
            raise AudioError(f"{_shown(p)}: has no audio stream")
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
        raise AudioError(f"{_shown(p)}: damaged or not a recognised audio file")
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
