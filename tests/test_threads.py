"""torch's thread count with the speech gate's tail check, silero's import and the app's own
setting racing: the count Whisper runs with must come back every time.

On the Linux wheels (OpenMP) torch keeps the count per thread, and `set_num_threads` also sets
the seed a thread takes at its first torch call; a fresh thread shows that seed. The checks
below read the count inside each section, on the thread that set the app's count, and from a
fresh thread once everything has ended."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch

from dictate import threads
from dictate.audio import gate
from dictate.audio.capture import Recorder
from dictate.engine import device


@pytest.fixture(autouse=True)
def _restore_torch_threads() -> Iterator[None]:
    before = torch.get_num_threads()
    saved = (threads._base, threads._single)
    yield
    threads._base, threads._single = saved
    torch.set_num_threads(before)


def _fresh_count() -> int:
    """The count a thread started now runs with (torch's seed for new threads)."""
    seen: list[int] = []
    t = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
    t.start()
    t.join(10)
    return seen[0]


class QuickGate:
    """Speech regions at once: the tail check's cost is not the point here."""

    def regions(self, window: np.ndarray) -> list:
        return []


def test_racing_single_thread_sections_give_the_count_back() -> None:
    """The capture thread's tail check and the speech gate's import each want one thread (or
    undo silero's setting); interleaved, the count the app set must be the one in force after."""
    wanted = max(2, torch.get_num_threads()) + 1
    device.configure_cpu_threads()  # the app's setting, as the engine makes it
    threads.set_threads(wanted)
    recorder = Recorder(gate=QuickGate())  # type: ignore[arg-type]
    window = np.zeros(1600, np.float32)
    stop = threading.Event()

    def tail_checks() -> None:
        while not stop.is_set():
            recorder._speaking(window)

    def gate_imports() -> None:
        while not stop.is_set():
            gate._import_silero()

    workers = [threading.Thread(target=f) for f in (tail_checks, tail_checks, gate_imports)]
    try:
        for w in workers:
            w.start()
        stop.wait(1.5)
    finally:
        stop.set()
        for w in workers:
            w.join(10)
    assert torch.get_num_threads() == wanted
    assert _fresh_count() == wanted


def test_the_setting_made_during_a_section_applies_when_it_ends() -> None:
    with threads.one_thread():
        assert torch.get_num_threads() == 1
        threads.set_threads(3)
        assert torch.get_num_threads() == 1  # the gate still runs on one
    assert torch.get_num_threads() == 3


class SaveSetRestore:
    """The code before dictate.threads: each place saved, set and restored the count itself
    (the tail check, silero's import, the engine's configure_cpu_threads)."""

    @staticmethod
    @contextmanager
    def one_thread() -> Iterator[None]:
        saved = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(saved)

    @staticmethod
    @contextmanager
    def kept() -> Iterator[None]:
        saved = torch.get_num_threads()
        try:
            yield
        finally:
            torch.set_num_threads(saved)

    @staticmethod
    def set_threads(n: int) -> None:
        torch.set_num_threads(n)


def _hammer(owner: Any, wanted: int, seconds: float, seed: int) -> list[str]:
    """Tail checks on long-lived and fresh threads, silero's import on a loader thread and an
    engine worker that sets the app's count and runs with it, all at once; the problems seen."""
    rng = random.Random(seed)
    problems: list[str] = []
    stop = threading.Event()
    one_at_a_time = threading.Lock()
    owner.set_threads(wanted)

    def section(where: str) -> None:
        with owner.one_thread():
            if (n := torch.get_num_threads()) != 1:
                problems.append(f"{where}: {n} threads in a single-thread section")
            time.sleep(rng.random() * 0.0005)

    def tail_checks(delay: float) -> None:
        time.sleep(delay)  # torch's first call on this thread: maybe while a section runs
        torch.get_num_threads()
        while not stop.is_set():
            section("tail check")
            time.sleep(rng.random() * 0.0005)
        with one_at_a_time:  # the last dictation's tail check, nothing else running
            section("last tail check")
            if (n := _fresh_count()) != wanted:
                problems.append(f"after a lone tail check a new thread runs on {n}, not {wanted}")

    def warm_ups() -> None:  # the recorder's gate warm-up: a fresh thread per stream
        while not stop.is_set():
            t = threading.Thread(target=section, args=("warm-up",))
            t.start()
            t.join(10)

    def silero_imports() -> None:
        while not stop.is_set():
            with owner.kept():
                torch.set_num_threads(1)  # what silero_vad's import does
            time.sleep(rng.random() * 0.001)
        with one_at_a_time:
            with owner.kept():
                torch.set_num_threads(1)
            if (n := _fresh_count()) != wanted:
                problems.append(f"after a lone import a new thread runs on {n}, not {wanted}")

    def engine_worker() -> None:
        time.sleep(0.05)
        torch.get_num_threads()  # its first torch call, while the gate runs elsewhere
        owner.set_threads(wanted)  # configure_cpu_threads at the model's load
        while not stop.is_set():
            if (n := torch.get_num_threads()) != wanted:
                problems.append(f"engine worker: Whisper on {n} threads, not {wanted}")
                return
            time.sleep(0.001)

    workers = [threading.Thread(target=tail_checks, args=(d,)) for d in (0.0, 0.03, 0.07)]
    workers += [threading.Thread(target=f) for f in (warm_ups, silero_imports, engine_worker)]
    for w in workers:
        w.start()
    stop.wait(seconds)
    stop.set()
    for w in workers:
        w.join(10)
    if (n := _fresh_count()) != wanted:
        problems.append(f"a thread started after it all runs on {n} threads, not {wanted}")
    return sorted(set(problems))


@pytest.mark.parametrize("seed", range(3))
def test_many_threads_in_single_thread_sections_keep_the_apps_count(seed: int) -> None:
    wanted = max(2, torch.get_num_threads()) + 1
    assert _hammer(threads, wanted, 1.0, seed) == []


def test_the_hammer_catches_the_old_save_set_restore() -> None:
    """The stress above fails on the code it replaced: a thread started while another ran on
    one thread saved that 1 and restored it as the count every later thread starts with (and
    each such thread does again in every later tail check or import)."""
    wanted = max(2, torch.get_num_threads()) + 1
    problems = _hammer(SaveSetRestore, wanted, 1.0, 0)
    assert any("new thread runs on 1" in p for p in problems), problems


def test_a_section_entered_second_runs_on_one_thread_too() -> None:
    """Two threads in sections at once: where the count is per thread, the second one's own
    count must be set too (a counter that set 1 only for the first left it on every core)."""
    torch.get_num_threads()
    threads.set_threads(3)
    inside = threading.Barrier(2)
    seen: list[int] = []

    def tail_check() -> None:
        torch.set_num_threads(3)  # this thread's own count, as the app set it
        with threads.one_thread():
            inside.wait(10)
            seen.append(torch.get_num_threads())
            inside.wait(10)

    pair = [threading.Thread(target=tail_check) for _ in range(2)]
    for t in pair:
        t.start()
    for t in pair:
        t.join(10)
    assert seen == [1, 1]
    assert _fresh_count() == 3


def test_a_thread_that_started_during_a_section_does_not_restore_its_one() -> None:
    """A thread whose first torch call came while a section ran starts on one thread; when it
    is later the first into a section, the count put back is the app's, not that 1."""
    threads.set_threads(3)
    in_section, started = threading.Event(), threading.Event()
    first: list[int] = []

    def gate_thread() -> None:
        with threads.one_thread():
            in_section.set()
            started.wait(10)

    def late_thread() -> None:
        in_section.wait(10)
        first.append(torch.get_num_threads())  # its first torch call: the seed is 1 now
        started.set()
        g.join(10)  # that section is over: this one is the first in
        with threads.one_thread():
            pass

    g = threading.Thread(target=gate_thread)
    late = threading.Thread(target=late_thread)
    g.start()
    late.start()
    late.join(10)
    assert first == [1]  # the premise: torch seeds new threads with the last count set
    assert _fresh_count() == 3


@pytest.mark.parametrize("app_count_set", [False, True])
def test_an_engine_worker_setting_the_count_during_a_section_runs_with_it(
    app_count_set: bool,
) -> None:
    """configure_cpu_threads on the loader while the tail check runs: where the count is per
    thread, the loader's own count is the app's at once (the gate keeps its one). With the
    app's count already set (as in the app), the section's thread makes no torch call before
    it sets 1, and torch seeds a thread at its first count read from the count last set
    anywhere: unless the section seeds first, the gate ran on the loader's 3 (seen in the full
    test run, where an earlier test had set the app's count)."""
    if not threads._is_per_thread(torch):
        pytest.skip("torch's count is process-wide here: the setting waits for the section")
    if app_count_set:
        threads.set_threads(torch.get_num_threads())
    in_section, done = threading.Event(), threading.Event()
    seen: list[int] = []

    def gate_thread() -> None:
        with threads.one_thread():
            in_section.set()
            done.wait(10)
            seen.append(torch.get_num_threads())

    def loader() -> None:
        in_section.wait(10)
        torch.get_num_threads()
        threads.set_threads(3)
        seen.append(torch.get_num_threads())
        done.set()

    workers = [threading.Thread(target=f) for f in (gate_thread, loader)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(10)
    assert seen == [3, 1]
    assert _fresh_count() == 3


def test_loading_silero_inside_a_section_keeps_that_section_on_one() -> None:
    threads.set_threads(3)
    with threads.one_thread():
        with threads.kept():
            torch.set_num_threads(4)  # silero's import, done differently
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 3


def _on_a_thread_seeded_with_one(run: Any) -> list[int]:
    """`run()` on a thread whose first torch call came while another thread's section ran (so
    torch started it on one thread), once that section has ended; the count `run` saw."""
    if not threads._is_per_thread(torch):
        pytest.skip("torch's count is process-wide here: no thread has a count of its own")
    threads.set_threads(3)
    in_section, seeded = threading.Event(), threading.Event()
    first: list[int] = []
    seen: list[int] = []

    def gate_thread() -> None:
        with threads.one_thread():
            in_section.set()
            seeded.wait(10)

    def worker() -> None:
        in_section.wait(10)
        first.append(torch.get_num_threads())
        seeded.set()
        g.join(10)
        seen.append(run())

    g = threading.Thread(target=gate_thread)
    w = threading.Thread(target=worker)
    g.start()
    w.start()
    w.join(30)
    assert first == [1]  # the premise
    return seen


def test_adopt_puts_a_thread_seeded_with_one_on_the_apps_count() -> None:
    def run() -> int:
        threads.adopt()
        return torch.get_num_threads()

    assert _on_a_thread_seeded_with_one(run) == [3]


def test_a_dictation_decodes_on_the_apps_count() -> None:
    """The session's worker thread may have met torch first during a tail check elsewhere."""
    from dictate.app import transcriber

    counts: list[int] = []

    class Engine:
        loaded = True

        def transcribe(self, audio: np.ndarray, options: object) -> str:
            counts.append(torch.get_num_threads())
            return "text"

    engine = Engine()
    holder = SimpleNamespace(get=lambda: engine, engine=engine)
    transcribe = transcriber(holder, lambda: None)  # type: ignore[arg-type]
    assert _on_a_thread_seeded_with_one(lambda: transcribe(np.zeros(16))) == ["text"]
    assert counts == [3]


def test_a_file_decodes_on_the_apps_count(tmp_path) -> None:
    """The file queue's worker thread, likewise (its first torch call here is while the model
    is fetched, during another thread's section)."""
    import soundfile as sf

    from dictate.engine.options import TranscribeOptions
    from dictate.files.queue import FileQueue

    if not threads._is_per_thread(torch):
        pytest.skip("torch's count is process-wide here: no thread has a count of its own")
    threads.set_threads(3)
    path = tmp_path / "a.wav"
    sf.write(path, np.zeros(16000, np.float32), 16000)
    in_section, seeded = threading.Event(), threading.Event()
    first: list[int] = []
    counts: list[int] = []

    class Engine:
        loaded = True
        info = SimpleNamespace(model="m", device="cpu")

        def transcribe_long(self, blocks: object, options: object, **kw: object) -> Iterator:
            counts.append(torch.get_num_threads())
            yield from ()

    def gate_thread() -> None:
        with threads.one_thread():
            in_section.set()
            seeded.wait(10)

    def get_engine() -> Engine:  # on the queue's worker thread
        in_section.wait(10)
        first.append(torch.get_num_threads())
        seeded.set()
        g.join(10)
        return Engine()

    g = threading.Thread(target=gate_thread)
    g.start()
    queue = FileQueue(get_engine, TranscribeOptions)  # type: ignore[arg-type]
    try:
        job = queue.add(path)
        until = time.monotonic() + 30
        while not job.finished and time.monotonic() < until:
            time.sleep(0.01)
    finally:
        queue.shutdown(timeout=30)
    assert first == [1]  # the premise
    assert job.status == "done" and counts == [3]
