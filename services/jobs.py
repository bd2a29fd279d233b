"""Background jobs: one runner per process keeps trying for the "jobs" lease; only the holder runs the
registered periodic tasks, so several workers or nodes never run a job twice.

Started from gunicorn's post_worker_init (or the CLI and tests), never from create_app or at import.
Each task run gets its own thread (a greenlet under gevent) so a long task never delays lease renewal.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from models import Setting
from services import cpu, events, lease
from services.database import close_connection

LEASE_NAME = "jobs"
LEASE_RENEW_S = 5.0
LEASE_TTL_S = 15.0
PRUNE_EVENTS_INTERVAL_S = 3600.0
STOP_TIMEOUT_S = 5.0
REQUEST_KEY_PREFIX = "job-request:"

log = logging.getLogger("photonix.jobs")


@dataclass
class _Periodic:
    name: str
    interval_s: float
    fn: Callable[[], Any]
    next_due: float = 0.0
    thread: threading.Thread | None = None
    on_request_only: bool = False
    started_at: float = 0.0  # wall clock, compared with run requests from other processes

    def is_running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()


_tasks: dict[str, _Periodic] = {}
_tasks_lock = threading.Lock()
_runner: _Runner | None = None
_runner_lock = threading.Lock()


def register_periodic(name: str, interval_s: float, fn: Callable[[], Any]) -> None:
    """Run fn() every `interval_s` seconds in the lease-holding process, first as soon as it leads.

    Due tasks are checked at each lease renewal; a run never overlaps the previous run of the same
    task; an exception is logged and the task runs again at its next interval. Long tasks should
    check is_leader() between steps. Registering a name again replaces it.
    """
    with _tasks_lock:
        _tasks[name] = _Periodic(name, interval_s, fn)


register_periodic("prune-events", PRUNE_EVENTS_INTERVAL_S, events.prune)


def register_on_request(name: str, fn: Callable[[], Any]) -> None:
    """Run fn() in the lease-holding process only when request_run(name) asks, never on a schedule."""
    with _tasks_lock:
        _tasks[name] = _Periodic(name, math.inf, fn, next_due=math.inf, on_request_only=True)


def request_run(name: str) -> None:
    """Ask whichever process holds the lease (on any node) to run task `name` at its next renewal,
    even if it is not due; a request made while the task runs starts it again once that run ends."""
    now = time.time()
    (Setting.insert(key=REQUEST_KEY_PREFIX + name, value=repr(now), updated_at=now)
     .on_conflict(conflict_target=[Setting.key], preserve=[Setting.value, Setting.updated_at]).execute())
    runner = _runner
    if runner is not None:  # this process may be the leader: look now instead of at the next renewal
        runner.wake()


def start_background(config: Any, renew_s: float = LEASE_RENEW_S, ttl_s: float = LEASE_TTL_S) -> None:
    """Size the CPU pool from config.thumb_threads and start this process's runner (once; later calls
    do nothing). The runner renews the lease every `renew_s` seconds; it expires after `ttl_s`."""
    global _runner
    if ttl_s <= renew_s:
        raise ValueError(f"the lease TTL ({ttl_s}s) must be longer than its renewal interval ({renew_s}s)")
    with _runner_lock:
        if _runner is not None:
            return
        cpu.configure(config.thumb_threads)
        _runner = _Runner(renew_s, ttl_s, lease.holder_id())
        _runner.start()


def stop_background(timeout_s: float = STOP_TIMEOUT_S, final: bool = False) -> None:
    """Stop the runner, wait up to `timeout_s` for running tasks, release the lease, and shut the event
    hub down so open event streams end now (`final`: a stopping worker; streams opened later end at once too,
    services/events.py). Safe to call when nothing was started."""
    global _runner
    with _runner_lock:
        runner, _runner = _runner, None
    if runner is not None:
        runner.stop(timeout_s)
    events.shutdown(final)


def is_leader() -> bool:
    """Whether this process holds the jobs lease (as of its last renewal)."""
    runner = _runner
    return runner is not None and runner.leader


class _Runner:
    def __init__(self, renew_s: float, ttl_s: float, holder: str):
        self.renew_s = renew_s
        self.ttl_s = ttl_s
        self.holder = holder
        self.leader = False
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="photonix-jobs", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout_s)
        with _tasks_lock:
            threads = [task.thread for task in _tasks.values() if task.is_running()]
        for thread in threads:
            if thread is not None:
                thread.join(max(0.0, deadline - time.monotonic()))
        self.leader = False
        try:
            lease.release(LEASE_NAME, self.holder)
        except Exception as exc:  # the lease then simply expires after its TTL
            log.warning("could not release the jobs lease: %s", exc)
        finally:
            close_connection()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._tick()
            self._wake.wait(self.renew_s)
            self._wake.clear()

    def _tick(self) -> None:
        leader = self._renew()
        if self._stop.is_set():
            return
        if leader and not self.leader:
            log.info("this process (%s) now runs the background jobs", self.holder)
            with _tasks_lock:
                for task in _tasks.values():
                    task.next_due = math.inf if task.on_request_only else 0.0
        elif self.leader and not leader:
            log.warning("this process (%s) lost the jobs lease; it starts no more jobs", self.holder)
        self.leader = leader
        if leader:
            self._start_due(time.monotonic())

    def _renew(self) -> bool:
        try:
            # take(): a holder on this host that no longer runs (SIGKILLed: the OOM killer, say) is taken over at
            # once, not after its TTL; jobs it ran (a scan, a transcode) resume without that wait.
            return lease.take(LEASE_NAME, self.holder, self.ttl_s)
        except Exception as exc:  # not knowing means not leading: another process may take over
            log.warning("could not renew the jobs lease: %s", exc)
            return False
        finally:
            close_connection()

    def _start_due(self, now: float) -> None:
        requested = _run_requests()
        with _tasks_lock:
            due = [t for t in _tasks.values() if not t.is_running()
                   and (t.next_due <= now or requested.get(t.name, 0.0) > t.started_at)]
            for task in due:
                task.next_due = now + task.interval_s
                task.started_at = time.time()
                task.thread = threading.Thread(
                    target=_run_task, args=(task,), name=f"photonix-job-{task.name}", daemon=True
                )
                task.thread.start()


def _run_requests() -> dict[str, float]:
    try:
        rows = Setting.select(Setting.key, Setting.updated_at).where(Setting.key.startswith(REQUEST_KEY_PREFIX))
        return {key[len(REQUEST_KEY_PREFIX):]: at for key, at in rows.tuples()}
    except Exception as exc:  # requests wait for the next renewal; due tasks still run
        log.warning("could not read job run requests: %s", exc)
        return {}
    finally:
        close_connection()


def _run_task(task: _Periodic) -> None:
    try:
        task.fn()
    except Exception:  # one failing task must not stop the others or the lease loop
        log.exception("background task %r failed; it runs again in %ss", task.name, task.interval_s)
    finally:
        close_connection()
