"""Workload 12 Scale (issue 24), first part: the index at a million photos, on SQLite.

The library: 20 years × 12 monthly event folders (`YYYY/event-NN`, four weeks apart) of 4,167 small JPEGs each,
plus one folder of 50,000 (1,050,080 files, about 1 KB each: tiny real files, dated and with camera EXIF, as
index (b) makes them; about 1.1 GB and one inode each). Cached in bench/.data/inputs after the first run.

(a) a cold index in its own process (bench.index_scan): seconds and the peak RSS (VmHWM); (b) a rescan after
1,000 changes (400 added, 300 modified, 300 deleted; the tree is put back afterwards). Reference: a bare walk that
stats every file. Still to come for issue 24: PostgreSQL side by side, the watcher, browse, search, timeline and
event streams at this size.
"""

from __future__ import annotations

from bench import data, index
from bench.context import Context
from bench.stats import Row, Target

YEARS, MONTHS = (20, 2), 12
PER_FOLDER = (4_167, 50)
BIG_FOLDER = (50_000, 1_000)
CHANGES = (1_000, 100)
SCAN_TIMEOUT_S = 1800  # a cold index at a million may miss its 5-minute target; the bench still reports it
TARGETS = {"cold": Target("median", "<=", 300, "s"), "rss": Target("value", "<=", 300, "MB"),
           "rescan": Target("median", "<=", 30, "s")}


def layout(quick: bool) -> list[tuple[str, int]]:
    years, per_folder = (YEARS[1], PER_FOLDER[1]) if quick else (YEARS[0], PER_FOLDER[0])
    months = [(f"{2000 + year}/event-{4 * month:02}", per_folder) for year in range(years) for month in range(MONTHS)]
    return [*months, ("big", BIG_FOLDER[1] if quick else BIG_FOLDER[0])]


def run(ctx: Context) -> None:
    folders = layout(ctx.quick)
    files = sum(count for _, count in folders)
    ctx.log(f"generating {files:,} small files (cached after the first run)")
    library = data.small_library(ctx.inputs / f"scale-{files}", folders)
    ctx.log("(a) cold index")
    scan = index.scan_once(ctx, library, profile="scale", timeout_s=SCAN_TIMEOUT_S)
    index.emit_scans(ctx, f"(a) cold index, {scan['files']:,} files (SQLite)", [scan], index.walk_s(library),
                     TARGETS["cold"])
    ctx.emit(Row("(a) max RSS of the scanning process", "MB", value=scan["maxRssMB"], target=TARGETS["rss"]))
    ctx.note(f"database after the cold index: {scan['database'].stat().st_size / 1e6:,.0f} MB (SQLite file)")
    ctx.log("(b) rescans after changes")
    index.incremental(ctx, library, folders, scan["database"], changes=ctx.pick(*CHANGES),
                      target=TARGETS["rescan"], timeout_s=SCAN_TIMEOUT_S, label="(b)")
