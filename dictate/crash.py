"""Hard crashes and the way out: a Python trace on a segfault or abort (`faulthandler` into
crash.log), and an exit that skips the interpreter's finalisation.

Issue 23 saw a segfault at shutdown that left nothing to go on. The app has no log file of its
own and is often started with no terminal (at login), so the trace goes to `crash.log` in the
data folder: appended, one line per start, kept as `crash.log.1` once it passes 256 kB.
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import sys
import time
from pathlib import Path
from typing import IO, NoReturn

from dictate import paths

KEEP_BYTES = 256_000
_open: list[IO[str]] = []  # the file stays open for the life of the process


def crash_log() -> Path:
    return paths.data_dir() / "crash.log"


def enable() -> Path | None:
    """Turn faulthandler on for every thread, into crash.log (stderr if that cannot be written).
    Returns the file's path, or None when the trace goes to stderr."""
    path = crash_log()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() and path.stat().st_size > KEEP_BYTES:
            path.replace(path.with_name("crash.log.1"))
        out = path.open("a", encoding="utf-8")
        out.write(f"dictate started {time.strftime('%Y-%m-%d %H:%M:%S')}, pid {os.getpid()}\n")
        out.flush()
    except OSError:
        faulthandler.enable(file=sys.stderr, all_threads=True)
        return None
    _open.append(out)
    faulthandler.enable(file=out, all_threads=True)
    return path


def leave(code: int) -> NoReturn:
    """Exit after the app's own orderly shutdown, without Python's finalisation.

    Finalisation tears down modules and C++ statics while threads may still run: a live step
    inside torch ("terminate called without an active exception": an abort), the hotkey
    listener on its X connection, Qt's objects in no set order (a segfault). By the time this is
    called the history is closed, the clipboard restored and the audio written: nothing is left
    for finalisation to save (tests/desktop/test_shutdown_stress.py)."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)
