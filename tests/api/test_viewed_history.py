"""Recently-viewed history stays bounded: a client that refuses (or makes up) visitor cookies cannot add a row
per request, each viewer keeps only its newest views, and a normal browser still gets its history."""

from __future__ import annotations

import secrets

import pytest

from models import View
from services.gallery import browse
from services.gallery.index import Indexer


@pytest.fixture
def albums(client, config):
    for n in range(3):
        (config.photos_dir / f"album{n}").mkdir()
    Indexer(config.photos_dir).scan()
    return client


def names(response):
    return [item["name"] for item in response.get_json()["items"]]


def test_cookie_less_posts_from_one_address_leave_only_a_few_rows(albums):
    refuser = albums.application.test_client(use_cookies=False)
    for n in range(50):
        assert refuser.post("/api/browse/viewed", json={"path": f"album{n % 3}"}).status_code == 204
    assert View.select().count() <= 5


def test_made_up_visitor_cookies_do_not_count_as_visitors(albums):
    forger = albums.application.test_client(use_cookies=False)
    for _ in range(50):
        cookie = {"Cookie": f"visitor_id={secrets.token_hex(16)}"}
        assert forger.post("/api/browse/viewed", json={"path": "album0"}, headers=cookie).status_code == 204
    assert View.select().count() <= 5


def test_other_addresses_still_get_their_own_visitor_ids(albums):
    refuser = albums.application.test_client(use_cookies=False)
    for _ in range(20):
        refuser.post("/api/browse/viewed", json={"path": "album0"})
    newcomer = albums.application.test_client()
    assert newcomer.post("/api/browse/viewed", json={"path": "album1"},
                         environ_base={"REMOTE_ADDR": "198.51.100.7"}).status_code == 204
    assert names(newcomer.get("/api/browse/viewed", environ_base={"REMOTE_ADDR": "198.51.100.7"})) == ["album1"]


def test_a_browser_that_keeps_its_cookie_has_its_history_from_the_first_view(albums):
    for name in ("album0", "album2", "album1"):
        assert albums.post("/api/browse/viewed", json={"path": name}).status_code == 204
    assert names(albums.get("/api/browse/viewed")) == ["album1", "album2", "album0"]


def test_a_viewer_keeps_only_its_newest_views(db):
    for n in range(browse.MAX_VIEWS_PER_VIEWER + 20):
        browse.record_view("visitor:a", f"album{n:03d}")
    browse.record_view("visitor:b", "album000")
    kept = [v.path for v in View.select().where(View.viewer == "visitor:a").order_by(View.viewed_at)]
    assert len(kept) == browse.MAX_VIEWS_PER_VIEWER
    assert kept[0] == "album020" and kept[-1] == f"album{browse.MAX_VIEWS_PER_VIEWER + 19:03d}"
    assert View.select().where(View.viewer == "visitor:b").count() == 1
