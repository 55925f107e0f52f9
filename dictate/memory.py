"""Giving memory back to the operating system once it is free.

The model's warm-up and each transcription allocate and free a few hundred buffers; glibc keeps
the freed pages in its heaps (one per thread that allocated) instead of returning them, so the
app's resident memory stays at its high-water mark. `give_back` returns them: measured with
tiny.en on the CPU, ~60 MB after the first dictation (benchmarks/footprint.py, "RSS per step").
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import gc
import sys
import threading
from functools import cache
from typing import Any


@cache
def _libc() -> Any:
    """glibc, where there is one (Linux); None elsewhere (macOS, Windows, musl without trim)."""
    if not sys.platform.startswith("linux"):
        return None
    with contextlib.suppress(OSError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        if hasattr(libc, "malloc_trim"):
            return libc
    return None


def give_back(collect: bool = False) -> bool:
    """Return the C heap's free pages to the OS (after a full garbage collection if `collect`);
    whether the C library could. malloc_trim runs without the interpreter lock (ctypes lets it go),
    so other threads go on meanwhile."""
    if collect:
        gc.collect()
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True


def give_back_soon(collect: bool = False) -> None:
    """give_back() on a short-lived thread of its own, so the caller does not wait for it."""
    threading.Thread(
        target=give_back, args=(collect,), name="dictate-give-back", daemon=True
    ).start()
