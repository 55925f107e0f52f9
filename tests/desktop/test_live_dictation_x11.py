"""Live dictation for real: the tray app's process under Xvfb, a 60 s dictation joined from the
shared clips played into the PulseAudio virtual microphone, xdotool holding the hotkey, the real
tiny.en. The words show (status line, preview strip) before release, the preview never takes
the focus, and the text arrives whole and once; with typing while speaking, the target holds
text before release and the whole text once after.

A screenshot of the preview on the X display goes to tests/output/screenshots.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO, load_clip
from tests.desktop import test_dictation_e2e as e2e
from tests.desktop.test_dictation_e2e import HOTKEY, KEYS, Desktop, Target, history, release_hotkey
from tests.test_live import occurrences

# The end-to-end module's fixtures: its Xvfb/PulseAudio desktop and target window.
desktop = e2e.desktop
target = e2e.target

pytestmark = [pytest.mark.desktop, pytest.mark.slow]
SHOTS = Path(os.environ.get("DICTATE_TEST_OUTPUT", REPO / "tests" / "output")) / "screenshots"
SR = 16000
# ~60 s: each clip once, jfk.flac twice (so "once" means as often as it was spoken).
LONG = (
    "jfk.flac",
    "more/austen_0870.wav",
    "more/austen_0890.wav",
    "LDC93S1.wav",
    "more/austen_0920.wav",
    "more/austen_0930.wav",
    "more/austen_0880.wav",
    "jfk.flac",
)
SHORT = ("more/austen_0870.wav", "LDC93S1.wav", "more/austen_0920.wav", "more/austen_0890.wav")


def references(fixtures_dir: Path) -> dict[str, str]:
    refs: dict[str, str] = {}
    for tsv in (fixtures_dir / "references.tsv", fixtures_dir / "more" / "references.tsv"):
        with open(tsv, encoding="utf-8") as f:
            for line in f.read().splitlines()[1:]:
                name, _, text = line.split("\t")
                refs[name] = text
    return refs


def joined_wav(desktop: Desktop, fixtures_dir: Path, names: tuple[str, ...]) -> Path:
    """The clips with 0.7 s of silence after each, as a 16 kHz 16-bit WAV paplay plays right."""
    import soundfile as sf

    pause = np.zeros(round(0.7 * SR), np.float32)
    audio = np.concatenate([x for n in names for x in (load_clip(fixtures_dir / n), pause)])
    path = desktop.root / f"joined-{len(names)}-{audio.size}.wav"
    sf.write(path, audio, SR, subtype="PCM_16")
    return path


class UIApp:
    """`dictate` with its Qt face (not headless) as its own process."""

    def __init__(self, desktop: Desktop, settings: dict, *args: str) -> None:
        self.desktop = desktop
        path = desktop.root / "config" / "settings.json"
        saved = json.loads(path.read_text(encoding="utf-8"))
        path.write_text(json.dumps({**saved, **settings}), encoding="utf-8")
        self.log = (desktop.root / f"ui-{time.monotonic_ns()}.log").open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dictate", *args],
            env=desktop.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.wait_for("ready", timeout=180)

    def status(self) -> str:
        return self.desktop.dictate("status").stdout.strip()

    def wait_for(self, word: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.status().startswith(word):
                return
            assert self.proc.poll() is None, self.output()
            time.sleep(0.1)
        raise AssertionError(f"app never became {word!r}: {self.status()}\n{self.output()}")

    def output(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(30)
        self.log.close()


def spoken(text: str) -> str:
    """The typed text as spoken: the e2e settings' replacement put back."""
    return text.replace("café — naïve 😀", "greasy wash")


def focused(desktop: Desktop) -> str:
    return desktop.run("xdotool", "getwindowfocus").stdout.strip()


def preview_visible(desktop: Desktop) -> bool:
    found = desktop.run("xdotool", "search", "--onlyvisible", "--name", "dictate live preview")
    return found.returncode == 0 and bool(found.stdout.strip())


