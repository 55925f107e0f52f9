"""Decoding audio files to 16 kHz mono float32: formats, streaming, memory, and bad inputs.

Every audio file is generated in tmp_path at test time; the shared recordings are read in place.
"""

from __future__ import annotations

import shutil
import subprocess
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

from dictate.audio import decode
from dictate.audio.decode import (
    SAMPLE_RATE,
    ffmpeg_path,
    load_audio,
    probe,
    stream_audio,
    to_mono_16k,
)
from dictate.errors import AudioError

FFMPEG = shutil.which("ffmpeg")
needs_ffmpeg = pytest.mark.skipif(
    FFMPEG is None, reason="ffmpeg is not installed (apt install ffmpeg / brew install ffmpeg)"
)
TONE_RMS = 0.5 / np.sqrt(2)  # RMS of the default 0.5-amplitude sine


@pytest.fixture(autouse=True)
def _ffmpeg_from_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with ffmpeg looked up on PATH, whatever the developer's shell sets."""
    monkeypatch.delenv("DICTATE_FFMPEG", raising=False)


# --- helpers ---------------------------------------------------------------------------------


def tone(rate: int, seconds: float, freq: float = 1000.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(round(rate * seconds)) / rate
    return amp * np.sin(2 * np.pi * freq * t)


def peak_hz(x: np.ndarray, rate: int = SAMPLE_RATE) -> float:
    """Frequency of the FFT's strongest bin (Hann window against leakage)."""
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spectrum)) * rate / len(x)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def channels(signal: np.ndarray, n: int) -> np.ndarray:
    return signal if n == 1 else np.repeat(signal[:, None], n, axis=1)


def ffmpeg_encode(src: Path, dst: Path, *args: str) -> Path:
    assert FFMPEG is not None
    cmd = [FFMPEG, "-nostdin", "-v", "error", "-y", "-i", str(src), *args, str(dst)]
    subprocess.run(cmd, check=True)
    return dst


def assert_decoded(x: np.ndarray, seconds: float, tolerance_s: float) -> None:
    assert x.dtype == np.float32
    assert x.ndim == 1
    assert np.isfinite(x).all()
    assert abs(len(x) / SAMPLE_RATE - seconds) <= tolerance_s, len(x) / SAMPLE_RATE


def audio_error(call, path: Path) -> str:
    """Run ``call(path)``; it must raise a one-line AudioError that starts with the file name."""
    with pytest.raises(AudioError) as info:
        result = call(path)
        if not isinstance(result, (np.ndarray, decode.AudioInfo)):
            list(result)  # a stream raises decoding errors as it is read
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(path)), message
    return message


# --- formats ---------------------------------------------------------------------------------

WAV_CASES = [
    (8000, "PCM_16", 1),
    (16000, "PCM_16", 1),
    (16000, "FLOAT", 2),
    (22050, "PCM_U8", 1),
    (44100, "PCM_24", 2),
    (44100, "PCM_16", 6),
    (48000, "FLOAT", 1),
    (48000, "PCM_32", 2),
    (48000, "DOUBLE", 1),
]


@pytest.mark.parametrize(("rate", "subtype", "nch"), WAV_CASES, ids=lambda v: str(v))
def test_wav_becomes_16k_mono_float32(tmp_path: Path, rate: int, subtype: str, nch: int) -> None:
    path = tmp_path / f"tone_{rate}_{subtype}_{nch}.wav"
    sf.write(path, channels(tone(rate, 1.5), nch), rate, subtype=subtype)

    x = load_audio(path)

    assert_decoded(x, 1.5, tolerance_s=0.002)
    assert abs(peak_hz(x) - 1000) < 2
    assert rms(x) == pytest.approx(TONE_RMS, rel=0.02)  # same signal in every channel: kept
    whole, _ = sf.read(path, dtype="float32", always_2d=True)
    np.testing.assert_allclose(x, to_mono_16k(whole, rate), atol=1e-6)  # streamed == in memory
    info = probe(path)
    assert (info.sample_rate, info.channels, info.codec) == (rate, nch, "WAV")
    assert info.duration_s == pytest.approx(1.5, abs=1e-3)


