"""Workload 12 Scale (issue 24): the index at a million photos, on SQLite and on PostgreSQL.

The library: 20 years × 12 monthly event folders (`YYYY/event-NN`, four weeks apart) of 4,167 small JPEGs each,
plus one folder of 50,000 (1,050,080 files, about 1 KB each: tiny real files, dated and with camera EXIF, as
index (b) makes them; about 1.1 GB and one inode each). Cached in bench/.data/inputs after the first run.

Besides, a folder `多言語` of 2,000 names in several scripts (hard links to one of the small files), for search.

(a) a cold index in its own process (bench.index_scan): seconds and the peak RSS (VmHWM); (b) a rescan after
1,000 changes (400 added, 300 modified, 300 deleted; the tree is put back afterwards). Reference: a bare walk that
stats every file. (c) one gunicorn worker on (a)'s database, one keep-alive client, requests in turn as in
details: browse (root, a year, the 50,000-photo folder's first and last pages of 200 by `page` and by `cursor`),
the root timeline, and name searches of 1 to 5 characters in Latin and CJK. Reference: `GET /health` in the same
rotation. Then how soon the watcher makes a photo copied in searchable (bench/scale_watch.py). (d) (a) to (c)
again on PostgreSQL (a server of its own on this machine, fsync on), side by side.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote, urlencode

import psycopg2
import requests

from bench import data, index, scale_watch
from bench.context import Context
from bench.details import HEALTH, in_turn
from bench.server import BenchServer
from bench.stats import Row, Summary, Target, ratio
from tests.support import servers

YEARS, MONTHS = (20, 2), 12
PER_FOLDER = (4_167, 50)
BIG_FOLDER = (50_000, 1_000)
CHANGES = (1_000, 100)
SCAN_TIMEOUT_S = 1800  # a cold index at a million may miss its 5-minute target; the bench still reports it
TARGETS = {"cold": Target("median", "<=", 300, "s"), "rss": Target("value", "<=", 300, "MB"),
           "rescan": Target("median", "<=", 30, "s"), "browse": Target("median", "<=", 10, "ms"),
           "search": Target("median", "<=", 50, "ms"), "timeline": Target("median", "<=", 50, "ms")}
NAMES_FOLDER, NAMES = "多言語", (2_000, 200)
WORDS = ("東京タワー", "北京烤鸭", "서울의 밤", "Café de Flore", "Москва", "Αθήνα", "夕焼け", "山田さん", "上海外滩",
         "桜の花", "ñandú", "Zürich")
SEARCHES = ("z", "fl", "caf", "img", "00042", "東", "東京", "東京タ", "서울")  # Latin and CJK, 1 to 5 characters
PAGE = 200
REQUESTS = (50, 10)  # measured per URL: full, quick (after 20 warm-ups each)
SERVER_SCAN_TIMEOUT_S = 900  # the server's first scan: a rescan of the whole tree


def layout(quick: bool) -> list[tuple[str, int]]:
    years, per_folder = (YEARS[1], PER_FOLDER[1]) if quick else (YEARS[0], PER_FOLDER[0])
    months = [(f"{2000 + year}/event-{4 * month:02}", per_folder) for year in range(years) for month in range(MONTHS)]
    return [*months, ("big", BIG_FOLDER[1] if quick else BIG_FOLDER[0])]


def run(ctx: Context) -> None:
    folders = layout(ctx.quick)
    files = sum(count for _, count in folders)
    ctx.log(f"generating {files:,} small files (cached after the first run)")
    library = data.small_library(ctx.inputs / f"scale-{files}", folders)
    names(library, ctx.pick(*NAMES))
    ctx.log("(a) cold index")
    scan = index.scan_once(ctx, library, profile="scale", timeout_s=SCAN_TIMEOUT_S)
    walk_s = index.walk_s(library)
    index.emit_scans(ctx, f"(a) cold index, {scan['files']:,} files (SQLite)", [scan], walk_s, TARGETS["cold"])
    ctx.emit(Row("(a) max RSS of the scanning process", "MB", value=scan["maxRssMB"], target=TARGETS["rss"]))
    ctx.note(f"database after the cold index: {scan['database'].stat().st_size / 1e6:,.0f} MB (SQLite file)")
    ctx.log("(b) rescans after changes")
    index.incremental(ctx, library, folders, scan["database"], changes=ctx.pick(*CHANGES),
                      target=TARGETS["rescan"], timeout_s=SCAN_TIMEOUT_S, label="(b)")
    ctx.log("(c) browse, timeline and search through one worker")
    queries(ctx, library, scan["database"], folders)
    ctx.log("(d) the same on PostgreSQL")
    postgres(ctx, library, folders, walk_s)


def postgres(ctx: Context, library: Path, folders: list[tuple[str, int]], walk_s: float) -> None:
    """(a) to (c) again on a PostgreSQL server of its own (on this machine, fsync on, default settings)."""
    with servers.postgres_server(fsync=True) as admin:
        url = servers.create_pg_database(admin, "photonix_scale")
        scan = index.scan_once(ctx, library, database=url, timeout_s=SCAN_TIMEOUT_S)
        index.emit_scans(ctx, f"(d) cold index, {scan['files']:,} files (PostgreSQL)", [scan], walk_s,
                         TARGETS["cold"])
        ctx.emit(Row("(d) max RSS of the scanning process (PostgreSQL)", "MB", value=scan["maxRssMB"],
                     target=TARGETS["rss"]))
        with psycopg2.connect(url) as conn, conn.cursor() as cursor:
            cursor.execute("SELECT pg_database_size(current_database())")
            ctx.note(f"database after the cold index: {cursor.fetchone()[0] / 1e6:,.0f} MB (PostgreSQL)")
        conn.close()
        index.incremental(ctx, library, folders, url, changes=ctx.pick(*CHANGES), target=TARGETS["rescan"],
                          timeout_s=SCAN_TIMEOUT_S, label="(d)")
        queries(ctx, library, url, folders, part="(d)", suffix=" (PostgreSQL)")


def names(library: Path, count: int) -> None:
    """The search folder: `count` hard links named in several scripts (made once; the stamped tree is untouched)."""
    folder = library / NAMES_FOLDER
    folder.mkdir(exist_ok=True)
    source = library / index_first_file(library)
    for number in range(count):
        name = folder / f"{WORDS[number % len(WORDS)]}_{number:04}.jpg"
        if not name.exists():
            os.link(source, name)


def index_first_file(library: Path) -> str:
    year = min(p.name for p in library.iterdir() if p.name.isdigit())
    event = min(p.name for p in (library / year).iterdir())
    return f"{year}/{event}/{data.small_name(0)}"


def queries(ctx: Context, library: Path, database: Path | str, folders: list[tuple[str, int]], part: str = "(c)",
            suffix: str = "") -> None:
    big = next(name for name, count in folders if name == "big")
    year = folders[len(folders) // 2][0].split("/")[0]
    with BenchServer(library, ctx.scratch("server-" + part.strip("()")), scan_timeout_s=SERVER_SCAN_TIMEOUT_S,
                     database=database) as \
            server, requests.Session() as session:
        ctx.note(f"{part} the server's first scan of the indexed tree: {server.index.get('seconds')} s")
        pages = _get(session, server.url, f"/api/browse/{big}?limit={PAGE}")["totalPages"]
        cursors = _cursors(session, server.url, f"/api/browse/{big}?limit={PAGE}")
        urls = {
            HEALTH: ["/health"],
            "browse: root": ["/api/browse?limit=200"],
            f"browse: year folder {year}": [f"/api/browse/{year}?limit={PAGE}"],
            f"browse: {big} (50,000), first page of {PAGE}": [f"/api/browse/{big}?limit={PAGE}"],
            f"browse: {big}, last page by page={pages}": [f"/api/browse/{big}?limit={PAGE}&page={pages}"],
            f"browse: {big}, last page by cursor": [f"/api/browse/{big}?limit={PAGE}&cursor={cursors[-1]}"],
            f"browse: {big}, middle page by cursor": [
                f"/api/browse/{big}?limit={PAGE}&cursor={cursors[len(cursors) // 2]}"],
            "timeline: root, every month": ["/api/timeline"],
            **{f"search: {q} ({len(q)} character{'s' if len(q) > 1 else ''})": [
                "/api/search?" + urlencode({"q": q})] for q in SEARCHES},
        }
        _describe(ctx, session, server.url, urls, part)
        samples = in_turn(session, server.url, urls, ctx.pick(*REQUESTS))
        watched = {"an event folder": folders[0][0], "the big folder": big}
        scale_watch.run(ctx, server, session, library, database, watched, part, suffix)
    health = Summary.of(samples[HEALTH]).scaled(1000)
    for label in urls:
        ms = Summary.of(samples[label]).scaled(1000)
        kind = label.split(":")[0]
        ctx.emit(Row(label + suffix, "ms", ms, reference=None if label == HEALTH else "/health",
                     reference_value=None if label == HEALTH else health.median, ratio=ratio(ms.median, health.median),
                     target=TARGETS.get(kind)))


def _cursors(session: requests.Session, url: str, path: str) -> list[str]:
    """Every page's cursor from following nextCursor (the last one leads to the last page)."""
    found, answer = [], _get(session, url, path)
    while answer.get("nextCursor"):
        found.append(quote(answer["nextCursor"], safe=""))
        answer = _get(session, url, f"{path}&cursor={found[-1]}")
    return found


def _describe(ctx: Context, session: requests.Session, url: str, urls: dict[str, list[str]], part: str) -> None:
    results = [f"{label.split(': ')[1].split(' (')[0]} → {_get(session, url, paths[0])['totalResults']:,}"
               for label, paths in urls.items() if label.startswith("search")]
    ctx.note(f"{part} search results: " + "; ".join(results))


def _get(session: requests.Session, url: str, path: str) -> dict:
    response = session.get(url + path, timeout=120)
    response.raise_for_status()
    return response.json()
