"""The level meter without a sound server: its maths, and its errors when there is nothing to
open. Against a real (virtual) microphone: tests/desktop/test_level_meter_pulse.py."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dictate.audio.capture import SILENCE_DB, MicrophoneError
from dictate.audio.meter import LevelMeter, block_level_db

REPO = Path(__file__).resolve().parent.parent


def sine(amplitude: float, n: int = 4800, freq: float = 440.0, rate: int = 48000) -> np.ndarray:
    return (amplitude * np.sin(2 * np.pi * freq * np.arange(n) / rate)).astype(np.float32)


@pytest.mark.parametrize("amplitude", [1.0, 0.5, 0.1, 0.001])
def test_a_sine_reads_its_rms_in_dbfs(amplitude):
    expected = 20 * math.log10(amplitude / math.sqrt(2))  # full-scale sine: -3.01 dBFS
    assert block_level_db(sine(amplitude)) == pytest.approx(expected, abs=0.01)


def test_channels_are_mixed_before_measuring():
    s = sine(0.5)
    both = np.stack([s, s], axis=1)
    assert block_level_db(both) == pytest.approx(block_level_db(s), abs=1e-6)
    assert block_level_db(s[:, None]) == pytest.approx(block_level_db(s), abs=1e-6)
    # Opposite channels cancel in the mono mix, as they would in the recording.
    assert block_level_db(np.stack([s, -s], axis=1)) == SILENCE_DB


def test_silence_empty_and_broken_blocks_read_as_the_floor():
    assert block_level_db(np.zeros(960, np.float32)) == SILENCE_DB
    assert block_level_db(np.zeros(0, np.float32)) == SILENCE_DB
    assert block_level_db(np.full(960, np.nan, np.float32)) == SILENCE_DB
    assert block_level_db(np.full(960, 1e-9, np.float32)) == SILENCE_DB  # -180 dB: floored
    loud = sine(0.5)
    loud[::7] = np.inf  # inf counts as 0, like NaN: one bad sample must not read as +inf dB
    assert -12 < block_level_db(loud) < -9


def test_an_unknown_device_is_a_microphone_error():
    meter = LevelMeter("no such microphone at all")
    with pytest.raises(MicrophoneError, match="no microphone"):
        meter.start()
    assert not meter.running
    meter.stop()  # stopping a meter that never ran is fine


def _run_without_sound_server(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """A fresh process whose PortAudio sees no PulseAudio server (PortAudio lists devices once
    per process, so this cannot be done in this one)."""
    runtime = tmp_path / "no-server"
    runtime.mkdir(mode=0o700)
    (runtime / "client.conf").write_text("autospawn = no\n")
    env = {k: v for k, v in os.environ.items() if k != "PULSE_SERVER"}
    env.update(XDG_RUNTIME_DIR=str(runtime), PYTHONPATH=str(REPO))
    env["PULSE_CLIENTCONFIG"] = str(runtime / "client.conf")
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )


def test_no_microphone_at_all_is_a_clear_error(tmp_path):
    code = (
        "from dictate.audio.capture import MicrophoneError, input_devices\n"
        "from dictate.audio.meter import LevelMeter\n"
        "devices = input_devices()\n"
        "print('devices', len(devices))\n"
        "levels = []\n"
        "m = LevelMeter(on_level=levels.append)\n"
        "try:\n    m.start()\nexcept MicrophoneError as e:\n    print('MicrophoneError:', e)\n"
        "print('running', m.running, 'levels', len(levels))\n"
    )
    done = _run_without_sound_server(code, tmp_path)
    assert done.returncode == 0, done.stderr
    if "devices 0" not in done.stdout:
        pytest.skip("this machine has input devices without a sound server (ALSA hardware)")
    assert "MicrophoneError: no microphone found" in done.stdout
    assert "running False levels 0" in done.stdout
