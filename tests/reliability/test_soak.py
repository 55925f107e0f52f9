"""Soak (issue 6, point 5): 300 dictations through the real engine, speech gate, history and
state machine, a third of them cancelled while recording or while being transcribed. No state
may stick, and memory, threads and open files must level off after the first 20."""

from __future__ import annotations

import contextlib
import os
import random
import threading
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from dictate.dictation.history import History
from dictate.engine.options import TranscribeOptions
from tests.conftest import wer
from tests.reliability.clips import no_speech_clips
from tests.reliability.pipeline import Pipeline

pytestmark = pytest.mark.slow

CYCLES = 300  # the README's reliability section quotes these figures
WARMUP = 20
MAX_RSS_GROWTH = 0.05


def rss_bytes() -> int:
    """This process's resident set, as the kernel counts it."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def open_files() -> list[str]:
    folder = "/proc/self/fd"
    targets = []
    for fd in os.listdir(folder):
        with contextlib.suppress(OSError):  # the fd listdir itself used, closed by now
            targets.append(os.readlink(f"{folder}/{fd}"))
    return sorted(targets)


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads /proc (Linux)")
def test_300_dictations_with_random_cancels(
    tmp_path: Path, tiny_engine, speech: dict[str, np.ndarray], references: dict[str, str]
) -> None:
    rng = random.Random(int(os.environ.get("DICTATE_SOAK_SEED", "6")))
    noise = no_speech_clips(40, seed=60)
    said, reference = speech["LDC93S1.wav"], references["LDC93S1.wav"]
    options = TranscribeOptions()
    threads_before = {t.ident for t in threading.enumerate()}

    outcomes: Counter[str] = Counter()
    with History(tmp_path / "data") as history:
        pipeline = Pipeline(history, lambda audio: tiny_engine.transcribe(audio, options))
        for cycle in range(CYCLES):
            if cycle == WARMUP:
                rss, files = rss_bytes(), open_files()
            speaking = rng.random() < 0.4
            clip = said if speaking else rng.choice(noise).audio
            roll = rng.random()
            cancel = "recording" if roll < 0.15 else "transcribing" if roll < 0.3 else None
            typed_before = len(pipeline.window.texts)
            dictation = pipeline.dictate(clip, cancel=cancel)
            assert dictation is not None, pipeline.events[-3:]
            status = pipeline.wait_done(dictation, timeout=120)  # never stuck
            outcomes[f"{'speech' if speaking else 'noise'} {cancel or 'kept'}: {status}"] += 1
            new = pipeline.window.texts[typed_before:]
            if status == "cancelled":
                assert new == [], (cycle, new)  # a cancelled dictation types nothing
            elif speaking:
                assert status == "inserted" and wer(reference, new[0]) <= 0.25, (cycle, new)
            else:
                assert status == "no_speech" and new == [], (cycle, new)
        pipeline.session.shutdown()
        growth = rss_bytes() / rss - 1
        leaked_files = sorted((Counter(open_files()) - Counter(files)).elements())
        # The session's worker has ended too: every thread the run started is gone.
        leaked_threads = {t.name for t in threading.enumerate() if t.ident not in threads_before}
        assert len(history.recent(CYCLES + 1)) == CYCLES

    summary = "\n".join(f"{n:4d} {k}" for k, n in sorted(outcomes.items()))
    print(f"RSS growth after cycle {WARMUP}: {growth:+.1%}\n{summary}")
    assert leaked_files == [], leaked_files
    assert leaked_threads == set(), leaked_threads
    assert growth < MAX_RSS_GROWTH, f"RSS grew {growth:.1%}\n{summary}"
    # Each branch ran: speech and noise, kept and cancelled at both points.
    assert outcomes["speech kept: inserted"] and outcomes["noise kept: no_speech"], summary
    assert sum(n for k, n in outcomes.items() if k.endswith("cancelled")) >= 40, summary
