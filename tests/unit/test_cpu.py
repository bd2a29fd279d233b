"""services/cpu.py: results and errors come back; under gevent the hub keeps serving while CPU work runs."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from services import cpu

ROOT = Path(__file__).resolve().parents[2]

GEVENT_SCRIPT = """
from gevent import monkey

monkey.patch_all()

import json
import time

import bcrypt
import gevent
import gevent.threadpool

from services import cpu

cpu.configure(2)
salt = bcrypt.gensalt(12)


def max_tick_gap(work):
    # A greenlet ticking every 10 ms; the longest gap between ticks is how long the hub was stalled.
    gaps, done = [], []

    def ticker():
        last = time.perf_counter()
        while not done:
            gevent.sleep(0.01)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    tick = gevent.spawn(ticker)
    gevent.sleep(0.05)
    result = work()
    done.append(True)
    tick.join(5)
    return max(gaps), result


def offloaded():
    hashes = [gevent.spawn(cpu.run_cpu, bcrypt.hashpw, b"pw%d" % i, salt) for i in range(2)]
    gevent.joinall(hashes, timeout=30, raise_error=True)
    return [h.value for h in hashes]


pool_gap, hashes = max_tick_gap(offloaded)
inline_gap, _ = max_tick_gap(lambda: bcrypt.hashpw(b"inline", salt))
try:
    cpu.run_cpu(divmod, 1, 0)
    error = None
except ZeroDivisionError:
    error = "ZeroDivisionError"
print(json.dumps({
    "pool_gap": pool_gap,
    "inline_gap": inline_gap,
    "hashes_ok": all(bcrypt.checkpw(b"pw%d" % i, h) for i, h in enumerate(hashes)),
    "error": error,
    "dedicated_pool": isinstance(cpu._pool, gevent.threadpool.ThreadPool)
    and cpu._pool is not gevent.get_hub().threadpool,
    "busy_after": cpu.busy(),
}))
"""


@pytest.fixture(autouse=True)
def pool():
    cpu.configure(2)
    yield
    cpu.configure(cpu.DEFAULT_SIZE)


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


def test_configure_refuses_an_empty_pool():
    with pytest.raises(ValueError):
        cpu.configure(0)


def test_under_gevent_a_dedicated_pool_keeps_the_hub_serving(tmp_path):
    script = tmp_path / "gevent_cpu.py"
    script.write_text(GEVENT_SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script)], cwd=ROOT, env={"PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["hashes_ok"] and report["dedicated_pool"]
    assert report["error"] == "ZeroDivisionError" and report["busy_after"] == 0
    # The control shows the check can see a stall: bcrypt cost 12 inline freezes the hub.
    assert report["inline_gap"] > 0.1, report
    assert report["pool_gap"] < 0.1, report
