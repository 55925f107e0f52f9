"""The one owner of torch's intra-op thread count.

The speech gate wants one thread (Silero on two OpenMP threads of a busy 2-core machine took
0.2-6 s a call), Whisper wants every core, and silero_vad's import sets one thread. Each used to
save, set and restore the count by itself, from the capture thread, the engine worker and the
loader at once; interleaved, a restore put back another's temporary 1.

Where torch's backend is OpenMP (the Linux wheels) the count is kept per thread, and
`torch.set_num_threads` also sets the seed a thread takes at its first torch call: a thread
started while another ran on one thread started on one, and its save/restore then wrote that
stale 1 back as the seed of every later thread. So the count the app wants (`_base`) is held
here and never read back from a section's thread; every section sets its own thread to one and
ends by putting the base back, under one lock. Where the count is process-wide (torch's native
pool) the sections are counted instead: the first in sets 1, the last out restores the base.

torch is never imported by this module: a section without torch loaded has nothing to set.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_lock = threading.RLock()
_single = 0  # sections that want one thread, running now (all threads)
_base: int | None = None  # the count the app runs with, set by set_threads
_per_thread: bool | None = None  # whether torch keeps the count per thread (OpenMP)
_local = threading.local()  # .depth: this thread's sections running now


def _torch() -> Any:
    return sys.modules.get("torch")


def _is_per_thread(torch: Any) -> bool:
    global _per_thread
    if _per_thread is None:
        _per_thread = "parallel backend: OpenMP" in torch.__config__.parallel_info()
    return _per_thread


def _depth() -> int:
    return getattr(_local, "depth", 0)


def _wanted(torch: Any) -> int:
    """The app's count (the caller's count until the app has set one). Under `_lock`."""
    global _base
    if _base is None:
        _base = int(torch.get_num_threads())
    return _base


@contextmanager
def one_thread() -> Iterator[None]:
    """Run the block with torch on one intra-op thread (cheap: a counter, no waiting)."""
    global _single
    torch = _torch()
    if torch is None:
        yield
        return
    with _lock:
        base = _wanted(torch)
        # A thread's first count read seeds it from the count last set anywhere, and would undo
        # a 1 set before it: seed first (cheap, once per thread), then set.
        torch.get_num_threads()
        torch.set_num_threads(1)  # every section: where the count is per thread, its own
        _single += 1
        _local.depth = _depth() + 1
    try:
        yield
    finally:
        with _lock:
            _single -= 1
            _local.depth = _depth() - 1
            if _single == 0 or (_is_per_thread(torch) and _depth() == 0):
                torch.set_num_threads(_base if _base is not None else base)


def set_threads(n: int) -> None:
    """Set the count the app runs with. Where the count is process-wide and a single-thread
    section is running, it applies once the last one ends."""
    global _base
    import torch

    with _lock:
        _base = n
        if _depth():  # this thread is in a section: it applies when that ends
            return
        if _single == 0 or _is_per_thread(torch):
            torch.get_num_threads()  # seed this thread first (see one_thread)
            torch.set_num_threads(n)


def adopt() -> None:
    """Put the calling thread on the app's count before it decodes. Where the count is per
    thread, a thread takes the count last set anywhere at its first torch call, which may be
    a single-thread section's 1 (and then it would run Whisper on one thread for good).
    Cheap when the count is right: one read, no lock."""
    torch = _torch()
    if torch is None or _base is None or _depth() or torch.get_num_threads() == _base:
        return
    with _lock:
        if _base is not None and (_single == 0 or _is_per_thread(torch)):
            torch.set_num_threads(_base)


@contextmanager
def kept() -> Iterator[None]:
    """Run code that sets the count by itself (silero_vad's import) and undo what it did."""
    torch = _torch()
    if torch is None:
        yield
        return
    with _lock:  # held throughout: no section may start or end in between
        before = torch.get_num_threads()
        try:
            yield
        finally:
            if _depth() or (_single and not _is_per_thread(torch)):
                torch.set_num_threads(1)  # a section is running here (or process-wide)
            else:
                torch.set_num_threads(_base if _base is not None else before)


def fitting(others: float | None, base: int, cores: int) -> int:
    """The intra-op count for an inference while other programs keep `others` of this
    process's `cores` busy: the app's count, less the cores taken (to the nearest), ≥ 1."""
    if others is None:
        return base
    return max(1, min(base, int(cores - others + 0.5)))


@contextmanager
def fitted(others: float | None) -> Iterator[int]:
    """Run an inference on the cores other programs leave free (`fitting`); yields the count.
    Where the count is per thread (OpenMP) only this thread changes, and it goes back to the
    app's count after; inside a single-thread section, or while one runs where the count is
    process-wide, nothing changes."""
    torch = _torch()
    if torch is None or others is None:
        yield int(torch.get_num_threads()) if torch is not None else 1
        return
    with _lock:
        base = _wanted(torch)
        if _depth() or (_single and not _is_per_thread(torch)):
            n = changed = None
        else:
            n = fitting(others, base, usable_cores())
            changed = n != base
            # Also where n is the app's count: a thread seeded with a 1 (see adopt) gets it here.
            if torch.get_num_threads() != n:
                torch.set_num_threads(n)
    try:
        yield n if n is not None else int(torch.get_num_threads())
    finally:
        if changed:
            with _lock:
                if _single == 0 or _is_per_thread(torch):
                    torch.set_num_threads(_base if _base is not None else base)


def usable_cores() -> int:
    """The cores this process may run on (its affinity set where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1
