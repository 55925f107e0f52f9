"""The Recorder against a real sound server: PulseAudio with a virtual microphone.

What a test plays into the null sink with paplay is what the default input device records. The
file is LDC93S1.wav (2.92 s of speech, 16 kHz); paplay plays it in real time. The test that
kills the server comes last and restarts it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from dictate.audio.capture import SILENCE_DB, MicrophoneError, Recorder, input_devices
from dictate.audio.decode import load_audio
from dictate.audio.gate import SpeechGate
from tests.desktop.fixtures_audio import VirtualMic  # virtual_mic: via conftest.py

pytestmark = pytest.mark.desktop

SR = 16000
ONSET_DB = -50.0  # the file is at -79 dBFS before its first word (0.22 s in), above -50 after
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wav(fixtures_dir: Path) -> Path:
    path = fixtures_dir / "LDC93S1.wav"
    if not path.is_file():
        pytest.skip(f"{path} not found (set DICTATE_FIXTURES)")
    return path


@pytest.fixture(scope="module")
def ref(wav: Path) -> np.ndarray:
    return load_audio(wav)


@pytest.fixture(scope="module")
def gate() -> SpeechGate:
    """One VAD for the module (the first test uses the Recorder's own default one)."""
    return SpeechGate()


def align(captured: np.ndarray, reference: np.ndarray) -> tuple[int, float]:
    """Where `reference` starts inside `captured` (negative: its start is missing) and their
    normalised correlation there, over the part both hold."""
    size = 1 << int(np.ceil(np.log2(len(captured) + len(reference))))
    xc = np.fft.irfft(np.fft.rfft(captured, size) * np.conj(np.fft.rfft(reference, size)), size)
    lag = int(np.argmax(xc))
    lag = lag - size if lag > size // 2 else lag
    seg = captured[max(lag, 0) : lag + len(reference)]
    part = reference[max(-lag, 0) : max(-lag, 0) + len(seg)]
    return lag, float(np.dot(seg, part) / (np.linalg.norm(seg) * np.linalg.norm(part) + 1e-12))


def wait_for_speech(rec: Recorder, timeout: float = 5.0) -> float:
    """Block until the recorder's level meter hears the file's first word; when it did."""
    deadline = time.monotonic() + timeout
    while rec.level_db < ONSET_DB:
        assert time.monotonic() < deadline, "no sound reached the microphone"
        time.sleep(0.005)
    return time.monotonic()


def play_fully(mic: VirtualMic, wav: Path) -> None:
    mic.play(wav).wait(timeout=15)
    time.sleep(0.3)  # its last samples still travel through the server


def test_start_returns_once_audio_flows_and_nothing_is_lost(virtual_mic, wav, ref) -> None:
    chunks: list[np.ndarray] = []
    levels: list[float] = []
    rec = Recorder(on_chunk=chunks.append, on_level=levels.append)
    t0 = time.monotonic()
    rec.start()
    start_s = time.monotonic() - t0
    play_fully(virtual_mic, wav)  # playback begins only after start() returned
    cap = rec.stop()
    lag, corr = align(cap.audio, ref)
    print(f"start latency {start_s * 1000:.0f} ms, lag {lag / SR * 1000:.0f} ms, corr {corr:.4f}")
    print(f"tail in silence {cap.tail_s * 1000:.0f} ms")
    assert cap.audio.dtype == np.float32 and cap.audio.ndim == 1
    assert cap.device_lost is None and not cap.truncated
    assert corr >= 0.9
    assert lag >= 0 and lag + len(ref) <= len(cap.audio), "the start or the end is missing"
    assert cap.tail_s < 0.15  # stopped in silence: no waiting
    assert np.array_equal(np.concatenate(chunks), cap.audio)  # on_chunk saw every sample
    assert max(levels) > -40 and min(levels) == SILENCE_DB  # the null sink's silence is exact
    assert start_s < 1.0


def test_keep_open_preroll_keeps_the_word_begun_before_start(virtual_mic, wav, ref, gate) -> None:
    chunks: list[np.ndarray] = []
    rec = Recorder(keep_open=True, preroll_s=0.5, on_chunk=chunks.append, gate=gate)
    rec.open()
    try:
        time.sleep(0.6)  # the stream has been running for a while, its ring buffer is full
        virtual_mic.play(wav)
        wait_for_speech(rec)  # the first word has begun: only then the key "is pressed"
        t0 = time.monotonic()
        rec.start()
        start_s = time.monotonic() - t0
        before_start = sum(c.size for c in chunks)  # the pre-roll, sent on by start()
        time.sleep(3.3)
        cap = rec.stop()
    finally:
        rec.close()
    lag, corr = align(cap.audio, ref)
    print(
        f"keep_open start {start_s * 1000:.1f} ms, pre-roll {before_start / SR:.2f} s, "
        f"lag {lag / SR * 1000:.0f} ms, corr {corr:.4f}"
    )
    assert corr >= 0.9
    assert lag >= 0 and lag + len(ref) <= len(cap.audio)
    # The file began well before start() (which came once its first word was heard): that part
    # of the recording is the pre-roll's.
    assert lag + int(0.15 * SR) < before_start
    assert np.array_equal(np.concatenate(chunks), cap.audio)


def test_without_preroll_the_same_start_loses_the_first_word(virtual_mic, wav, ref, gate) -> None:
    """The control for the test above: the same timing with no pre-roll misses the start."""
    rec = Recorder(keep_open=True, preroll_s=0.0, gate=gate)
    rec.open()
    try:
        time.sleep(0.6)
        virtual_mic.play(wav)
        wait_for_speech(rec)
        rec.start()
        time.sleep(3.3)
        cap = rec.stop()
    finally:
        rec.close()
    lag, _ = align(cap.audio, ref)
    assert lag < -int(0.1 * SR)  # ~0.2 s of the file (up to its first word) is missing


def test_tail_waits_for_the_speech_to_end_then_stops(virtual_mic, wav, ref, gate) -> None:
    rec = Recorder(gate=gate)
    rec.start()
    virtual_mic.play(wav)
    heard = wait_for_speech(rec)
    speech_end = heard + len(ref) / SR - 0.22  # wall-clock end of the file's speech
    time.sleep(max(0.0, speech_end - 0.3 - time.monotonic()))
    cap = rec.stop(tail_max_s=1.5)  # released 0.3 s before the last word ends
    lag, corr = align(cap.audio, ref)
    after_speech = (len(cap.audio) - (lag + len(ref))) / SR
    late = time.monotonic() - speech_end
    print(
        f"tail {cap.tail_s * 1000:.0f} ms; audio kept after the speech {after_speech * 1000:.0f}"
        f" ms; stop() returned {late * 1000:.0f} ms after the speech ended; corr {corr:.4f}"
    )
    assert corr >= 0.9 and lag >= 0
    assert after_speech >= 0, "the last word was cut"
    assert after_speech <= 0.4 and late <= 0.4
    assert 0.2 <= cap.tail_s < 1.5  # it waited for the word, and the gate (not the cap) ended it


def test_tail_is_capped_by_tail_max_s(virtual_mic, wav, ref, gate) -> None:
    rec = Recorder(gate=gate)
    rec.start()
    player = virtual_mic.play(wav)
    wait_for_speech(rec)
    time.sleep(0.8)
    cap = rec.stop(tail_max_s=0.4)  # mid-sentence: speech goes on for ~1.9 s more
    player.wait(timeout=15)
    print(f"capped tail {cap.tail_s * 1000:.0f} ms")
    assert 0.35 <= cap.tail_s <= 0.6


def test_stop_in_silence_returns_at_once(virtual_mic, gate) -> None:
    rec = Recorder(gate=gate)
    rec.start()
    time.sleep(0.5)
    t0 = time.monotonic()
    cap = rec.stop(tail_max_s=0.4)
    print(f"silent tail {cap.tail_s * 1000:.0f} ms, stop() {(time.monotonic() - t0) * 1000:.0f} ms")
    assert cap.tail_s < 0.1
    assert 0.4 * SR < len(cap.audio) < 1.0 * SR
    assert rec.level_db == SILENCE_DB


def test_max_s_truncates(virtual_mic, wav, ref, gate) -> None:
    rec = Recorder(max_s=1.0, gate=gate)
    rec.start()
    player = virtual_mic.play(wav)
    time.sleep(2.0)
    t0 = time.monotonic()
    cap = rec.stop()
    stop_s = time.monotonic() - t0
    player.terminate()
    player.wait(timeout=5)
    lag, corr = align(cap.audio, ref)
    assert cap.truncated and len(cap.audio) == SR
    assert stop_s < 0.3  # no tail wait once the cap is reached
    assert corr >= 0.9 and lag >= 0


def test_cancel_then_record_again(virtual_mic, wav, ref, gate) -> None:
    rec = Recorder(keep_open=True, gate=gate)
    rec.open()
    try:
        rec.start()
        rec.cancel()
        rec.start()
        play_fully(virtual_mic, wav)
        cap = rec.stop()
    finally:
        rec.close()
    lag, corr = align(cap.audio, ref)
    assert corr >= 0.9 and lag >= 0


def test_unknown_device_names_the_ones_there_are(virtual_mic, gate) -> None:
    assert "default" in [name for _, name in input_devices()]
    with pytest.raises(MicrophoneError, match=r"no microphone 'no such mic' .*'default'"):
        Recorder(device="no such mic").start()
    with pytest.raises(MicrophoneError, match="no microphone 99"):
        Recorder(device=99).start()
    rec = Recorder(device="DEFAULT", gate=gate)  # names match case-insensitively
    rec.start()
    rec.cancel()


def _run_isolated(code: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run code in a fresh process (PortAudio lists devices once per process)."""
    runtime = tmp_path / "no-server"
    runtime.mkdir(mode=0o700)
    (runtime / "client.conf").write_text("autospawn = no\n")
    full_env = {k: v for k, v in os.environ.items() if k != "PULSE_SERVER"}
    full_env.update(XDG_RUNTIME_DIR=str(runtime), PYTHONPATH=str(REPO))
    full_env["PULSE_CLIENTCONFIG"] = str(runtime / "client.conf")
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**full_env, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_no_input_device_is_a_clear_error(tmp_path: Path) -> None:
    code = (
        "from dictate.audio.capture import MicrophoneError, Recorder, input_devices\n"
        "print('devices', input_devices())\n"
        "try:\n    Recorder().start()\n"
        "except MicrophoneError as e:\n    print('MicrophoneError:', e)\n"
    )
    done = _run_isolated(code, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "devices []" in done.stdout
    assert "MicrophoneError: no microphone found" in done.stdout


def test_missing_portaudio_is_a_clear_error(tmp_path: Path) -> None:
    code = (
        "import ctypes.util\nctypes.util.find_library = lambda name: None\n"
        "from dictate.audio.capture import MicrophoneError, input_devices\n"
        "try:\n    input_devices()\n"
        "except MicrophoneError as e:\n    print('MicrophoneError:', e)\n"
    )
    done = _run_isolated(code, tmp_path)
    assert "MicrophoneError: PortAudio is not installed" in done.stdout, done.stderr


def test_server_killed_mid_recording_keeps_the_audio_so_far(virtual_mic, wav, ref, gate) -> None:
    """Last: kills the server (like a USB microphone pulled out), then restarts it."""
    chunks: list[np.ndarray] = []
    rec = Recorder(on_chunk=chunks.append, gate=gate)
    rec.start()
    virtual_mic.play(wav)
    wait_for_speech(rec)
    time.sleep(1.0)
    try:
        virtual_mic.kill()
        time.sleep(0.3)
        t0 = time.monotonic()
        cap = rec.stop()
        stop_s = time.monotonic() - t0
    finally:
        virtual_mic.start()
    lag, corr = align(cap.audio, ref)
    print(
        f"device_lost={cap.device_lost!r}; kept {len(cap.audio) / SR:.2f} s; "
        f"stop() {stop_s * 1000:.0f} ms; corr {corr:.4f}"
    )
    assert cap.device_lost
    assert stop_s < 1.0  # no hang on the dead stream
    assert 1.0 * SR < len(cap.audio) < 2.5 * SR
    assert corr >= 0.9 and lag >= 0
    assert np.array_equal(np.concatenate(chunks), cap.audio)
    # The server is back: the same recorder records again.
    rec.start()
    play_fully(virtual_mic, wav)
    again = rec.stop()
    lag, corr = align(again.audio, ref)
    assert again.device_lost is None and corr >= 0.9 and lag >= 0


def test_reconfigure_during_a_recording_keeps_it_and_applies_after(
    virtual_mic, wav, ref, gate
) -> None:
    """Settings applied while a dictation records (under the recorder's lock, not by setting
    its fields from another thread): the take keeps its stream and every sample; the new
    device is the one the next recording opens."""
    rec = Recorder(gate=gate)
    try:
        rec.start()
        virtual_mic.play(wav)
        time.sleep(0.5)
        rec.reconfigure(device="no such microphone", keep_open=True, max_s=60.0)
        time.sleep(3.0)
        cap = rec.stop()
        assert rec.keep_open and rec.max_s == 60.0
        with pytest.raises(MicrophoneError, match="no microphone 'no such microphone'"):
            rec.start()
    finally:
        rec.close()
    _, corr = align(cap.audio, ref)
    assert corr >= 0.9
