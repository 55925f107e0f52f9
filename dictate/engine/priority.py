"""A re-entrant lock where urgent holders go first: a dictation waits for at most the step of
file work already on the engine (long work steps aside between steps), never for the file.

Across processes: `dictate serve` calls `yield_to(claims)` once, and from then on every holder
of an engine lock in that process waits while another process (the tray app) transcribes a
dictation, before each step and between decoding steps, as it would for an urgent waiter here.
`claims` is anything with `wanted()` and `wait()` (dictate.control.claim.DictationClaim).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol


class OtherProcesses(Protocol):
    """Dictations in other processes, which this process's engine work gives way to."""

    def wanted(self) -> bool:
        """Whether another process is transcribing a dictation now."""
        ...

    def wait(self) -> None:
        """Return once none is (at once if none is)."""
        ...


_others: OtherProcesses | None = None


def yield_to(others: OtherProcesses | None) -> None:
    """Make every engine lock in this process give way to dictations in other processes (None:
    stop). For a server process; the app itself claims instead (dictate.control.claim)."""
    global _others
    _others = others


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
            nested = self._owner == me
            if nested:
                self._depth += 1
        if not nested:
            self._acquire(me, urgent)
            # A dictation elsewhere began while this one waited here: it goes first.
            self._give_way_to_others(me, 1)
        try:
            yield
        finally:
            with self._cond:
                self._depth -= 1
                if self._depth == 0:
                    self._owner = None
                    self._cond.notify_all()

    def _acquire(self, me: int, urgent: bool) -> None:
        others = _others
        if others is not None:
            others.wait()  # outside the condition: a wait here holds up no one in this process
        with self._cond:
            if urgent:
                self._urgent_waiting += 1
            try:
                while self._owner is not None or (not urgent and self._urgent_waiting):
                    self._cond.wait()
            finally:
                if urgent:
                    self._urgent_waiting -= 1
            self._owner, self._depth = me, 1

    def _give_way_to_others(self, me: int, depth: int) -> bool:
        """The owner, while a dictation runs in another process: release, wait for it to end,
        take the lock back at `depth`. True if it waited."""
        others = _others
        if others is None or not others.wanted():
            return False
        while others.wanted():
            with self._cond:
                self._owner, self._depth = None, 0
                self._cond.notify_all()
            others.wait()
            with self._cond:
                while self._owner is not None or self._urgent_waiting:
                    self._cond.wait()
                self._owner, self._depth = me, depth
        return True

    def step_aside(self) -> bool:
        """Called by the holder between steps of long work: if urgent callers wait (here or, see
        `yield_to`, in another process), let them run now and take the lock back afterwards (at
        the same depth). True if it stepped aside. The holder's own state must stay valid
        meanwhile (it is only paused)."""
        me = threading.get_ident()
        with self._cond:
            if self._owner != me:
                return False
            depth = self._depth
            stepped = bool(self._urgent_waiting)
            if stepped:
                self._owner, self._depth = None, 0
                self._cond.notify_all()
                while self._owner is not None or self._urgent_waiting:
                    self._cond.wait()
                self._owner, self._depth = me, depth
        return self._give_way_to_others(me, depth) or stepped
