"""Workload 5 Hub stalls: one gevent worker gets 20 concurrent logins (bcrypt, the right password) and 50 cold
thumbnails at once, while a separate process measures `GET /health` every ~10 ms. If CPU work ran on the
gevent hub, /health would wait behind it. Reference: the same probe on the idle server just before.

Then the two lanes of the CPU pool (services/cpu.py): a viewer's cold thumbnails during a burst of 80 logins,
and a visitor's logins during 50 cold thumbnails. Each login comes from its own address (X-Forwarded-For
through one trusted hop), as from many visitors: parallel logins from one address are refused by the lockout."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
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
BURST_LOGINS = (80, 20)
PROBE_INTERVAL_MS = 10
IDLE_S = 2.0  # probe before the load: the reference
VIEWER_PAUSE_S = 0.5  # the viewer asks for its next cold thumbnail this long after the last arrived
VISITOR_PAUSE_S = 0.2  # the visitor logs in again this long after the last login answered
TARGET = Target("p99", "<=", 100, "ms")
THUMBNAIL_DURING_LOGINS = Target("max", "<=", 2000, "ms")
LOGIN_DURING_THUMBNAILS = Target("max", "<=", 1000, "ms")


def run(ctx: Context) -> None:
    photos = data.photo_pool(ctx.inputs, ctx.pick(*THUMBNAILS))
    addresses = (f"198.18.{n // 250}.{n % 250 + 1}" for n in itertools.count())  # a benchmarking network
    with BenchServer(photos[0].parent, ctx.scratch("server"), TRUSTED_PROXIES="1") as server:
        server.admin({"newPassword": PASSWORD})
        token = server.login()
        with HealthProbe(server.url + "/health", PROBE_INTERVAL_MS) as probe:
            time.sleep(IDLE_S)
            with py_spy(ctx, server.worker_pid(), "load"):
                started = time.monotonic()
                logins, thumbnails = _load(server, token, ctx.pick(*LOGINS), photos, addresses)
                ended = time.monotonic()
            samples = probe.stop()
        _lanes(ctx, server, token, photos, addresses)
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


def _load(server: BenchServer, token: str, logins: int, photos: list[Path],
          addresses: Iterator[str]) -> tuple[list[float], list[float]]:
    """Every login and thumbnail at once, each on its own thread; the seconds each took."""
    jobs = [_login(server, next(addresses)) for _ in range(logins)] + [_thumbnail(server, token, p) for p in photos]
    results = _all_at_once(jobs)
    return results[:logins], results[logins:]


def _lanes(ctx: Context, server: BenchServer, token: str, photos: list[Path], addresses: Iterator[str]) -> None:
    """Neither kind of CPU work waits behind the other: thumbnails during a login burst, logins during thumbnails."""
    burst = ctx.pick(*BURST_LOGINS)
    server.clear_thumbnails()
    logins, viewed = _during([_login(server, next(addresses)) for _ in range(burst)],
                             lambda n: _thumbnail(server, token, photos[n])(), VIEWER_PAUSE_S, len(photos))
    ctx.emit(Row(f"cold thumbnail during {burst} logins", "ms", Summary.of(viewed).scaled(1000),
                 target=THUMBNAIL_DURING_LOGINS,
                 note=f"one viewer, the next photo {VIEWER_PAUSE_S:g} s after the last arrived"))
    ctx.emit(Row(f"{burst} logins in a burst", "ms", Summary.of(logins).scaled(1000)))
    server.clear_thumbnails()
    _, visits = _during([_thumbnail(server, token, path) for path in photos],
                        lambda _: _login(server, next(addresses))(), VISITOR_PAUSE_S, 1000)
    ctx.emit(Row(f"login during {len(photos)} cold thumbnails", "ms", Summary.of(visits).scaled(1000),
                 target=LOGIN_DURING_THUMBNAILS,
                 note=f"one visitor, again {VISITOR_PAUSE_S:g} s after each answer, each from a new address"))


def _login(server: BenchServer, address: str) -> Callable[[], float]:
    def login() -> float:
        started = time.perf_counter()
        requests.post(server.url + "/api/auth/login", json={"password": PASSWORD},
                      headers={"X-Forwarded-For": address, **CLOSE}, timeout=REQUEST_TIMEOUT_S).raise_for_status()
        return time.perf_counter() - started

    return login


def _thumbnail(server: BenchServer, token: str, path: Path) -> Callable[[], float]:
    url = f"{server.url}/api/thumbnail?path={quote(path.name)}&v=1"
    bearer = {"Authorization": f"Bearer {token}", **CLOSE}
    return lambda: fetch(requests, url, headers=bearer, retry_s=None)[0]


def _during(load: list[Callable[[], float]], probe: Callable[[int], float], pause_s: float,
            most: int) -> tuple[list[float], list[float]]:
    """Every `load` job at once and, from the same moment until they are all done, `probe(n)` again and again
    (`pause_s` after each answer, at most `most` times); the seconds each load job and each probe took."""
    finished, lock, left = threading.Event(), threading.Lock(), [len(load)]
    probes: list[float] = []

    def counted(job: Callable[[], float]) -> Callable[[], float]:
        def run() -> float:
            try:
                return job()
            finally:
                with lock:
                    left[0] -= 1
                    if not left[0]:
                        finished.set()

        return run

    def prober() -> float:
        for n in range(most):
            probes.append(probe(n))
            if finished.wait(pause_s):
                break
        return 0.0

    return _all_at_once([counted(job) for job in load] + [prober])[:-1], probes


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
