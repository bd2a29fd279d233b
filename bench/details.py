"""Workload 9 Details (issue 21): warm latency of photo details, the timeline, filtered search and "on this
day" at 100,000 photos, through a real gunicorn, one keep-alive client.

The tree is index (b)'s: 20 years × 50 events × 100 small JPEGs, dated by EXIF in their year and event (one
event in ten undated), five cameras and a phone (bench/data.py). The requests go in turn, request by request,
as in browse, so a drift of this VM's speed hits every URL alike; /api/info rotates over many photos.
Reference: `GET /health` in the same rotation.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

import requests

from bench import data
from bench.context import Context
from bench.index import big_layout
from bench.profile import py_spy
from bench.server import CLOSE, BenchServer, timed_get
from bench.stats import Row, Summary, Target, ratio

WARMUP = 20  # requests per URL before measuring
REQUESTS = (300, 60)  # measured requests per URL: full, quick
INFO_PHOTOS = 500  # distinct photos the /api/info requests rotate over
PAGE = 200  # the largest page the API serves
SCAN_TIMEOUT_S = 600  # the server's first scan of 100,000 files
TEXT = "img_0004"  # free text: the names img_00040…img_00049, 10 in each event
HEALTH = "GET /health (reference)"
TIMELINE = Target("median", "<=", 50, "ms")  # issue 21: "≤ 50 ms p50 for a 100,000-photo library"
TARGETED = ("timeline",)  # labels starting with these have the target; the rest are reported


def run(ctx: Context) -> None:
    ctx.log("generating the 100,000-file tree (cached after the first run, shared with index)")
    layout = big_layout(ctx.quick)
    root = data.small_library(ctx.inputs / f"index-b-{sum(n for _, n in layout)}", layout)
    count = ctx.pick(*REQUESTS)
    ctx.log("starting gunicorn and waiting for its first scan of the tree")
    with BenchServer(root, ctx.scratch("server"), scan_timeout_s=SCAN_TIMEOUT_S) as server, \
            requests.Session() as session:
        ctx.note(f"the server's own first scan (background, before measuring): {server.index.get('files')} "
                 f"files in {server.index.get('seconds')} s")
        urls = _urls(ctx, session, server.url, layout)
        samples = in_turn(session, server.url, urls, count)
        if ctx.profile_dir is not None:
            _profile(ctx, server, session, urls, min(count, 100))
        session.get(server.url + "/health", headers=CLOSE, timeout=10)  # the server may stop at once
    health = Summary.of(samples[HEALTH]).scaled(1000)
    for label in urls:
        ms = Summary.of(samples[label]).scaled(1000)
        reference = (None, None) if label == HEALTH else ("/health", health.median)
        target = TIMELINE if label.startswith(TARGETED) else None
        ctx.emit(Row(label, "ms", ms, reference=reference[0], reference_value=reference[1],
                     ratio=ratio(ms.median, reference[1]), target=target))
    ctx.note(f"one keep-alive client, {WARMUP} warm-up requests per URL, then {count} per URL in turn; "
             f"/api/info over {INFO_PHOTOS} photos spread over the tree; anonymous visitor (public gallery)")


def _urls(ctx: Context, session: requests.Session, url: str, layout: list[tuple[str, int]]) -> dict[str, list[str]]:
    """Label → the paths its requests rotate over. The year, the busiest month of that year and a memories
    date with matches are read from the server (and noted, with what each answer holds)."""
    years = sorted({folder.split("/")[0] for folder, _ in layout})
    year = years[len(years) // 2]
    months = _get(session, url, "/api/timeline?" + urlencode({"path": year}))["months"]
    busy = max(months, key=lambda m: m["count"])
    month = f"{busy['year']}-{busy['month']:02}"
    every = _get(session, url, "/api/timeline")["months"]
    # Odd years put event 10 on the same month and day (bench.data.event_day): matches in every other year.
    day = data.event_day(int(years[-1]) - (int(years[-1]) + 1) % 2, 10)
    memories = f"{int(years[-1]) + 1}-{day.month:02}-{day.day:02}"
    photos = [f"{layout[(n * 37) % len(layout)][0]}/{data.small_name((n * 13) % data.PER_EVENT)}"
              for n in range(INFO_PHOTOS)]
    urls = {
        HEALTH: ["/health"],
        "info: GET /api/info?path=<photo>": [f"/api/info?path={quote(p, safe='/')}" for p in photos],
        f"timeline: root, {sum(m['count'] for m in every):,} photos": ["/api/timeline"],
        f"timeline: year folder {year}": ["/api/timeline?" + urlencode({"path": year})],
        f"timeline: month {month}, page 1 of {PAGE}": [f"/api/timeline/{month}?limit={PAGE}"],
        f"search: year:{year} camera:canon": ["/api/search?" + urlencode({"q": f"year:{year} camera:canon"})],
        f"search: {TEXT} month:{month}": ["/api/search?" + urlencode({"q": f"{TEXT} month:{month}"})],
        "search: camera:canon (no date: every row)": ["/api/search?" + urlencode({"q": "camera:canon"})],
        f"memories: date={memories}": ["/api/memories?" + urlencode({"date": memories})],
    }
    _describe(ctx, session, url, urls, (len(every), busy["count"]))
    return urls


def _describe(ctx: Context, session: requests.Session, url: str, urls: dict[str, list[str]],
              months: tuple[int, int]) -> None:
    """Note what each answer holds, so a figure can be read against the work behind it."""
    found = []
    for label, paths in urls.items():
        if label.startswith("search"):
            found.append(f"{label.split(': ')[1].split(' (')[0]} → {_get(session, url, paths[0])['totalResults']:,} "
                         "results")
        elif label.startswith("memories"):
            years = _get(session, url, paths[0])["years"]
            found.append(f"memories → {sum(len(y['items']) for y in years)} items in {len(years)} years")
    info = _get(session, url, urls["info: GET /api/info?path=<photo>"][0])
    ctx.note(f"{months[0]} months in the root timeline, the busiest of the year {months[1]} photos; "
             + "; ".join(found) + f"; an info answer: takenAt {info['takenAt']}, camera {info['camera']}")


def _get(session: requests.Session, url: str, path: str) -> dict:
    response = session.get(url + path, timeout=60)
    response.raise_for_status()
    return response.json()


def in_turn(session: requests.Session, url: str, urls: dict[str, list[str]], count: int) -> dict[str, list[float]]:
    """Label → seconds of `count` requests per label, after WARMUP each, the labels taking turns request by request."""
    for paths in urls.values():
        for number in range(WARMUP):
            session.get(url + paths[number % len(paths)], timeout=60).raise_for_status()
    samples: dict[str, list[float]] = {label: [] for label in urls}
    labels = list(urls)
    for number in range(count):
        for label in labels[number % len(labels):] + labels[:number % len(labels)]:
            paths = urls[label]
            seconds, response = timed_get(session, url + paths[(WARMUP + number) % len(paths)])
            response.raise_for_status()
            samples[label].append(seconds)
    return samples


def _profile(ctx: Context, server: BenchServer, session: requests.Session, urls: dict[str, list[str]],
             count: int) -> None:
    """An extra pass per endpoint under py-spy, after the measured one (so it perturbs nothing)."""
    for position, (label, paths) in enumerate(urls.items()):
        if label != HEALTH:
            with py_spy(ctx, server.worker_pid(), f"{position}-{label.split(':')[0]}"):
                for number in range(count):
                    session.get(server.url + paths[number % len(paths)], timeout=60).raise_for_status()
