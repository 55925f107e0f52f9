"""Inference on the cores other programs leave free (issue 24: torch's threads wait on each
other when the scheduler parks one behind a busy program)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import namedtuple
from types import SimpleNamespace

import pytest
import torch

from dictate import threads
from dictate.engine import load
from dictate.engine.load import BusyMeter
from tests.conftest import load_clip
from tests.test_threads import _restore_torch_threads  # noqa: F401 (autouse fixture)

Times = namedtuple("Times", "user nice system idle iowait irq softirq steal guest guest_nice")


@pytest.mark.parametrize(
    ("others", "base", "cores", "expected"),
    [
        (None, 2, 2, 2),  # unknown: the app's count
        (0.0, 2, 2, 2),
        (0.4, 2, 2, 2),  # a little background work
        (1.0, 2, 2, 1),  # one busy program on two cores
        (2.3, 2, 2, 1),  # never fewer than one
        (3.0, 8, 8, 5),
        (0.0, 1, 4, 1),  # never more than the app's count
    ],
)
def test_the_count_is_the_cores_left_free(others, base, cores, expected) -> None:
    assert threads.fitting(others, base, cores) == expected


class FakePsutil:
    """Two CPUs' and this process's CPU times, advanced by the test."""

    def __init__(self) -> None:
        self.cpus = [[0.0] * 10, [0.0] * 10]
        self.own = 0.0

    def cpu_times(self, percpu: bool = False) -> list[Times]:
        assert percpu
        return [Times(*c) for c in self.cpus]

    def Process(self) -> SimpleNamespace:
        return SimpleNamespace(cpu_times=lambda: SimpleNamespace(user=self.own, system=0.0))


def test_the_meter_counts_other_programs_and_leaves_this_one_out(monkeypatch) -> None:
    monkeypatch.setattr(load, "_cores", lambda: [0, 1])
    ps, now = FakePsutil(), [0.0]
    meter = BusyMeter(psutil=ps, clock=lambda: now[0])
    meter.sample()
    assert meter.others() is None  # one reading says nothing yet
    # One second: CPU 0 fully busy in user time (0.7 s of it ours), CPU 1 half in system,
    # guest time (already inside user) and idle/iowait not counted again.
    now[0] = 1.0
    ps.cpus[0][0] = 1.0
    ps.cpus[0][8] = 0.5  # guest
    ps.cpus[1][2], ps.cpus[1][3], ps.cpus[1][4] = 0.5, 0.3, 0.2
    ps.own = 0.7
    meter.sample()
    assert meter.others() == pytest.approx(1.0 + 0.5 - 0.7)


def test_the_meter_reads_only_the_cores_this_process_may_use(monkeypatch) -> None:
    monkeypatch.setattr(load, "_cores", lambda: [1])
    ps, now = FakePsutil(), [0.0]
    meter = BusyMeter(psutil=ps, clock=lambda: now[0])
    meter.sample()
    now[0] = 1.0
    ps.cpus[0][0] = 1.0  # another process's core
    meter.sample()
    assert meter.others() == 0.0


def test_without_cpu_times_nothing_is_known() -> None:
    broken = SimpleNamespace(Process=lambda: None, cpu_times=lambda percpu: 1 / 0)
    meter = BusyMeter(psutil=broken)
    meter.sample()
    meter.sample()
    assert meter.others() is None


def test_on_this_machine_a_busy_program_is_seen_and_our_own_work_is_not() -> None:
    """Measured against what the machine does anyway (a test run beside this one, a leftover
    of an earlier test): a spinner adds most of a core, this process's own loop adds none."""
    meter = BusyMeter()

    def over(seconds: float, work=None) -> float:
        meter.sample()
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if work is None:
                time.sleep(0.05)
            else:
                work()
        meter.sample()
        found = meter.others()
        assert found is not None
        return found

    before = over(1.0)
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)  # started
        busy = over(1.0)
    finally:
        spinner.kill()
        spinner.wait(5)
    assert busy - before >= 0.5, (before, busy)
    time.sleep(0.3)
    quiet = over(1.0)
    own = over(1.0, work=lambda: sum(range(1000)))  # this process busy on one core
    assert own - min(before, quiet) < 0.5, (before, quiet, own)


def test_a_fitted_section_runs_on_the_free_cores_and_gives_the_count_back() -> None:
    threads.set_threads(2)
    with threads.fitted(1.0) as n:
        assert n == torch.get_num_threads() == 1 or threads.usable_cores() < 2
    assert torch.get_num_threads() == 2
    with threads.fitted(None) as n:
        assert n == torch.get_num_threads() == 2
    with threads.one_thread(), threads.fitted(0.0) as n:  # the gate's section stays on one
        assert n == torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2


@pytest.mark.slow
def test_an_inference_on_a_busy_machine_runs_on_the_cores_left_free(
    random_model_dir, fixtures_dir, monkeypatch
) -> None:
    from dictate.engine.options import TranscribeOptions
    from dictate.engine.transcriber import Engine

    if threads.usable_cores() < 2:
        pytest.skip("one core: nothing to leave free")
    monkeypatch.delenv("DICTATE_THREADS", raising=False)
    engine = Engine(str(random_model_dir), device="cpu")
    engine.load()
    base = torch.get_num_threads()
    busy = SimpleNamespace(value=float(base))
    monkeypatch.setattr(load, "meter", lambda: SimpleNamespace(others=lambda: busy.value))
    audio = load_clip(fixtures_dir / "jfk.flac")  # speech: the gate lets it through
    engine.transcribe(audio, TranscribeOptions())
    assert engine.last_threads == 1
    assert torch.get_num_threads() == base  # and back after
    busy.value = 0.0
    engine.transcribe(audio, TranscribeOptions())
    assert engine.last_threads == base
    monkeypatch.setenv("DICTATE_THREADS", str(base))  # a count the person chose is kept
    busy.value = float(base)
    engine.transcribe(audio, TranscribeOptions())
    assert engine.last_threads == base


def test_a_thread_seeded_with_one_runs_an_idle_inference_on_the_apps_count() -> None:
    """A thread that met torch first while another ran on one thread starts on one (OpenMP);
    on an idle machine its inference still gets every core the app uses."""
    import threading

    if not threads._is_per_thread(torch):
        pytest.skip("torch's count is process-wide here")
    threads.set_threads(2)
    seen: list[int] = []

    def run() -> None:
        torch.set_num_threads(1)  # as a thread seeded with a single-thread section's 1
        with threads.fitted(0.0) as n:
            seen.append(n)
            seen.append(torch.get_num_threads())

    t = threading.Thread(target=run)
    t.start()
    t.join(10)
    assert seen == [2, 2]
