"""The app's one-line messages on the terminal (stderr), whole while a library mutes fd 2.

sounddevice points fd 2 at /dev/null while PortAudio initialises (its ALSA probing is noisy),
and dictate's own MP3 decoding does the same (audio/decode.py). A line that another thread
printed meanwhile was lost: seen on Wayland without a desktop portal, where the "no global
hotkey here; bind `dictate toggle`" hint went out while the microphone check was initialising
PortAudio, in about one start in three. `keep()` (at start-up, before any thread) keeps a copy
of the real fd 2; `say()` writes there whenever fd 2 points elsewhere at that moment.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading

_lock = threading.Lock()
_saved: int | None = None  # a copy of fd 2 as it was at start-up


def keep() -> None:
    """Keep a copy of fd 2 for `say` (once; call before starting threads)."""
    global _saved
    with _lock:
        if _saved is None:
            with contextlib.suppress(OSError):
                _saved = os.dup(2)


def say(message: str) -> None:
    """`dictate: message` on stderr, or on the kept copy of it while fd 2 is muted."""
    line = f"dictate: {message}"
    with _lock:
        if _saved is not None and not _same(2, _saved):
            encoding = getattr(sys.stderr, "encoding", None) or "utf-8"
            with contextlib.suppress(OSError):
                os.write(_saved, f"{line}\n".encode(encoding, errors="replace"))
            return
        print(line, file=sys.stderr, flush=True)


def _same(fd: int, other: int) -> bool:
    try:
        return os.path.sameopenfile(fd, other)
    except OSError:  # fd 2 closed: the copy is all there is
        return False
