"""The index: keeps the Folder and Media rows in step with PHOTOS_DIR.

`scan()` walks every folder (stat only; headers are read just for new or changed files) and finds
adds, removals and modifications; `refresh_folder()` is the cheap check browse runs first. Listing
and header reading run on the CPU pool (or, for many new files, in header-reading processes, which read
the next folder while this one is written); rows are written in short batched transactions
(services/gallery/index_rows.py), then counts and covers follow (services/gallery/aggregates.py).
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models import Folder, FolderMonth, Media, View
from services import cpu, db_upkeep, jobs, settings
from services.cpu import run_cpu
from services.database import analyze, run_built, write_transaction
from services.gallery import details, listing, probe_pool, scanner, timeline, videometa
from services.gallery.aggregates import update_aggregates
from services.gallery.index_rows import (
    BATCH_ROWS,
    MediaChange,
    ensure_folder,
    known_ancestor,
    known_children,
    media_row,
    remove_tree,
    sync_children,
    write_media,
)
from services.gallery.keys import name_of, parent_of, path_hash
from services.paths import MAX_DEPTH

log = logging.getLogger("photonix.gallery")
RACY_MTIME_S = 2.0  # coarser than any file system's timestamps (FAT: 2 s) and the kernel's clock tick
PROGRESS_EVERY_S = 0.5
BULK_CHANGE_ROWS = 1000  # a scan or sync that changed this many photos, and a tenth of those it saw: ANALYZE
PLANNED_TABLES = tuple(model._meta.table_name for model in (Folder, Media, FolderMonth))
STATE_KEY = "index-state"
VIEWS_KEPT_S = 365 * 86400  # viewing history older than this is forgotten
VIEWS_PRUNE_INTERVAL_S = 86400.0
LISTING_CHANGES_PRUNE_INTERVAL_S = 600.0  # PostgreSQL: thumbnails and details write media rows between scans
JOB_NAME = "index"
Publish = Callable[[str, dict[str, Any]], Any]


@dataclass
class _Look:
    """One folder listed and compared with its rows; the headers of its fresh files possibly being read."""
    rel: str
    listing: scanner.Listing | None  # None: the folder is gone
    known: dict[str, tuple] = field(default_factory=dict)  # Indexer._known_files
    fresh: list[scanner.FileEntry] = field(default_factory=list)  # new or changed files
    ticket: probe_pool.Ticket | None = None  # their headers, in the header-reading processes

    @property
    def children(self) -> list[str]:
        folders = self.listing.folders if self.listing else []
        return [f"{self.rel}/{name}" if self.rel else name for name in folders]


@dataclass
class ScanStats:
    folders: int = 0
    files: int = 0
    added: int = 0
    updated: int = 0
    removed: int = 0
    expected: int | None = None
    changed_folders: set[str] = field(default_factory=set)

    def count(self, change: MediaChange, files: int) -> None:
        self.folders += 1
        self.files += files
        self.added += len(change.rows) - len(change.replaced)
        self.updated += len(change.replaced)
        self.removed += len(change.gone)

    def bulk_change(self) -> bool:
        """Whether this scan or sync changed enough rows that the planner's statistics are stale (BULK_CHANGE_ROWS
        photos, and a tenth of the files it saw: a first index, a big import); then it ends with ANALYZE."""
        changed = self.added + self.updated + self.removed
        return changed >= BULK_CHANGE_ROWS and changed * 10 >= self.files

    def as_event(self, seconds: float | None = None, finished: bool = False) -> dict[str, Any]:
        """The counts of an index-progress / index-complete event. `total` is an estimate while walking (the
        last scan's count, None at first), raised to `processed` when files were added since; exact
        (= processed) once the walk `finished`, also when files were removed since."""
        total = None if self.expected is None else max(self.expected, self.files)
        data = {"processed": self.files, "total": self.files if finished else total, "folders": self.folders,
                "files": self.files, "added": self.added, "updated": self.updated, "removed": self.removed}
        return data if seconds is None else {**data, "seconds": round(seconds, 3)}


class Indexer:
    def __init__(self, root: Path, publish: Publish | None = None):
        self.root = root
        self.publish = publish or (lambda _type, _data: None)
        self.probe_pool: probe_pool.ProbePool | None = None  # a full scan's header readers (started when needed)

    @functools.cached_property
    def ffprobe(self) -> str | None:
        """Looked up when a new video needs it, not for each browse (an Indexer is made per request)."""
        return videometa.find_ffprobe()  # None: videos are indexed without their details

    def is_empty(self) -> bool:
        return not Folder.select().where(Folder.path_hash == path_hash("")).exists()

    def scan(self, keep_going: Callable[[], bool] = lambda: True) -> ScanStats:
        """Walk the whole tree once; publishes index-progress and index-complete events and records
        its state for GET /api/settings/status. Stops early (keeping what it did) when keep_going() fails."""
        started, started_at = time.monotonic(), time.time()
        _save_state({"running": True, "startedAt": started_at})
        # The walk cannot know the total in advance: the last scan's count is the estimate (None at first).
        stats = ScanStats(expected=Media.select().count() or None)
        rebuild_months = timeline.months_outdated()  # a database from before the timeline: every folder's months
        with probe_pool.ProbePool(cpu.size()) as self.probe_pool:
            try:
                finished = self._walk(stats, keep_going)
            finally:
                self.probe_pool = None
        update_aggregates(stats.changed_folders | (timeline.all_folders() if rebuild_months else set()))
        _tidy(stats)
        if rebuild_months and finished:
            timeline.mark_months_current()
        done = stats.as_event(time.monotonic() - started, finished=finished)
        log.info("index scan: %s", done)
        _save_state({"running": False, "startedAt": started_at, "finishedAt": time.time(), "complete": finished,
                     **done})
        self.publish("index-complete", done)
        return stats

    def _walk(self, stats: ScanStats, keep_going: Callable[[], bool]) -> bool:
        """Every folder, depth first, one ahead: the next folder is listed and its headers submitted before
        this one is written. True when every folder was done."""
        queue, last_progress, ahead = [""], 0.0, None
        while (queue or ahead) and keep_going():
            current, ahead = ahead, self._look(queue.pop()) if queue else None
            if ahead is not None:
                queue.extend(child for child in ahead.children if child.count("/") < MAX_DEPTH)
            if current is not None:
                self._apply(current, stats)
            if time.monotonic() - last_progress >= PROGRESS_EVERY_S:
                last_progress = time.monotonic()
                self.publish("index-progress", stats.as_event())
        return not queue and ahead is None

    def refresh_folder(self, rel: str) -> None:
        """Before answering a browse: rescan `rel` when its folder mtime differs from the indexed one."""
        row = Folder.get_or_none(Folder.path_hash == path_hash(rel))
        try:
            mtime = os.stat(self.root / rel if rel else self.root).st_mtime
        except OSError:
            mtime = None
        if row is not None and row.mtime == mtime:
            return
        stats = ScanStats()
        self._apply(self._look(rel), stats, settle=False)
        update_aggregates(stats.changed_folders)

    def sync_folders(self, rels: Iterable[str]) -> ScanStats:
        """Bring each folder of `rels` in step with the disk now, also when its mtime did not change (a file
        rewritten in place), walking every sub-folder the index did not know (a tree created or moved in); a
        folder the index does not know is synced from its nearest known ancestor. Updates counts and covers;
        publishes nothing (the caller does)."""
        stats, done = ScanStats(), set()
        for rel in sorted({known_ancestor(r) for r in rels}, key=lambda r: (r.count("/") + bool(r), r)):
            if rel in done:
                continue
            known = known_children(rel)
            queue = [c for c in self._sync(rel, stats) if name_of(c) not in known and c.count("/") < MAX_DEPTH]
            done.add(rel)
            while queue:
                child = queue.pop()
                done.add(child)
                queue.extend(c for c in self._sync(child, stats) if c.count("/") < MAX_DEPTH)
        update_aggregates(stats.changed_folders)
        _tidy(stats)
        return stats

    def media(self, rel: str) -> Media | None:
        """The indexed row for a media file, syncing its folder first when the index does not know it."""
        row = Media.get_or_none(Media.path_hash == path_hash(rel))
        if row is None:
            self.refresh_folder(parent_of(rel) or "")
            row = Media.get_or_none(Media.path_hash == path_hash(rel))
        return row

    def _sync(self, rel: str, stats: ScanStats) -> list[str]:
        look = self._look(rel)
        self._apply(look, stats)
        return look.children

    def _look(self, rel: str) -> _Look:
        """List one folder and compare it with its rows (no writes); new or changed files' headers are submitted
        to the header-reading processes when there are many (read in _apply otherwise)."""
        listing = run_cpu(scanner.list_folder, self.root, rel)
        if listing is None:
            return _Look(rel, None)
        known = self._known_files(rel)
        # New, changed, or indexed by a release that read fewer details (read once more).
        fresh = [f for f in listing.files
                 if known.get(f.name, ())[:3] != (f.size, f.mtime, details.meta_version(f.kind))]
        look = _Look(rel, listing, known, fresh)
        if self.probe_pool is not None and len(fresh) >= probe_pool.MIN_FILES:
            try:
                look.ticket = self.probe_pool.submit(self.root / rel if rel else self.root, fresh)
            except probe_pool.PoolFailed as exc:
                self._pool_failed(exc)
        return look

    def _apply(self, look: _Look, stats: ScanStats, settle: bool = True) -> None:
        """Bring one folder's rows in step with what _look found. With `settle` false (a browse's refresh) nothing
        is written unless a file or sub-folder changed: a read must not need the write lock just to record a
        folder's new mtime (the scan does that)."""
        rel, listing = look.rel, look.listing
        if listing is None:
            if remove_tree(rel):
                stats.changed_folders.add(parent_of(rel) or "")
            return
        change = self._media_change(look)
        stats.count(change, len(listing.files))
        stored = self._stored_mtime(rel)
        if not change.rows and not change.gone and (stored == listing.mtime or (
                not settle and stored is not None and known_children(rel) == set(listing.folders))):
            return  # no file or sub-folder changed: nothing to write
        # A small folder is written in one short transaction, a big one in batches of BATCH_ROWS rows.
        with write_transaction() if len(change.rows) + len(change.gone) <= BATCH_ROWS else contextlib.nullcontext():
            write_media(change, between=self._feed_pool)
            ensure_folder(rel)
            if sync_children(rel, listing.folders) or change.rows or change.gone:
                stats.changed_folders.add(rel)
            # A folder changed within RACY_MTIME_S may change again within the same timestamp tick (a file
            # written just after this listing would leave its mtime as it is): keep it unknown, so the next
            # browse lists it again instead of trusting an mtime that has not settled.
            settled = listing.mtime < time.time() - RACY_MTIME_S
            Folder.update(mtime=listing.mtime if settled else 0.0).where(Folder.path_hash == path_hash(rel)).execute()

    def _known_files(self, rel: str) -> dict[str, tuple[int, float, int, str | None, int]]:
        """name → (size, mtime, meta_version, placeholder, thumb_failed) of the files indexed in `rel`."""
        return {name: tuple(rest) for name, *rest in run_built(_known_files_query, (path_hash(rel),))}

    def _stored_mtime(self, rel: str) -> float | None:
        rows = run_built(_stored_mtime_query, (path_hash(rel),)).fetchall()
        return rows[0][0] if rows else None

    def _media_change(self, look: _Look) -> MediaChange:
        """What differs between the disk and the rows, the fresh files' headers read; no writes."""
        rel, files, known, fresh = look.rel, look.listing.files, look.known, look.fresh
        probes = self._probes(look) if fresh else []
        rows = [media_row(rel, entry, found, self._video(rel, entry), known.get(entry.name))
                for entry, found in zip(fresh, probes, strict=True)]
        gone = [path_hash(f"{rel}/{name}" if rel else name) for name in set(known) - {f.name for f in files}]
        replaced = {row[0] for row, entry in zip(rows, fresh, strict=True) if entry.name in known}
        return MediaChange(rows, replaced, gone)

    def _probes(self, look: _Look) -> list[scanner.Probe]:
        """The headers of the fresh files: from the header processes when submitted there, else on the CPU pool."""
        if look.ticket is not None and self.probe_pool is not None:
            try:
                return self.probe_pool.result(look.ticket)
            except probe_pool.PoolFailed as exc:
                self._pool_failed(exc)
        return run_cpu(_probe_all, self.root, look.rel, look.fresh)

    def _feed_pool(self) -> None:
        """Between write batches: the header processes get more to read, and their answers are taken in."""
        if self.probe_pool is not None:
            try:
                self.probe_pool.pump()
            except probe_pool.PoolFailed as exc:
                self._pool_failed(exc)

    def _pool_failed(self, exc: probe_pool.PoolFailed) -> None:
        log.warning("index: header reader processes failed (%s); reading headers in this process", exc)
        self.probe_pool = None

    def _video(self, rel: str, entry: scanner.FileEntry) -> videometa.VideoMeta | None:
        """A video's details by ffprobe, in this greenlet (gevent's subprocess cannot run on a pool thread)."""
        if entry.kind != "video":
            return None
        if self.ffprobe is None:
            return videometa.VideoMeta()
        return videometa.probe_video(self.ffprobe, self.root / rel / entry.name)


