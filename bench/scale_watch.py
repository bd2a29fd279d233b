"""Workload 12 Scale, the watcher's part: with the server of (c) or (d) running on the million-photo index, a photo
copied into an album is searchable within how long (no scan: the search API never rescans a folder, where browsing
one would), and gone within how long after it is deleted. In a 4,167-photo event folder and in the 50,000-photo
folder, ROUNDS each. Target: 2 s (issue 24). Reference: the server's search for a name that is there."""

from __future__ import annotations

import shutil
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

import requests

from bench import data
from bench.context import Context
from bench.index_scan import url_of
from bench.server import REQUEST_TIMEOUT_S, BenchServer
from bench.stats import Row, Summary, Target

ROUNDS = (5, 2)  # full, quick
POLL_S = 0.01
WATCHING_TIMEOUT_S = 600  # the watcher first adds a watch per folder (and watchdog walks the tree)
SHOW_TIMEOUT_S = 60
TARGET = Target("median", "<=", 2, "s")


def run(ctx: Context, server: BenchServer, session: requests.Session, library: Path, database: Path | str,
        folders: dict[str, str], part: str, suffix: str) -> None:
    """`folders`: label → album path, each holding at least one photo to copy."""
    ctx.note(f"{part} the watcher was watching {_wait_for_watching(database):.1f} s after the server's first scan")
    key = data.invalidate(library)
    made: list[Path] = []
    try:
        for label, folder in folders.items():
            source = next(p for p in sorted((library / folder).iterdir()) if p.suffix == ".jpg")
            shown, gone = [], []
            for _ in range(ctx.pick(*ROUNDS)):
                copy = library / folder / f"watched_{uuid.uuid4().hex[:12]}.jpg"
                made.append(copy)
                started = time.perf_counter()
                shutil.copyfile(source, copy)
                shown.append(_until(session, server.url, copy.name, 1) - started)
                started = time.perf_counter()
                copy.unlink()
                gone.append(_until(session, server.url, copy.name, 0) - started)
            for what, samples in (("searchable after a copy", shown), ("gone after a delete", gone)):
                ctx.emit(Row(f"{part} watcher: {label}, {what}{suffix}", "s", Summary.of(samples), target=TARGET))
    finally:
        for path in made:
            path.unlink(missing_ok=True)
        if key is not None:
            data.validate(library, key)


def _until(session: requests.Session, url: str, name: str, count: int) -> float:
    """When the search for `name` first answers `count` results."""
    deadline = time.monotonic() + SHOW_TIMEOUT_S
    while time.monotonic() < deadline:
        response = session.get(url + "/api/search?" + urlencode({"q": name}), timeout=REQUEST_TIMEOUT_S)
        if response.json()["totalResults"] == count:
            return time.perf_counter()
        time.sleep(POLL_S)
    raise TimeoutError(f"the search for {name} never answered {count} result(s) within {SHOW_TIMEOUT_S} s")


def _wait_for_watching(database: Path | str) -> float:
    """Seconds until the server's watcher says it watches (read from the shared database, as `photonix doctor`)."""
    from services.database import bind_database, close_connection, open_database
    from services.gallery import watcher

    bind_database(open_database(url_of(database)))
    started = time.monotonic()
    try:
        while (watcher.read_state() or {}).get("mode") != watcher.INOTIFY:
            if time.monotonic() - started > WATCHING_TIMEOUT_S:
                raise TimeoutError(f"the watcher was not watching within {WATCHING_TIMEOUT_S} s: "
                                   f"{watcher.read_state()}")
            time.sleep(0.1)
        return time.monotonic() - started
    finally:
        close_connection()