def wait_text(target: Target, app, before: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if app.status().startswith("ready") and target.text() != before:
            break
        time.sleep(0.1)
    time.sleep(0.6)
    return target.text()[len(before) :]


def test_a_60_s_live_dictation_shows_words_keeps_focus_and_arrives_whole_once(
    desktop, target, fixtures_dir
):
    app = UIApp(
        desktop,
        {"live_transcription": True, "live_preview": True, "type_while_speaking": False},
        "--mode",
        "hold",
        "--hotkey",
        HOTKEY,
    )
    try:
        wav = joined_wav(desktop, fixtures_dir, LONG)
        target.focus()
        window = focused(desktop)
        before = target.text()
        desktop.xdotool("keydown", KEYS)
        app.wait_for("recording", timeout=10)
        player = subprocess.Popen(
            ["paplay", "--device=vmic_sink", str(wav)], env=desktop.env, stderr=subprocess.PIPE
        )
        started = time.monotonic()
        heard, shown, shot, focus = [], [], None, []
        while player.poll() is None:
            status = app.status()
            if "heard “" in status:
                heard.append((time.monotonic() - started, status))
            shown.append(preview_visible(desktop))
            focus.append(focused(desktop))
            if shot is None and heard and time.monotonic() - started > 15:
                SHOTS.mkdir(parents=True, exist_ok=True)
                shot = SHOTS / "live-preview-x11.png"
                desktop.run("import", "-window", "root", str(shot))
            time.sleep(0.5)
        assert player.returncode == 0, player.stderr.read()
        time.sleep(0.3)
        assert target.text() == before  # nothing typed before release (typing is off)
        release_hotkey(desktop)
        text = wait_text(target, app, before)
        assert heard and heard[0][0] < 15, (heard[:3], app.output())  # words before release
        assert any(shown), "the preview strip never showed"
        assert set(focus) == {window} and focused(desktop) == window
        refs = references(fixtures_dir)
        for name in dict.fromkeys(LONG):
            want = LONG.count(name)
            got = occurrences(refs[Path(name).name], spoken(text))
            assert got == want, (name, got, want, text)
        entry = history(desktop)[0]
        assert entry.status == "inserted"
        assert entry.timings["committed_s"] > 40, entry.timings
        assert shot is not None and shot.stat().st_size > 0
    finally:
        app.stop()


def test_type_while_speaking_fills_the_target_before_release_and_ends_whole_once(
    desktop, target, fixtures_dir
):
    app = UIApp(
        desktop,
        {"live_transcription": True, "live_preview": False, "type_while_speaking": True},
        "--headless",
        "--mode",
        "toggle",  # held keys would mix with the typing: hold-to-talk types at release
        "--hotkey",
        HOTKEY,
    )
    try:
        wav = joined_wav(desktop, fixtures_dir, SHORT)
        target.focus()
        before = target.text()
        desktop.xdotool("key", KEYS)
        app.wait_for("recording", timeout=10)
        player = subprocess.Popen(["paplay", "--device=vmic_sink", str(wav)], env=desktop.env)
        player.wait(60)
        time.sleep(0.3)
        typed_before_release = target.text()[len(before) :]
        desktop.xdotool("key", KEYS)
        deadline = time.monotonic() + 60
        while history(desktop)[0].status != "inserted" and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(0.6)
        text = target.text()[len(before) :]
        assert typed_before_release.strip(), app.output()
        assert text.startswith(typed_before_release)
        refs = references(fixtures_dir)
        for name in SHORT:
            assert occurrences(refs[Path(name).name], spoken(text)) == 1, (name, text)
        entry = history(desktop)[0]
        assert entry.status == "inserted" and entry.text.split() == text.split()
    finally:
        app.stop()


MIC_SEEDS = (0, 1, 2, 3, 4)  # the first five of tests/random_joins.py's seeds, not chosen


def test_random_joins_through_the_microphone_with_the_app_as_installed(
    desktop, target, fixtures_dir
):
    """Issue 23: five of the random joins dictated into the window app with its defaults (live
    transcription and the preview on): every piece arrives and the window holds what the
    history holds. The sentences broken at the joins are printed (issue 23's target, ≤ 1 per
    minute of speech, is not met through the app yet: 11 in about 5.5 min over seeds 0-2 on
    2026-12-07; benchmarks/live_joins.py measures it on all 30 recordings)."""
    import soundfile as sf

    from tests import random_joins as rj

    app = UIApp(desktop, {}, "--mode", "hold", "--hotkey", HOTKEY)
    problems, minutes, broken = [], 0.0, 0
    try:
        for seed in MIC_SEEDS:
            rec = rj.build(seed, seed % 2 == 1, fixtures_dir)
            wav = desktop.root / f"join-{seed}.wav"
            sf.write(wav, rec.audio, SR, subtype="PCM_16")
            target.focus()
            before = target.text()
            desktop.xdotool("keydown", KEYS)
            app.wait_for("recording", timeout=10)
            play = subprocess.run(
                ["paplay", "--device=vmic_sink", str(wav)], env=desktop.env, timeout=300
            )
            assert play.returncode == 0
            release_hotkey(desktop)
            text = spoken(wait_text(target, app, before, timeout=120))
            entry = history(desktop)[0]
            lost = rj.lost_pieces(text, rec)
            joins = rj.broken_joins(text, rj.joined_cased_reference(rec))
            minutes += rec.seconds / 60
            broken += joins
            if lost or spoken(entry.text).split() != text.split():
                problems.append((rec.name, lost, text, entry.text))
            print(f"{rec.name}: {joins} broken joins: {text}")
    finally:
        app.stop()
    print(f"broken joins: {broken} in {minutes:.1f} min of recording")
    assert problems == [], problems
