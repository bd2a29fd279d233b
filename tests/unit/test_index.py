"""The index against real folder trees: adds, removals, modifications, covers, counts, odd names."""

import contextlib
import os
import time

import pytest

from models import Folder, Media
from services import database
from services.gallery import index as index_module
from services.gallery.index import Indexer
from services.gallery.keys import path_hash
from tests.support import images

NOW = time.time()


@pytest.fixture
def tree(photos_dir):
    images.jpeg(photos_dir / "2024" / "trip" / "img2.jpg", (640, 480), orientation=6, mtime=NOW - 100)
    images.jpeg(photos_dir / "2024" / "trip" / "img10.jpg", mtime=NOW - 50)
    images.png(photos_dir / "2024" / "cover-me.png", mtime=NOW - 10)
    images.jpeg(photos_dir / "中文相册" / "照片.jpg", mtime=NOW - 500)
    images.truncated_jpeg(photos_dir / "broken" / "half.jpg")
    os.utime(photos_dir / "broken" / "half.jpg", (NOW - 900, NOW - 900))
    images.not_an_image(photos_dir / "broken" / "page.jpg")  # newest, but no readable header: never a cover
    images.png_bomb(photos_dir / "broken" / "bomb.png")
    os.utime(photos_dir / "broken" / "bomb.png", (NOW - 900, NOW - 900))
    (photos_dir / "notes.txt").write_text("not media")
    images.jpeg(photos_dir / ".hidden" / "secret.jpg")
    images.jpeg(photos_dir / "2024" / ".thumbs.jpg")
    (photos_dir / "2024" / "upload.jpg.part").write_bytes(b"partial")
    (photos_dir / "empty").mkdir()
    return photos_dir


@pytest.fixture
def indexer(db, tree, config):
    events = []
    return Indexer(config.photos_dir, lambda kind, data: events.append((kind, data))), events


def folder(rel):
    return Folder.get(Folder.path_hash == path_hash(rel))


def media(rel):
    return Media.get_or_none(Media.path_hash == path_hash(rel))


def test_full_scan_indexes_what_the_gallery_shows(indexer):
    index, events = indexer
    stats = index.scan()
    paths = sorted(m.path for m in Media.select())
    assert paths == ["2024/cover-me.png", "2024/trip/img10.jpg", "2024/trip/img2.jpg", "broken/bomb.png",
                     "broken/half.jpg", "broken/page.jpg", "中文相册/照片.jpg"]
    assert stats.added == 7 and stats.folders == 6
    rotated = media("2024/trip/img2.jpg")
    assert (rotated.width, rotated.height, rotated.mime) == (480, 640, "image/jpeg")
    assert media("broken/page.jpg").width is None  # indexed (never hidden), size unknown
    assert media("broken/bomb.png").width is None  # a decompression bomb by its header: indexed, never decoded
    assert folder("").item_count == 4 and folder("2024").item_count == 2 and folder("empty").item_count == 0
    assert folder("2024").cover_path == "2024/cover-me.png" and folder("").cover_path == "2024/cover-me.png"
    assert folder("2024/trip").cover_path == "2024/trip/img10.jpg"
    assert folder("empty").cover_path is None
    assert events[-1][0] == "index-complete" and events[-1][1]["added"] == 7


def test_incremental_scan_finds_adds_removals_and_modifications(indexer, tree):
    index, events = indexer
    index.scan()
    (tree / "2024" / "trip" / "img10.jpg").unlink()
    images.jpeg(tree / "2024" / "trip" / "img2.jpg", (300, 200), mtime=NOW - 90)  # modified in place
    images.jpeg(tree / "new" / "fresh.jpg", mtime=NOW)
    stats = index.scan()
    assert (stats.added, stats.updated, stats.removed) == (1, 1, 1)
    assert media("2024/trip/img10.jpg") is None
    assert (media("2024/trip/img2.jpg").width, media("2024/trip/img2.jpg").height) == (300, 200)
    assert folder("").cover_path == "new/fresh.jpg" and folder("2024/trip").cover_path == "2024/trip/img2.jpg"
    assert folder("").item_count == 5  # 2024, broken, 中文相册, empty, new


def test_removed_folder_takes_its_subtree(indexer, tree):
    import shutil

    index, _ = indexer
    index.scan()
    shutil.rmtree(tree / "2024")
    index.scan()
    assert not Media.select().where(Media.path.startswith("2024")).exists()
    assert not Folder.select().where(Folder.path.startswith("2024")).exists()
    assert folder("").cover_path == "中文相册/照片.jpg"


def test_refresh_folder_rescans_only_when_its_mtime_changed(indexer, tree):
    index, _ = indexer
    index.scan()
    images.jpeg(tree / "2024" / "trip" / "img3.jpg", mtime=NOW)
    index.refresh_folder("2024/trip")
    assert media("2024/trip/img3.jpg") is not None
    assert folder("2024/trip").item_count == 3 and folder("").cover_path == "2024/trip/img3.jpg"


def test_folders_unknown_to_the_index_are_synced_on_demand(indexer, tree):
    index, _ = indexer
    index.refresh_folder("2024/trip")
    assert media("2024/trip/img10.jpg") is not None and folder("2024/trip").item_count == 2


