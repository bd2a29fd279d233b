"""services/cpu.py: results and errors come back; under gevent the hub keeps serving while CPU work runs; image
work and password checks each have their own lane, so neither waits behind the other (shown with events)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from services import cpu
from tests.support.scripts import run_script
from tests.support.waiting import until

GEVENT_SCRIPT = """
from gevent import monkey

monkey.patch_all()

import contextlib
import io
import json

import bcrypt
import gevent
import gevent.threadpool

from services import cpu

cpu.configure(2)
salt = bcrypt.gensalt(12)


real_sleep = monkey.get_original("time", "sleep")  # blocks its OS thread (the hub's too) without yielding
real_monotonic = monkey.get_original("time", "monotonic")


def hub_runs_during(run, wait_s):
    # Whether a greenlet runs on the hub while `run` executes a job that waits (without yielding) for that
    # greenlet's flag: False exactly when the job blocks the hub (the wait then gives up). No timing is measured.
    released = []

    def release():
        for _ in range(3):
            gevent.sleep(0.001)
        released.append(True)

    def job():
        deadline = real_monotonic() + wait_s
        while not released and real_monotonic() < deadline:
            real_sleep(0.001)
        return bool(released)

    gevent.spawn(release)
    return run(job)


def offloaded():
    # Password checks and image work at once: the image lane takes turns with the password lane.
    hashes = [gevent.spawn(cpu.run_password, bcrypt.hashpw, b"pw%d" % i, salt) for i in range(2)]
    images = [gevent.spawn(cpu.run_cpu, bcrypt.hashpw, b"img%d" % i, salt) for i in range(3)]
    gevent.joinall(hashes + images, timeout=30, raise_error=True)
    assert all(i.successful() for i in images)
    return [h.value for h in hashes]


hashes = offloaded()
pool_free = {lane: hub_runs_during(run, 10) for lane, run in (("images", cpu.run_cpu), ("passwords", cpu.run_password))}
inline_free = hub_runs_during(lambda job: job(), 0.2)  # the control: a job on the hub itself blocks it
printed = io.StringIO()
with contextlib.redirect_stderr(printed):  # gevent's hub prints an error it sees to sys.stderr
    try:
        cpu.run_cpu(divmod, 1, 0)
        error = None
    except ZeroDivisionError:
        error = "ZeroDivisionError"
    gevent.sleep(0.05)  # a turn of the hub, in which it would print
