"""The one owner of torch's intra-op thread count, which is process-wide.

The speech gate wants one thread (Silero on two OpenMP threads of a busy 2-core machine took
0.2-6 s a call), Whisper wants every core, and silero_vad's import sets one thread for the whole
process. Each used to save, set and restore the count by itself, from the capture thread, the
engine worker and the loader at once; interleaved, a restore put back another's temporary 1 and
Whisper stayed on one thread. Here one lock guards one count of the sections that want a single
thread: the first in sets 1, the last out restores the base, and the base is set only here.

torch is never imported by this module: a section without torch loaded has nothing to set.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_lock = threading.RLock()
_single = 0  # sections that want one thread, running now
_base: int | None = None  # the count to restore when the last of them ends


def _torch() -> Any:
    return sys.modules.get("torch")


@contextmanager
def one_thread() -> Iterator[None]:
    """Run the block with torch on one intra-op thread (cheap: a counter, no waiting)."""
    global _single, _base
    torch = _torch()
    if torch is None:
        yield
        return
    with _lock:
        if _single == 0:
            _base = torch.get_num_threads()
            torch.set_num_threads(1)
        _single += 1
    try:
        yield
    finally:
        with _lock:
            _single -= 1
            if _single == 0 and _base is not None:
                torch.set_num_threads(_base)


def set_threads(n: int) -> None:
    """Set the count the app runs with; inside single-thread sections it applies once they end."""
    global _base
    import torch

    with _lock:
        if _single:
            _base = n
        else:
            torch.set_num_threads(n)


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
            torch.set_num_threads(before)
