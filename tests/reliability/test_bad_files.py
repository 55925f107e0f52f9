"""Bad files get clear errors (issue 6, point 3), through the command line and the file queue.

The whole corpus (tests/reliability/corpus.py) goes to one `dictate transcribe` batch, as a user
would give it: each bad file must cost exactly one line on stderr, every other file a correct
transcript, nothing may hang, print a traceback or hold the 2-hour file in memory.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO, wer
from tests.reliability.corpus import Case, build

pytestmark = pytest.mark.slow

MIN_CASES = 39  # the README's reliability section quotes the corpus size
FFMPEG_CASES = {"M4A cut short", "video without audio"}  # built only where ffmpeg is installed
BATCH_TIMEOUT_S = 900  # a hang, not a slow machine: the batch takes about a minute alone
MAX_WER = 0.35  # tiny.en on resampled, remixed and repaired copies of one clip
# Peak RSS over a run of one short file (README: 2 MB). Two hours decoded at once would be
# 460 MB of float32. 40 MB held until the file path gained the words' times (issue 23: the
# alignment heads' attention over the batch's other, spoken files): 60 MB measured on
# 2026-12-07, not found where exactly in the time there was; 80 MB still tells streaming
# (about 17 minutes of float32) from decoding the two hours at once.
MAX_EXTRA_RSS_MB = 80


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str
    peak_rss_mb: float
    seconds: float


def shown(path: Path) -> str:
    """A path as dictate's messages show it (control characters escaped)."""
    text = str(path)
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)


