"""services/db_upkeep.py: the SQLite file gives back the space of removed rows when much of it is free (VACUUM),
keeping every row and the name search's index; never on a nearly full disk; PostgreSQL is left to autovacuum. And
the index calls it after removals, and refreshes the planner's statistics after a watcher's bulk import."""

import shutil

from models import Media
from services import database as database_module
from services import db_upkeep
from services.database import is_postgres
from services.gallery import browse
from services.gallery import index as index_module
from services.gallery.index import Indexer
from services.gallery.index_rows import MediaChange, media_row, write_media
from services.gallery.scanner import FileEntry, Probe
from tests.support import images

ROWS = 6000


def fill(count: int) -> None:
    rows = [media_row("album", FileEntry(f"img_{n:06}_{'x' * 60}.jpg", "photo", 1000 + n, 1.7e9 + n),
                      Probe("image/jpeg", 640, 480), None, None) for n in range(count)]
    write_media(MediaChange(rows, set(), []))


def test_a_file_mostly_free_pages_is_vacuumed_and_keeps_its_rows_and_search(db, monkeypatch):
    if is_postgres():
        assert db_upkeep.file_space() is None and db_upkeep.reclaim_space() is False
        return
    fill(ROWS)
    Media.delete().where(Media.size < 1000 + ROWS * 9 // 10).execute()
    before = db_upkeep.file_space()
    assert before.free_bytes > before.file_bytes // 2
    monkeypatch.setattr(db_upkeep, "RECLAIM_MIN_BYTES", 0)
    assert db_upkeep.reclaim_space() is True
    after = db_upkeep.file_space()
    assert after.free_bytes == 0 and after.file_bytes < before.file_bytes // 2
    assert Media.select().count() == ROWS - ROWS * 9 // 10
    _, page = browse.search("img_005999", 1, 10)
    assert [m.name for m in page.media] == [f"img_005999_{'x' * 60}.jpg"]


def test_little_free_space_or_a_full_disk_leaves_the_file_as_it_is(db, monkeypatch, caplog):
    if is_postgres():
        return
    fill(ROWS)
    Media.delete().where(Media.size < 1000 + ROWS // 10).execute()  # a tenth freed: not worth a rewrite
    monkeypatch.setattr(db_upkeep, "RECLAIM_MIN_BYTES", 0)
    assert db_upkeep.reclaim_space() is False
    Media.delete().where(Media.size < 1000 + ROWS * 9 // 10).execute()
    space = db_upkeep.file_space()
    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**12, 10**12, space.file_bytes))
    assert db_upkeep.reclaim_space() is False
    assert db_upkeep.file_space() == space
    assert "needs about" in caplog.text


def test_the_index_reclaims_after_removals_and_analyzes_after_a_bulk_sync(db, photos_dir, config, monkeypatch):
    reclaimed, analyzed = [], []
    monkeypatch.setattr(db_upkeep, "reclaim_space", lambda: reclaimed.append(1) or False)
    monkeypatch.setattr(index_module, "BULK_CHANGE_ROWS", 3)
    monkeypatch.setattr(index_module, "analyze", lambda tables: (analyzed.append(tables),
                                                                  database_module.analyze(tables)))
    for n in range(5):
        images.jpeg(photos_dir / "album" / f"{n}.jpg", (16, 12))
    Indexer(config.photos_dir).scan()
    assert reclaimed == [] and len(analyzed) == 1  # a first index: statistics, nothing removed
    (photos_dir / "album" / "0.jpg").unlink()
    Indexer(config.photos_dir).scan()
    assert reclaimed == [1] and len(analyzed) == 1
    for n in range(5):  # what the watcher reports: a folder of new photos
        images.jpeg(photos_dir / "import" / f"{n}.jpg", (16, 12))
    Indexer(config.photos_dir).sync_folders(["import"])
    assert reclaimed == [1] and len(analyzed) == 2

