"""Workload 2 Browse: warm latency of album pages through a real gunicorn, one keep-alive client.

The tree: a root with 1,000 albums, one of them (`big`) holding 10,000 photos and the others two each.
The pages are requested in turn, request by request, so a drift of this VM's speed hits every page alike.
Reference: `GET /health` in the same rotation, the floor of any request through this server.
"""

from __future__ import annotations

import requests

from bench import data
from bench.context import Context
from bench.profile import py_spy
from bench.server import CLOSE, BenchServer, timed_get
from bench.stats import Row, Summary, Target, ratio

BIG_PHOTOS = 10_000
ALBUMS = 1_000  # at the root, `big` included
PHOTOS_PER_ALBUM = 2
PAGE = 200  # the largest page the API serves
WARMUP = 30  # requests per URL before measuring
REQUESTS = (300, 100)  # measured requests per URL: full, quick
HEALTH = "GET /health (reference)"
PAGES = {  # label: (path, target)
    HEALTH: ("/health", None),
    f"10k folder, page 1 of {PAGE}": (f"/api/browse/big?limit={PAGE}", Target("median", "<=", 10, "ms")),
    f"root, {ALBUMS} albums, page 1 of {PAGE}": (f"/api/browse?limit={PAGE}", Target("median", "<=", 30, "ms")),
    f"10k folder, last page of {PAGE}": (f"/api/browse/big?limit={PAGE}&page={BIG_PHOTOS // PAGE}", None),
    f"10k folder, page 1 of {PAGE}, name_asc": (f"/api/browse/big?limit={PAGE}&sort=name_asc", None),
}


def layout() -> list[tuple[str, int]]:
    return [("big", BIG_PHOTOS)] + [(f"album-{n:04}", PHOTOS_PER_ALBUM) for n in range(1, ALBUMS)]


def run(ctx: Context) -> None:
    ctx.log("generating the browse tree (cached after the first run)")
    root = data.small_library(ctx.inputs / "browse", layout())
    count = ctx.pick(*REQUESTS)
    ctx.log("starting gunicorn and waiting for its first scan")
    with BenchServer(root, ctx.scratch("server")) as server, requests.Session() as session:
        samples = _in_turn(session, server.url, count)
        if ctx.profile_dir is not None:
            _profile(ctx, server, session, count)
        session.get(server.url + "/health", headers=CLOSE, timeout=10)  # the server may stop at once
    health = Summary.of(samples[HEALTH]).scaled(1000)
    for label, (_, target) in PAGES.items():
        ms = Summary.of(samples[label]).scaled(1000)
        reference = (None, None) if label == HEALTH else ("/health", health.median)
        ctx.emit(Row(label, "ms", ms, reference=reference[0], reference_value=reference[1],
                     ratio=ratio(ms.median, reference[1]), target=target))
    ctx.note(f"one keep-alive client, {WARMUP} warm-up requests per URL, then {count} per URL in turn; "
             "sort=smart unless named; anonymous visitor")


def _in_turn(session: requests.Session, url: str, count: int) -> dict[str, list[float]]:
    for path, _ in PAGES.values():
        for _ in range(WARMUP):
            session.get(url + path, timeout=60).raise_for_status()
    samples: dict[str, list[float]] = {label: [] for label in PAGES}
    labels = list(PAGES)
    for number in range(count):
        for label in labels[number % len(labels):] + labels[:number % len(labels)]:
            seconds, response = timed_get(session, url + PAGES[label][0])
            response.raise_for_status()
            samples[label].append(seconds)
    return samples


def _profile(ctx: Context, server: BenchServer, session: requests.Session, count: int) -> None:
    """An extra pass per page with a target, under py-spy, after the measured one (so it perturbs nothing)."""
    for label, (path, target) in PAGES.items():
        if target is not None:
            with py_spy(ctx, server.worker_pid(), label.split(",")[0].replace(" ", "-")):
                for _ in range(count):
                    session.get(server.url + path, timeout=60).raise_for_status()
