"""A Python trace on a hard crash (segfault, abort) of the app: `faulthandler` into a file.

Issue 23 saw one segfault at shutdown that left nothing to go on. The app has no log file of its
own and is often started with no terminal (at login), so the trace goes to `crash.log` in the data
folder. Each start empties it, unless it holds a trace: that one is kept as `crash.log.1`.
"""

from __future__ import annotations

import faulthandler
import os
import sys
import time
from pathlib import Path
from typing import IO

from dictate import paths

_open: list[IO[str]] = []  # the file stays open for the life of the process


def crash_log() -> Path:
    return paths.data_dir() / "crash.log"


def enable() -> Path | None:
    """Turn faulthandler on for every thread, into crash.log (stderr if that cannot be written).
    Returns the file's path, or None when the trace goes to stderr."""
    path = crash_log()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() and "Fatal Python error" in path.read_text(errors="replace"):
            path.replace(path.with_name("crash.log.1"))
        out = path.open("w", encoding="utf-8")
        out.write(f"dictate started {time.strftime('%Y-%m-%d %H:%M:%S')}, pid {os.getpid()}\n")
        out.flush()
    except OSError:
        faulthandler.enable(file=sys.stderr, all_threads=True)
        return None
    _open.append(out)
    faulthandler.enable(file=out, all_threads=True)
    return path
