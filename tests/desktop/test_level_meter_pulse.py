"""The level meter and playback against a real sound server: PulseAudio's virtual microphone.

What is played into the null sink (paplay, or our Player on the default output, which is that
sink) is what the default input records. LDC93S1.wav is 2.92 s of speech; it plays in real time.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from dictate.audio.capture import SILENCE_DB
from dictate.audio.decode import load_audio
from dictate.audio.meter import LevelMeter, block_level_db
from dictate.audio.playback import Player
from tests.conftest import REPO
from tests.desktop.fixtures_audio import PCM  # virtual_mic: via conftest.py

pytestmark = pytest.mark.desktop

SHOTS = Path(os.environ.get("DICTATE_TEST_OUTPUT", REPO / "tests" / "output")) / "screenshots"
SPEECH_DB = -40.0  # the file's words are above this; the null sink's silence is SILENCE_DB


@pytest.fixture(scope="module")
def qapp_offscreen():
    """A QApplication for widgets that need no display. Not pytest-qt's qapp: that one would
    pick the platform from the environment, where DISPLAY may name the tests' Xvfb."""
    from PySide6.QtWidgets import QApplication

    return QApplication.instance() or QApplication(["dictate-tests", "-platform", "offscreen"])


def process_until(app, predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        app.processEvents()
        time.sleep(0.01)


@pytest.fixture(scope="module")
def wav(fixtures_dir: Path) -> Path:
    path = fixtures_dir / "LDC93S1.wav"
    if not path.is_file():
        pytest.skip(f"{path} not found (set DICTATE_FIXTURES)")
    return path


def wait_for(predicate, timeout: float, what: str) -> float:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)
    return time.monotonic()


def test_meter_reads_silence_then_the_speech(virtual_mic, wav) -> None:
    levels: list[float] = []
    errors: list[str] = []
    meter = LevelMeter(on_level=levels.append, on_error=errors.append)
    meter.start()
    try:
        assert meter.running and meter.device_name
        wait_for(lambda: len(levels) >= 10, 3.0, "the first levels")
        assert max(levels) == SILENCE_DB  # nothing plays: the null sink is exactly silent
        n_quiet = len(levels)
        player = virtual_mic.play(wav)
        t_heard = wait_for(lambda: meter.level_db > SPEECH_DB, 5.0, "the speech to be heard")
        player.wait(timeout=15)
        time.sleep(0.3)
    finally:
        meter.stop()
    loud = levels[n_quiet:]
    ref = load_audio(wav)  # the file's own loudest 50 ms, measured the same way
    ref_max = max(block_level_db(ref[i : i + 800]) for i in range(0, len(ref) - 800, 400))
    print(
        f"{len(levels)} levels, loudest {max(loud):.1f} dBFS (file {ref_max:.1f}), heard at "
        f"{t_heard:.2f}"
    )
    assert abs(max(loud) - ref_max) < 3
    assert errors == []
    assert not meter.running and meter.level_db == SILENCE_DB
    count = len(levels)
    time.sleep(0.3)
    assert len(levels) == count  # stopped means stopped


def test_settings_dialog_meter_moves_with_the_voice(virtual_mic, wav, qapp_offscreen) -> None:
    from dictate.config import Settings
    from dictate.ui.settings import SettingsDialog

    app = qapp_offscreen
    dialog = SettingsDialog(Settings(), lambda s: [])
    try:
        dialog.show()
        meter = dialog.audio_tab.mic_level
        assert meter.state == "off"  # the General tab is showing: the microphone stays closed
        dialog.tabs.setCurrentIndex(1)
        process_until(app, lambda: meter.state == "live", 5.0, "the meter to open")
        assert meter.message.startswith("Listening to")
        assert meter.bar.shown_db == SILENCE_DB
        player = virtual_mic.play(wav)
        process_until(app, lambda: meter.bar.level_db > SPEECH_DB, 5.0, "the speech")
        assert meter.bar.fraction(meter.bar.shown_db) > 0.3
        assert meter.db_label.text().endswith("dB")
        SHOTS.mkdir(parents=True, exist_ok=True)
        assert dialog.grab().save(str(SHOTS / "settings-audio-live.png"))
        player.wait(timeout=15)
        dialog.tabs.setCurrentIndex(0)  # leaving the tab closes the microphone
        assert meter.state == "off"
    finally:
        dialog.reject()
        dialog.deleteLater()
        app.processEvents()


