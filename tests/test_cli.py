"""The `dictate` command line, run as a real process, as a user would run it."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import REPO, wer

SR = 16000


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 300):
    return subprocess.run(
        [sys.executable, "-m", "dictate", *args],
        capture_output=True,
        text=True,
        env=cli_env(env),
        timeout=timeout,
        cwd=REPO,
    )


# `python -c FAKE transcribe ...`: the real command line with a stand-in engine, for what is
# about files, outputs and progress rather than words. Each 30 s block read gives one segment
# ("words to 30 s") and a progress report, FAKE_DELAY seconds apart.
FAKE = """
import os, sys, time
from dictate.commands import transcribe
from dictate.transcript import Segment

class Info:
    model, device = "fake", "cpu"

class FakeEngine:
    loaded, info = True, Info()

    def transcribe_long(self, blocks, options=None, *, on_progress=None, on_gap=None, **_):
        done = 0.0
        for block in blocks:
            time.sleep(float(os.environ.get("FAKE_DELAY", "0")))
            start, done = done, done + block.size / 16000
            yield Segment(start, done, f"words to {done:.0f} s")
            if on_progress:
                on_progress(done)

transcribe._load_engine = lambda args: FakeEngine()
from dictate.cli import main
sys.exit(main(sys.argv[1:]))
"""


# Without --model the CLI takes the app's settings: the tests see an empty settings folder, not
# the settings of whoever runs them (a test passes DICTATE_CONFIG_DIR to give its own).
NO_SETTINGS = tempfile.mkdtemp(prefix="dictate-test-settings-")


def cli_env(env: dict[str, str] | None = None) -> dict[str, str]:
    return {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": str(REPO),
        "DICTATE_CONFIG_DIR": NO_SETTINGS,
        **(env or {}),
    }


def run_fake(*args: str, env: dict[str, str] | None = None, timeout: float = 60, **kw):
    """The CLI with the stand-in engine (FAKE), as a real process."""
    return subprocess.run(
        [sys.executable, "-c", FAKE, *args],
        capture_output=True,
        text=True,
        env=cli_env(env),
        timeout=timeout,
        cwd=REPO,
        **kw,
    )


def run_on_pty(
    argv: list[str],
    env: dict[str, str] | None = None,
    size: tuple[int, int] | None = None,
    timeout: float = 60,
) -> tuple[int, str]:
    """Run `argv` with stdin, stdout and stderr on a new pseudo-terminal, as in a terminal
    window; (exit status, everything it showed). `size` (rows, columns) sizes the terminal;
    None leaves it as a fresh pty is, 0 x 0 (as `script` run from a pipe or `docker exec -t`)."""
    import fcntl
    import pty
    import select
    import struct
    import termios
    import time

    main, tty = pty.openpty()
    if size is not None:
        fcntl.ioctl(tty, termios.TIOCSWINSZ, struct.pack("HHHH", size[0], size[1], 0, 0))
    proc = subprocess.Popen(argv, stdin=tty, stdout=tty, stderr=tty, env=cli_env(env), cwd=REPO)
    os.close(tty)
    shown = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if select.select([main], [], [], 1.0)[0]:
                try:
                    chunk = os.read(main, 65536)
                except OSError:  # EIO: every copy of the terminal's other end is closed
                    break
                if not chunk:
                    break
                shown += chunk
            elif proc.poll() is not None:
                break
        else:
            proc.kill()
            raise AssertionError(f"still running after {timeout} s: {shown.decode()[-2000:]}")
    finally:
        os.close(main)
    return proc.wait(30), shown.decode("utf-8", "replace")


def assert_clean_error_lines(stderr: str) -> list[str]:
    assert "Traceback" not in stderr, stderr
    lines = stderr.splitlines()
    return [x for x in lines if x.startswith("dictate:") and not x.startswith("dictate: note:")]


def test_help_and_version():
    assert run_cli("--version").stdout.startswith("dictate ")
    out = run_cli("transcribe", "--help").stdout
    for flag in ("--model", "--device", "--language", "--prompt", "--format", "-o"):
        assert flag in out


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory, fixtures_dir) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("bad")
    (d / "empty.wav").write_bytes(b"")
    (d / "notes.wav").write_text("this is not audio\n" * 50)
    flac = (fixtures_dir / "jfk.flac").read_bytes()
    (d / "cut.flac").write_bytes(flac[:100])
    sf.write(d / "clip.wav", np.zeros(SR, np.float32), SR)
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        pytest.skip("ffmpeg is needed to make a real .m4a for this test")
    subprocess.run(
        [ffmpeg, "-v", "error", "-i", str(d / "clip.wav"), str(d / "movie.m4a")], check=True
    )
    return {
        "missing": d / "missing.wav",
        "empty": d / "empty.wav",
        "text": d / "notes.wav",
        "truncated": d / "cut.flac",
        "m4a": d / "movie.m4a",
    }


@pytest.mark.slow
def test_bad_files_get_one_line_each_and_good_ones_still_transcribe(
    bad_files, fixtures_dir, references, session_cache
):
    good = fixtures_dir / "LDC93S1.wav"
    order = [
        bad_files["missing"],
        good,
        bad_files["empty"],
        bad_files["text"],
        bad_files["truncated"],
        bad_files["m4a"],
        fixtures_dir / "jfk.flac",
    ]
    result = run_cli("transcribe", *map(str, order), env={"DICTATE_FFMPEG": ""})
    assert result.returncode == 1
    errors = assert_clean_error_lines(result.stderr)
    assert len(errors) == 5, result.stderr
    expected = {
        "missing": "no such file",
        "empty": "empty",
        "text": "not a recognised audio file",
        "truncated": "damaged",
        "m4a": "needs ffmpeg",
    }
    for key, words in expected.items():
        line = next(e for e in errors if str(bad_files[key]) in e)
        assert words in line, line
    lines = result.stdout.splitlines()
    assert len(lines) == len(order)  # one line per file, in order; empty where it failed
    assert [bool(x) for x in lines] == [False, True, False, False, False, False, True]
    assert wer(references["LDC93S1.wav"], lines[1]) <= 0.25
    assert wer(references["jfk.flac"], lines[6]) <= 0.10


def test_all_bad_files_fail_fast_without_loading_a_model(bad_files):
    result = run_cli(
        "transcribe",
        str(bad_files["missing"]),
        str(bad_files["m4a"]),
        env={"DICTATE_FFMPEG": ""},
        timeout=60,
    )
    assert result.returncode == 1
    assert len(assert_clean_error_lines(result.stderr)) == 2
    assert "needs ffmpeg, which is not installed" in result.stderr


def test_a_folder_without_media_is_a_clear_error(tmp_path):
    (tmp_path / "notes.txt").write_text("not audio")
    result = run_cli("transcribe", str(tmp_path), timeout=60)
    assert result.returncode == 1
    assert assert_clean_error_lines(result.stderr) == [
        f"dictate: {tmp_path}: is a directory with no audio or video files in it"
    ]


@pytest.mark.slow
def test_model_not_available_offline_is_one_clear_line(fixtures_dir, tmp_path):
    result = run_cli(
        "transcribe",
        str(fixtures_dir / "LDC93S1.wav"),
        "--model",
        "distil-large-v3",
        env={"HF_HOME": str(tmp_path / "hf")},
    )
    assert result.returncode == 2
    errors = assert_clean_error_lines(result.stderr)
    assert len(errors) == 1
    assert "distil-whisper/distil-large-v3" in errors[0] and str(tmp_path / "hf") in errors[0]


def test_explicit_cuda_without_cuda_is_refused(fixtures_dir):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    result = run_cli("transcribe", str(fixtures_dir / "LDC93S1.wav"), "--device", "cuda")
    assert result.returncode == 2
    assert "cuda" in assert_clean_error_lines(result.stderr)[0]


@pytest.mark.slow
def test_subtitles_and_json_written_per_input_and_parse(fixtures_dir, tmp_path, session_cache):
    import srt
    import webvtt

    long_file = tmp_path / "talk.wav"
    from dictate.audio.decode import load_audio

    jfk = load_audio(fixtures_dir / "jfk.flac")
    gap = np.zeros(3 * SR, np.float32)
    sf.write(long_file, np.concatenate([jfk, gap] * 5), SR)  # 70 s
    out = tmp_path / "out"
    for fmt in ("srt", "vtt", "json"):
        result = run_cli(
            "transcribe",
            str(long_file),
            str(fixtures_dir / "LDC93S1.wav"),
            "--format",
            fmt,
            "-o",
            str(out),
            "--progress",
        )
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
    assert "100%" in result.stderr  # the progress bar ran to the end
    cues = list(srt.parse((out / "talk.srt").read_text(encoding="utf-8")))
    assert len(cues) >= 5
    assert all(a.start <= b.start for a, b in itertools.pairwise(cues))
    assert cues[-1].end.total_seconds() <= 70.01
    assert sum("fellow americans" in c.content.lower() for c in cues) == 5
    captions = webvtt.read(str(out / "talk.vtt"))
    assert [c.text for c in captions] == [c.content for c in cues]
    doc = json.loads((out / "LDC93S1.json").read_text(encoding="utf-8"))
    assert doc["file"].endswith("LDC93S1.wav") and doc["duration"] == pytest.approx(2.92, 0.01)
    assert "greasy wash water" in doc["text"] and doc["segments"][0]["start"] >= 0


def test_several_subtitle_files_to_stdout_need_a_folder(fixtures_dir):
    f = str(fixtures_dir / "LDC93S1.wav")
    result = run_cli("transcribe", f, f, "--format", "srt", timeout=60)
    assert result.returncode == 2 and "-o FOLDER" in result.stderr


def test_models_lists_the_catalog_and_what_is_here(tmp_path):
    result = run_cli("models", env={"HF_HOME": str(tmp_path / "hf")}, timeout=60)
    assert result.returncode == 0, result.stderr
    for name in ("distil-small.en", "distil-large-v3.5", "large-v3-turbo", "tiny.en"):
        assert name in result.stdout
    tiny = next(line for line in result.stdout.splitlines() if line.startswith("tiny.en"))
    assert "embedded" in tiny
    assert str(tmp_path / "hf") in result.stdout