def _without_file_permission_override() -> list[str]:
    """Root reads mode-000 files; drop that capability (setpriv) so the unreadable case is real."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    return [setpriv, "--bounding-set", "-dac_override,-dac_read_search"] if setpriv else []


def run_transcribe(files: list[Path], model: Path, timeout: float = BATCH_TIMEOUT_S) -> Run:
    """`dictate transcribe FILES` as its own process; its peak RSS from the kernel (wait4)."""
    cmd = [*_without_file_permission_override(), sys.executable, "-m", "dictate", "transcribe"]
    cmd += [*map(str, files), "--model", str(model), "--device", "cpu", "--no-progress"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=REPO)
    out: dict[str, bytes] = {}
    readers = [
        threading.Thread(target=lambda k=k, s=s: out.__setitem__(k, s.read()))
        for k, s in (("stdout", proc.stdout), ("stderr", proc.stderr))
    ]
    for reader in readers:
        reader.start()
    timer = threading.Timer(timeout, lambda: os.kill(proc.pid, signal.SIGKILL))
    timer.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait
    for reader in readers:
        reader.join()
    assert proc.returncode != -signal.SIGKILL, f"hung: killed after {timeout} s"
    return Run(
        proc.returncode,
        out["stdout"].decode("utf-8", "replace"),
        out["stderr"].decode("utf-8", "replace"),
        usage.ru_maxrss / 1024,  # KiB on Linux
        time.monotonic() - start,
    )


def _transcript_ok(reference: str, text: str) -> bool:
    """Empty for silence; close to the reference for speech."""
    if not reference:
        return text == ""
    return wer(reference, text) <= MAX_WER


@pytest.fixture(scope="module")
def corpus(
    tmp_path_factory: pytest.TempPathFactory,
    speech: dict[str, np.ndarray],
    references: dict[str, str],
) -> Iterator[list[Case]]:
    folder = tmp_path_factory.mktemp("bad-inputs")
    cases = build(folder, speech, references)
    if not _without_file_permission_override() and os.geteuid() == 0:
        cases = [c for c in cases if c.label != "an unreadable file"]  # root without setpriv
    yield cases
    for case in cases:  # let pytest clean up
        if case.path.exists() and not case.path.is_symlink():
            case.path.chmod(0o755 if case.path.is_dir() else 0o644)


@pytest.fixture(scope="module")
def batch(corpus: list[Case], tiny_en_dir: Path) -> Run:
    return run_transcribe([c.path for c in corpus], tiny_en_dir)


def test_the_corpus_is_large_and_varied(corpus: list[Case]) -> None:
    missing = 0 if shutil.which("ffmpeg") else len(FFMPEG_CASES)  # said by the test below
    assert len(corpus) >= MIN_CASES - missing, [c.label for c in corpus]
    assert sum(c.error is not None for c in corpus) >= 20
    assert sum(c.reference is not None for c in corpus) >= 8


def test_the_containers_only_ffmpeg_reads_are_in_the_corpus(corpus: list[Case]) -> None:
    if shutil.which("ffmpeg") is None:
        pytest.skip(
            f"ffmpeg missing: the corpus lacks {sorted(FFMPEG_CASES)} "
            "(apt install ffmpeg; tests/setup.sh does)"
        )
    assert {c.label for c in corpus} >= FFMPEG_CASES


def test_one_batch_one_line_per_bad_file_and_the_rest_transcribed(
    corpus: list[Case], batch: Run
) -> None:
    assert "Traceback" not in batch.stderr, batch.stderr
    assert batch.returncode == 1, batch.stderr  # some files failed

    lines = batch.stderr.splitlines()
    notes = [ln for ln in lines if ln.startswith("dictate: note:")]
    errors = [ln for ln in lines if ln not in notes]
    outputs = batch.stdout.splitlines()
    assert len(outputs) == len(corpus), batch.stdout  # one line per input, in order
    problems = []
    for case, output in zip(corpus, outputs):
        prefix = f"dictate: {shown(case.path)}: "
        mine = [ln for ln in errors if ln.startswith(prefix)]
        if case.error is not None:
            if len(mine) != 1 or case.error not in mine[0] or output:
                problems.append(f"{case.label}: expected one error with {case.error!r}: {mine}")
        elif case.reference is not None:
            if mine:
                problems.append(f"{case.label}: unexpected error {mine}")
            elif not _transcript_ok(case.reference, output):
                problems.append(f"{case.label}: {output!r}")
        elif len(mine) > 1 or (mine and output):  # either: one error, or a partial transcript
            problems.append(f"{case.label}: {mine} {output!r}")
    stray = [
        ln for ln in errors if not any(ln.startswith(f"dictate: {shown(c.path)}: ") for c in corpus)
    ]
    assert problems == [], "\n".join(problems)
    assert stray == [], "stderr lines that belong to no file:\n" + "\n".join(stray)


def test_two_hours_of_silence_are_streamed_in_bounded_memory(
    corpus: list[Case], batch: Run, tiny_en_dir: Path, record_property
) -> None:
    long = next(c for c in corpus if c.label == "2 h of silence")
    short = next(c for c in corpus if c.label == "good FLAC")
    baseline = run_transcribe([short.path], tiny_en_dir)
    assert baseline.returncode == 0, baseline.stderr
    record_property("batch_seconds", round(batch.seconds, 1))
    record_property("batch_peak_rss_mb", round(batch.peak_rss_mb))
    record_property("baseline_peak_rss_mb", round(baseline.peak_rss_mb))
    extra = batch.peak_rss_mb - baseline.peak_rss_mb
    print(
        f"batch of {len(corpus)} inputs: {batch.seconds:.0f} s, peak RSS "
        f"{batch.peak_rss_mb:.0f} MB; one short file: {baseline.peak_rss_mb:.0f} MB"
    )
    assert extra < MAX_EXTRA_RSS_MB, (
        f"the batch with {long.path.name} peaked at {batch.peak_rss_mb:.0f} MB, "
        f"{extra:.0f} MB over one short file"
    )


def test_the_file_queue_fails_each_bad_file_with_one_line_and_finishes_the_rest(
    corpus: list[Case], tiny_engine
) -> None:
    """The same corpus dropped on the file window: its FileQueue, in this process."""
    from dictate.engine.options import TranscribeOptions
    from dictate.files.queue import DONE, FAILED, FileQueue

    skip = {"2 h of silence"}  # streamed by the same code as above; its memory is checked there
    if os.geteuid() == 0:
        skip.add("an unreadable file")  # root reads it, and this process cannot drop that
    cases = [c for c in corpus if c.label not in skip]
    queue = FileQueue(lambda: tiny_engine, TranscribeOptions)
    try:
        jobs = [queue.add(case.path) for case in cases]
        deadline = time.monotonic() + BATCH_TIMEOUT_S
        while not all(job.finished for job in jobs):
            assert time.monotonic() < deadline, [j.path.name for j in jobs if not j.finished]
            time.sleep(0.05)
    finally:
        queue.shutdown()

    problems = []
    for case, job in zip(cases, jobs):
        error = job.error or ""
        if case.error is not None:
            if job.status != FAILED or "\n" in error or case.error not in error:
                problems.append(f"{case.label}: {job.status} {error!r}")
        elif case.reference is not None:
            if job.status != DONE:
                problems.append(f"{case.label}: {job.status} {error!r}")
            elif not _transcript_ok(case.reference, job.text):
                problems.append(f"{case.label}: {job.text!r}")
        elif job.status not in (DONE, FAILED) or "\n" in error:
            problems.append(f"{case.label}: {job.status} {error!r}")
    assert problems == [], "\n".join(problems)


def test_the_mp3_decoders_own_notes_never_reach_stderr(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """libsndfile's mpg123 writes "Note: Illegal Audio-MPEG-Header ..." to fd 2 by itself for a
    damaged MP3; dictate mutes fd 2 around those calls, and must always give it back, even when
    several threads decode at once."""
    import soundfile as sf

    from dictate.audio.decode import load_audio

    t = np.arange(2 * 16000) / 16000
    sf.write(tmp_path / "tone.mp3", 0.3 * np.sin(2 * np.pi * 440 * t), 16000, format="MP3")
    holed = bytearray((tmp_path / "tone.mp3").read_bytes())
    holed[3000:3600] = bytes(600)  # a run of zeros where frames were: mpg123 resyncs, noisily
    (tmp_path / "holed.mp3").write_bytes(bytes(holed))

    results: list[int] = []
    threads = [
        threading.Thread(target=lambda: results.append(len(load_audio(tmp_path / "holed.mp3"))))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    os.write(2, b"stderr still works\n")

    err = capfd.readouterr().err
    assert len(results) == 4 and min(results) > 16000  # the audio around the hole decodes
    assert "Note:" not in err and "MPEG" not in err, err
    assert err == "stderr still works\n"
