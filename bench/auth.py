"""Workload 7 Auth path: requests/s of one album page with a Bearer token (password mode) against the same page
anonymous (password protection off): two servers on the same photos, one per mode, measured in short rounds
that alternate between them (this VM's speed drifts by ±20 % over seconds; fast alternation cancels that).
Then, as a diagnosis, the page with and without a token alternating request by request (public mode).
All requests use sort=name_asc, so the only difference is the token check (and the viewer id it yields)."""

from __future__ import annotations

import threading
import time
from contextlib import ExitStack
from statistics import mean

import requests

from bench import data
from bench.context import Context
from bench.profile import py_spy
from bench.server import CLOSE, PASSWORD, REQUEST_TIMEOUT_S, BenchServer, timed_get
from bench.stats import Row, Summary, Target, ratio

ALBUM_PHOTOS = 50  # one default page (limit 50)
CLIENTS = 2
ROUND_S = 0.5  # measured seconds per mode and round
WARMUP_S = 0.1  # per round: connections opened, not measured
ROUNDS = (40, 10)  # full, quick
PAIRS = (2000, 300)
PAIRS_WARMUP = 100
URL_PATH = "/api/browse/album?sort=name_asc"
TARGET = Target("value", "<=", 10, "%")
MODES = ("anonymous", "authenticated")


def run(ctx: Context) -> None:
    root = data.small_library(ctx.inputs / "auth", [("album", ALBUM_PHOTOS)])
    with ExitStack() as stack:
        servers = {mode: stack.enter_context(BenchServer(root, ctx.scratch(mode))) for mode in MODES}
        servers["authenticated"].admin({"newPassword": PASSWORD})
        headers = {"anonymous": {}, "authenticated": {"Authorization": f"Bearer {servers['authenticated'].login()}"}}
        _check_modes(servers, headers)
        rps = _rounds(ctx, servers, headers)
        paired = _paired(servers["authenticated"], ctx.pick(*PAIRS))
    ctx.emit(Row("anonymous GET /api/browse/<album>", "requests/s", value=rps["anonymous"]))
    ctx.emit(Row("authenticated GET /api/browse/<album>", "requests/s", value=rps["authenticated"],
                 reference="anonymous", reference_value=rps["anonymous"],
                 ratio=ratio(rps["authenticated"], rps["anonymous"])))
    ctx.emit(Row("JWT overhead (requests/s lost)", "%", value=100 * (1 - rps["authenticated"] / rps["anonymous"]),
                 target=TARGET))
    none, bearer = (Summary.of(paired[mode]).scaled(1000) for mode in ("none", "bearer"))
    ctx.emit(Row("paired: no token (public mode)", "ms", none))
    ctx.emit(Row("paired: Bearer token (public mode)", "ms", bearer, reference="no token",
                 reference_value=none.median, ratio=ratio(bearer.median, none.median)))
    added = 100 * (mean(paired["bearer"]) / mean(paired["none"]) - 1)
    ctx.emit(Row("paired JWT overhead (mean latency added)", "%", value=added))
    ctx.note(f"requests/s: {CLIENTS} keep-alive clients, {ctx.pick(*ROUNDS)} rounds × {ROUND_S:g} s per mode, "
             f"alternating between the two servers; paired: one client, with and without a token request by "
             f"request, {ctx.pick(*PAIRS)} pairs; album page of {ALBUM_PHOTOS}")


def _check_modes(servers: dict[str, BenchServer], headers: dict[str, dict[str, str]]) -> None:
    """The password server refuses an anonymous read and serves the token; the other serves anyone."""
    checks = [(servers["anonymous"], {}, 200), (servers["authenticated"], {}, 401),
              (servers["authenticated"], headers["authenticated"], 200)]
    for server, sent, expected in checks:
        status = requests.get(server.url + URL_PATH, headers={**sent, **CLOSE}, timeout=REQUEST_TIMEOUT_S).status_code
        if status != expected:
            raise RuntimeError(f"{server.url}{URL_PATH} with {sorted(sent)} answered {status}, not {expected}")


def _rounds(ctx: Context, servers: dict[str, BenchServer], headers: dict[str, dict[str, str]]) -> dict[str, float]:
    """Requests/s of each mode over alternating rounds; latency rows as a side product."""
    counts = dict.fromkeys(MODES, 0)
    latencies: dict[str, list[float]] = {mode: [] for mode in MODES}
    for number in range(ctx.pick(*ROUNDS)):
        for mode in MODES if number % 2 == 0 else MODES[::-1]:
            profiling = ctx.profile_dir is not None and number == 1
            with py_spy(ctx, servers[mode].worker_pid(), mode) if profiling else ExitStack():
                samples = _hammer(servers[mode].url + URL_PATH, headers[mode], ROUND_S)
            counts[mode] += len(samples)
            latencies[mode].extend(samples)
    for mode in MODES:
        ctx.emit(Row(f"{mode} latency, {CLIENTS} clients", "ms", Summary.of(latencies[mode]).scaled(1000)))
    return {mode: counts[mode] / (ROUND_S * ctx.pick(*ROUNDS)) for mode in MODES}


def _hammer(url: str, headers: dict[str, str], seconds: float) -> list[float]:
    """CLIENTS clients as fast as they can for `seconds` (after a warm-up); the latencies of that window."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    start_at = time.monotonic() + WARMUP_S
    stop_at = start_at + seconds

    def client() -> None:
        mine = []
        with requests.Session() as session:
            while (now := time.monotonic()) < stop_at:
                response = session.get(url, headers=headers, timeout=REQUEST_TIMEOUT_S)
                if response.status_code != 200:
                    errors.append(f"{response.status_code} {response.text[:200]}")
                    return
                if now >= start_at:
                    mine.append(time.monotonic() - now)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError(f"GET {url}: {errors[0]}")
    return latencies


def _paired(server: BenchServer, pairs: int) -> dict[str, list[float]]:
    """Latencies with and without a Bearer token, alternating request by request on one connection."""
    server.admin({"publicAccess": True})
    variants = {"none": {}, "bearer": {"Authorization": f"Bearer {server.login()}"}}
    found: dict[str, list[float]] = {"none": [], "bearer": []}
    with requests.Session() as session:
        for number in range(PAIRS_WARMUP + pairs):
            for name in ("none", "bearer") if number % 2 == 0 else ("bearer", "none"):
                seconds, response = timed_get(session, server.url + URL_PATH, headers=variants[name])
                response.raise_for_status()
                if number >= PAIRS_WARMUP:
                    found[name].append(seconds)
        session.get(server.url + "/health", headers=CLOSE, timeout=REQUEST_TIMEOUT_S)
    return found