def register_job(root: Path, interval_s: float, publish: Publish) -> None:
    """The periodic scan in the lease-holding process: at once when it starts leading (a full scan
    on an empty index), then every `interval_s`, and whenever jobs.request_run(JOB_NAME) asks."""
    jobs.register_periodic(JOB_NAME, interval_s, lambda: Indexer(root, publish).scan(keep_going=jobs.is_leader))
    jobs.register_periodic("prune-views", VIEWS_PRUNE_INTERVAL_S,
                           lambda: View.delete().where(View.viewed_at < time.time() - VIEWS_KEPT_S).execute())
    jobs.register_periodic("prune-listing-changes", LISTING_CHANGES_PRUNE_INTERVAL_S, listing.prune_changes)


def index_status() -> dict[str, Any]:
    """Counts from the index and the state of the last (or running) scan. Polled while a scan runs: the videos are
    counted through the media_kind index (they are few), the photos as every row less those, the count the
    database makes from its smallest index (~30 ms at a million rows, where reading every row took ~700 ms)."""
    videos = Media.select().where(Media.kind == "video").count()
    photos = Media.select().count() - videos  # a row is a photo or a video (scanner.FileEntry.kind)
    state = json.loads(settings.read_setting(STATE_KEY) or "{}")
    return {"albums": max(0, Folder.select().count() - 1), "photos": photos, "videos": videos,
            "running": False, **state}