@pytest.mark.parametrize("nch", [2, 6])
def test_downmix_is_the_mean_of_the_channels(tmp_path: Path, nch: int) -> None:
    signal = tone(48000, 1.0)
    only_first = np.zeros((len(signal), nch))
    only_first[:, 0] = signal
    opposed = only_first.copy()
    opposed[:, 1] = -signal  # cancels the first channel exactly
    sf.write(tmp_path / "first.wav", only_first, 48000, subtype="FLOAT")
    sf.write(tmp_path / "opposed.wav", opposed, 48000, subtype="FLOAT")

    assert rms(load_audio(tmp_path / "first.wav")) == pytest.approx(TONE_RMS / nch, rel=0.02)
    assert np.abs(load_audio(tmp_path / "opposed.wav")).max() < 1e-6


LIBSNDFILE_CASES = [
    # suffix, rate, channels, soundfile.write options, duration tolerance (s), probe codec
    ("flac", 44100, 2, {"subtype": "PCM_24"}, 0.002, "FLAC"),
    ("flac", 16000, 1, {"subtype": "PCM_16"}, 0.002, "FLAC"),
    ("ogg", 44100, 2, {"format": "OGG", "subtype": "VORBIS"}, 0.01, "OGG"),
    ("opus", 48000, 1, {"format": "OGG", "subtype": "OPUS"}, 0.03, "OGG"),
    # MP3 encoders add a delay and pad the last frame; allow a few frames of it.
    ("mp3", 44100, 2, {"format": "MP3"}, 0.06, "MP3"),
    ("mp3", 16000, 1, {"format": "MP3"}, 0.08, "MP3"),
]


@pytest.mark.parametrize(
    ("suffix", "rate", "nch", "options", "tolerance_s", "codec"),
    LIBSNDFILE_CASES,
    ids=[f"{c[0]}-{c[1]}-{c[2]}ch" for c in LIBSNDFILE_CASES],
)
def test_compressed_formats_via_libsndfile(
    tmp_path: Path,
    suffix: str,
    rate: int,
    nch: int,
    options: dict[str, str],
    tolerance_s: float,
    codec: str,
) -> None:
    path = tmp_path / f"tone.{suffix}"
    sf.write(path, channels(tone(rate, 2.0), nch), rate, **options)

    x = load_audio(path)

    assert_decoded(x, 2.0, tolerance_s)
    assert abs(peak_hz(x) - 1000) < 2
    assert rms(x) == pytest.approx(TONE_RMS, rel=0.1)
    # Block by block gives what one whole-file read gives. (SoundFile.read seeks after each
    # block, and libsndfile's inexact MP3 seeking garbled a 44.1 kHz MP3 read that way.)
    whole, whole_rate = sf.read(path, dtype="float32", always_2d=True)
    np.testing.assert_allclose(x, to_mono_16k(whole, whole_rate), atol=1e-6)
    info = probe(path)
    assert (info.sample_rate, info.channels, info.codec) == (rate, nch, codec)


FFMPEG_CASES = [
    # suffix, rate, channels, ffmpeg output options, duration tolerance (s), level after downmix
    ("m4a", 44100, 2, ["-c:a", "aac"], 0.06, 1.0),  # AAC priming and padding: ~2 frames
    # 5.1: the encoder band-limits the LFE channel, so its 1 kHz is gone from the mean.
    ("m4a", 48000, 6, ["-c:a", "aac"], 0.06, 5 / 6),
    ("webm", 48000, 2, ["-c:a", "libopus"], 0.03, 1.0),
    ("mka", 44100, 1, ["-c:a", "libvorbis"], 0.03, 1.0),
    ("aac", 22050, 1, ["-c:a", "aac"], 0.1, 1.0),  # raw ADTS: no edit list to trim the padding
]


