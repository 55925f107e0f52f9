"""The bad-input corpus (issue 6, point 3): files that are damaged, lie about themselves, or are
not files at all, each with what dictate must make of it. Built in a temporary folder at test
time from the recorded speech and generated audio; nothing here is stored in the repository.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

SR = 16000
LONG_SILENCE_S = 2 * 3600  # the README's reliability section quotes "a 2-hour silent file"


@dataclass(frozen=True)
class Case:
    """One input and what must come of it: exactly one of
    - `error`: a one-line error containing these words;
    - `reference`: a transcript close to this text ("" for silence: an empty result);
    - `either`: damaged so that an error or a partial transcript are both right."""

    label: str
    path: Path
    error: str | None = None
    reference: str | None = None
    either: bool = False


def _pcm16_wav(path: Path, audio: np.ndarray, rate: int = SR) -> Path:
    sf.write(path, audio, rate, subtype="PCM_16")
    return path


def _wav_header(rate: int, channels: int, data_bytes: int, riff_bytes: int | None = None) -> bytes:
    """A 16-bit PCM WAV header; sizes may lie (they are written modulo 2**32)."""
    riff = 36 + data_bytes if riff_bytes is None else riff_bytes
    fmt = struct.pack(
        "<IHHIIHH",
        16,
        1,
        channels & 0xFFFF,
        rate & 0xFFFFFFFF,
        (rate * channels * 2) & 0xFFFFFFFF,
        (channels * 2) & 0xFFFF,
        16,
    )
    return (
        b"RIFF"
        + struct.pack("<I", riff & 0xFFFFFFFF)
        + b"WAVEfmt "
        + fmt
        + b"data"
        + struct.pack("<I", data_bytes & 0xFFFFFFFF)
    )


def _flac_metadata_end(data: bytes) -> int:
    """Where a FLAC file's metadata blocks end and its first audio frame begins."""
    assert data[:4] == b"fLaC"
    pos = 4
    while True:
        last, length = data[pos] & 0x80, int.from_bytes(data[pos + 1 : pos + 4], "big")
        pos += 4 + length
        if last:
            return pos


def _png() -> bytes:
    """A real 8x8 red PNG."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    rows = b"".join(b"\0" + b"\xff\0\0" * 8 for _ in range(8))
    ihdr = struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _jpeg_like() -> bytes:
    """The start of a JFIF file (SOI, APP0) and noise: what a photo's first bytes look like."""
    app0 = b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    return b"\xff\xd8" + app0 + np.random.default_rng(3).bytes(3000) + b"\xff\xd9"


def _gif() -> bytes:
    return b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"  # noqa: E501


