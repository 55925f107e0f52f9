"""Playback without a sound server: converting a sound for the device, and clear errors (or a
quiet False) when there is nothing to play on. Real playback through PulseAudio is in
tests/desktop/test_level_meter_pulse.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

from dictate.audio.playback import PlaybackError, Player, prepare
from dictate.errors import AudioError, DictateError

REPO = Path(__file__).resolve().parent.parent


def tone(freq: float, seconds: float, rate: int, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def peak_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * rate / len(samples))


def test_prepare_resamples_to_the_device_rate_and_keeps_the_pitch():
    out = prepare(tone(1000, 1.0, 16000), 16000, 48000, 1)
    assert out.shape == (48000, 1) and out.dtype == np.float32
    assert peak_hz(out[:, 0], 48000) == pytest.approx(1000, abs=2)
    assert np.sqrt(np.mean(out[1000:-1000, 0] ** 2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.01)
    down = prepare(tone(440, 0.5, 44100), 44100, 16000, 1)
    assert down.shape == (8000, 1)
    assert peak_hz(down[:, 0], 16000) == pytest.approx(440, abs=3)


def test_prepare_fills_every_channel_and_mixes_input_channels():
    mono = tone(300, 0.1, 16000)
    out = prepare(mono, 16000, 16000, 2)
    assert out.shape == (1600, 2) and out.flags.c_contiguous
    np.testing.assert_array_equal(out[:, 0], mono)
    np.testing.assert_array_equal(out[:, 1], mono)
    stereo = np.stack([mono, np.zeros_like(mono)], axis=1)
    np.testing.assert_allclose(prepare(stereo, 16000, 16000, 1)[:, 0], mono / 2, atol=1e-7)


def test_prepare_cleans_what_would_hurt_ears():
    bad = np.array([0.5, np.nan, np.inf, -np.inf, 3.0, -3.0], np.float32)
    out = prepare(bad, 16000, 16000, 1)[:, 0]
    np.testing.assert_array_equal(out, [0.5, 0.0, 1.0, -1.0, 1.0, -1.0])
    assert prepare(np.zeros(0, np.float32), 16000, 48000, 2).shape == (0, 2)
    with pytest.raises(ValueError, match="1-D"):
        prepare(np.zeros((2, 2, 2), np.float32), 16000, 16000, 1)


def test_an_unknown_output_is_an_error_or_quietly_false():
    player = Player("no such speaker anywhere")
    with pytest.raises(PlaybackError, match="no audio output"):
        player.play(tone(440, 0.1, 16000))
    assert issubclass(PlaybackError, DictateError)  # the UI shows it as one line
    assert player.play(tone(440, 0.1, 16000), quiet=True) is False
    assert not player.playing and player.wait(0)
    player.stop()  # nothing playing: fine


def test_play_file_errors(tmp_path):
    with pytest.raises(AudioError, match="cannot be played"):
        Player().play_file(tmp_path / "missing.wav")
    assert Player().play_file(tmp_path / "missing.wav", quiet=True) is False
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF not really a wave file")
    with pytest.raises(AudioError):
        Player().play_file(junk)
    good = tmp_path / "cue.wav"
    soundfile.write(good, tone(880, 0.05, 22050), 22050)
    # A readable file on a device that is not there: the device is what the error names.
    with pytest.raises(PlaybackError, match="no audio output"):
        Player("no such speaker anywhere").play_file(good)


def test_no_output_device_at_all(tmp_path):
    """In a process whose PortAudio sees no sound server (devices are listed once per process)."""
    runtime = tmp_path / "no-server"
    runtime.mkdir(mode=0o700)
    (runtime / "client.conf").write_text("autospawn = no\n")
    env = {k: v for k, v in os.environ.items() if k != "PULSE_SERVER"}
    env.update(XDG_RUNTIME_DIR=str(runtime), PYTHONPATH=str(REPO))
    env["PULSE_CLIENTCONFIG"] = str(runtime / "client.conf")
    code = (
        "import numpy as np, sounddevice as sd\n"
        "from dictate.audio.playback import Player, PlaybackError\n"
        "print('outputs', sum(d['max_output_channels'] > 0 for d in sd.query_devices()))\n"
        "p = Player()\n"
        "try:\n    p.play(np.zeros(1600, np.float32))\n"
        "except PlaybackError as e:\n    print('PlaybackError:', e)\n"
        "print('quiet', p.play(np.zeros(1600, np.float32), quiet=True))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    if "outputs 0" not in done.stdout:
        pytest.skip("this machine has output devices without a sound server (ALSA hardware)")
    assert "PlaybackError: no audio output device found" in done.stdout
    assert "quiet False" in done.stdout
