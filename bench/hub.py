"""Workload 5 Hub stalls: one gevent worker gets 20 concurrent logins (bcrypt, the right password) and 50 cold
thumbnails at once, while a separate process measures `GET /health` every ~10 ms. If CPU work ran on the
gevent hub, /health would wait behind it. Reference: the same probe on the idle server just before."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import requests

from bench import data
from bench.context import Context
from bench.probe import HealthProbe, between
from bench.profile import py_spy
from bench.server import CLOSE, PASSWORD, REQUEST_TIMEOUT_S, BenchServer
from bench.stats import Row, Summary, Target, ratio
from bench.thumbs import fetch

LOGINS = (20, 8)  # full, quick
THUMBNAILS = (50, 12)
PROBE_INTERVAL_MS = 10
IDLE_S = 2.0  # probe before the load: the reference
TARGET = Target("p99", "<=", 100, "ms")


def run(ctx: Context) -> None:
    photos = data.photo_pool(ctx.inputs, ctx.pick(*THUMBNAILS))
    with BenchServer(photos[0].parent, ctx.scratch("server")) as server:
        server.admin({"newPassword": PASSWORD})
        token = server.login()
        with HealthProbe(server.url + "/health", PROBE_INTERVAL_MS) as probe:
            time.sleep(IDLE_S)
            with py_spy(ctx, server.worker_pid(), "load"):
                started = time.monotonic()
                logins, thumbnails = _load(server, token, ctx.pick(*LOGINS), photos)
                ended = time.monotonic()
            samples = probe.stop()
    idle = Summary.of(between(samples, 0, started)).scaled(1000)
    loaded = Summary.of(between(samples, started, ended)).scaled(1000)
    ctx.emit(Row("/health, idle (reference)", "ms", idle))
    ctx.emit(Row("/health under load", "ms", loaded, reference="idle p99", reference_value=idle.p99,
                 ratio=ratio(loaded.p99, idle.p99), target=TARGET))
    ctx.emit(Row(f"{len(logins)} logins under load", "ms", Summary.of(logins).scaled(1000)))
    ctx.emit(Row(f"{len(thumbnails)} cold thumbnails under load", "ms", Summary.of(thumbnails).scaled(1000),
                 note="request → image; after a 202 the client waits as Retry-After says"))
    failed = sum(1 for _, _, status in samples if status != 200)
    ctx.note(f"load window {ended - started:.2f} s, {loaded.n} probes in it; {failed} probes not 200")


def _load(server: BenchServer, token: str, logins: int, photos: list[Path]) -> tuple[list[float], list[float]]:
    """Every login and thumbnail at once, each on its own thread; the seconds each took."""
    bearer = {"Authorization": f"Bearer {token}", **CLOSE}

    def login() -> float:
        started = time.perf_counter()
        requests.post(server.url + "/api/auth/login", json={"password": PASSWORD}, headers=CLOSE,
                      timeout=REQUEST_TIMEOUT_S).raise_for_status()
        return time.perf_counter() - started

    def thumbnail(path: Path) -> Callable[[], float]:
        url = f"{server.url}/api/thumbnail?path={quote(path.name)}&v=1"
        return lambda: fetch(requests, url, headers=bearer, retry_s=None)[0]

    jobs = [login] * logins + [thumbnail(path) for path in photos]
    results = _all_at_once(jobs)
    return results[:logins], results[logins:]


def _all_at_once(jobs: list[Callable[[], float]]) -> list[float]:
    results: list[float | BaseException] = [0.0] * len(jobs)
    gate = threading.Barrier(len(jobs))

    def worker(number: int) -> None:
        gate.wait()
        try:
            results[number] = jobs[number]()
        except BaseException as error:  # re-raised below, on the workload's thread
            results[number] = error

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results  # type: ignore[return-value]