def build(folder: Path, speech: dict[str, np.ndarray], references: dict[str, str]) -> list[Case]:
    """Write the corpus into `folder`; the cases in the order they are given to dictate.

    `speech` holds the recorded fixtures decoded to 16 kHz mono (LDC93S1.wav and jfk.flac are
    used). Cases that need a tool or a permission this machine lacks are left out; the caller
    checks that at least 30 remain.
    """
    folder.mkdir(parents=True, exist_ok=True)
    timit, timit_ref = speech["LDC93S1.wav"], references["LDC93S1.wav"]
    jfk, jfk_ref = speech["jfk.flac"], references["jfk.flac"]
    cases: list[Case] = []

    def add(label: str, path: Path, **expect: object) -> None:
        cases.append(Case(label, path, **expect))  # type: ignore[arg-type]

    # A good file first, so that the batch is seen to go on after the bad ones.
    add("good FLAC", _copy_as(folder / "jfk.flac", jfk, "FLAC"), reference=jfk_ref)

    # --- truncated and header-only ------------------------------------------------------------
    wav = _pcm16_wav(folder / "full.wav", timit).read_bytes()
    (folder / "truncated.wav").write_bytes(wav[: 44 + int(len(timit) * 2 * 0.6)])
    add("WAV cut at 60 %", folder / "truncated.wav", either=True)
    (folder / "header-only.wav").write_bytes(wav[:44])
    add("WAV header only", folder / "header-only.wav", error="no audio")

    flac = _copy_as(folder / "full-timit.flac", timit, "FLAC").read_bytes()
    (folder / "truncated.flac").write_bytes(flac[: len(flac) // 2])
    add("FLAC cut in half", folder / "truncated.flac", either=True)
    (folder / "header-only.flac").write_bytes(flac[: _flac_metadata_end(flac)])
    add("FLAC header only", folder / "header-only.flac", error="")

    mp3 = _copy_as(folder / "full-timit.mp3", timit, "MP3").read_bytes()
    (folder / "truncated.mp3").write_bytes(mp3[: len(mp3) // 2])
    add("MP3 cut in half", folder / "truncated.mp3", either=True)
    (folder / "header-only.mp3").write_bytes(mp3[:4])
    add("MP3 frame header only", folder / "header-only.mp3", error="")

    # --- empty, misnamed, not audio -------------------------------------------------------------
    for ext in ("wav", "mp3", "flac"):
        (folder / f"zero.{ext}").write_bytes(b"")
        add(f"zero bytes .{ext}", folder / f"zero.{ext}", error="empty file")
    add("FLAC named .wav", _renamed(folder, "full-timit.flac", "flac.wav"), reference=timit_ref)
    add("WAV named .mp3", _renamed(folder, "full.wav", "wav.mp3"), reference=timit_ref)
    add("MP3 named .flac", _renamed(folder, "full-timit.mp3", "mp3.flac"), reference=timit_ref)
    notes = "Meeting notes: ship the release on Friday.\n" * 40
    for ext in ("wav", "mp3"):
        (folder / f"notes.{ext}").write_text(notes)
        add(f"text named .{ext}", folder / f"notes.{ext}", error="not a recognised audio file")
    (folder / "image.flac").write_bytes(_png())
    add("PNG named .flac", folder / "image.flac", error="")
    (folder / "photo.wav").write_bytes(_jpeg_like())
    add("JPEG named .wav", folder / "photo.wav", error="")
    (folder / "image.mp3").write_bytes(_gif())
    add("GIF named .mp3", folder / "image.mp3", error="")
    (folder / "random.ogg").write_bytes(np.random.default_rng(4).bytes(20_000))
    add("random bytes .ogg", folder / "random.ogg", error="")

    # --- odd but valid audio ------------------------------------------------------------------
    poisoned = timit.astype(np.float32).copy()
    spots = np.random.default_rng(5).choice(len(poisoned), len(poisoned) // 1000, replace=False)
    poisoned[spots] = np.array([np.nan, np.inf, -np.inf], np.float32)[np.arange(spots.size) % 3]
    sf.write(folder / "nan-inf.wav", poisoned, SR, subtype="FLOAT")
    add("NaN/Inf samples in speech", folder / "nan-inf.wav", reference=timit_ref)
    sf.write(folder / "all-nan.wav", np.full(SR, np.nan, np.float32), SR, subtype="FLOAT")
    add("only NaN samples", folder / "all-nan.wav", reference="")
    add("8 kHz", _pcm16_wav(folder / "8k.wav", _resampled(timit, 8000), 8000), reference=timit_ref)
    add(
        "192 kHz",
        _pcm16_wav(folder / "192k.wav", _resampled(timit, 192000), 192000),
        reference=timit_ref,
    )
    sf.write(folder / "8ch.wav", np.repeat(timit[:, None], 8, axis=1), SR, subtype="PCM_16")
    add("8 channels", folder / "8ch.wav", reference=timit_ref)
    add("0.05 s", _pcm16_wav(folder / "short.wav", timit[SR : SR + SR // 20]), reference="")
    with sf.SoundFile(folder / "2h-silence.flac", "w", SR, 1, subtype="PCM_16") as f:
        minute = np.zeros(60 * SR, np.int16)
        for _ in range(LONG_SILENCE_S // 60):
            f.write(minute)
    add("2 h of silence", folder / "2h-silence.flac", reference="")

    # --- headers that lie ---------------------------------------------------------------------
    pcm = (np.clip(timit, -1, 1) * 32767).astype("<i2").tobytes()
    (folder / "claims-4gb.wav").write_bytes(_wav_header(SR, 1, 0xFFFFFFF0, 0xFFFFFFF8) + pcm)
    add("header claims 4 GB", folder / "claims-4gb.wav", reference=timit_ref)
    (folder / "rate-1hz.wav").write_bytes(_wav_header(1, 1, 64_000) + bytes(64_000))
    add("header claims 1 Hz", folder / "rate-1hz.wav", error="too low")
    (folder / "65535ch.wav").write_bytes(_wav_header(SR, 65535, 131_070) + bytes(131_070))
    add("header claims 65535 channels", folder / "65535ch.wav", error="")

    # --- not files ------------------------------------------------------------------------------
    (folder / "folder.wav").mkdir()
    add("a directory", folder / "folder.wav", error="is a directory")
    (folder / "broken-link.wav").symlink_to(folder / "nowhere.wav")
    add("a broken symlink", folder / "broken-link.wav", error="no such file")
    add("a missing file", folder / "missing.flac", error="no such file")
    os.mkfifo(folder / "fifo.wav")
    add("a named pipe", folder / "fifo.wav", error="not a regular file")
    (folder / "zero-device.wav").symlink_to("/dev/zero")
    add("a link to /dev/zero", folder / "zero-device.wav", error="not a regular file")
    unreadable = _pcm16_wav(folder / "unreadable.wav", timit)
    unreadable.chmod(0)
    add("an unreadable file", unreadable, error="permission denied")

    # --- names ----------------------------------------------------------------------------------
    (folder / "two\nlines.wav").write_text(notes)
    add("a newline in the name", folder / "two\nlines.wav", error="not a recognised audio file")
    latin1 = Path(os.fsdecode(bytes(folder) + b"/caf\xe9.wav"))
    shutil.copy(folder / "full.wav", latin1)
    add("a name that is not UTF-8", latin1, reference=timit_ref)

    # --- containers only ffmpeg reads -----------------------------------------------------------
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is not None:
        run = [ffmpeg, "-nostdin", "-v", "error", "-y"]
        m4a = folder / "speech.m4a"
        subprocess.run([*run, "-i", str(folder / "full.wav"), str(m4a)], check=True, timeout=60)
        (folder / "truncated.m4a").write_bytes(m4a.read_bytes()[:3000])
        add("M4A cut short", folder / "truncated.m4a", error="damaged")
        video = folder / "no-audio.mp4"
        lavfi = ["-f", "lavfi", "-i", "testsrc=duration=1:size=32x32:rate=5", "-c:v", "mpeg4"]
        subprocess.run([*run, *lavfi, str(video)], check=True, timeout=60)
        add("video without audio", video, error="has no audio stream")

    return cases


def _copy_as(path: Path, audio: np.ndarray, fmt: str) -> Path:
    sf.write(path, audio, SR, format=fmt)
    return path


def _renamed(folder: Path, source: str, name: str) -> Path:
    shutil.copy(folder / source, folder / name)
    return folder / name


def _resampled(audio: np.ndarray, rate: int) -> np.ndarray:
    return soxr.resample(audio, SR, rate).astype(np.float32)