@needs_ffmpeg
@pytest.mark.parametrize(
    ("suffix", "rate", "nch", "args", "tolerance_s", "level"),
    FFMPEG_CASES,
    ids=[f"{c[0]}-{c[1]}-{c[2]}ch" for c in FFMPEG_CASES],
)
def test_other_containers_via_ffmpeg(
    tmp_path: Path,
    suffix: str,
    rate: int,
    nch: int,
    args: list[str],
    tolerance_s: float,
    level: float,
) -> None:
    src = tmp_path / "src.wav"
    sf.write(src, channels(tone(rate, 2.0), nch), rate, subtype="FLOAT")
    path = ffmpeg_encode(src, tmp_path / f"tone.{suffix}", *args)

    x = load_audio(path)

    assert_decoded(x, 2.0, tolerance_s)
    assert abs(peak_hz(x) - 1000) < 2
    # The mean of the channels, as from libsndfile (ffmpeg's own -ac 1 would add gain).
    assert rms(x) == pytest.approx(TONE_RMS * level, rel=0.05)
    info = probe(path)
    assert info.codec == "ffmpeg"
    assert (info.sample_rate, info.channels) == (rate, nch)
    assert info.duration_s == pytest.approx(2.0, abs=tolerance_s)


@needs_ffmpeg
def test_ffmpeg_reads_the_audio_of_a_video(tmp_path: Path) -> None:
    src = tmp_path / "src.wav"
    sf.write(src, tone(44100, 1.0), 44100)
    path = tmp_path / "clip.mp4"
    lavfi = ["-f", "lavfi", "-i", "testsrc=duration=1:size=32x32:rate=5"]
    cmd = [FFMPEG, "-nostdin", "-v", "error", "-y", "-i", str(src), *lavfi]
    subprocess.run([*cmd, "-c:v", "mpeg4", "-c:a", "aac", "-shortest", str(path)], check=True)

    assert_decoded(load_audio(path), 1.0, tolerance_s=0.1)


@needs_ffmpeg
def test_libsndfile_and_ffmpeg_decode_alike(tmp_path: Path) -> None:
    """The two decoders (and their resamplers, soxr and swresample) agree on the same file."""
    rng = np.random.default_rng(0)
    signal = 0.3 * rng.standard_normal((44100 * 2, 2))
    path = tmp_path / "noise.flac"
    sf.write(path, signal, 44100, subtype="PCM_24")

    ours = load_audio(path)
    theirs = np.concatenate(list(decode._ffmpeg_chunks(path, FFMPEG)))

    assert abs(len(ours) - len(theirs)) <= 2
    assert rms(theirs) == pytest.approx(rms(ours), rel=0.01)  # both take the channels' mean
    n = min(len(ours), len(theirs))
    assert np.corrcoef(ours[:n], theirs[:n])[0, 1] > 0.99


# --- streaming -------------------------------------------------------------------------------


def _m4a(tmp_path: Path, seconds: float) -> Path:
    src = tmp_path / "src.wav"
    sf.write(src, tone(44100, seconds), 44100)
    return ffmpeg_encode(src, tmp_path / "tone.m4a", "-c:a", "aac")


@pytest.mark.parametrize("block_s", [1.0, 0.25, 30.0])
@pytest.mark.parametrize("via", ["libsndfile", pytest.param("ffmpeg", marks=needs_ffmpeg)])
def test_stream_yields_blocks_of_the_requested_size(
    tmp_path: Path, via: str, block_s: float
) -> None:
    if via == "ffmpeg":
        path = _m4a(tmp_path, 5.3)
    else:
        path = tmp_path / "tone.wav"
        sf.write(path, channels(tone(44100, 5.3), 2), 44100, subtype="PCM_24")
    size = round(block_s * SAMPLE_RATE)

    blocks = list(stream_audio(path, block_s=block_s))

    assert all(b.dtype == np.float32 and b.ndim == 1 for b in blocks)
    assert all(len(b) == size for b in blocks[:-1])
    assert 0 < len(blocks[-1]) <= size
    assert np.array_equal(np.concatenate(blocks), load_audio(path))


@pytest.mark.parametrize("block_s", [0.0, -1.0, float("nan"), float("inf")])
def test_stream_rejects_a_bad_block_size(tmp_path: Path, block_s: float) -> None:
    path = tmp_path / "tone.wav"
    sf.write(path, tone(16000, 0.5), 16000)
    with pytest.raises(ValueError, match="block_s"):
        stream_audio(path, block_s=block_s)


