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


def test_long_work_steps_aside_for_a_dictation_between_steps() -> None:
    lock = PriorityLock()
    log: list[str] = []
    stepped: list[bool] = []  # step_aside()'s answers, checked here: a worker's assert is lost
    holding = threading.Event()

    def file_work() -> None:
        with lock.hold(), lock.hold():  # nested, as the engine's calls are
            holding.set()
            for step in range(30):
                log.append(f"step {step}")
                time.sleep(0.02)
                stepped.append(lock.step_aside())
            log.append("file done")
            stepped.append(lock.step_aside())  # nobody waits: it keeps the lock

    def dictation() -> None:
        with lock.hold(urgent=True):
            log.append("dictation")

    worker = threading.Thread(target=file_work)
    worker.start()
    holding.wait(2)
    time.sleep(0.1)
    d = threading.Thread(target=dictation)
    d.start()
    d.join(2)
    worker.join(5)
    assert not d.is_alive() and not worker.is_alive()
    # The dictation ran in the middle of the file's steps, not after them.
    assert 0 < log.index("dictation") < log.index("file done") - 5
    assert log[-1] == "file done" and sum(x.startswith("step") for x in log) == 30
    assert stepped.count(True) == 1 and stepped[-1] is False, stepped  # aside once, for it
    # The lock came back at the same depth and is fully released at the end.
    with lock.hold():
        pass


def test_step_aside_is_a_no_op_for_a_thread_that_does_not_hold_the_lock() -> None:
    assert PriorityLock().step_aside() is False
