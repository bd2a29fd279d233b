"""Album actions and the index, on real folders and the real database: a delete, a restore and a rename update the
rows, counts and covers at once and announce the parent; the file watcher, which sees the same moves, then changes
nothing (no album resurrected, none doubled); the periodic purge job purges what is older than trashDays."""

from __future__ import annotations

import os
import time

import pytest

from models import Folder, Media
from services import jobs
from services.albums import actions, trash
from services.gallery.index import Indexer
from services.gallery.keys import path_hash
from services.gallery.watcher import INOTIFY, Watcher
from tests.support import images
from tests.support.waiting import until

SETTLED_MTIME = time.time() - 3600


@pytest.fixture
def library(db, photos_dir):
    images.jpeg(photos_dir / "trip" / "a.jpg", (64, 48))
    images.jpeg(photos_dir / "trip" / "day" / "b.jpg", (64, 48))
    images.jpeg(photos_dir / "other" / "c.jpg", (64, 48))
    for settled in (photos_dir / "trip" / "day", photos_dir / "trip", photos_dir / "other", photos_dir):
        os.utime(settled, (SETTLED_MTIME, SETTLED_MTIME))
    Indexer(photos_dir).scan()
    return photos_dir


@pytest.fixture
def watcher(library):
    running = Watcher(library, lambda _kind, _data: None)
    running.start()
    until(lambda: running.step() or running.mode is not None, "the watcher never reported")
    assert running.mode == INOTIFY
    yield running
    running.stop()


def folder(rel: str) -> Folder | None:
    return Folder.get_or_none(Folder.path_hash == path_hash(rel))


def media_paths() -> list[str]:
    return sorted(row.path for row in Media.select(Media.path))


def settle(watcher: Watcher) -> None:
    """Let the watcher take in and sync every event the moves so far caused."""
    seen = watcher.events
    until(lambda: watcher.step() or (watcher.events > seen and not watcher.pending), "the watcher saw nothing")


def test_delete_restore_rename_keep_the_index_in_step_with_the_watcher_running(library, watcher, tmp_path):
    published: list[tuple[str, dict]] = []
    publish = lambda kind, data: published.append((kind, data))  # noqa: E731
    data_dir = tmp_path / "data"
    assert folder("").item_count == 2 and folder("trip").item_count == 2

    item = actions.delete_album(library, data_dir, "trip", publish)
    assert folder("trip") is None and folder("trip/day") is None and media_paths() == ["other/c.jpg"]
    assert folder("").item_count == 1 and folder("").cover_path == "other/c.jpg"
    assert published == [("album-changed", {"path": ""})]
    settle(watcher)
    assert folder("trip") is None and media_paths() == ["other/c.jpg"]  # not resurrected

    actions.restore(library, data_dir, item.id, publish)
    assert media_paths() == ["other/c.jpg", "trip/a.jpg", "trip/day/b.jpg"] and folder("").item_count == 2
    settle(watcher)
    assert media_paths() == ["other/c.jpg", "trip/a.jpg", "trip/day/b.jpg"]  # not doubled
    assert Folder.select().where(Folder.path.startswith("trip")).count() == 2

    done = actions.rename_album(library, "trip/day", "Day one", publish)
    assert done.new == "trip/Day one" and published[-1] == ("album-changed", {"path": "trip"})
    assert media_paths() == ["other/c.jpg", "trip/Day one/b.jpg", "trip/a.jpg"]
    assert folder("trip/day") is None and folder("trip/Day one").item_count == 1
    settle(watcher)
    assert media_paths() == ["other/c.jpg", "trip/Day one/b.jpg", "trip/a.jpg"] and folder("trip").item_count == 2


def test_the_purge_job_purges_what_is_older_than_trash_days(library, tmp_path, monkeypatch):
    monkeypatch.setattr(jobs, "_tasks", {})  # this process's registry, as it was, after the test
    data_dir = tmp_path / "data"
    old = trash.delete_album(library, actions.trash_dir(data_dir), "trip", now=time.time() - 8 * 86400)
    recent = trash.delete_album(library, actions.trash_dir(data_dir), "other", now=time.time() - 6 * 86400)
    actions.register_job(library, data_dir, lambda: 7)
    jobs._tasks[actions.PURGE_JOB].fn()
    assert [item.id for item in trash.list_items(actions.trash_dir(data_dir))] == [recent.id]
    assert not (actions.trash_dir(data_dir) / old.id).exists()