def test_a_long_file_streams_in_bounded_memory(tmp_path: Path) -> None:
    """Ten minutes at 44.1 kHz: 38 MB once decoded, yet streaming never holds more than a few."""
    rate, minutes = 44100, 10
    path = tmp_path / "long.wav"
    with sf.SoundFile(path, "w", rate, 1, subtype="PCM_16") as f:
        for _ in range(minutes * 6):  # written 10 s at a time, never all in memory here either
            f.write(tone(rate, 10.0, amp=0.3))
    expected = minutes * 60 * SAMPLE_RATE

    tracemalloc.start()
    try:
        probe_array = np.ones(1_000_000, dtype=np.float32)  # numpy reports to tracemalloc...
        assert tracemalloc.get_traced_memory()[0] >= probe_array.nbytes  # ...so peaks are real
        del probe_array
        tracemalloc.reset_peak()
        total, count = 0, 0
        for block in stream_audio(path, block_s=30.0):
            total += len(block)
            count += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert abs(total - expected) <= 2
    assert count == minutes * 2
    decoded_bytes = expected * 4
    assert peak < decoded_bytes / 4, f"peak {peak / 1e6:.1f} MB while streaming"


@needs_ffmpeg
def test_closing_a_stream_early_stops_ffmpeg(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _m4a(tmp_path, 20.0)  # far more than a pipe buffer: ffmpeg must still be running
    started: list[subprocess.Popen[bytes]] = []
    real_popen = subprocess.Popen

    def recording_popen(*args, **kwargs):
        proc = real_popen(*args, **kwargs)
        started.append(proc)
        return proc

    monkeypatch.setattr(subprocess, "Popen", recording_popen)
    stream = stream_audio(path, block_s=1.0)
    assert not started  # nothing runs until the first block is asked for

    assert len(next(stream)) == SAMPLE_RATE
    (proc,) = started
    assert proc.poll() is None
    stream.close()
    assert proc.poll() is not None
    assert proc.stdout is not None and proc.stdout.closed


def test_non_finite_samples_become_zero_and_loud_ones_are_kept(tmp_path: Path) -> None:
    signal = tone(16000, 1.0, amp=1.5)  # over full scale, as float WAVs may be
    signal[[10, 20, 30]] = [np.nan, np.inf, -np.inf]
    path = tmp_path / "float.wav"
    sf.write(path, signal, 16000, subtype="FLOAT")

    x = load_audio(path)

    assert np.isfinite(x).all()
    assert (x[[10, 20, 30]] == 0).all()
    assert x.max() > 1.4  # not clipped
    finite = np.isfinite(signal)
    assert np.allclose(x[finite], signal[finite], atol=1e-6)  # 16 kHz: no resampling at all


# --- bad inputs ------------------------------------------------------------------------------

CALLS = {"load_audio": load_audio, "stream_audio": stream_audio, "probe": probe}
each_call = pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())


@each_call
def test_missing_file(tmp_path: Path, call) -> None:
    assert "no such file" in audio_error(call, tmp_path / "nope.wav")


@each_call
def test_directory(tmp_path: Path, call) -> None:
    assert "directory" in audio_error(call, tmp_path)


@each_call
def test_zero_byte_file(tmp_path: Path, call) -> None:
    path = tmp_path / "empty.wav"
    path.touch()
    assert "empty" in audio_error(call, path)


@each_call
@pytest.mark.parametrize("ffmpeg", ["found", "disabled"])
def test_text_file_named_wav(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, call, ffmpeg: str
) -> None:
    if ffmpeg == "disabled":
        monkeypatch.setenv("DICTATE_FFMPEG", "")
    path = tmp_path / "notes.wav"
    path.write_text("these are my meeting notes, not audio\n" * 20)
    assert "not a recognised audio file" in audio_error(call, path)


@each_call
@pytest.mark.parametrize("suffix", ["mp3", "flac", "ogg", "m4a", "bin"])
def test_random_bytes(tmp_path: Path, call, suffix: str) -> None:
    path = tmp_path / f"noise.{suffix}"
    path.write_bytes(np.random.default_rng(1).bytes(20_000))
    audio_error(call, path)


