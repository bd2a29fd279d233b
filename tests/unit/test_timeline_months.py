"""The index keeps every folder's timeline months (FolderMonth) equal to what its subtree's media say,
through adds, changes, removals, browse-time refreshes, and a database from before the timeline."""

from __future__ import annotations

import os
import shutil
import threading
from collections import Counter
from datetime import timedelta

from models import Folder, FolderMonth, Media, Setting, database
from services.database import write_transaction
from services.gallery import details, timeline
from services.gallery.index import Indexer
from services.gallery.keys import path_hash
from tests.support import exif, images
from tests.support.waiting import until

MTIME = 1_500_000_000.0  # 2017-07-14 in every time zone but the far east (where it is the 15th, same month)


def library(root):
    exif.photo(root / "2023" / "summer" / "a.jpg", taken="2023:07:01 10:00:00", offset="+02:00")
    exif.photo(root / "2023" / "summer" / "b.jpg", taken="2023:07:31 23:30:00", offset="-05:00")  # still July
    exif.photo(root / "2023" / "winter" / "c.jpg", taken="2023:12:24 18:00:00")
    exif.photo(root / "2024" / "d.jpg", taken="2024:01:01 00:00:00")
    exif.photo(root / "2024" / "deep" / "er" / "e.jpg", taken="2023:07:15 12:00:00")
    images.jpeg(root / "loose.jpg", mtime=MTIME)  # no EXIF: the file's month


def expected_months() -> dict[str, Counter]:
    """Every folder's months computed from the media rows directly (the definition FolderMonth must match)."""
    media = [(path, details.year_of(key), _month(key)) for path, key in
             Media.select(Media.path, Media.taken_key).tuples()]
    result = {}
    for (folder,) in Folder.select(Folder.path).tuples():
        prefix = folder + "/" if folder else ""
        result[folder] = Counter(year * 100 + month for path, year, month in media if path.startswith(prefix))
    return result


def stored_months() -> dict[str, Counter]:
    names = dict(Folder.select(Folder.path_hash, Folder.path).tuples())
    result = {path: Counter() for path in names.values()}
    for key, month, count in FolderMonth.select(FolderMonth.folder_hash, FolderMonth.month, FolderMonth.count).tuples():
        assert key in names, "months kept for a folder that is gone"
        result[names[key]][month] = count
    return result


def _month(key: float) -> int:
    return (details.EPOCH + timedelta(seconds=key)).month


def test_every_folders_months_match_its_subtree_after_a_scan(db, photos_dir):
    library(photos_dir)
    Indexer(photos_dir).scan()
    assert stored_months() == expected_months()
    assert timeline.months("")[:3] == [(2024, 1, 1), (2023, 12, 1), (2023, 7, 3)]
    assert timeline.months("2023") == [(2023, 12, 1), (2023, 7, 2)]
    assert timeline.months("2024/deep") == [(2023, 7, 1)]


def test_changes_removals_and_refreshes_keep_the_months_right(db, photos_dir):
    library(photos_dir)
    indexer = Indexer(photos_dir)
    indexer.scan()
    exif.photo(photos_dir / "2023" / "summer" / "a.jpg", taken="2022:03:03 10:00:00")  # re-dated in place
    os.utime(photos_dir / "2023" / "summer" / "a.jpg", (MTIME + 5, MTIME + 5))
    shutil.rmtree(photos_dir / "2024" / "deep")
    exif.photo(photos_dir / "new" / "f.jpg", taken="2021:02:02 10:00:00")
    indexer.scan()
    assert stored_months() == expected_months()
    assert (2022, 3, 1) in timeline.months("") and (2021, 2, 1) in timeline.months("")
    exif.photo(photos_dir / "2023" / "winter" / "g.jpg", taken="2023:12:25 09:00:00")
    indexer.refresh_folder("2023/winter")  # what a browse of that album runs first
    assert stored_months() == expected_months()
    assert (2023, 12, 2) in timeline.months("")


def test_a_database_from_before_the_timeline_gets_its_months_at_the_next_scan(db, photos_dir):
    library(photos_dir)
    Indexer(photos_dir).scan()
    FolderMonth.delete().execute()  # as an index made by the release before: rows, but no months
    Setting.delete().where(Setting.key == timeline.MONTHS_VERSION_KEY).execute()
    assert timeline.months("") == []
    stats = Indexer(photos_dir).scan()  # nothing changed on disk
    assert (stats.added, stats.updated) == (0, 0)
    assert stored_months() == expected_months()
    assert not timeline.months_outdated()


def test_an_empty_gallery_has_no_months(db, photos_dir):
    Indexer(photos_dir).scan()
    assert timeline.months("") == []
    assert FolderMonth.select().where(FolderMonth.folder_hash == path_hash("")).count() == 0


def test_two_processes_writing_one_folders_months_at_once_do_not_collide(db, photos_dir, db_kind):
    """A browse's refresh and the scan may aggregate the same folder together. On PostgreSQL the second one's
    DELETE waits for the first's rows, then does not see the rows the first inserted: a plain INSERT failed
    on the primary key. (SQLite's BEGIN IMMEDIATE runs them one after the other.)"""
    library(photos_dir)
    Indexer(photos_dir).scan()
    errors: list[BaseException] = []

    def second_writer():
        try:
            with write_transaction():
                timeline.aggregate_months("2023")
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            database.close()

    with write_transaction():
        timeline.aggregate_months("2023")  # holds its rows (PostgreSQL) or the write lock (SQLite) until commit
        second = threading.Thread(target=second_writer)
        second.start()
        if db_kind == "postgres":
            until(lambda: _waiting_for_a_lock() >= 1, "the second writer waiting for the first one's rows")
    second.join(30)
    assert not second.is_alive() and errors == []
    assert stored_months() == expected_months()


def _waiting_for_a_lock() -> int:
    # pg_stat_activity is read once per transaction unless its snapshot is cleared
    database.execute_sql("SELECT pg_stat_clear_snapshot()")
    return database.execute_sql("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                "AND datname = current_database()").fetchone()[0]