print(json.dumps({
    "pool_free": pool_free,
    "inline_free": inline_free,
    "hashes_ok": all(bcrypt.checkpw(b"pw%d" % i, h) for i, h in enumerate(hashes)),
    "error": error,
    "printed": printed.getvalue(),
    "dedicated_pool": all(isinstance(lane._pool, gevent.threadpool.ThreadPool)
                          and lane._pool is not gevent.get_hub().threadpool for lane in (cpu.images, cpu.passwords)),
    "busy_after": cpu.busy(),
}))
"""


@pytest.fixture(autouse=True)
def pool(two_cpu_threads):
    """Every test here runs with the CPU pool at 2 threads."""


def test_returns_the_result_with_positional_and_keyword_arguments():
    assert cpu.run_cpu(pow, 2, 10) == 1024
    assert cpu.run_cpu(int, "ff", base=16) == 255


def test_reraises_the_exception_of_the_task():
    with pytest.raises(ZeroDivisionError):
        cpu.run_cpu(divmod, 1, 0)
    assert cpu.busy() == 0


def test_runs_on_a_pool_thread():
    assert cpu.run_cpu(lambda: threading.current_thread().name).startswith("photonix-cpu")


def test_busy_counts_tasks_in_flight_and_size_follows_configure():
    started, release = threading.Event(), threading.Event()

    def task():
        started.set()
        release.wait(5)
        return "done"

    with ThreadPoolExecutor(1) as caller:
        result = caller.submit(cpu.run_cpu, task)
        assert started.wait(5)
        assert cpu.busy() == 1
        release.set()
        assert result.result(5) == "done"
    assert cpu.busy() == 0
    assert cpu.size() == 2
    cpu.configure(3)
    assert cpu.size() == 3
    assert cpu.run_cpu(sum, [1, 2, 3]) == 6


class Held:
    """Tasks that report when they start and wait until the test releases them; counts how many ran at once."""

    def __init__(self):
        self.release, self.changed = threading.Event(), threading.Condition()
        self.running = self.most = 0

    def task(self, result="done"):
        with self.changed:
            self.running += 1
            self.most = max(self.most, self.running)
            self.changed.notify_all()
        try:
            assert self.release.wait(10), "the test never released its tasks"
            return result
        finally:
            with self.changed:
                self.running -= 1

    def wait_running(self, count):
        with self.changed:  # 10 s only as a failsafe
            assert self.changed.wait_for(lambda: self.running >= count, 10), (self.running, count)


@pytest.mark.parametrize("pool_size, cores, lane", [(2, 2, 1), (1, 2, 1), (4, 2, 2), (8, 2, 2), (8, 8, 4)])
def test_the_password_lane_has_a_thread_per_core_at_most_and_half_the_pool_at_most(pool_size, cores, lane):
    cpu.configure(pool_size, cores=cores)
    assert (cpu.size(), cpu.passwords.size) == (pool_size, lane)


def test_a_password_check_runs_while_image_work_fills_its_lane():
    images = Held()
    with ThreadPoolExecutor(5) as callers:
        held = [callers.submit(cpu.run_cpu, images.task) for _ in range(4)]  # 2 running, 2 queued
        images.wait_running(2)
        until(lambda: cpu.busy() == 4)
        assert callers.submit(cpu.run_password, lambda: "checked").result(5) == "checked"
        images.release.set()
        assert [f.result(5) for f in held] == ["done"] * 4


def test_image_work_runs_while_password_checks_fill_their_lane():
    checks = Held()
    with ThreadPoolExecutor(5) as callers:
        held = [callers.submit(cpu.run_password, checks.task) for _ in range(4)]
        checks.wait_running(cpu.passwords.size)
        until(lambda: cpu.passwords.busy() == 4)
        assert cpu.busy() == 0  # password checks do not count as image work (thumbnails' back-pressure)
        assert callers.submit(cpu.run_cpu, lambda: "thumbnail").result(5) == "thumbnail"
        checks.release.set()
        assert [f.result(5) for f in held] == ["done"] * 4


def test_image_work_gives_a_core_to_each_running_password_check():
    checks, images = Held(), Held()
    with ThreadPoolExecutor(4) as callers:
        check = callers.submit(cpu.run_password, checks.task)
        checks.wait_running(1)
        held = [callers.submit(cpu.run_cpu, images.task) for _ in range(2)]
        images.wait_running(1)
        until(lambda: cpu.images.waiting == 1)  # the second waits for its turn, not for a thread
        assert images.running == 1
        checks.release.set()
        assert check.result(5) == "done"
        images.wait_running(2)  # the check is over: both image threads work again
        images.release.set()
        assert [f.result(5) for f in held] == ["done"] * 2


def test_password_checks_never_use_more_threads_than_their_lane():
    cpu.configure(4, cores=2)
    checks = Held()
    with ThreadPoolExecutor(10) as callers:
        held = [callers.submit(cpu.run_password, checks.task) for _ in range(10)]
        until(lambda: cpu.passwords.busy() == 10)  # every check handed to the lane ...
        checks.wait_running(2)  # ... and the lane's two threads busy with the first two
        checks.release.set()
        assert [f.result(5) for f in held] == ["done"] * 10
    assert checks.most == 2
    assert cpu.run_password(lambda: threading.current_thread().name).startswith("photonix-bcrypt")


def test_configure_refuses_an_empty_pool():
    with pytest.raises(ValueError):
        cpu.configure(0)


def test_under_gevent_a_dedicated_pool_keeps_the_hub_serving(tmp_path):
    report = run_script(tmp_path, GEVENT_SCRIPT)
    assert report["hashes_ok"] and report["dedicated_pool"]
    assert report["error"] == "ZeroDivisionError" and report["busy_after"] == 0
    assert report["printed"] == ""  # the caller has the error; the pool thread's hub does not log it as a crash
    # The control shows the check can see a stall: a job run on the hub itself blocks it.
    assert report["inline_free"] is False, report
    assert report["pool_free"] == {"images": True, "passwords": True}, report
