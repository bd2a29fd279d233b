"""services/jobs.py in one process: the leader runs its tasks, a failing task harms nobody, stop releases."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable

import pytest

from services import events, jobs, lease
from tests.support.waiting import counting, until

RENEW_S = 0.05
TTL_S = 1.0


@pytest.fixture
def tasks(db, monkeypatch):
    """An empty task registry for the test; the runner is always stopped afterwards."""
    monkeypatch.setattr(jobs, "_tasks", {})
    yield jobs.register_periodic
    jobs.stop_background()


@pytest.fixture
def ticks(monkeypatch) -> Callable[[int], None]:
    """Counts the runner's ticks (each begins with a lease renewal); ticks(n) waits until n more have begun.
    Ticks run one after another on the runner's thread, so once a later one has begun every earlier one is
    complete, and any task run it started is recorded (the task's `thread`): "nothing started" is checked
    after counted ticks, never after a sleep."""
    renewals = counting(monkeypatch, lease, "try_acquire")

    def wait_for(more: int) -> None:
        target = len(renewals) + more
        until(lambda: len(renewals) >= target, f"the jobs runner never reached {more} more ticks")

    return wait_for


def test_pruning_events_is_the_first_registered_task():
    assert next(iter(jobs._tasks)) == "prune-events"


def test_the_leader_runs_its_tasks_and_a_failing_task_does_not_stop_them(tasks, config, caplog):
    runs: list[float] = []
    tasks("boom", RENEW_S, lambda: 1 / 0)
    tasks("count", RENEW_S, lambda: runs.append(time.monotonic()))
    with caplog.at_level(logging.ERROR, logger="photonix.jobs"):
        jobs.start_background(config, renew_s=RENEW_S, ttl_s=TTL_S)
        until(lambda: len(runs) >= 3, "the task did not run three times")
    assert jobs.is_leader()
    assert "'boom' failed" in caplog.text
    holder = lease.current_holder(jobs.LEASE_NAME)
    assert holder is not None and holder.split(":")[1] == str(os.getpid())

    jobs.stop_background()
    assert not jobs.is_leader()
    assert lease.current_holder(jobs.LEASE_NAME) is None


def test_without_the_lease_nothing_runs(tasks, config, ticks):
    assert lease.try_acquire(jobs.LEASE_NAME, "another-node", 60)
    runs: list[int] = []
    tasks("count", RENEW_S, lambda: runs.append(1))
    jobs.start_background(config, renew_s=RENEW_S, ttl_s=TTL_S)
    ticks(3)  # two whole ticks, each a chance to start the always-due task
    assert runs == [] and jobs._tasks["count"].thread is None and not jobs.is_leader()
    assert lease.current_holder(jobs.LEASE_NAME) == "another-node"


def test_start_refuses_a_ttl_not_longer_than_the_renewal(config):
    with pytest.raises(ValueError):
        jobs.start_background(config, renew_s=5, ttl_s=5)
    assert not jobs.is_leader()


def test_stop_background_ends_open_event_streams(db):
    sub = events.hub().subscribe(None)
    jobs.stop_background()
    assert sub.ended == "shutdown"
    with pytest.raises(events.SubscriptionEnded):
        sub.get(0)


def test_a_run_request_from_anywhere_starts_a_task_before_it_is_due(tasks, config, ticks):
    runs: list[float] = []
    tasks("index", 3600, lambda: runs.append(time.time()))
    jobs.start_background(config, renew_s=RENEW_S, ttl_s=TTL_S)
    until(lambda: len(runs) == 1, "the first run never came")  # first run as soon as it leads
    first = jobs._tasks["index"].thread
    ticks(3)
    assert jobs._tasks["index"].thread is first and len(runs) == 1  # not started again: not due for an hour
    jobs.request_run("index")  # e.g. POST /api/settings/sync/index on another worker
    until(lambda: len(runs) == 2, "the requested run never came")
    second = jobs._tasks["index"].thread
    ticks(3)
    assert jobs._tasks["index"].thread is second and len(runs) == 2  # one request, one run
