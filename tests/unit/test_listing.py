"""services/gallery/listing.py: rows exactly as peewee's named tuples give them, and counts that stay exact while
they are reused: an album is counted once while nothing is written, and again after any write, by this connection
or another, also by a transaction that was open while the count was made (SQLite: data_version; PostgreSQL: the
transactions its triggers record, compared with the count's snapshot)."""

from __future__ import annotations

import threading

import pytest

from models import Folder, Media, database
from services.database import close_connection, is_postgres, write_transaction
from services.gallery import browse, keyset, listing
from services.gallery.index import Indexer
from services.gallery.keys import fold, natural_key, path_hash
from tests.support import images

ALBUM = "big"
MEDIA = 30


def media_row(folder: str, name: str, n: int) -> dict:
    rel = f"{folder}/{name}"
    return {"path_hash": path_hash(rel), "path": rel, "folder_hash": path_hash(folder), "name": name,
            "sort_key": natural_key(name), "name_folded": fold(name), "folder_folded": fold(folder), "kind": "photo",
            "mime": "image/jpeg", "size": 100 + n, "mtime": 1_700_000_000.0 + n, "width": 64 if n % 2 else None,
            "height": 48, "taken_key": 1_700_000_000.5 + n if n % 3 else None, "placeholder": "x" if n % 5 else None}


@pytest.fixture
def album(db):
    for rel in ("", ALBUM, f"{ALBUM}/sub"):
        name = rel.rpartition("/")[2]
        Folder.create(path_hash=path_hash(rel), path=rel, name=name, sort_key=natural_key(name), name_folded=fold(name),
                      parent_hash=None if not rel else path_hash(rel.rpartition("/")[0]), mtime=1_700_000_000.0)
    Media.insert_many([media_row(ALBUM, f"img{n}.jpg", n) for n in range(MEDIA)]).execute()
    browse.record_view("visitor:listing", f"{ALBUM}/sub")
    return ALBUM


@pytest.fixture
def counts(monkeypatch) -> list[str]:
    """The COUNT statements sent to the database."""
    sent: list[str] = []
    run = database.obj.execute_sql

    def spy(sql, params=None, *args, **kwargs):
        if "COUNT(" in sql.upper():
            sent.append(sql)
        return run(sql, params, *args, **kwargs)

    monkeypatch.setattr(database.obj, "execute_sql", spy)
    return sent


def total(album: str) -> int:
    return browse.album_page(album, None, "smart", 1, 10).total_results


@pytest.mark.parametrize("sort", browse.SORTS)
def test_rows_are_the_named_tuples_peewee_gives(album, sort):
    """Same fields, same values of the same types: the keys of browse's orders go into cursors as they are."""
    key = path_hash(album)
    queries = [keyset.Part(browse._albums_of(path_hash(""), "visitor:listing"), browse._album_order(sort)).ordered(),
               keyset.Part(Media.select(*browse.MEDIA_COLUMNS).where(Media.folder_hash == key),
                           browse._media_order(sort)).ordered()]
    for query in queries:
        ours, peewees = listing.rows(query), list(query.namedtuples())
        assert ours and [row._fields for row in ours] == [row._fields for row in peewees]
        assert [[(type(v), v) for v in row] for row in ours] == [[(type(v), v) for v in row] for row in peewees]


def test_an_album_is_counted_once_while_nothing_changes(album, counts):
    pages = [browse.album_page(album, None, "smart", 1, 10)]
    while pages[-1].next_cursor:
        pages.append(browse.album_page(album, None, "smart", 1, 10, cursor=pages[-1].next_cursor))
    assert len(pages) == 4 and {page.total_results for page in pages} == {MEDIA + 1}
    assert len(counts) == 2  # albums and media


def test_a_write_by_another_connection_is_counted(album, counts):
    assert total(album) == MEDIA + 1

    def remove() -> None:  # a thread has its own connection
        try:
            Media.delete().where(Media.name.in_(["img1.jpg", "img2.jpg"])).execute()
        finally:
            close_connection()

    writer = threading.Thread(target=remove)
    writer.start()
    writer.join()
    assert total(album) == MEDIA - 1 and total(album) == MEDIA - 1
    assert len(counts) == 4


def test_a_write_by_this_connection_is_counted(album):
    assert total(album) == MEDIA + 1
    Media.insert(media_row(album, "new.jpg", 99)).execute()
    assert total(album) == MEDIA + 2
    with database.atomic():
        Folder.delete().where(Folder.path == f"{album}/sub").execute()
        assert total(album) == MEDIA + 1  # inside the writing transaction, its own change counts
    assert total(album) == MEDIA + 1


def test_counts_are_kept_per_listing(album):
    assert (total(album), total(""), total(f"{album}/sub")) == (MEDIA + 1, 1, 0)
    assert (total(album), total(""), total(f"{album}/sub")) == (MEDIA + 1, 1, 0)


def test_a_transaction_open_while_counting_is_counted_once_it_commits(album, counts):
    """The count is made while another connection's insert is written but not committed: it must not be reused
    after that commit (on PostgreSQL the writer's id was in the count's snapshot as still running)."""
    written, commit = threading.Event(), threading.Event()

    def insert() -> None:
        try:
            with write_transaction():
                Media.insert(media_row(album, "late.jpg", 77)).execute()
                written.set()
                assert commit.wait(30)
        finally:
            close_connection()

    writer = threading.Thread(target=insert)
    writer.start()
    assert written.wait(30)
    try:
        assert total(album) == MEDIA + 1 and total(album) == MEDIA + 1
    finally:
        commit.set()
        writer.join(30)
    assert total(album) == MEDIA + 2
    assert len(counts) == 4


def test_a_rolled_back_write_leaves_the_count_right(album):
    assert total(album) == MEDIA + 1
    with pytest.raises(RuntimeError), database.atomic():
        Media.insert(media_row(album, "undone.jpg", 88)).execute()
        assert total(album) == MEDIA + 2  # its own change, not yet committed
        raise RuntimeError("undo")
    assert total(album) == MEDIA + 1


def test_recorded_changes_are_pruned_and_counts_stay_exact(album, counts):
    """PostgreSQL keeps a row per transaction that changed media or folder rows; pruning drops those every
    snapshot now sees, and a count remembered from before the pruning is made again (SQLite: nothing to prune)."""
    assert total(album) == MEDIA + 1
    Media.delete().where(Media.name == "img3.jpg").execute()
    if is_postgres():
        assert recorded_changes() >= 1
    listing.prune_changes()
    if is_postgres():
        assert recorded_changes() == 0
    assert total(album) == MEDIA and total(album) == MEDIA
    assert len(counts) == 4  # the first page and the page after the delete; the last is remembered


def test_a_scan_and_a_sync_prune_the_recorded_changes(db, photos_dir, config, monkeypatch):
    pruned: list[int] = []
    prune = listing.prune_changes
    monkeypatch.setattr(listing, "prune_changes", lambda: (pruned.append(1), prune()))
    for n in range(3):
        images.jpeg(photos_dir / "album" / f"{n}.jpg", (16, 12))
    Indexer(config.photos_dir).scan()
    assert pruned == [1] and (not is_postgres() or recorded_changes() == 0)
    images.jpeg(photos_dir / "import" / "new.jpg", (16, 12))
    Indexer(config.photos_dir).sync_folders(["import"])
    assert pruned == [1, 1] and (not is_postgres() or recorded_changes() == 0)
    assert total("album") == 3 and total("import") == 1


def recorded_changes() -> int:
    return len(database.execute_sql("SELECT xid FROM listing_change").fetchall())  # no COUNT: the spy counts those
