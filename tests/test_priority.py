"""The engine's priority lock: a dictation goes before file windows that waited longer."""

from __future__ import annotations

import threading
import time

from dictate.engine.priority import PriorityLock


def test_urgent_waiter_goes_before_earlier_normal_waiters() -> None:
    lock = PriorityLock()
    order: list[str] = []
    started = threading.Event()

    def holder() -> None:
        with lock.hold():
            started.set()
            time.sleep(0.3)

    def worker(name: str, urgent: bool) -> None:
        with lock.hold(urgent):
            order.append(name)

    threads = [threading.Thread(target=holder)]
    threads[0].start()
    started.wait()
    for name, urgent in (("file-1", False), ("file-2", False), ("dictation", True)):
        t = threading.Thread(target=worker, args=(name, urgent))
        t.start()
        threads.append(t)
        time.sleep(0.05)  # the file windows have been waiting longer
    for t in threads:
        t.join(5)
    assert order[0] == "dictation"
    assert sorted(order[1:]) == ["file-1", "file-2"]


def test_reentrant_for_the_same_thread() -> None:
    lock = PriorityLock()
    with lock.hold(), lock.hold(urgent=True), lock.hold():
        pass
    done = threading.Event()

    def other() -> None:
        with lock.hold():
            done.set()

    t = threading.Thread(target=other)
    t.start()
    t.join(2)
    assert done.is_set()  # fully released after the nested holds
