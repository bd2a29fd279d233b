"""Search for a common text (services/gallery/search_pages.py): pages equal the reference of test_search_index.py at
every page boundary, the total is exact or an honest lower bound, and a common text's page is read along the
natural-order index while a rare one is found through the search index. search.COUNTED_MAX is lowered so that a
small library has common texts; each test runs on the database the run uses (SQLite, or --db=postgres).
"""

from __future__ import annotations

import uuid

import pytest

from models import Folder, Media, database
from services.database import analyze, bind_database, close_connection, init_db, is_postgres, open_database
from services.gallery import browse, query, search, search_pages
from services.gallery.keys import path_hash
from tests.support import servers
from tests.unit.test_search_index import _expected, _fill

COUNTED_MAX = 25
LIMIT = 7
FOLDERS = ["2019", "2020-07", "beach", "東京 trip"]
# img_N repeats in every folder: equal names, ordered by path; a few rare names
MEDIA = sorted([f"{folder}/img_{n}.jpg" for folder in FOLDERS for n in range(0, 40, 3)]
               + ["beach/sunset.JPG", "東京 trip/東京タワー.jpg", "2019/a.jpg", "2020-07/IMG_7.JPG"])
TEXTS = ["img", "i", "0", "g_1", "東京", "beach", "sunset", "タワー", "a", "zzz", ".jpg"]


@pytest.fixture
def library(db, monkeypatch):
    monkeypatch.setattr(search, "COUNTED_MAX", COUNTED_MAX)
    _fill(FOLDERS, MEDIA)
    analyze(("media", "folder"))


def _pages(raw: str, *within):
    """Every page of `raw` (within a share's scope: folders_within, media_within), and the one after the last."""
    number, pages = 1, []
    while True:
        parsed, page = browse.search(raw, number, LIMIT, *within)
        pages.append(page)
        if not page.albums and not page.media:
            return parsed, pages
        number += 1


def test_pages_of_common_and_rare_texts_match_the_reference(library):
    for raw in TEXTS:
        parsed, pages = _pages(raw)
        albums, media = _expected(parsed.folded, FOLDERS, MEDIA)
        found = albums + media
        assert [row.path for page in pages for row in page.albums + page.media] == found, raw
        for number, page in enumerate(pages, 1):
            start = (number - 1) * LIMIT
            assert [row.path for row in page.albums + page.media] == found[start:start + LIMIT], (raw, number)
            holds_last = start < len(found) <= start + LIMIT
            if len(media) < COUNTED_MAX or holds_last:
                assert (page.total_results, page.total_is_lower_bound) == (len(found), False), (raw, number)
            else:  # at least: never more than there are, never fewer than shown, and the cap's worth
                assert page.total_is_lower_bound, (raw, number)
                assert len(albums) + COUNTED_MAX <= page.total_results <= len(found), (raw, number)
                assert page.total_results >= min(len(found), start + LIMIT + 1) or number == len(pages), (raw, number)


def test_pages_within_a_share_match_the_reference(library):
    """A share's scope: the library-wide count cannot serve, so the page's own queries count."""
    inside = ["beach", "東京 trip"]
    within = (Folder.path.in_(inside), Media.folder_hash.in_([path_hash(rel) for rel in inside]))
    media_inside = [rel for rel in MEDIA if rel.split("/")[0] in inside]
    for raw in ["img", "i", "東京", "sunset", "g_1", "zzz"]:
        parsed, pages = _pages(raw, *within)
        albums, media = _expected(parsed.folded, inside, media_inside)
        assert [row.path for page in pages for row in page.albums + page.media] == albums + media, raw
        assert pages[0].total_is_lower_bound == (len(media) >= COUNTED_MAX and len(albums + media) > LIMIT), raw


