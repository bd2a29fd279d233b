"""Workload 1 Thumbnails: raw generation and the 1- vs 2-thread throughput (bench.thumbs_raw), then through a
real gunicorn (one gevent worker, its CPU pool at the core count): (a) first request → image for indexed,
uncached photos, one at a time on a new connection; (c) throughput with 1 and with 2 parallel clients, the cache
cleared before each round, with the CPU ceiling the shared cores set for it; then the batch at the CPU ceiling and
a browser's thumbnails while it runs (bench.thumbs_batch)."""

from __future__ import annotations

import os
import threading
import time
from contextlib import nullcontext
from pathlib import Path
from urllib.parse import quote

import requests

from bench import data, thumbs_batch, thumbs_raw
from bench.context import Context
from bench.profile import py_spy
from bench.server import CLOSE, BenchServer, cpu_s, timed_get
from bench.stats import Row, Summary, Target, ratio

PHOTOS = (50, 12)  # full, quick
ROUNDS = (3, 2)  # throughput rounds per client count (the first is a little slower)
RETRY_S = 0.02  # after a 202 "processing" (not expected with ≤ 2 clients)
FIRST_TARGET = Target("median", "<=", 55, "ms")


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
    ctx.log("the batch, and a browser while it runs")
    thumbs_batch.run(ctx, photos)


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
    """Images/s through HTTP with 1 and 2 clients, and what the CPU allowed: the client runs on the same cores,
    so cores / (CPU seconds of the worker and of the client per image) bounds the 2-client rate."""
    rates: dict[int, list[float]] = {1: [], 2: []}
    spent = {"server": 0.0, "client": 0.0}
    worker = server.worker_pid()
    for index in range(ctx.pick(*ROUNDS)):
        for clients in ((1, 2) if index % 2 == 0 else (2, 1)):
            server.clear_thumbnails()
            with py_spy(ctx, worker, f"throughput-{clients}-clients") if index == 0 else nullcontext():
                before = (cpu_s(worker), _own_cpu_s())
                rates[clients].append(len(photos) / _parallel(server, photos, clients))
                if clients == 2:
                    spent["server"] += cpu_s(worker) - before[0]
                    spent["client"] += _own_cpu_s() - before[1]
    one, two = (Summary.of(rates[n]) for n in (1, 2))
    images = len(photos) * len(rates[2])
    per_image_ms = {side: 1000 * seconds / images for side, seconds in spent.items()}
    ceiling = (os.cpu_count() or 2) * 1000 / sum(per_image_ms.values())
    ctx.emit(Row("HTTP throughput, 1 client", "images/s", one, value=one.median))
    ctx.emit(Row("HTTP throughput, 2 clients", "images/s", two, value=two.median, reference="CPU ceiling",
                 reference_value=ceiling, ratio=ratio(two.median, ceiling)))
    ctx.emit(Row("HTTP speedup, 2 clients vs 1", "×", value=ratio(two.median, one.median)))
    ctx.note(f"CPU per image with 2 clients: the gunicorn worker {per_image_ms['server']:.1f} ms (pool and hub), "
             f"the bench's clients {per_image_ms['client']:.1f} ms, on the same {os.cpu_count()} cores: at most "
             f"{ceiling:.1f} images/s through HTTP here")


def _own_cpu_s() -> float:
    times = os.times()
    return times.user + times.system


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
