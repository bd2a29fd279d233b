"""Workload 6 Downloads: one feed of 200 photo-like JPEGs of ~1 MB each on a local HTTP server, downloaded by a
real gunicorn worker with the default concurrency; time from "run" to the task's end, and the worker's RSS growth.

Reference in the same run: the same 200 URLs fetched by plain `requests` with 2 threads into plain files (no
verification, no fsync, no index, no database): what the work costs without any of the safety.
Every round uses new URLs and new bytes (a comment segment carries the round), so dedupe never shortcuts it.
"""

from __future__ import annotations

import io
import struct
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from PIL import Image

from bench import data
from bench.context import Context
from bench.server import ADMIN_SECRET, CLOSE, REQUEST_TIMEOUT_S, BenchServer, PeakRss
from bench.stats import Row, Summary, Target, ratio
from tests.support.feed_server import feed_server

IMAGES = (200, 200)  # full, quick
ROUNDS = (3, 1)
CROP = (2200, 1650)  # a crop of a 12 MP photo-like JPEG keeps its grain: ~1 MB at quality 90
QUALITY = 90
RSS_SAMPLE_S = 0.05
RUN_TIMEOUT_S = 300.0
ADMIN = {"X-Admin-Secret": ADMIN_SECRET, **CLOSE}


def run(ctx: Context) -> None:
    count, rounds = ctx.pick(*IMAGES), ctx.pick(*ROUNDS)
    base = _base_photo(ctx.inputs)
    durations, growths, references = [], [], []
    with feed_server() as feeds, BenchServer(ctx.scratch("photos"), ctx.scratch("server")) as server:
        _configure(server, feeds)
        pid = server.worker_pid()
        for number in range(rounds):
            urls = _publish(feeds, base, number, count)
            references.append(_plain_download(urls, ctx.scratch(f"plain-{number}")))
            seconds, growth = _timed_run(server, pid, feeds.url(f"/feed-{number}.xml"), number, count)
            durations.append(seconds)
            growths.append(growth)
            ctx.log(f"round {number + 1}: {seconds:.2f} s, RSS +{growth / 1024:.1f} MiB")
    summary, reference = Summary.of(durations), Summary.of(references)
    ctx.emit(Row(f"{count} images of ~{len(base) / 1e6:.1f} MB, run → done", "s", summary,
                 reference="plain requests, 2 threads", reference_value=reference.median,
                 ratio=ratio(summary.median, reference.median), target=Target("median", "<=", 20, "s")))
    ctx.emit(Row("worker RSS growth during a run (largest)", "MiB", value=max(growths) / 1024,
                 target=Target("value", "<=", 100, "MiB")))
    ctx.emit(Row("throughput", "images/s", value=count / summary.median))
    ctx.note(f"{rounds} round(s) of {count} new URLs; default config (4 downloads at a time, 2 per host), "
             f"each image streamed to a temp file, verified with Pillow, fsynced, renamed, recorded and indexed")


def _base_photo(inputs: Path) -> bytes:
    path = inputs / "downloads-base.jpg"
    if not path.exists():
        [source] = data.photo_pool(inputs, 1)
        with Image.open(source) as image:
            buffer = io.BytesIO()
            image.crop((0, 0, *CROP)).save(buffer, "JPEG", quality=QUALITY)
        path.write_bytes(buffer.getvalue())
    return path.read_bytes()


def _variant(base: bytes, text: str) -> bytes:
    """The same picture with a JPEG comment segment after SOI: valid, and different bytes."""
    comment = text.encode()
    return base[:2] + b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment + base[2:]


def _publish(feeds, base: bytes, number: int, count: int) -> list[str]:
    urls = []
    for index in range(count):
        path = f"/r{number}/photo-{index:03}.jpg"
        feeds.route(path, _variant(base, f"round {number} image {index}"), headers={"Content-Type": "image/jpeg"})
        urls.append(feeds.url(path))
    items = "".join(f'<item><guid isPermaLink="false">r{number}-{i}</guid><title>Photo {i}</title>'
                    f'<enclosure url="{url}" type="image/jpeg"/></item>' for i, url in enumerate(urls))
    feeds.route(f"/feed-{number}.xml", f'<?xml version="1.0"?><rss version="2.0"><channel><title>Bench {number}'
                f"</title>{items}</channel></rss>".encode(), headers={"Content-Type": "application/rss+xml"})
    return urls


def _configure(server: BenchServer, feeds) -> None:
    port = int(feeds.url("/").split(":")[2].split("/")[0])
    response = requests.put(server.url + "/api/download/config", headers=ADMIN, timeout=REQUEST_TIMEOUT_S,
                            json={"allowPrivateHosts": True, "allowedPorts": [80, 443, port]})
    response.raise_for_status()


def _timed_run(server: BenchServer, pid: int, feed_url: str, number: int, count: int) -> tuple[float, float]:
    """Seconds from creating the task (which asks for a run at once) to its run having ended, and the
    worker's peak RSS growth meanwhile (KiB)."""
    with PeakRss(pid, RSS_SAMPLE_S) as memory:
        started = time.monotonic()
        task = requests.post(server.url + "/api/download/tasks", headers=ADMIN, timeout=REQUEST_TIMEOUT_S,
                             json={"feedUrl": feed_url, "targetFolder": f"Bench/{number}"}).json()
        body = _wait_for_run(server, task["id"])
        seconds = time.monotonic() - started
    if body["stats"]["imagesSaved"] != count:
        raise RuntimeError(f"saved {body['stats']['imagesSaved']} of {count}: {body}\n{server.log_tail()}")
    return seconds, memory.growth_kib


def _wait_for_run(server: BenchServer, task_id: int) -> dict:
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        body = requests.get(f"{server.url}/api/download/tasks/{task_id}", headers=ADMIN,
                            timeout=REQUEST_TIMEOUT_S).json()
        if body["lastRunAt"] and not body["active"]:
            return body
        time.sleep(0.05)
    raise TimeoutError(f"task {task_id} did not finish within {RUN_TIMEOUT_S} s:\n{server.log_tail()}")


def _plain_download(urls: list[str], folder: Path) -> float:
    session = requests.Session()

    def fetch(pair: tuple[int, str]) -> None:
        index, url = pair
        folder.joinpath(f"{index}.jpg").write_bytes(session.get(url, timeout=REQUEST_TIMEOUT_S).content)

    started = time.monotonic()
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(fetch, enumerate(urls)))
    return time.monotonic() - started
