"""Album pages by cursor (keyset pages): for every sort, following nextCursor gives exactly the rows of the numbered
pages, in the same order, also while rows before the cursor come and go; a cursor of another listing, or one cut
short, garbled or made up, is a 400; and a page after a cursor is an index range scan, never OFFSET."""

from __future__ import annotations

import base64
import json

import pytest
from itsdangerous import URLSafeSerializer

from errors import ValidationFailed
from models import Folder, Media, database
from services.database import analyze, init_db, insert_ignoring_conflicts, is_postgres
from services.gallery import browse
from services.gallery.index import Indexer
from services.gallery.index_rows import MEDIA_FIELDS
from services.gallery.keys import fold, natural_key, path_hash
from tests.support import images

SECRET = "cursor-test-secret"
VIEWER = "visitor:cursor-test"
T0 = 1_700_000_000.0
# Names whose natural keys are equal (folded case, leading zeros), so that only the id orders them.
TWINS = ("img1.jpg", "IMG1.jpg", "img01.jpg", "Img001.jpg")


def add_folders(*rels: str, newest: dict[str, float] | None = None) -> None:
    """Folder rows as the index writes them; `newest`: cover times (albums that sort by date)."""
    newest = newest or {}
    for rel in rels:
        parent = rel.rpartition("/")[0] if rel else None
        name = rel.rpartition("/")[2]
        Folder.insert(path_hash=path_hash(rel), path=rel, parent_hash=None if parent is None else path_hash(parent),
                      name=name, sort_key=natural_key(name), name_folded=fold(name), mtime=T0,
                      cover_mtime=newest.get(rel)).on_conflict_ignore().execute()


def add_media(folder: str, rows: list[tuple[str, float, float | None]]) -> None:
    """(name, mtime, taken_key) rows, written as the indexer writes them."""
    made = []
    for name, mtime, taken in rows:
        rel = f"{folder}/{name}"
        values = {"path_hash": path_hash(rel), "path": rel, "folder_hash": path_hash(folder), "name": name,
                  "sort_key": natural_key(name), "name_folded": fold(name), "folder_folded": fold(folder),
                  "kind": "video" if name.endswith(".mp4") else "photo", "mime": "image/jpeg", "size": 1,
                  "mtime": mtime, "taken_key": taken, "meta_version": 0, "thumb_failed": 0}
        made.append(tuple(values.get(field.name) for field in MEDIA_FIELDS))
    insert_ignoring_conflicts(Media, MEDIA_FIELDS, made)