@pytest.mark.parametrize("call", [load_audio, stream_audio], ids=["load_audio", "stream_audio"])
def test_flac_cut_at_100_bytes(tmp_path: Path, call) -> None:
    full = tmp_path / "full.flac"
    sf.write(full, tone(44100, 2.0), 44100, subtype="PCM_24")
    cut = tmp_path / "cut.flac"
    cut.write_bytes(full.read_bytes()[:100])  # the header survives, no audio frame does
    assert "corrupt or truncated" in audio_error(call, cut)


@pytest.mark.parametrize("ffmpeg", ["found", "disabled"])
def test_flac_cut_in_half_gives_what_decodes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ffmpeg: str
) -> None:
    if ffmpeg == "disabled":
        monkeypatch.setenv("DICTATE_FFMPEG", "")
    full = tmp_path / "full.flac"
    sf.write(full, channels(tone(44100, 4.0), 2), 44100, subtype="PCM_24")
    cut = tmp_path / "half.flac"
    data = full.read_bytes()
    cut.write_bytes(data[: len(data) // 2])

    x = load_audio(cut)

    # libsndfile reports "lost sync" at the cut; what decoded before it is kept (less up to one
    # read), and the header's claimed 4 s is not padded out.
    assert 1.0 < len(x) / SAMPLE_RATE < 2.1
    assert abs(peak_hz(x) - 1000) < 2
    assert probe(cut).duration_s == pytest.approx(4.0)  # probe only reads the header


@each_call
def test_header_only_wav(tmp_path: Path, call) -> None:
    full = tmp_path / "full.wav"
    sf.write(full, tone(16000, 1.0), 16000)
    path = tmp_path / "header.wav"
    path.write_bytes(full.read_bytes()[:44])
    if call is probe:
        assert probe(path).duration_s == 0.0  # a valid, empty header
    else:
        assert "no audio" in audio_error(call, path)


@needs_ffmpeg
@each_call
@pytest.mark.parametrize("setting", ["", "/nonexistent/ffmpeg"])
def test_m4a_without_ffmpeg(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, call, setting: str
) -> None:
    path = _m4a(tmp_path, 0.5)
    monkeypatch.setenv("DICTATE_FFMPEG", setting)
    message = audio_error(call, path)
    assert ".m4a needs ffmpeg, which is not installed" in message
    assert "apt install ffmpeg" in message


def test_m4a_without_ffmpeg_needs_no_real_m4a(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same message on machines with no ffmpeg to make an .m4a with."""
    monkeypatch.setenv("DICTATE_FFMPEG", "")
    path = tmp_path / "voice memo.m4a"
    path.write_bytes(b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00" + bytes(500))
    assert "needs ffmpeg" in audio_error(load_audio, path)


@needs_ffmpeg
@each_call
def test_video_without_audio(tmp_path: Path, call) -> None:
    path = tmp_path / "silent-film.mp4"
    lavfi = ["-f", "lavfi", "-i", "testsrc=duration=1:size=32x32:rate=5", "-c:v", "mpeg4"]
    subprocess.run([FFMPEG, "-nostdin", "-v", "error", "-y", *lavfi, str(path)], check=True)
    assert "has no audio stream" in audio_error(call, path)


@needs_ffmpeg
@each_call
def test_truncated_m4a(tmp_path: Path, call) -> None:
    full = _m4a(tmp_path, 2.0)
    path = tmp_path / "cut.m4a"
    path.write_bytes(full.read_bytes()[:5000])  # the index ("moov") is at the end: lost
    assert "damaged or not a recognised audio file" in audio_error(call, path)


@each_call
def test_unreadable_file(tmp_path: Path, call) -> None:
    path = tmp_path / "secret.wav"
    sf.write(path, tone(16000, 0.5), 16000)
    path.chmod(0)
    try:
        try:
            path.open("rb").close()
        except PermissionError:
            pass
        else:
            pytest.skip("this user reads files without permission (root, or not POSIX)")
        assert "permission denied" in audio_error(call, path)
    finally:
        path.chmod(0o644)


# --- in-memory conversion --------------------------------------------------------------------


def test_to_mono_16k_scales_integer_pcm() -> None:
    assert to_mono_16k(np.array([-32768, 0, 16384], dtype=np.int16), 16000).tolist() == [
        -1.0,
        0.0,
        0.5,
    ]
    assert to_mono_16k(np.array([0, 128, 192], dtype=np.uint8), 16000).tolist() == [
        -1.0,
        0.0,
        0.5,
    ]
    assert to_mono_16k(np.array([2**30], dtype=np.int32), 16000).tolist() == [0.5]


def test_to_mono_16k_downmixes_resamples_and_sanitizes() -> None:
    stereo = np.stack([tone(44100, 1.0), np.zeros(44100)], axis=1)
    stereo[5, 0] = np.nan
    before = stereo.copy()

    x = to_mono_16k(stereo, 44100)

    assert_decoded(x, 1.0, tolerance_s=0.001)
    assert abs(peak_hz(x) - 1000) < 2
    assert rms(x) == pytest.approx(TONE_RMS / 2, rel=0.02)
    assert np.array_equal(stereo, before, equal_nan=True)  # the caller's array is untouched


@pytest.mark.parametrize(
    ("samples", "rate"),
    [
        (np.zeros((2, 2, 2)), 16000),
        (np.zeros((10, 0)), 16000),
        (np.zeros(10), 0),
        (np.zeros(10, dtype=bool), 16000),
    ],
    ids=["3-d", "no-channels", "rate-0", "bool"],
)
def test_to_mono_16k_rejects_nonsense(samples: np.ndarray, rate: int) -> None:
    with pytest.raises(ValueError):
        to_mono_16k(samples, rate)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(0, 5000),
    nch=st.integers(1, 3),
    rate=st.sampled_from([8000, 11025, 16000, 22050, 44100, 48000, 96000]),
    dtype=st.sampled_from(["float64", "float32", "int16", "int32", "uint8"]),
    seed=st.integers(0, 2**32 - 1),
    poison=st.booleans(),
)
def test_to_mono_16k_always_gives_finite_16k_float32(
    n: int, nch: int, rate: int, dtype: str, seed: int, poison: bool
) -> None:
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        samples = rng.uniform(-2, 2, (n, nch)).astype(dtype)
        if poison and n:
            samples[rng.integers(0, n)] = np.nan
    else:
        info = np.iinfo(dtype)
        samples = rng.integers(info.min, info.max, (n, nch), dtype=dtype, endpoint=True)

    x = to_mono_16k(samples if nch > 1 else samples[:, 0], rate)

    assert x.dtype == np.float32 and x.ndim == 1
    assert np.isfinite(x).all()
    assert abs(len(x) - n * SAMPLE_RATE / rate) <= 1


def test_ffmpeg_path_honours_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ffmpeg_path() == shutil.which("ffmpeg")
    monkeypatch.setenv("DICTATE_FFMPEG", "")
    assert ffmpeg_path() is None
    monkeypatch.setenv("DICTATE_FFMPEG", "/nonexistent/ffmpeg")
    assert ffmpeg_path() is None
    monkeypatch.setenv("DICTATE_FFMPEG", shutil.which("true") or "/bin/true")
    assert ffmpeg_path() == (shutil.which("true") or "/bin/true")


# --- real recordings -------------------------------------------------------------------------

RECORDINGS = [
    # file, seconds (per the fixtures' README), sample rate, channels, decode tolerance (s)
    ("jfk.flac", 11.0, 44100, 2, 0.002),
    ("LDC93S1.wav", 2.9, 16000, 1, 0.002),
    ("hotwords.mp3", 4.0, 44100, 2, 0.06),
]


@pytest.mark.parametrize(
    ("name", "seconds", "rate", "nch", "tolerance_s"), RECORDINGS, ids=[r[0] for r in RECORDINGS]
)
def test_real_recordings(
    fixtures_dir: Path, name: str, seconds: float, rate: int, nch: int, tolerance_s: float
) -> None:
    path = fixtures_dir / name
    info = probe(path)
    assert (info.sample_rate, info.channels) == (rate, nch)
    assert info.duration_s == pytest.approx(seconds, abs=0.1)

    x = load_audio(path)

    assert_decoded(x, info.duration_s, tolerance_s)
    assert rms(x) > 0.003  # speech (LDC93S1 is quiet: RMS 0.008), not silence
    assert np.abs(x).max() <= 1.5