@pytest.mark.parametrize("listed, sorted_max", [(500, 50_000), (0, 0)])  # album: folders listed and sorted, or not
def test_filters_with_a_common_text_match_the_reference(library, monkeypatch, listed, sorted_max):
    monkeypatch.setattr(query, "MAX_ALBUMS_LISTED", listed)
    monkeypatch.setattr(search_pages, "SORTED_MAX", sorted_max)
    for raw, folders in [("img album:20", ["2019", "2020-07"]), ("album:東京", ["東京 trip"]), ("album:zz", [])]:
        parsed, pages = _pages(raw)
        _, media = _expected(parsed.folded, FOLDERS, [rel for rel in MEDIA if rel.split("/")[0] in folders])
        shown = [row.path for page in pages for row in page.media]
        assert sorted(shown) == sorted(media), raw  # newest taken first: the rows' taken_key are all NULL here
        assert pages[0].total_is_lower_bound == (len(media) >= COUNTED_MAX), raw


def test_a_common_text_is_read_along_the_order_index_a_rare_one_found_by_the_search_index(library, monkeypatch):
    media_queries = []
    rows = search_pages.listing.rows

    def recorded(query):
        media_queries.append(query)
        return rows(query)
    monkeypatch.setattr(search_pages.listing, "rows", recorded)
    for text, walked in [("img", True), ("i", True), ("sunset", False), ("タワー", False)]:
        media_queries.clear()
        browse.search(text, 2 if walked else 1, LIMIT)
        plan = _plan(media_queries[-1])  # albums first, then media
        assert ("media_search_order" in plan) == walked, (text, plan)
        if not walked and is_postgres():
            kind = "trgm" if len(text) >= 3 else "grams"
            assert f"media_name_folded_{kind}" in plan, (text, plan)
        elif not walked:
            assert "media_search" in plan and "SCAN media " not in plan, (text, plan)
    media_queries.clear()
    browse.search("album:東京", 1, LIMIT)  # its folders, then their photos by folder_hash (browse's indexes)
    plan = _plan(media_queries[-1])
    assert "media_browse_" in plan and "SCAN media " not in plan, plan


@pytest.mark.integration
@pytest.mark.sqlite_run  # it starts both databases itself
def test_sqlite_and_postgres_give_the_same_pages(tmp_path, request, monkeypatch):
    monkeypatch.setattr(search, "COUNTED_MAX", COUNTED_MAX)
    answers, admin = [], request.getfixturevalue("postgres_admin_url")
    for url in (f"sqlite:///{tmp_path / 'side.db'}", servers.create_pg_database(admin, "c_" + uuid.uuid4().hex[:12])):
        bind_database(open_database(url))
        init_db()
        _fill(FOLDERS, MEDIA)
        answers.append({raw: [([row.path for row in page.albums + page.media], page.total_results,
                               page.total_is_lower_bound) for page in _pages(raw)[1]]
                        for raw in [*TEXTS, "img album:20"]})
        close_connection()
    assert answers[0] == answers[1]


def test_the_answer_says_when_the_total_is_a_lower_bound(library, client):
    common = client.get("/api/search", query_string={"q": "img", "limit": LIMIT}).get_json()
    assert (common["totalIsLowerBound"], common["totalResults"]) == (True, COUNTED_MAX)
    assert common["totalPages"] == -(-COUNTED_MAX // LIMIT)
    rare = client.get("/api/search", query_string={"q": "sunset"}).get_json()
    assert (rare["totalIsLowerBound"], rare["totalResults"]) == (False, 1)


def _plan(query) -> str:
    sql, params = query.sql()
    with database.atomic():
        if is_postgres():  # the tables are tiny: make the planner show which index it would use
            database.execute_sql("SET LOCAL enable_seqscan = off")
            database.execute_sql("SET LOCAL enable_sort = off")
            return " ".join(row[0] for row in database.execute_sql("EXPLAIN " + sql, params))
        return " ".join(row[-1] for row in database.execute_sql("EXPLAIN QUERY PLAN " + sql, params))
