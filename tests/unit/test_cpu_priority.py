"""services/cpu.py priorities: batch work takes an image thread only when one is free and no urgent work waits
for one; promoted batch work goes first; run_lowered lowers the CPU priority of its own thread only. Order is
counted at a gate the test opens one task at a time, never timed."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from services import cpu
from tests.support.scripts import run_script
from tests.support.waiting import FAILSAFE_S, until

# The server's case: greenlets hand the work to gevent's pool. The pool's tasks are held by a native semaphore
# the main greenlet releases one at a time; the hub keeps running meanwhile.
GEVENT_SCRIPT = """
from gevent import monkey

monkey.patch_all()

import json

import gevent

from services import cpu

native = monkey.get_original("threading", "Semaphore")(0)
started = []


def task(name):
    started.append(name)
    native.acquire(timeout=10)
    return name


def wait_for(condition):
    for _ in range(10_000):  # 10 s at most
        if condition():
            return
        gevent.sleep(0.001)
    raise AssertionError("never reached")


cpu.configure(2)
promoted = cpu.Priority(batch=True)
batch = [gevent.spawn(cpu.run_cpu_at, cpu.Priority(batch=True), task, f"batch-{n}") for n in range(3)]
wait_for(lambda: len(started) == 2 and cpu.images.batch_waiting == 1)
late = gevent.spawn(cpu.run_cpu_at, promoted, task, "promoted")
wait_for(lambda: cpu.images.batch_waiting == 2)
urgent = gevent.spawn(cpu.run_cpu, task, "urgent")
wait_for(lambda: cpu.busy() == 1)
promoted.promote()
for count in range(3, 6):
    native.release()
    wait_for(lambda: len(started) >= count)
native.release(3)
gevent.joinall([*batch, late, urgent], timeout=10, raise_error=True)
print(json.dumps({"started": started, "busy_after": cpu.busy()}))
"""


@pytest.fixture(autouse=True)
def pool(two_cpu_threads):
    """Every test here runs with the CPU pool at 2 threads."""


class Gate:
    """Tasks that record their start and each wait until the test lets one of them finish."""

    def __init__(self):
        self.started: list[str] = []
        self._finish = threading.Semaphore(0)
        self._changed = threading.Condition()

    def task(self, name: str) -> str:
        with self._changed:
            self.started.append(name)
            self._changed.notify_all()
        assert self._finish.acquire(timeout=FAILSAFE_S), "the test never let this task finish"
        return name

    def wait_started(self, count: int) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.started) >= count, FAILSAFE_S), self.started

    def finish(self, count: int = 1) -> None:
        self._finish.release(count)


def test_batch_work_waits_while_urgent_work_waits_for_a_thread():
    gate = Gate()
    with ThreadPoolExecutor(4) as callers:
        batch = [callers.submit(cpu.run_cpu_at, cpu.Priority(batch=True), gate.task, f"batch-{n}") for n in range(3)]
        gate.wait_started(2)  # the batch holds both threads ...
        until(lambda: cpu.images.batch_waiting == 1)  # ... and its third task waits for one
        assert cpu.busy() == 0  # batch work is not what a request waits behind
        urgent = callers.submit(cpu.run_cpu, gate.task, "urgent")
        until(lambda: cpu.busy() == 1)
        gate.finish()
        gate.wait_started(3)
        assert gate.started[2] == "urgent"  # ahead of the batch task that waited before it
        gate.finish(2)
        gate.wait_started(4)
        gate.finish(2)
        assert urgent.result(FAILSAFE_S) == "urgent"
        assert sorted(f.result(FAILSAFE_S) for f in batch) == ["batch-0", "batch-1", "batch-2"]
    assert gate.started[3] == "batch-2" and cpu.busy() == 0


def test_promoted_batch_work_goes_before_the_rest_of_the_batch():
    gate = Gate()
    priorities = [cpu.Priority(batch=True) for _ in range(4)]
    with ThreadPoolExecutor(4) as callers:
        tasks = []
        for n, priority in enumerate(priorities):
            tasks.append(callers.submit(cpu.run_cpu_at, priority, gate.task, f"batch-{n}"))
            until(lambda n=n: len(gate.started) + cpu.images.batch_waiting == n + 1)  # in this order
        priorities[3].promote()  # a request now waits for this very work
        assert cpu.images.waiting == 1 and cpu.images.batch_waiting == 1
        gate.finish()
        gate.wait_started(3)
        assert gate.started[2] == "batch-3"
        gate.finish(3)
        assert sorted(f.result(FAILSAFE_S) for f in tasks) == [f"batch-{n}" for n in range(4)]


def test_batch_work_needs_a_lane_that_takes_turns():
    with pytest.raises(ValueError):
        cpu.passwords.run_at(cpu.Priority(batch=True), int)


def test_run_lowered_lowers_its_own_thread_and_returns_or_raises():
    here = os.getpriority(os.PRIO_PROCESS, 0)
    started = cpu.run_lowered(3, lambda: cpu.run_lowered(0, lambda: os.getpriority(os.PRIO_PROCESS, 0)))
    assert started == min(here + 3, 19)  # inherited by the threads it starts
    assert os.getpriority(os.PRIO_PROCESS, 0) == here  # the caller's thread keeps its priority (Linux)
    with pytest.raises(ZeroDivisionError):
        cpu.run_lowered(0, lambda: 1 // 0)


def test_under_gevent_urgent_and_promoted_work_go_before_the_batch(tmp_path):
    report = run_script(tmp_path, GEVENT_SCRIPT)
    assert report["started"][:2] == ["batch-0", "batch-1"]
    assert sorted(report["started"][2:4]) == ["promoted", "urgent"]  # both before the batch-2 waiting longer
    assert report["started"][4] == "batch-2" and report["busy_after"] == 0