def record(mic, seconds: float) -> tuple[threading.Thread, list[bytes]]:
    """parec on the virtual microphone for `seconds`, on a thread: (thread, [bytes])."""
    out: list[bytes] = []

    def run() -> None:
        proc = subprocess.Popen(
            ["parec", "--device=vmic", *PCM], env=mic.env, stdout=subprocess.PIPE
        )
        try:
            assert proc.stdout is not None
            out.append(proc.stdout.read(int(seconds * 16000) * 2))
        finally:
            proc.kill()
            proc.wait()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, out


def our_streams(mic) -> list[str]:
    """The sinks this process is playing into now, by name (pactl's view of the server)."""
    sinks = dict(
        line.split("\t")[:2]
        for line in mic._run("pactl", "list", "short", "sinks").stdout.splitlines()
        if "\t" in line
    )
    found = []
    for block in mic._run("pactl", "list", "sink-inputs").stdout.split("\n\n"):
        sink = re.search(r"^\s*Sink: (\d+)", block, re.M)
        if sink and f'application.process.id = "{os.getpid()}"' in block:
            found.append(sinks.get(sink.group(1), sink.group(1)))
    return found


def play_and_capture(mic, ref: np.ndarray) -> dict:
    """Play `ref` with a Player while parec records the virtual microphone: what was heard."""
    thread, out = record(mic, 4.5)
    time.sleep(0.5)
    player = Player(latency="high")  # no underruns on a busy machine, for the correlation
    t0 = time.monotonic()
    assert player.play(ref) is True  # 16 kHz float32, as the history keeps it
    started = time.monotonic() - t0
    assert player.playing
    time.sleep(0.3)
    streams = our_streams(mic)
    assert player.wait(timeout=10)
    took = time.monotonic() - t0
    thread.join(timeout=15)
    captured = np.frombuffer(out[0], "<i2").astype(np.float32) / 32768
    size = 1 << int(np.ceil(np.log2(len(captured) + len(ref))))
    xc = np.fft.irfft(np.fft.rfft(captured, size) * np.conj(np.fft.rfft(ref, size)), size)
    lag = int(np.argmax(xc))
    seg = captured[lag : lag + len(ref)]
    corr = float(np.dot(seg, ref[: len(seg)]) / (np.linalg.norm(seg) * np.linalg.norm(ref) + 1e-9))
    print(
        f"play() {started * 1000:.0f} ms, played in {took:.2f} s, lag {lag / 16000:.2f} s, "
        f"correlation {corr:.3f}, into {streams}"
    )
    assert not player.playing
    return {
        "started": started,
        "took": took,
        "corr": corr,
        "whole": lag + len(ref) <= len(captured),
        "streams": streams,
    }


def test_player_plays_on_the_default_output(virtual_mic, wav) -> None:
    ref = load_audio(wav)
    # Real-time sound on a shared 2-core CI machine: once in ~1300 tests the ALSA pulse plugin
    # underran on every write and the monitor heard only silence (CI, 2026-12-07), though the
    # stream was the Player's. Where it went is asserted every time; what was heard gets up to
    # three plays, and every play is printed.
    for _ in range(3):
        heard = play_and_capture(virtual_mic, ref)
        assert heard["started"] < 0.5  # it returns at once, not after the sound
        assert heard["streams"] == ["vmic_sink"]  # the default output, and only it
        if heard["corr"] > 0.9 and heard["whole"]:
            break
    assert heard["corr"] > 0.9 and heard["whole"]
    # wait() ends ≈ when the sound does: with a high-latency stream the last buffer is handed
    # over (and wait() returns) up to its latency before it is heard — 0.96 s early once on a
    # loaded CI machine (2.80–2.85 s for this 2.92 s clip on an idle one). PortAudio's DAC
    # time through ALSA's pulse plugin did not say when it is heard any better.
    assert len(ref) / 16000 - 1.5 < heard["took"] < len(ref) / 16000 + 1.5


def test_player_stop_cuts_the_sound(virtual_mic, wav) -> None:
    player = Player()
    assert player.play_file(wav)
    time.sleep(0.3)
    t0 = time.monotonic()
    player.stop()
    assert player.wait(timeout=0.5) and time.monotonic() - t0 < 0.5
    levels: list[float] = []
    with LevelMeter(on_level=levels.append):
        time.sleep(0.6)
    assert levels and max(levels[3:]) == SILENCE_DB  # nothing plays any more