@pytest.fixture
def album(db):
    """'big': 6 albums (two with the same cover time, two whose names fold alike, one viewed) and 40 media with
    ties of mtime, of date taken and of natural name, and NULL dates taken (rows from before dates were read)."""
    add_folders("", "big", "empty")
    add_folders(*(f"big/{name}" for name in ("a1", "A1", "b2", "c10", "c9", "d")),
                newest={"big/a1": T0 + 5, "big/A1": T0 + 5, "big/b2": T0 + 9, "big/c9": T0 + 1})
    names = [*TWINS, *(f"{'IMG' if n % 3 else 'img'}_{n}.{'mp4' if n % 5 == 0 else 'jpg'}" for n in range(36))]
    add_media("big", [(name, T0 + n // 4, None if n % 7 == 3 else T0 - (n * 5) % 9 * 60)
                      for n, name in enumerate(names)])
    browse.record_view(VIEWER, "big/c10")
    return "big"


def rows_of(page: browse.Page) -> list[str]:
    return [f"album:{a.path}" for a in page.albums] + [f"media:{m.path}" for m in page.media]


def by_page(rel: str, sort: str, limit: int) -> list[list[str]]:
    pages, number = [], 1
    while rows := rows_of(browse.album_page(rel, VIEWER, sort, number, limit)):
        pages.append(rows)
        number += 1
    return pages


def by_cursor(rel: str, sort: str, limit: int, cursor: str | None = None, stop: int | None = None):
    """(pages of rows, the page numbers given, the cursor after the last page walked: None at the end)."""
    pages, numbers = [], []
    while True:
        page = browse.album_page(rel, VIEWER, sort, 1, limit, cursor=cursor, secret=SECRET)
        pages.append(rows_of(page))
        numbers.append(page.page)
        cursor = page.next_cursor
        if cursor is None or len(pages) == stop:
            return pages, numbers, cursor
        assert len(pages) < 100, "a cursor that never reaches the end"


@pytest.mark.parametrize("limit", [1, 7, 200])
@pytest.mark.parametrize("sort", browse.SORTS)
def test_following_cursors_gives_the_numbered_pages_rows_in_order(album, sort, limit):
    numbered = by_page(album, sort, limit)
    walked, numbers, _ = by_cursor(album, sort, limit)
    assert walked == numbered  # page by page: the same rows, the same order
    every = [row for page in walked for row in page]
    assert len(every) == len(set(every)) == 46
    assert numbers == list(range(1, len(numbered) + 1))


@pytest.mark.parametrize("limit", [1, 7])
@pytest.mark.parametrize("sort", browse.SORTS)
def test_deep_numbered_pages_are_the_offset_pages(album, sort, limit, monkeypatch):
    """A numbered page far into the media starts after the row its index says comes before it: the same rows as
    OFFSET gives, for every order (ties, NULL dates taken), and the same page numbers, totals and next cursors."""
    monkeypatch.setattr(browse, "DEEP_OFFSET", 10**9)
    offset_pages = [browse.album_page(album, VIEWER, sort, n, limit, secret=SECRET) for n in range(1, 50 // limit + 2)]
    monkeypatch.setattr(browse, "DEEP_OFFSET", 1)
    keyset_pages = [browse.album_page(album, VIEWER, sort, n, limit, secret=SECRET) for n in range(1, 50 // limit + 2)]
    assert [rows_of(p) for p in keyset_pages] == [rows_of(p) for p in offset_pages]
    assert [(p.page, p.total_results, p.next_cursor) for p in keyset_pages] == \
        [(p.page, p.total_results, p.next_cursor) for p in offset_pages]
    assert sum(len(rows_of(p)) for p in keyset_pages) == 46


def test_orders_are_total_and_keep_their_meaning(album):
    """Ties of natural name are ordered by id (each sort alike), and dates newest first keep names ascending."""
    names = [row.rpartition("/")[2] for page in by_page(album, "name_asc", 200) for row in page]
    assert names[6:10] == list(TWINS)  # after the albums, in the order they were written
    assert [row.rpartition("/")[2] for row in by_page(album, "name_desc", 200)[0][-4:]] == list(reversed(TWINS))
    smart = by_page(album, "smart", 200)[0]
    assert smart[:3] == ["album:big/c10", "album:big/b2", "album:big/a1"]  # viewed, then newest, then by name


def test_a_page_ending_at_the_last_album_leads_to_the_first_media(album):
    first = browse.album_page(album, VIEWER, "name_asc", 1, 6, secret=SECRET)
    assert [row.split(":")[0] for row in rows_of(first)] == ["album"] * 6 and first.next_cursor
    second = browse.album_page(album, VIEWER, "name_asc", 1, 6, cursor=first.next_cursor, secret=SECRET)
    assert rows_of(second)[0] == "media:big/img1.jpg" and second.page == 2 and second.total_results == 46


def test_an_empty_album_and_the_last_page_have_no_next_cursor(album):
    empty = browse.album_page("empty", VIEWER, "smart", 1, 50, secret=SECRET)
    assert (empty.albums, empty.media, empty.total_results, empty.next_cursor) == ([], [], 0, None)
    assert browse.album_page(album, VIEWER, "smart", 1, 46, secret=SECRET).next_cursor is None
    assert browse.album_page(album, VIEWER, "smart", 9, 10, secret=SECRET).next_cursor is None  # past the end


@pytest.mark.parametrize("sort", browse.SORTS)
def test_a_cursor_stays_valid_when_rows_before_it_come_and_go(album, sort):
    before = [row for page in by_page(album, sort, 200) for row in page]
    served, _, cursor = by_cursor(album, sort, 7, stop=2)
    served = [row for page in served for row in page]
    gone = {served[-1], served[3], served[8]}  # the cursor's own row, and one of each page
    for row in gone:
        kind, _, rel = row.partition(":")
        (Folder.delete().where(Folder.path == rel) if kind == "album" else Media.delete().where(Media.path == rel)
         ).execute()
    add_folders("big/!", "big/~", newest={"big/!": T0 - 1e6, "big/~": T0 + 1e6})
    add_media(album, [("!first.jpg", T0 - 1e6, T0 - 1e6), ("~last.jpg", T0 + 1e6, T0 + 1e6),
                      ("!nodate.jpg", T0, None)])
    rest, _, _ = by_cursor(album, sort, 7, cursor)
    every = served + [row for page in rest for row in page]
    assert len(every) == len(set(every))  # nothing twice
    assert set(before) <= set(every)  # nothing that was there all along is skipped
    assert [row for row in every if row in before] == before  # and all of it in order


def test_browse_answers_carry_next_cursor_and_follow_it(client, photos_dir, config):
    for n in range(5):
        images.jpeg(photos_dir / "trip" / f"p{n}.jpg", mtime=T0 + n)
    images.jpeg(photos_dir / "trip" / "day" / "x.jpg", mtime=T0)
    Indexer(config.photos_dir).scan()
    numbered = [[i["path"] for i in client.get(f"/api/browse/trip?sort=mtime_desc&limit=2&page={n}").get_json()
                 ["items"]] for n in (1, 2, 3)]
    first = client.get("/api/browse/trip?sort=mtime_desc&limit=2").get_json()
    walked, body = [[i["path"] for i in first["items"]]], first
    while body["nextCursor"]:
        body = client.get(f"/api/browse/trip?sort=mtime_desc&limit=2&cursor={body['nextCursor']}").get_json()
        walked.append([i["path"] for i in body["items"]])
    assert walked == numbered and body["page"] == 3 and body["totalResults"] == 6 and body["totalPages"] == 3


@pytest.fixture
def cursor_of_trip(client, photos_dir, config):
    for n in range(3):
        images.jpeg(photos_dir / "trip" / f"p{n}.jpg", mtime=T0 + n)
        images.jpeg(photos_dir / "other" / f"p{n}.jpg", mtime=T0 + n)
    Indexer(config.photos_dir).scan()
    return client.get("/api/browse/trip?sort=name_asc&limit=1").get_json()["nextCursor"]


def forged(cursor: str) -> str:
    """The same cursor with another position in it, still carrying the original signature."""
    payload, signature = cursor.rsplit(".", 1)
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data["n"] = 1000
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=") + "." + signature


@pytest.mark.parametrize("case", ["other album", "other sort", "cut short", "garbled", "forged", "other secret",
                                  "not ours"])
def test_a_cursor_that_is_not_this_listings_is_a_400(client, cursor_of_trip, case):
    url = {"other album": f"/api/browse/other?sort=name_asc&cursor={cursor_of_trip}",
           "other sort": f"/api/browse/trip?sort=name_desc&cursor={cursor_of_trip}",
           "cut short": f"/api/browse/trip?sort=name_asc&cursor={cursor_of_trip[:-6]}",
           "garbled": "/api/browse/trip?sort=name_asc&cursor=%E2%9C%93%00!!",
           "forged": f"/api/browse/trip?sort=name_asc&cursor={forged(cursor_of_trip)}",
           "other secret": "/api/browse/trip?sort=name_asc&cursor="
                           + URLSafeSerializer("guessed", salt="photonix.browse-cursor").dumps({"l": "x"}),
           "not ours": "/api/browse/trip?sort=name_asc&cursor=" + base64.urlsafe_b64encode(b"[1,2]").decode()}[case]
    response = client.get(url)
    body = response.get_json()
    assert response.status_code == 400, body
    assert body["code"] == "VALIDATION_ERROR" and body["field"] == "cursor" and body["message"]
    assert body["requestId"] == response.headers["X-Request-Id"]


def test_a_cursor_is_url_safe_and_wins_over_page(client, cursor_of_trip):
    assert cursor_of_trip.replace("-", "").replace("_", "").replace(".", "").isalnum()
    body = client.get(f"/api/browse/trip?sort=name_asc&limit=1&page=3&cursor={cursor_of_trip}").get_json()
    assert [i["name"] for i in body["items"]] == ["p1.jpg"] and body["page"] == 2


# --- plans ------------------------------------------------------------------------------------------------------

@pytest.fixture
def big(db):
    add_folders("", "big")
    add_media("big", [(f"IMG_{n:05d}.jpg", T0 + n // 3, None if n % 50 == 7 else T0 - n % 400)
                      for n in range(3000)])
    return "big"


def plan(sql: str, params: list) -> list[str]:
    if is_postgres():
        with database.atomic():  # a sequential scan only where no index serves at all
            database.execute_sql("SET LOCAL enable_seqscan = off")
            return [line for (line,) in database.execute_sql("EXPLAIN " + sql, params).fetchall()]
    return [row[-1] for row in database.execute_sql("EXPLAIN QUERY PLAN " + sql, params).fetchall()]


@pytest.mark.parametrize("sort", browse.SORTS)
def test_a_page_after_a_cursor_is_an_index_range_scan(big, sort, monkeypatch):
    cursor = browse.album_page(big, None, sort, 1, 200, secret=SECRET).next_cursor
    statements = []
    run = database.obj.execute_sql
    monkeypatch.setattr(database.obj, "execute_sql",
                        lambda sql, params=None, *a, **k: statements.append((sql, params)) or run(sql, params, *a, **k))
    page = browse.album_page(big, None, sort, 1, 200, cursor=cursor, secret=SECRET)
    monkeypatch.undo()
    assert len(page.media) == 200 and not any("OFFSET" in sql.upper() for sql, _ in statements)
    pages = [(sql, params) for sql, params in statements if 'FROM "media"' in sql and "LIMIT" in sql]
    assert pages
    for sql, params in pages:
        steps = plan(sql, params)
        assert any("media_browse_" in step for step in steps), steps
        assert not any("TEMP B-TREE" in step or "Sort" in step or "Seq Scan" in step for step in steps), steps


@pytest.mark.parametrize("sort", browse.SORTS)
def test_a_deep_numbered_page_reads_the_index_alone_then_a_range(big, sort, monkeypatch):
    statements = []
    run = database.obj.execute_sql
    monkeypatch.setattr(database.obj, "execute_sql",
                        lambda sql, params=None, *a, **k: statements.append((sql, params)) or run(sql, params, *a, **k))
    page = browse.album_page(big, None, sort, 14, 200)  # rows 2,601–2,800 of 3,000
    monkeypatch.undo()
    assert page.page == 14 and len(page.media) == 200 and page.next_cursor
    skipping = [(sql, params) for sql, params in statements if "OFFSET" in sql.upper()]
    assert len(skipping) == 1  # the boundary: one row's keys, read from the order's index alone
    for other in ("x", "y", "z"):  # a library of several albums, so that the planner sees what the folder selects
        add_folders(other)
        add_media(other, [(f"IMG_{n:05d}.jpg", T0 + n, T0 - n) for n in range(3000)])
    if is_postgres():  # as autovacuum does after a bulk insert: pages marked all-visible, statistics made
        database.execute_sql('VACUUM (ANALYZE) "media"')
    else:
        analyze(("media",))  # as the index does after a bulk change
    steps = plan(*skipping[0])
    assert any(("Index Only Scan" in step or "USING COVERING INDEX" in step) and "media_browse_" in step
               for step in steps), steps
    assert not any("TEMP B-TREE" in step or "Sort" in step for step in steps), steps


def test_init_db_replaces_the_indexes_of_the_release_before(db):
    database.execute_sql('CREATE INDEX "media_folder_hash_mtime" ON "media" (folder_hash, mtime)')
    database.execute_sql('DROP INDEX "media_browse_mtime"')
    init_db()
    names = {index.name for index in database.get_indexes("media")}
    assert "media_folder_hash_mtime" not in names
    assert {f"media_browse_{n}" for n in ("name", "mtime", "mtime_desc", "taken", "taken_desc")} <= names


def test_a_signed_cursor_of_another_shape_is_a_400_not_a_500(album):
    """What an older release might have signed: the same listing, a position this release cannot read."""
    listing = f"name_asc:{path_hash(album)}"
    for data in ({"l": listing, "p": 1, "k": ["img011.jpg"], "n": 7}, {"l": listing, "p": 5, "k": [], "n": 0},
                 {"l": listing, "p": "1", "k": ["a", 1], "n": 7}, ["not", "a", "position"]):
        token = URLSafeSerializer(SECRET, salt="photonix.browse-cursor").dumps(data)
        with pytest.raises(ValidationFailed) as refused:
            browse.album_page(album, VIEWER, "name_asc", 1, 7, cursor=token, secret=SECRET)
        assert refused.value.extra["field"] == "cursor"
