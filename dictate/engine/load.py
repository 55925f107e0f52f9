"""How many of this process's cores other programs keep busy right now.

torch's intra-op threads meet at the end of every operation, so when the scheduler parks one of
them behind another program the whole step waits for it: with two busy processes beside it on
a 2-core CPU, tiny.en's dictation shape took 4× its idle time on two threads and half that on
one (issue 24). The engine asks `others()` before each inference and runs on the cores left
free (`dictate.threads.fitted`).

A daemon thread reads the CPU times of the cores this process may run on, and this process's
own, once per `period_s` (psutil: /proc on Linux, the system's calls elsewhere); `others()` is
the cores the rest of the machine used over the last period. Our own threads are left out, so a
decode never counts against itself.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

log = logging.getLogger(__name__)

# CPU time fields that are work (Linux also reports guest time, already inside user and nice).
_BUSY = ("user", "nice", "system", "irq", "softirq", "steal", "interrupt", "dpc")


def _cores() -> list[int] | None:
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # macOS, Windows: every core
        return None


class BusyMeter:
    """Samples on a daemon thread once started; `others()` is None until two samples exist or
    where psutil cannot read the CPU times."""

    def __init__(
        self, period_s: float = 1.0, psutil: Any = None, clock: Any = time.monotonic
    ) -> None:
        self.period_s = period_s
        self._psutil, self._clock = psutil, clock
        self._lock = threading.Lock()
        self._others: float | None = None
        self._thread: threading.Thread | None = None
        self._last: tuple[float, float, float] | None = None
        self._process: Any = None

    def start(self) -> BusyMeter:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="dictate-load", daemon=True)
                self._thread.start()
        return self

    def others(self) -> float | None:
        """Cores used by other processes over the last period (≥ 0), or None if unknown."""
        with self._lock:
            return self._others

    def sample(self) -> None:
        """Take one reading; from the second on, `others()` covers the time since the last."""
        now = self._read()
        if now is None:
            return
        last, self._last = self._last, now
        if last is None or now[0] <= last[0]:
            return
        wall, busy, own = (a - b for a, b in zip(now, last, strict=True))
        with self._lock:
            self._others = max(0.0, (busy - own) / wall)

    def _read(self) -> tuple[float, float, float] | None:
        try:
            if self._psutil is None:
                import psutil as module

                self._psutil = module
            psutil = self._psutil
            if self._process is None:
                self._process = psutil.Process()
            cores = _cores()
            per_cpu = psutil.cpu_times(percpu=True)
            chosen = [per_cpu[i] for i in cores if i < len(per_cpu)] if cores else per_cpu
            busy = sum(getattr(t, f, 0.0) for t in chosen for f in _BUSY)
            mine = self._process.cpu_times()
            return self._clock(), busy, mine.user + mine.system
        except Exception as exc:  # no /proc, a sandbox: the engine keeps every core
            log.debug("cannot read the CPU times: %s", exc)
            return None

    def _loop(self) -> None:
        while True:
            self.sample()
            time.sleep(self.period_s)


_meter: BusyMeter | None = None
_meter_lock = threading.Lock()


def meter() -> BusyMeter:
    """The process's meter, started at first use."""
    global _meter
    with _meter_lock:
        if _meter is None:
            _meter = BusyMeter().start()
        return _meter
