"""services/gallery/listing.py: rows exactly as peewee's named tuples give them, and counts that stay exact while
SQLite lets them be reused: an album is counted once while nothing is written, and again after any write, by this
connection or another (PostgreSQL counts every time)."""

from __future__ import annotations

import threading

import pytest

from models import Folder, Media, database
from services.database import close_connection, is_postgres
from services.gallery import browse, keyset, listing
from services.gallery.keys import fold, natural_key, path_hash

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
    assert len(counts) == (2 * len(pages) if is_postgres() else 2)  # albums and media


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
    assert len(counts) == (6 if is_postgres() else 4)


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
