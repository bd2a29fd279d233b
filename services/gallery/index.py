"""The index: keeps the Folder and Media rows in step with PHOTOS_DIR.

`scan()` walks every folder (stat only; headers are read just for new or changed files) and finds
adds, removals and modifications; `refresh_folder()` is the cheap check browse runs first. Listing
and header reading run on the CPU pool; rows are written in short batched transactions.
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
from typing import Any, NamedTuple

from peewee import fn

from models import Folder, FolderMonth, Media, View, database
from services import cpu, jobs, settings
from services.cpu import run_cpu
from services.database import analyze, insert_ignoring_conflicts, write_transaction
from services.gallery import details, probe_pool, scanner, timeline, videometa
from services.gallery.keys import fold, name_of, natural_key, parent_of, path_hash
from services.paths import MAX_DEPTH

log = logging.getLogger("photonix.gallery")
BATCH_ROWS = 500
RACY_MTIME_S = 2.0  # coarser than any file system's timestamps (FAT: 2 s) and the kernel's clock tick
AGGREGATES_PER_TRANSACTION = 100
PROGRESS_EVERY_S = 0.5
BULK_CHANGE_ROWS = 1000  # a scan that changed this many photos, and a tenth of the library, ends with ANALYZE
PLANNED_TABLES = tuple(model._meta.table_name for model in (Folder, Media, FolderMonth))
STATE_KEY = "index-state"
MEDIA_FIELDS = (Media.path_hash, Media.path, Media.folder_hash, Media.name, Media.sort_key, Media.name_folded,
                Media.folder_folded, Media.kind, Media.mime, Media.size, Media.mtime, Media.width, Media.height,
                *details.DETAIL_FIELDS, Media.placeholder, Media.thumb_failed)
META_VERSION = details.META_VERSION
VIEWS_KEPT_S = 365 * 86400  # viewing history older than this is forgotten
VIEWS_PRUNE_INTERVAL_S = 86400.0
JOB_NAME = "index"
Publish = Callable[[str, dict[str, Any]], Any]


@dataclass(frozen=True)
class _MediaChange:
    rows: list[tuple]  # new or changed files, in MEDIA_FIELDS order
    replaced: set[str]  # path hashes among rows that are already indexed (changed in place)
    gone: list[str]  # path hashes of files no longer there


class _FolderReads(NamedTuple):
    known: str  # SQL: name, size, mtime of the files indexed in one folder
    mtime: str  # SQL: that folder's stored mtime


@dataclass
class ScanStats:
    folders: int = 0
    files: int = 0
    added: int = 0
    updated: int = 0
    removed: int = 0
    expected: int | None = None
    changed_folders: set[str] = field(default_factory=set)

    def count(self, change: _MediaChange, files: int) -> None:
        self.folders += 1
        self.files += files
        self.added += len(change.rows) - len(change.replaced)
        self.updated += len(change.replaced)
        self.removed += len(change.gone)

    def bulk_change(self) -> bool:
        """Whether this scan changed enough rows that the planner's statistics are stale (a first index of
        BULK_CHANGE_ROWS photos, or a tenth of the library); then the scan ends with ANALYZE."""
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
        started, started_at, last_progress = time.monotonic(), time.time(), 0.0
        _save_state({"running": True, "startedAt": started_at})
        # The walk cannot know the total in advance: the last scan's count is the estimate (None at first).
        stats, queue = ScanStats(expected=Media.select().count() or None), [""]
        rebuild_months = timeline.months_outdated()  # a database from before the timeline: every folder's months
        with probe_pool.ProbePool(cpu.size()) as self.probe_pool:
            try:
                while queue and keep_going():
                    rel = queue.pop()
                    queue.extend(child for child in self._sync(rel, stats) if child.count("/") < MAX_DEPTH)
                    if time.monotonic() - last_progress >= PROGRESS_EVERY_S:
                        last_progress = time.monotonic()
                        self.publish("index-progress", stats.as_event())
            finally:
                self.probe_pool = None
        update_aggregates(stats.changed_folders | (timeline.all_folders() if rebuild_months else set()))
        if stats.bulk_change():
            analyze(PLANNED_TABLES)
        if rebuild_months and not queue:
            timeline.mark_months_current()
        done = stats.as_event(time.monotonic() - started, finished=not queue)
        log.info("index scan: %s", done)
        _save_state({"running": False, "startedAt": started_at, "finishedAt": time.time(), "complete": not queue,
                     **done})
        self.publish("index-complete", done)
        return stats

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
        self._sync(rel, stats, settle=False)
        update_aggregates(stats.changed_folders)

    def sync_folders(self, rels: Iterable[str]) -> ScanStats:
        """Bring each folder of `rels` in step with the disk now, also when its mtime did not change (a file
        rewritten in place), walking every sub-folder the index did not know (a tree created or moved in); a
        folder the index does not know is synced from its nearest known ancestor. Updates counts and covers;
        publishes nothing (the caller does)."""
        stats, done = ScanStats(), set()
        for rel in sorted({_known_ancestor(r) for r in rels}, key=lambda r: (r.count("/") + bool(r), r)):
            if rel in done:
                continue
            known = _known_children(rel)
            queue = [c for c in self._sync(rel, stats) if name_of(c) not in known and c.count("/") < MAX_DEPTH]
            done.add(rel)
            while queue:
                child = queue.pop()
                done.add(child)
                queue.extend(c for c in self._sync(child, stats) if c.count("/") < MAX_DEPTH)
        update_aggregates(stats.changed_folders)
        return stats

    def media(self, rel: str) -> Media | None:
        """The indexed row for a media file, syncing its folder first when the index does not know it."""
        row = Media.get_or_none(Media.path_hash == path_hash(rel))
        if row is None:
            self.refresh_folder(parent_of(rel) or "")
            row = Media.get_or_none(Media.path_hash == path_hash(rel))
        return row

    def _sync(self, rel: str, stats: ScanStats, settle: bool = True) -> list[str]:
        """Bring one folder's rows in step with the disk; returns its child folders to walk. With `settle`
        false (a browse's refresh) nothing is written unless a file or sub-folder changed: a read must not
        need the write lock just to record a folder's new mtime (the scan does that)."""
        listing = run_cpu(scanner.list_folder, self.root, rel)
        if listing is None:
            if _remove_tree(rel):
                stats.changed_folders.add(parent_of(rel) or "")
            return []
        change = self._media_change(rel, listing.files)
        stats.count(change, len(listing.files))
        children = [f"{rel}/{name}" if rel else name for name in listing.folders]
        stored = self._stored_mtime(rel)
        if not change.rows and not change.gone and (stored == listing.mtime or (
                not settle and stored is not None and _known_children(rel) == set(listing.folders))):
            return children  # no file or sub-folder changed: nothing to write
        # A small folder is written in one short transaction, a big one in batches of BATCH_ROWS rows.
        with write_transaction() if len(change.rows) + len(change.gone) <= BATCH_ROWS else contextlib.nullcontext():
            _write_media(change)
            _ensure_folder(rel)
            if _sync_children(rel, listing.folders) or change.rows or change.gone:
                stats.changed_folders.add(rel)
            # A folder changed within RACY_MTIME_S may change again within the same timestamp tick (a file
            # written just after this listing would leave its mtime as it is): keep it unknown, so the next
            # browse lists it again instead of trusting an mtime that has not settled.
            settled = listing.mtime < time.time() - RACY_MTIME_S
            Folder.update(mtime=listing.mtime if settled else 0.0).where(Folder.path_hash == path_hash(rel)).execute()
        return children

    @functools.cached_property
    def _reads(self) -> _FolderReads:
        """The SQL of the two reads every folder of a scan runs, built once and run on the raw cursor: peewee
        takes longer to build a small query, and to wrap its rows, than the database takes to answer it."""
        known = (Media.select(Media.name, Media.size, Media.mtime, Media.meta_version, Media.placeholder,
                              Media.thumb_failed).where(Media.folder_hash == ""))
        mtime = Folder.select(Folder.mtime).where(Folder.path_hash == "")
        return _FolderReads(known.sql()[0], mtime.sql()[0])

    def _known_files(self, rel: str) -> dict[str, tuple[int, float, int, str | None, int]]:
        """name → (size, mtime, meta_version, placeholder, thumb_failed) of the files indexed in `rel`."""
        return {name: tuple(rest) for name, *rest in _folder_rows(self._reads.known, rel)}

    def _stored_mtime(self, rel: str) -> float | None:
        rows = _folder_rows(self._reads.mtime, rel)
        return rows[0][0] if rows else None

    def _media_change(self, rel: str, files: list[scanner.FileEntry]) -> _MediaChange:
        """What differs between the disk and the rows (headers of new or changed files read); no writes."""
        known = self._known_files(rel)
        # New, changed, or indexed by a release that read fewer details (read once more).
        fresh = [f for f in files if known.get(f.name, ())[:3] != (f.size, f.mtime, META_VERSION)]
        probes = self._probe(rel, fresh) if fresh else []
        rows = [_media_row(rel, entry, found, self._video(rel, entry), known.get(entry.name))
                for entry, found in zip(fresh, probes, strict=True)]
        gone = [path_hash(f"{rel}/{name}" if rel else name) for name in set(known) - {f.name for f in files}]
        replaced = {row[0] for row, entry in zip(rows, fresh, strict=True) if entry.name in known}
        return _MediaChange(rows, replaced, gone)

    def _probe(self, rel: str, fresh: list[scanner.FileEntry]) -> list[scanner.Probe]:
        """The headers of `fresh` files: in the scan's header processes when there are many, else on the CPU pool."""
        if self.probe_pool is not None and len(fresh) >= probe_pool.MIN_FILES:
            try:
                return self.probe_pool.probe(self.root / rel if rel else self.root, fresh)
            except probe_pool.PoolFailed as exc:
                log.warning("index: header reader processes failed (%s); reading headers in this process", exc)
                self.probe_pool = None
        return run_cpu(_probe_all, self.root, rel, fresh)

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


def update_aggregates(changed: set[str]) -> None:
    """Recompute counts and covers of the changed folders and all their ancestors, deepest first."""
    todo: set[str] = set()
    for rel in changed:
        current: str | None = rel
        while current is not None:
            todo.add(current)
            current = parent_of(current)
    ordered = sorted(todo, key=lambda r: (-(r.count("/") + 1 if r else 0), r))
    for start in range(0, len(ordered), AGGREGATES_PER_TRANSACTION):
        with write_transaction():
            for rel in ordered[start:start + AGGREGATES_PER_TRANSACTION]:
                _aggregate(rel)


def index_status() -> dict[str, Any]:
    """Counts from the index and the state of the last (or running) scan."""
    photos = Media.select().where(Media.kind == "photo").count()
    videos = Media.select().where(Media.kind == "video").count()
    state = json.loads(settings.read_setting(STATE_KEY) or "{}")
    return {"albums": max(0, Folder.select().count() - 1), "photos": photos, "videos": videos,
            "running": False, **state}


def _save_state(state: dict[str, Any]) -> None:
    settings.write_settings({STATE_KEY: json.dumps(state)}, bump_epoch=False)


def _write_media(change: _MediaChange) -> None:
    for start in range(0, len(change.rows), BATCH_ROWS):
        batch = change.rows[start:start + BATCH_ROWS]
        replaced = [row[0] for row in batch if row[0] in change.replaced]
        with database.atomic():
            if replaced:
                Media.delete().where(Media.path_hash.in_(replaced)).execute()
            insert_ignoring_conflicts(Media, MEDIA_FIELDS, batch)
    for start in range(0, len(change.gone), BATCH_ROWS):
        Media.delete().where(Media.path_hash.in_(change.gone[start:start + BATCH_ROWS])).execute()


def _folder_rows(sql: str, rel: str) -> list[tuple]:
    """The rows of one of Indexer._reads for folder `rel` (its only parameter is the folder's path hash)."""
    return database.execute_sql(sql, (path_hash(rel),)).fetchall()


def _probe_all(root: Path, rel: str, entries: list[scanner.FileEntry]) -> list[scanner.Probe]:
    folder = root / rel if rel else root
    return [scanner.probe(folder / entry.name, entry.kind) for entry in entries]


def _media_row(rel: str, entry: scanner.FileEntry, found: scanner.Probe, video: videometa.VideoMeta | None,
               old: tuple | None) -> tuple:
    """A row in MEDIA_FIELDS order (tuples: peewee builds big inserts from them much faster than from dicts); `old`
    is what _known_files had for this name."""
    path = f"{rel}/{entry.name}" if rel else entry.name
    width, height = (found.width, found.height) if video is None else (video.width, video.height)
    values = details.photo_values(found.details, entry.mtime) if video is None else \
        details.video_values(video, entry.mtime)
    return (path_hash(path), path, path_hash(rel), entry.name, natural_key(entry.name), fold(entry.name),
            fold(name_of(rel)), entry.kind, found.mime, entry.size, entry.mtime, width, height, *values,
            *_thumbnail_facts(old, entry))


def _thumbnail_facts(old: tuple | None, entry: scanner.FileEntry) -> tuple[str | None, int]:
    """(placeholder, thumb_failed) for a new row: kept when only the details are read again, reset for a new file."""
    return (old[3], old[4]) if old is not None and old[:2] == (entry.size, entry.mtime) else (None, 0)


def _ensure_folder(rel: str) -> None:
    parent = parent_of(rel)
    name = name_of(rel)
    Folder.insert(path_hash=path_hash(rel), path=rel, parent_hash=None if parent is None else path_hash(parent),
                  name=name, sort_key=natural_key(name), name_folded=fold(name)).on_conflict_ignore().execute()


def _known_ancestor(rel: str) -> str:
    """`rel` when the index knows it, else its nearest ancestor that it knows (the root at last)."""
    while rel and not Folder.select().where(Folder.path_hash == path_hash(rel)).exists():
        rel = parent_of(rel) or ""
    return rel


def _known_children(rel: str) -> set[str]:
    return {name for (name,) in Folder.select(Folder.name).where(Folder.parent_hash == path_hash(rel)).tuples()}


def _sync_children(rel: str, names: list[str]) -> bool:
    known = _known_children(rel)
    for name in set(names) - known:
        _ensure_folder(f"{rel}/{name}" if rel else name)
    for name in known - set(names):
        _remove_tree(f"{rel}/{name}" if rel else name)
    return known != set(names)


def _remove_tree(rel: str) -> bool:
    """Forget a folder and everything below it; True when anything was there."""
    prefix = rel + "/"
    below = fn.SUBSTR(Folder.path, 1, len(prefix)) == prefix
    media_below = fn.SUBSTR(Media.path, 1, len(prefix)) == prefix
    folders = (Folder.path_hash == path_hash(rel)) | below
    with database.atomic():
        timeline.forget_months(folders)
        removed = Folder.delete().where(folders).execute()
        removed += Media.delete().where(media_below).execute()
    return removed > 0


def _aggregate(rel: str) -> None:
    key = path_hash(rel)
    media_count = Media.select().where(Media.folder_hash == key).count()
    child_count = Folder.select().where(Folder.parent_hash == key).count()
    # Covers are photos whose header could be read (a broken file is indexed, but never a cover) and whose
    # thumbnail did not fail (a truncated file's header reads; services/gallery/placeholders.py marks it).
    readable_photo = ((Media.folder_hash == key) & (Media.kind == "photo") & Media.width.is_null(False)
                      & (Media.thumb_failed == 0))
    photo = (Media.select(Media.path, Media.mtime, Media.width, Media.height, Media.placeholder)
             .where(readable_photo).order_by(Media.mtime.desc()).first())
    child = (Folder.select(Folder.cover_path, Folder.cover_mtime, Folder.cover_width, Folder.cover_height,
                           Folder.cover_placeholder)
             .where((Folder.parent_hash == key) & Folder.cover_path.is_null(False))
             .order_by(Folder.cover_mtime.desc()).first())
    cover = (photo.path, photo.mtime, photo.width, photo.height, photo.placeholder) if photo else (None,) * 5
    if child and (photo is None or child.cover_mtime > photo.mtime):
        cover = (child.cover_path, child.cover_mtime, child.cover_width, child.cover_height, child.cover_placeholder)
    Folder.update(item_count=media_count + child_count, cover_path=cover[0], cover_mtime=cover[1],
                  cover_width=cover[2], cover_height=cover[3], cover_placeholder=cover[4]).where(
        Folder.path_hash == key).execute()
    timeline.aggregate_months(rel)
