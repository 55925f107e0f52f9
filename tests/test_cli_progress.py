"""`dictate transcribe` on a terminal: the progress bar (tqdm, on stderr) with elapsed and
remaining time, run on a real pseudo-terminal as a person's terminal window is.

The report it answers: a 158 s file showed "dictate: loading …" and then nothing. One cause was
the terminal: a pty nobody sized (0 x 0: `script` from a pipe, `docker exec -t`) makes tqdm
trim its bar to nothing, so the bar was never drawn; the tests below run on such a pty too.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.test_cli import FAKE, run_fake, run_on_pty

SR = 16000
# tqdm's line as `dictate transcribe` draws it: "talk.wav:  75%|███▌ | 95/127 s [00:12<00:04]"
BAR = re.compile(r"(\S+):\s+(\d+)%\|[^|]*\| (\d+)/(\d+) s \[(\d\d:\d\d)<(\d\d:\d\d|\?)\]")


def bars(shown: str) -> list[tuple[str, int, int, int, str, str]]:
    """Every drawing of the bar, in order: (name, percent, done s, total s, elapsed, left)."""
    return [(m[1], int(m[2]), int(m[3]), int(m[4]), m[5], m[6]) for m in BAR.finditer(shown)]


def wav(path: Path, seconds: float) -> Path:
    sf.write(path, np.zeros(round(seconds * SR), np.float32), SR)
    return path


def fake(*args: str) -> list[str]:
    return [sys.executable, "-c", FAKE, *args]


@pytest.mark.parametrize("size", [None, (30, 100)], ids=["unsized pty", "100x30"])
def test_a_long_file_shows_a_bar_with_elapsed_and_remaining(tmp_path, size):
    talk = wav(tmp_path / "talk.wav", 100)  # four 30 s blocks, 1.2 s apart

    status, shown = run_on_pty(
        fake("transcribe", str(talk), "-o", str(tmp_path / "t.txt")),
        env={"FAKE_DELAY": "1.2"},
        size=size,
    )

    assert status == 0, shown
    drawn = bars(shown)
    assert drawn, shown
    assert {d[0] for d in drawn} == {"talk.wav"} and {d[3] for d in drawn} == {100}
    done = [d[2] for d in drawn]
    assert done == sorted(done) and done[-1] == 100 and drawn[-1][1] == 100
    assert {30, 60, 90} <= set(done)  # moved with each report, not only at the end
    assert any(d[5] != "?" for d in drawn if d[2] < 100)  # a remaining time while it ran
    assert drawn[-1][4] >= "00:04"  # elapsed counted the run
    assert (tmp_path / "t.txt").read_text().startswith("words to 30 s")


def test_the_bar_ticks_between_reports(tmp_path):
    """The engine reports once per batch of windows: between reports elapsed still counts up
    and remaining counts down (not up, as if the run had slowed)."""
    talk = wav(tmp_path / "talk.wav", 60)  # reports at 30 s and 60 s of audio, 3.5 s apart
    status, shown = run_on_pty(
        fake("transcribe", str(talk), "-o", str(tmp_path / "t.txt")), env={"FAKE_DELAY": "3.5"}
    )
    assert status == 0, shown
    drawn = bars(shown)
    at_zero = {d[4] for d in drawn if d[2] == 0}
    assert len(at_zero) >= 3, shown  # 00:00, 00:01, 00:02, ... while nothing was reported
    left = [d[5] for d in drawn if d[2] == 30]
    assert left[0] >= "00:02" and left == sorted(left, reverse=True), left
    assert len(set(left)) >= 2, left  # it counted down


def test_text_on_the_same_terminal_is_printed_above_the_bar(tmp_path):
    talk = wav(tmp_path / "talk.wav", 70)
    status, shown = run_on_pty(fake("transcribe", str(talk)), env={"FAKE_DELAY": "0.3"})
    assert status == 0, shown
    lines = [line.strip() for line in re.split(r"[\r\n]+", shown)]
    text = [line for line in lines if line.startswith("words to")]
    assert text == ["words to 30 s", "words to 60 s", "words to 70 s"]  # whole lines, in order
    assert bars(shown)[-1][1] == 100


def test_several_short_files_share_one_bar(tmp_path):
    a, b = wav(tmp_path / "a.wav", 5), wav(tmp_path / "b.wav", 10)
    status, shown = run_on_pty(fake("transcribe", str(a), str(b), "-o", str(tmp_path / "out")))
    assert status == 0, shown
    drawn = bars(shown)
    assert {d[3] for d in drawn} == {15}
    assert {d[0] for d in drawn} >= {"a.wav", "b.wav"} and "[2/2] b.wav" in shown
    assert drawn[-1][2] == 15


def test_no_bar_for_a_short_file_or_with_no_progress(tmp_path):
    short = wav(tmp_path / "short.wav", 10)
    status, shown = run_on_pty(fake("transcribe", str(short)))
    assert status == 0 and bars(shown) == [] and "words to 10 s" in shown
    long = wav(tmp_path / "long.wav", 40)
    status, shown = run_on_pty(fake("transcribe", str(long), "--no-progress"))
    assert status == 0 and bars(shown) == [] and "words to 30 s words to 40 s" in shown


def test_no_bar_when_stderr_is_not_a_terminal_unless_asked(tmp_path):
    long = wav(tmp_path / "long.wav", 40)
    quiet = run_fake("transcribe", str(long))
    assert quiet.returncode == 0 and quiet.stderr == ""
    assert quiet.stdout == "words to 30 s words to 40 s\n"  # one line per file, as before
    asked = run_fake("transcribe", str(long), "--progress")
    assert asked.returncode == 0 and bars(asked.stderr)[-1][1:4] == (100, 40, 40)


@pytest.mark.slow
def test_real_model_on_a_terminal_shows_the_bar(tmp_path, fixtures_dir, tiny_en_dir, references):
    """As the report: a ~2-minute file, the real tiny.en, a terminal; the model comes from the
    app's settings (no --model) and the CLI says so."""
    from tests.joined_speech import joined

    talk = joined(fixtures_dir, "sonnet-and-clips")  # 127 s of real speech with pauses
    sf.write(tmp_path / "talk.wav", talk.audio, SR)
    settings = tmp_path / "settings"
    settings.mkdir()
    (settings / "settings.json").write_text(f'{{"model": "{tiny_en_dir}"}}')

    status, shown = run_on_pty(
        [sys.executable, "-m", "dictate", "transcribe", str(tmp_path / "talk.wav")],
        env={"DICTATE_CONFIG_DIR": str(settings)},
        size=(40, 120),
        timeout=900,
    )

    assert status == 0, shown[-3000:]
    assert "Traceback" not in shown
    assert "the model chosen in dictate's settings" in shown
    drawn = bars(shown)
    assert drawn and {d[3] for d in drawn} == {127}, shown[-3000:]
    assert drawn[-1][1] == 100 and drawn[-1][4] != "00:00"
    assert any(0 < d[2] < 127 and d[5] != "?" for d in drawn)  # part way, with time left
    words = " ".join(re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown).split())
    assert "when forty winters shall besiege thy brow" in words.lower()
