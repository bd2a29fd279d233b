"""Two real processes on one database (SQLite file, or PostgreSQL with --db=postgres), under gevent as in
production: an event crosses from one to the other, and exactly one of them holds the jobs lease until
it is killed (the other takes over at once) or hangs (the other takes over after the TTL)."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from services import events, lease

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
WAIT_S = 10.0
RENEW_S = 0.2
TTL_S = 1.5
LONG_TTL_S = 120.0  # beyond every wait here: a takeover under it did not wait for the TTL

CHILD_SCRIPT = """
from gevent import monkey

monkey.patch_all()

from psycogreen.gevent import patch_psycopg

patch_psycopg()

import json
import os
import sys
import time

from config import load_config
from services import events, jobs
from services.database import bind_database, init_db, open_database

LIFETIME_S = 30


def say(**fields):
    print(json.dumps({"pid": os.getpid(), **fields}), flush=True)


def subscribe():
    sub = events.hub().subscribe(None)
    say(ready=True, last_id=sub.last_id)
    event = sub.get(LIFETIME_S)
    say(event=None if event is None else {"id": event.id, "type": event.type, "data": event.data})
    sub.close()
    events.shutdown()


def lead(renew_s, ttl_s):
    jobs.register_periodic("mark", renew_s, lambda: say(task=True))
    jobs.start_background(load_config(), renew_s=renew_s, ttl_s=ttl_s)
    deadline = time.monotonic() + LIFETIME_S
    while time.monotonic() < deadline:
        say(leader=jobs.is_leader())
        time.sleep(0.05)
    jobs.stop_background()


bind_database(open_database(load_config().database_url))
init_db()
if sys.argv[1] == "subscribe":
    subscribe()
else:
    lead(float(sys.argv[2]), float(sys.argv[3]))
"""


class Child:
    """A child Python process whose stdout lines (JSON) are read by a thread into a queue."""

    def __init__(self, script: Path, env: dict[str, str], log: Path, *args: str):
        self.log = log
        with open(log, "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, str(script), *args], cwd=ROOT, env={**env, "PYTHONPATH": str(ROOT)},
                stdout=subprocess.PIPE, stderr=err, text=True,
            )
        self.pid = self.proc.pid
        self.lines: queue.Queue[dict] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(json.loads(line))

    def wait_for(self, key: str, timeout_s: float = WAIT_S) -> dict:
        """The first line carrying `key` within `timeout_s`; fails with the child's stderr otherwise."""
        deadline = time.monotonic() + timeout_s
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                break
            if key in line:
                return line
        pytest.fail(f"child {self.pid} sent no {key!r} within {timeout_s}s:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self.proc.stdout.close()


@pytest.fixture
def spawn(tmp_path, env, db):
    script = tmp_path / "child.py"
    script.write_text(CHILD_SCRIPT)
    children: list[Child] = []

    def start(*args: str) -> Child:
        children.append(Child(script, env, tmp_path / f"child-{len(children)}.log", *args))
        return children[-1]

    yield start
    for child in children:
        child.stop()


def test_an_event_published_in_one_process_reaches_a_subscriber_in_another(spawn):
    subscriber = spawn("subscribe")
    ready = subscriber.wait_for("ready")
    assert ready["last_id"] == events.latest_id()
    event_id = events.publish("index-complete", {"added": 3, "removed": 0, "updated": 1})
    received = subscriber.wait_for("event")["event"]
    assert received == {"id": event_id, "type": "index-complete",
                        "data": {"added": 3, "removed": 0, "updated": 1}}


def follow(children: list[Child], seen: dict[int, bool], ran: set[int], duration_s: float) -> list[int]:
    """Read the children's reports for `duration_s` into `seen` (pid -> leading) and `ran` (pids that
    ran a task); fail if two ever lead at once; return the leading pids."""
    deadline = time.monotonic() + duration_s
    while time.monotonic() < deadline:
        for child in children:
            while not child.lines.empty():
                line = child.lines.get()
                if "leader" in line:
                    seen[child.pid] = line["leader"]
                if "task" in line:
                    ran.add(child.pid)
        assert sum(seen.values()) <= 1, seen
        time.sleep(0.02)
    return [pid for pid, leading in seen.items() if leading]


@pytest.mark.parametrize("ending", ["killed", "stopped"])
def test_exactly_one_process_leads_and_the_other_takes_over(spawn, ending):
    """Killed (SIGKILL: the OOM killer, say), the leader is seen gone on this host and the other takes over at its
    next renewal, long before the TTL. Stopped (SIGSTOP: alive but hung, as a holder on another node looks), it
    is waited out: the lease passes only once its TTL ran out."""
    ttl_s = LONG_TTL_S if ending == "killed" else TTL_S
    children = [spawn("lead", str(RENEW_S), str(ttl_s)) for _ in range(2)]
    seen: dict[int, bool] = {}
    ran: set[int] = set()
    deadline = time.monotonic() + WAIT_S
    while len(seen) < 2 and time.monotonic() < deadline:
        follow(children, seen, ran, 0.05)
    first = follow(children, seen, ran, 2.0)
    assert len(first) == 1, seen
    assert ran == set(first), "only the leader runs periodic tasks"
    holder = lease.current_holder("jobs")
    assert holder is not None and f":{first[0]}:" in holder

    leader = next(c for c in children if c.pid == first[0])
    survivor = next(c for c in children if c.pid != first[0])
    ended_at = time.monotonic()  # its last renewal happened before this moment
    if ending == "killed":
        leader.stop()
    else:
        os.kill(leader.pid, signal.SIGSTOP)
    seen.pop(leader.pid)
    while not seen.get(survivor.pid) and time.monotonic() < ended_at + WAIT_S:
        follow([survivor], seen, ran, 0.05)
    took_s = time.monotonic() - ended_at
    assert seen.get(survivor.pid), f"no takeover within {WAIT_S}s:\n{survivor.log.read_text()}"
    if ending == "stopped":  # renewed at most RENEW_S before it stopped: its lease cannot expire much sooner
        assert took_s >= TTL_S - RENEW_S - 0.2
        leader.stop()
    # else: the TTL (LONG_TTL_S) is far beyond WAIT_S, so the takeover did not wait for it
    holder = lease.current_holder("jobs")
    assert holder is not None and f":{survivor.pid}:" in holder
    follow([survivor], seen, ran, 3 * RENEW_S)
    assert survivor.pid in ran, "the new leader runs the periodic tasks"
