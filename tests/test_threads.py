"""torch's thread count (process-wide) with the speech gate's tail check, silero's import and
the app's own setting racing: the count Whisper runs with must come back every time."""

from __future__ import annotations

import threading

import numpy as np
import torch

from dictate.audio import gate
from dictate.audio.capture import Recorder
from dictate.engine import device


class QuickGate:
    """Speech regions at once: the tail check's cost is not the point here."""

    def regions(self, window: np.ndarray) -> list:
        return []


def test_racing_single_thread_sections_give_the_count_back() -> None:
    """The capture thread's tail check and the speech gate's import each want one thread (or
    undo silero's setting); interleaved, the count the app set must be the one in force after.
    (torch keeps the count partly per OpenMP thread, so the old save/set/restore pairs did not
    visibly break this on torch 2.13; the test guards the one owner that replaced them.)"""
    before = torch.get_num_threads()
    wanted = max(2, before)
    device.configure_cpu_threads()  # the app's setting, as the engine makes it
    torch.set_num_threads(wanted)
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
    after = torch.get_num_threads()
    torch.set_num_threads(before)
    assert after == wanted


def test_the_setting_made_during_a_section_applies_when_it_ends() -> None:
    from dictate import threads

    before = torch.get_num_threads()
    try:
        with threads.one_thread():
            assert torch.get_num_threads() == 1
            threads.set_threads(3)
            assert torch.get_num_threads() == 1  # the gate still runs on one
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)
