"""Dictation priority across processes: the tray app and `dictate serve` on one machine.

Inside one process the engine's PriorityLock puts a dictation before file work. Two processes
have two engines and no shared lock, so a lock file does it: the app holds an exclusive flock
on `dictation.lock` (beside the control socket, in the user's private runtime directory) while
it transcribes a dictation, and `dictate serve` (dictate.engine.priority.yield_to) checks it
before each request's step and between decoding steps, and waits while it is held. The app
never waits for the server: at most the server's step already running overlaps the dictation.

flock is released by the kernel when its holder exits, so an app that crashes mid-dictation
cannot stall the server. Where there is no flock (Windows) or the file cannot be opened, both
sides go on without it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dictate.errors import DictateError

try:
    import fcntl
except ImportError:  # Windows: no flock; the two processes then share the machine unordered
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

FILE_NAME = "dictation.lock"
CLAIM_WITHIN_S = 0.25  # the app's try at the lock; a server only touches it for a moment
POLL_S = 0.01  # how often a waiting server looks again


def default_path() -> Path:
    """`dictation.lock` beside the control socket: $XDG_RUNTIME_DIR/dictate (0700) or its
    fallback, or next to $DICTATE_SOCKET when that is set (tests, several app instances)."""
    from dictate.control.protocol import socket_path

    return socket_path().parent / FILE_NAME


class DictationClaim:
    """The app's side (`held`) and the server's side (`wanted`, `wait`) of the lock file."""

    def __init__(self, path: Path | None = None) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._count = 0  # dictations in progress in this process (live step + release...)
        self._held: int | None = None  # the fd holding the exclusive lock
        self._probe: int | None = None  # the server's fd for its shared probes
        self._warned = False

    @property
    def path(self) -> Path:
        if self._path is None:
            self._path = default_path()
        return self._path

    def _open(self) -> int | None:
        if fcntl is None:
            return None
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except (OSError, DictateError) as exc:  # DictateError: an unsafe runtime directory
            if not self._warned:
                self._warned = True
                log.warning("dictation priority across processes is off: %s", exc)
            return None

    # ---- the app ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """While the app transcribes a dictation: servers on this machine start no new step."""
        with self._lock:
            self._count += 1
            if self._count == 1:
                self._held = self._take()
        try:
            yield
        finally:
            with self._lock:
                self._count -= 1
                if self._count == 0 and self._held is not None:
                    os.close(self._held)  # closing the last fd releases the flock
                    self._held = None

    def _take(self) -> int | None:
        fd = self._open()
        if fd is None:
            return None
        assert fcntl is not None
        deadline = time.monotonic() + CLAIM_WITHIN_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:  # a server's probe, for a moment; or another app instance
                if time.monotonic() > deadline:
                    os.close(fd)
                    log.info("the dictation lock is busy; this dictation goes without it")
                    return None
                time.sleep(0.002)
            except OSError as exc:  # a file system without flock
                os.close(fd)
                log.warning("dictation priority across processes is off: %s", exc)
                return None

    # ---- the server ------------------------------------------------------------------------

    def wanted(self) -> bool:
        """Whether a process on this machine is transcribing a dictation now."""
        with self._lock:
            if self._probe is None:
                self._probe = self._open()
                if self._probe is None:
                    return False
            assert fcntl is not None
            try:
                fcntl.flock(self._probe, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            except OSError:
                return False
            fcntl.flock(self._probe, fcntl.LOCK_UN)
            return False

    def wait(self) -> None:
        """Until no dictation is being transcribed on this machine (polls: never stuck in a
        kernel wait that a shutdown could not end)."""
        if not self.wanted():
            return
        t0 = time.monotonic()
        while self.wanted():
            time.sleep(POLL_S)
        log.debug("waited %.2f s for a dictation on this machine", time.monotonic() - t0)

    def close(self) -> None:
        with self._lock:
            for fd in (self._held, self._probe):
                if fd is not None:
                    os.close(fd)
            self._held = self._probe = None
            self._count = 0


class Claiming:
    """An engine whose dictations (`transcribe`) hold `claim`; everything else (files, the
    gate, info) passes through unclaimed. For the app's live steps and a server's fallback."""

    def __init__(self, engine: Any, claim: DictationClaim) -> None:
        self.engine, self.claim = engine, claim

    def transcribe(self, *args: Any, **kwargs: Any) -> Any:
        with self.claim.held():
            return self.engine.transcribe(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)