def last_scan_complete() -> bool:
    """Whether the last full scan walked every folder and none runs now: the index then holds every file (the watcher
    keeps it so), and what was made for files it does not hold may go (services/derived_upkeep.py)."""
    state = json.loads(settings.read_setting(STATE_KEY) or "{}")
    return state.get("complete") is True and not state.get("running")


def _tidy(stats: ScanStats) -> None:
    """After a scan or a sync: the planner's statistics refreshed after a bulk change (a first index, a big import
    the watcher saw), the file's free pages given back after big removals (services/db_upkeep.py decides), the
    transactions recorded for remembered counts forgotten (PostgreSQL; services/gallery/listing.py)."""
    listing.prune_changes()
    if stats.bulk_change():
        analyze(PLANNED_TABLES)
    if stats.removed:
        db_upkeep.reclaim_space()


def _save_state(state: dict[str, Any]) -> None:
    settings.write_settings({STATE_KEY: json.dumps(state)}, bump_epoch=False)


# The two reads every folder of a scan runs, each built once (services.database.run_built: peewee takes longer to
# build a small query, and to wrap its rows, than the database takes to answer it); the parameter is a path hash.
def _known_files_query() -> Any:
    return (Media.select(Media.name, Media.size, Media.mtime, Media.meta_version, Media.placeholder,
                         Media.thumb_failed).where(Media.folder_hash == ""))


def _stored_mtime_query() -> Any:
    return Folder.select(Folder.mtime).where(Folder.path_hash == "")


def _probe_all(root: Path, rel: str, entries: list[scanner.FileEntry]) -> list[scanner.Probe]:
    folder = root / rel if rel else root
    return [scanner.probe(folder / entry.name, entry.kind) for entry in entries]
