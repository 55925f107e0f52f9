"""SIGTERM at random moments to the real app (issue 23: one segfault in twenty shutdowns, after a
live dictation, with nothing in any log).

Ten shutdowns from fixed seeds (twenty took 13 minutes of CI's 90; the fix was found with
twenty), each at one of five moments: idle, while recording, during
the live steps of a longer recording, while the text is transcribed and inserted, right after a
dictation (while the memory trim runs). Three of them are the window app (not --headless), the
rest headless (its start is the same core, and faster). Each exit must be code 0 with no
"Fatal Python error" in the output or in crash.log, and no dictation may be lost: at the end,
after one more start (which recovers what was left unfinished), every dictation started is in
the history, transcribed or with its audio kept.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.desktop import test_dictation_e2e as e2e
from tests.desktop.test_dictation_e2e import Desktop, history

desktop = e2e.desktop  # this module's own Xvfb (with openbox) and PulseAudio
target = e2e.target

pytestmark = [pytest.mark.desktop, pytest.mark.slow]
MOMENTS = ("idle", "recording", "live step", "inserting", "memory trim")
SEEDS = tuple(range(10))  # fixed: each moment twice
WINDOW_APP = {s for s in SEEDS if s % 4 == 0}
UNFINISHED = ("recording", "recorded")
CRASH = ("Fatal Python error", "Segmentation fault", "core dumped", "Aborted", "terminate called")


def send(desktop: Desktop, command: str) -> dict:
    from dictate.control.ipc import send as ipc_send

    return ipc_send(command, path=Path(desktop.env["DICTATE_SOCKET"]), timeout=5.0)


def state(desktop: Desktop) -> str:
    try:
        return str(send(desktop, "status").get("state", ""))
    except Exception:  # not listening (yet, or any more)
        return ""


class Run:
    """One start of the app, stopped by SIGTERM."""

    def __init__(self, desktop: Desktop, window: bool, name: str) -> None:
        self.desktop = desktop
        self.log_path = desktop.root / f"stress-{name}.log"
        self.log = self.log_path.open("w")
        args = [] if window else ["--headless"]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dictate", *args, "--mode", "toggle"],
            env=desktop.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.wait_for("ready", 240)

    def wait_for(self, word: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while state(self.desktop) != word:
            assert self.proc.poll() is None, self.output()
            assert time.monotonic() < deadline, (word, state(self.desktop), self.output())
            time.sleep(0.05)

    def output(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text(errors="replace")

    def terminate(self) -> int:
        self.proc.terminate()
        try:
            code = self.proc.wait(90)
        finally:
            self.log.close()
        return code


def player(desktop: Desktop, clip: Path) -> subprocess.Popen:
    return e2e.desktop_play(desktop, clip)


def drive(desktop: Desktop, run: Run, moment: str, rng: random.Random, clips: Path) -> int:
    """Bring the app to `moment` and return how many dictations were started."""
    if moment == "idle":
        time.sleep(rng.uniform(0, 2))
        return 0
    send(desktop, "start")
    run.wait_for("recording", 10)
    if moment == "recording":
        play = player(desktop, clips / "LDC93S1.wav")
        time.sleep(rng.uniform(0.3, 2.5))
    elif moment == "live step":  # live steps commit text every few seconds of speech
        play = player(desktop, clips / "jfk.flac")
        time.sleep(rng.uniform(3.0, 10.0))
    else:
        play = player(desktop, clips / "LDC93S1.wav")
        play.wait(30)
        time.sleep(0.2)
        send(desktop, "stop")
        if moment == "inserting":
            time.sleep(rng.uniform(0.0, 2.5))
        else:  # the memory trim starts as the transcription ends
            deadline = time.monotonic() + 60
            while (entry := history(desktop)[0]).status in (*UNFINISHED, "transcribed"):
                assert time.monotonic() < deadline, entry
                time.sleep(0.02)
            time.sleep(rng.uniform(0.0, 0.3))
    if play.poll() is None:
        play.kill()
        play.wait(10)
    return 1


@pytest.fixture(scope="module")
def stress_desktop(desktop, target) -> Iterator[Desktop]:
    config = desktop.root / "config" / "settings.json"
    saved = json.loads(config.read_text())
    # The installed defaults (live transcription and preview on), the local tiny.en, no cues.
    config.write_text(json.dumps({"model": saved["model"], "sounds": False}), encoding="utf-8")
    target.focus()
    yield desktop


def test_sigterm_at_random_moments_never_crashes_or_loses_a_dictation(
    stress_desktop, target, fixtures_dir
):
    desktop = stress_desktop
    crash_log = desktop.root / "data" / "crash.log"
    started = 0
    problems = []
    for seed in SEEDS:
        rng = random.Random(seed)
        moment = MOMENTS[seed % len(MOMENTS)]
        window = seed in WINDOW_APP
        logged = crash_log.stat().st_size if crash_log.exists() else 0
        run = Run(desktop, window, f"{seed}")
        target.focus()  # after start-up: with no tray the dictate window comes forward
        started += drive(desktop, run, moment, rng, fixtures_dir)
        code = run.terminate()
        out = run.output()
        with crash_log.open(errors="replace") as f:
            f.seek(logged)
            traces = f.read()  # what this run wrote there
        if code != 0 or any(c in out or c in traces for c in CRASH):
            problems.append((seed, moment, window, code, out[-3000:], traces[-3000:]))
    assert not problems, problems

    final = Run(desktop, False, "final")  # recovers what the shutdowns left unfinished
    try:
        deadline = time.monotonic() + 180
        while any(e.status in UNFINISHED for e in history(desktop)):
            assert time.monotonic() < deadline, history(desktop)
            time.sleep(0.5)
    finally:
        assert final.terminate() == 0, final.output()
    from dictate.dictation.history import History

    h = History(desktop.root / "data")
    try:
        entries = h.recent(1000)
    finally:
        h.close()
    assert len(entries) == started, (len(entries), started)
    for entry in entries:
        assert entry.status not in (*UNFINISHED, "error"), entry
        # Transcribed (typed, offered, or nothing said), or cancelled on the way out with its
        # audio kept in the history.
        assert entry.text or entry.status == "no_speech" or entry.audio_path is not None, entry
