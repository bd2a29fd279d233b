"""Database upkeep after big changes: the SQLite file gives back the space of removed rows (VACUUM), so a library
that shrank does not keep its old size on disk for ever. PostgreSQL's autovacuum makes freed space reusable by
itself (its files shrink only with VACUUM FULL, which locks the tables: left to the owner, docs/operations.md).

VACUUM rewrites the whole file: it needs free disk space of about the file's size and holds the write lock while
it runs (tens of seconds at a million photos; readers go on in WAL mode), so it runs on a pool thread, only when a
quarter of the file, and at least RECLAIM_MIN_BYTES, is free pages. No Flask.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import peewee

from models import database
from services import cpu
from services.database import close_connection, is_postgres

log = logging.getLogger("photonix.database")
RECLAIM_FREE_SHARE = 0.25  # of the file's pages
RECLAIM_MIN_BYTES = 64 * 1024 * 1024
DISK_MARGIN = 1.2  # VACUUM writes a copy of the file (in WAL mode, into the WAL): that much free, and some


@dataclass(frozen=True)
class FileSpace:
    file_bytes: int
    free_bytes: int  # pages on SQLite's free list: kept in the file, reused by later writes

    def worth_reclaiming(self) -> bool:
        return self.free_bytes >= max(RECLAIM_MIN_BYTES, RECLAIM_FREE_SHARE * self.file_bytes)


def file_space() -> FileSpace | None:
    """The SQLite file's size and its free pages; None on PostgreSQL."""
    if is_postgres():
        return None
    page_size = database.execute_sql("PRAGMA page_size").fetchone()[0]
    pages = database.execute_sql("PRAGMA page_count").fetchone()[0]
    free = database.execute_sql("PRAGMA freelist_count").fetchone()[0]
    return FileSpace(pages * page_size, free * page_size)


def reclaim_space() -> bool:
    """VACUUM the SQLite file when enough of it is free pages and the disk has room for the copy; True when it
    ran. Logs what it did, or why not."""
    space = file_space()
    if space is None or not space.worth_reclaiming():
        return False
    path = Path(database.database)
    disk_free = shutil.disk_usage(path.parent).free
    if disk_free < DISK_MARGIN * space.file_bytes:
        log.warning("database: %d MB of %s are free pages, but VACUUM needs about %d MB of free disk and %d MB "
                    "are free: not reclaimed", space.free_bytes // 10**6, path, space.file_bytes // 10**6,
                    disk_free // 10**6)
        return False
    log.info("database: reclaiming %d MB of free pages in %s (VACUUM)", space.free_bytes // 10**6, path)
    try:
        cpu.run_cpu(_vacuum)
    except peewee.OperationalError as exc:  # another writer held the lock past the busy timeout: next time
        log.warning("database: VACUUM of %s did not run: %s", path, exc)
        return False
    log.info("database: %s is now %d MB", path, os.path.getsize(path) // 10**6)
    return True


def _vacuum() -> None:
    """On a pool thread, with that thread's own connection (given back after)."""
    try:
        database.execute_sql("VACUUM")
        database.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")  # the copy went through the WAL: give that back too
    finally:
        close_connection()
