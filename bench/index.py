"""Workload 3 Index: `Indexer(root).scan()` from an empty index, each scan in its own process
(bench.index_scan) after `sync`; the page cache stays warm (dropping it needs root), so this is the CPU and
database cost, not the disk's. Reference: a bare walk that stats every file (no headers, no database).

(a) 300 × 12 MP in 10 albums + 10,000 small in one folder; (b) 100,000 small files (time and max RSS);
(c) a rescan of (b)'s tree after 100 changes (40 added, 30 modified, 30 deleted).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench import data, index_changes
from bench.context import Context
from bench.profile import launcher, report
from bench.stats import Row, Summary, Target, ratio

ALBUMS, PER_ALBUM = 10, (30, 6)  # (a): 300 big photos, quick 60
SMALL = (10_000, 2_000)  # (a): small photos in one folder
YEARS, EVENTS, PER_EVENT = (20, 4), 50, 100  # (b): year/event folders; 100,000 files, quick 20,000
REPEATS = {"a": (3, 1), "b": (3, 1), "c": (3, 1)}
CHANGES = 100
SCAN_TIMEOUT_S = 300
TARGETS = {"a": Target("median", "<=", 5, "s"), "b": Target("median", "<=", 60, "s"),
           "rss": Target("value", "<=", 300, "MB"), "c": Target("median", "<=", 2, "s")}


def big_layout(quick: bool) -> list[tuple[str, int]]:
    years = YEARS[1] if quick else YEARS[0]
    return [(f"{2000 + y}/event-{e:02}", PER_EVENT) for y in range(years) for e in range(EVENTS)]


def run(ctx: Context) -> None:
    ctx.log("generating libraries (cached after the first run)")
    pool = data.photo_pool(ctx.inputs, 50 if not ctx.quick else 12)
    per_album, small = ctx.pick(*PER_ALBUM), ctx.pick(*SMALL)
    library_a = data.photo_library(ctx.inputs / f"index-a-{ALBUMS * per_album}-{small}", pool, ALBUMS, per_album,
                                   small)
    layout = big_layout(ctx.quick)
    library_b = data.small_library(ctx.inputs / f"index-b-{sum(n for _, n in layout)}", layout)
    ctx.log("(a) photos and a big folder")
    scans = [scan_once(ctx, library_a, profile="a" if n == 0 else None) for n in range(ctx.pick(*REPEATS["a"]))]
    emit_scans(ctx, "(a) cold index, 12 MP albums + small folder", scans, walk_s(library_a), TARGETS["a"])
    ctx.log("(b) 100,000 small files" if not ctx.quick else "(b) small files")
    scans = [scan_once(ctx, library_b, profile="b" if n == 0 else None) for n in range(ctx.pick(*REPEATS["b"]))]
    emit_scans(ctx, f"(b) cold index, {scans[0]['files']:,} small files", scans, walk_s(library_b), TARGETS["b"])
    rss = max(scan["maxRssMB"] for scan in scans)
    ctx.emit(Row("(b) max RSS of the scanning process", "MB", value=rss, target=TARGETS["rss"]))
    ctx.log("(c) rescans after changes")
    incremental(ctx, library_b, layout, scans[-1]["database"])


def incremental(ctx: Context, library: Path, layout: list[tuple[str, int]], database: Path | str,
                changes: int = CHANGES, target: Target = TARGETS["c"], timeout_s: float = SCAN_TIMEOUT_S,
                label: str = "(c)") -> None:
    """Rounds of `changes` edits then a timed rescan on the library's database; the tree is put back afterwards."""
    key = data.invalidate(library)
    rounds: list[index_changes.Changes] = []
    scans = []
    try:
        for number in range(ctx.pick(*REPEATS["c"])):
            done = index_changes.Changes(originals=[o for r in rounds for o in r.originals])
            rounds.append(index_changes.apply(library, layout, changes, seed=data.SEED + number, done=done))
            scans.append(scan_once(ctx, library, database, profile="c" if number == 0 else None, timeout_s=timeout_s))
            found = {k: scans[-1][k] for k in ("added", "updated", "removed")}
            if found != rounds[-1].counts:
                ctx.note(f"rescan {number + 1} found {found}, expected {rounds[-1].counts}")
    finally:
        index_changes.restore(library, rounds)
        if key is not None:
            data.validate(library, key)
    emit_scans(ctx, f"{label} rescan after {changes:,} changes", scans, walk_s(library), target)


def scan_once(ctx: Context, root: Path, database: Path | str | None = None, profile: str | None = None,
              timeout_s: float = SCAN_TIMEOUT_S) -> dict:
    """One scan in a child process (a fresh SQLite file unless a file or a postgresql:// URL is given), under
    py-spy when `profile` names it and --profile was given; its JSON figures plus the database."""
    if database is None:
        database = ctx.scratch(f"db-{time.monotonic_ns()}") / "photonix.db"
    prefix = [*launcher(ctx, profile), "--"] if profile and ctx.profile_dir else []
    os.sync()
    done = subprocess.run([*prefix, sys.executable, "-m", "bench.index_scan", str(root), str(database)],
                          check=True, capture_output=True, text=True, timeout=timeout_s)
    if prefix:
        report(ctx, profile)
    found = [line for line in done.stdout.splitlines() if line.startswith("{")]
    return {**json.loads(found[-1]), "database": database}


def emit_scans(ctx: Context, label: str, scans: list[dict], walk_s: float, target: Target) -> None:
    seconds = Summary.of([scan["seconds"] for scan in scans])
    ctx.emit(Row(label, "s", seconds, reference="walk+stat", reference_value=walk_s,
                 ratio=ratio(seconds.median, walk_s), target=target,
                 note=f"{scans[0]['folders']:,} folders, {scans[0]['files']:,} files"))


def walk_s(root: Path) -> float:
    """Seconds to list every folder and stat every file: the floor under any scan."""
    started = time.perf_counter()
    for folder, _, files in os.walk(root):
        for name in files:
            os.stat(os.path.join(folder, name))
    return time.perf_counter() - started
