"""A re-entrant lock where urgent holders go first: a dictation waits for at most the step of
file work already on the engine (long work steps aside between steps), never for the file."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class PriorityLock:
    """Like `threading.RLock`, but a waiter asking with ``urgent=True`` is served before every
    normal waiter, however long they have waited."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._owner: int | None = None
        self._depth = 0
        self._urgent_waiting = 0

    @property
    def urgent_waiting(self) -> int:
        """How many urgent callers are waiting (long jobs may check it to step aside sooner)."""
        return self._urgent_waiting

    @contextmanager
    def hold(self, urgent: bool = False) -> Iterator[None]:
        me = threading.get_ident()
        with self._cond:
            if self._owner == me:
                self._depth += 1
            else:
                if urgent:
                    self._urgent_waiting += 1
                try:
                    while self._owner is not None or (not urgent and self._urgent_waiting):
                        self._cond.wait()
                finally:
                    if urgent:
                        self._urgent_waiting -= 1
                self._owner, self._depth = me, 1
        try:
            yield
        finally:
            with self._cond:
                self._depth -= 1
                if self._depth == 0:
                    self._owner = None
                    self._cond.notify_all()

    def step_aside(self) -> bool:
        """Called by the holder between steps of long work: if urgent callers wait, let them
        run now and take the lock back afterwards (at the same depth). True if it stepped
        aside. The holder's own state must stay valid meanwhile (it is only paused)."""
        me = threading.get_ident()
        with self._cond:
            if self._owner != me or not self._urgent_waiting:
                return False
            depth = self._depth
            self._owner, self._depth = None, 0
            self._cond.notify_all()
            while self._owner is not None or self._urgent_waiting:
                self._cond.wait()
            self._owner, self._depth = me, depth
        return True