def test_symlinks_out_of_the_root_and_loops_are_not_followed(indexer, tree, tmp_path):
    index, _ = indexer
    images.jpeg(tmp_path / "outside" / "o.jpg")
    os.symlink(tmp_path / "outside", tree / "escape")
    os.symlink(tree / "2024", tree / "2024" / "trip" / "back-up")
    os.symlink(tree / "2024" / "trip", tree / "linked-trip")
    index.scan()
    assert not Media.select().where(Media.name == "o.jpg").exists()
    assert not Folder.select().where(Folder.name == "back-up").exists()
    assert media("linked-trip/img10.jpg") is not None  # a link to a visible place inside is an album


def test_natural_order_keys(indexer):
    index, _ = indexer
    index.scan()
    names = [m.name for m in Media.select().where(Media.folder_hash == path_hash("2024/trip")).order_by(Media.sort_key)]
    assert names == ["img2.jpg", "img10.jpg"]


def test_a_file_added_within_the_same_mtime_tick_as_the_scan_is_still_found(indexer, tree):
    """A file written just after a folder was listed may leave the folder's mtime unchanged (timestamps move
    in clock ticks of a few ms, or seconds on some file systems): a recently changed folder's mtime is not
    trusted, so the next browse lists it again."""
    index, _ = indexer
    folder_path = tree / "2024" / "trip"
    os.utime(folder_path, ns=(time.time_ns(), time.time_ns()))  # just changed, as a copy in progress leaves it
    index.scan()
    before = folder_path.stat().st_mtime_ns
    images.jpeg(folder_path / "img3.jpg", mtime=NOW)
    os.utime(folder_path, ns=(before, before))  # the same tick: the folder's mtime did not move
    index.refresh_folder("2024/trip")
    assert media("2024/trip/img3.jpg") is not None


def test_a_browse_of_a_folder_whose_files_did_not_change_writes_nothing(indexer, tree, monkeypatch):
    """A read must not need the write lock (another process may hold it for seconds): the refresh a browse runs
    writes only when it found a change; recording a folder's new mtime is the scan's job."""
    index, _ = indexer
    folder_path = tree / "2024" / "trip"
    os.utime(folder_path, ns=(time.time_ns(), time.time_ns()))  # just changed: its mtime is not trusted yet
    index.scan()
    writes = []
    monkeypatch.setattr(index_module, "write_transaction", lambda: writes.append(1) or contextlib.nullcontext())
    index.refresh_folder("2024/trip")  # listed again (the mtime was racy), nothing changed
    later = folder_path.stat().st_mtime + 60
    os.utime(folder_path, (later, later))  # touched, nothing added
    index.refresh_folder("2024/trip")
    assert writes == []
    images.jpeg(folder_path / "img3.jpg", mtime=NOW)
    index.refresh_folder("2024/trip")
    assert writes and media("2024/trip/img3.jpg") is not None


def test_a_bulk_change_refreshes_the_planners_statistics_and_a_small_one_does_not(db, photos_dir, config,
                                                                                   monkeypatch):
    """Issue 24: after a first index (or any scan that changed a tenth of the library) the planner learns the new
    sizes (ANALYZE); a rescan that changed little leaves it alone."""
    monkeypatch.setattr(index_module, "BULK_CHANGE_ROWS", 3)
    analyzed = []
    monkeypatch.setattr(index_module, "analyze", lambda tables: (analyzed.append(tables), database.analyze(tables)))
    for n in range(40):
        images.jpeg(photos_dir / "album" / f"{n}.jpg", (16, 12))
    Indexer(config.photos_dir).scan()
    assert analyzed == [index_module.PLANNED_TABLES]
    images.jpeg(photos_dir / "album" / "new.jpg", (16, 12))
    images.jpeg(photos_dir / "album" / "newer.jpg", (16, 12))
    (photos_dir / "album" / "0.jpg").unlink()
    Indexer(config.photos_dir).scan()  # 3 changes among 41: not a tenth
    assert analyzed == [index_module.PLANNED_TABLES]


def test_the_status_counts_photos_and_videos_without_reading_every_row(db, photos_dir, config, monkeypatch):
    """Issue 24: GET /api/settings/status is polled while a scan runs; at a million photos two counts that read
    every row cost the worker's hub ~1.4 s a call (the scan stalled 4× behind it)."""
    for n in range(3):
        images.jpeg(photos_dir / "album" / f"{n}.jpg", (16, 12))
    (photos_dir / "album" / "clip.mp4").write_bytes(b"not really a video")  # indexed as a video all the same
    Indexer(config.photos_dir).scan()
    ran: list[tuple[str, tuple]] = []
    real = db.execute_sql
    monkeypatch.setattr(db, "execute_sql", lambda sql, params=None, *a, **k: ran.append((sql, params or ()))
                        or real(sql, params, *a, **k))
    status = index_module.index_status()
    assert (status["albums"], status["photos"], status["videos"]) == (1, 3, 1)
    if not database.is_postgres():
        counts = [(sql, params) for sql, params in ran if '"media"' in sql and "COUNT" in sql.upper()]
        assert counts
        for sql, params in counts:
            plan = " ".join(row[-1] for row in real("EXPLAIN QUERY PLAN " + sql, params).fetchall())
            assert "INDEX" in plan, (sql, plan)
