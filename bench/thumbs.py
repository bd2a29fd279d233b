"""Workload 1 Thumbnails: raw generation (bench.thumbs_raw), then through a real gunicorn (one gevent worker,
its CPU pool at the core count): (a) first request → image for indexed, uncached photos, one at a time on a new
connection; (c) throughput with 1 and with 2 parallel clients, the cache cleared before each round."""

from __future__ import annotations

import threading
import time
from contextlib import nullcontext
from pathlib import Path
from urllib.parse import quote

import requests

from bench import data, thumbs_raw
from bench.context import Context
from bench.profile import py_spy
from bench.server import CLOSE, BenchServer, timed_get
from bench.stats import Row, Summary, Target, ratio

PHOTOS = (50, 12)  # full, quick
ROUNDS = (3, 2)  # throughput rounds per client count (the first is a little slower)
RETRY_S = 0.02  # after a 202 "processing" (not expected with ≤ 2 clients)
FIRST_TARGET = Target("median", "<=", 55, "ms")
THROUGHPUT_TARGET = Target("value", ">=", 35, "images/s")
SPEEDUP_TARGET = Target("ratio", ">=", 1.7)


def run(ctx: Context) -> None:
    ctx.log("generating photos (cached after the first run)")
    photos = data.photo_pool(ctx.inputs, ctx.pick(*PHOTOS))
    ctx.log("raw generation")
    raw_ms = thumbs_raw.run(ctx, photos)
    ctx.log("starting gunicorn")
    with BenchServer(photos[0].parent, ctx.scratch("server")) as server:
        with py_spy(ctx, server.worker_pid(), "first-request"):
            first_request(ctx, server, photos, raw_ms)
        throughput(ctx, server, photos)


def first_request(ctx: Context, server: BenchServer, photos: list[Path], raw_ms: float) -> None:
    samples, waits = [], 0
    for path in photos:
        seconds, retries = fetch(requests, _url(server, path), headers=CLOSE)
        samples.append(seconds)
        waits += retries
    ms = Summary.of(samples).scaled(1000)
    ctx.emit(Row("HTTP first request → image", "ms", ms, reference="raw ensure", reference_value=raw_ms,
                 ratio=ratio(ms.median, raw_ms), target=FIRST_TARGET))
    ctx.note(f"first request medians by orientation: {thumbs_raw.orientation_medians(samples)}")
    if waits:
        ctx.note(f"{waits} answers were 202 processing (retried after {RETRY_S * 1000:.0f} ms, time included)")


def throughput(ctx: Context, server: BenchServer, photos: list[Path]) -> None:
    rates: dict[int, list[float]] = {1: [], 2: []}
    for index in range(ctx.pick(*ROUNDS)):
        for clients in ((1, 2) if index % 2 == 0 else (2, 1)):
            server.clear_thumbnails()
            with py_spy(ctx, server.worker_pid(), f"throughput-{clients}-clients") if index == 0 else nullcontext():
                rates[clients].append(len(photos) / _parallel(server, photos, clients))
    one, two = (Summary.of(rates[n]) for n in (1, 2))
    speedup = ratio(two.median, one.median)
    ctx.emit(Row("HTTP throughput, 1 client", "images/s", one, value=one.median))
    ctx.emit(Row("HTTP throughput, 2 clients", "images/s", two, value=two.median, reference="1 client",
                 reference_value=one.median, ratio=speedup, target=THROUGHPUT_TARGET))
    ctx.emit(Row("speedup, 2 clients vs 1", "×", value=speedup, ratio=speedup, target=SPEEDUP_TARGET))


def fetch(client, url: str, retry_s: float | None = RETRY_S, **kwargs) -> tuple[float, int]:
    """Seconds until the image arrived and how many retries that took; after a 202 it asks again in `retry_s`
    (None: when the server's Retry-After says, as a polite client does)."""
    started, retries = time.perf_counter(), 0
    while True:
        _, response = timed_get(client, url, **kwargs)
        if response.status_code == 200 and response.headers.get("Content-Type") == "image/webp":
            return time.perf_counter() - started, retries
        if response.status_code != 202:
            raise RuntimeError(f"GET {url}: {response.status_code} {response.headers.get('X-Thumb-Status')}")
        retries += 1
        time.sleep(float(response.headers.get("Retry-After", 1)) if retry_s is None else retry_s)


def _parallel(server: BenchServer, photos: list[Path], clients: int) -> float:
    """Seconds for `clients` keep-alive clients to fetch every photo's thumbnail (interleaved shares)."""
    errors: list[BaseException] = []

    def client(share: list[Path]) -> None:
        try:
            with requests.Session() as session:
                for path in share:
                    fetch(session, _url(server, path))
        except BaseException as error:  # reported by the caller
            errors.append(error)

    threads = [threading.Thread(target=client, args=(photos[n::clients],)) for n in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - started


def _url(server: BenchServer, path: Path) -> str:
    return f"{server.url}/api/thumbnail?path={quote(path.name)}&v=1"
