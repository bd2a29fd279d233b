"""Issue 22, feeds out: GET /api/feed/<album> (the root too) and a password-less share link's feed
(/api/share/<token>/feed) with its enclosures (/api/share/<token>/preview), parsed with feedparser."""

from __future__ import annotations

import dataclasses
import os
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote, urlsplit

import feedparser
import pytest
from lxml import etree

from app import create_app
from config import load_config
from services.gallery.index import Indexer
from services.gallery.keys import version
from tests.support import exif, share_links
from tests.support.share_links import ADMIN, assert_error

BASE = "http://localhost"
MTIME = 1_750_000_000.0
TRICKY = "a<b&c \"猫\" 'x'.jpg"  # escaped in the XML, and once more in the summary's HTML


@pytest.fixture
def env(env):
    return {**env, "PHOTONIX_PREVIEW_SIZE": "512"}  # the smallest: quick to make from small sources


def dated(photos_dir, rel: str, day: int, mtime: float = MTIME, hour: int = 10) -> str:
    """A JPEG taken on `day` (counted from 2020-01-01) at `hour`, with the mtime given."""
    taken = datetime.fromordinal(datetime(2020, 1, 1).toordinal() + day).replace(hour=hour)
    exif.photo(photos_dir / rel, taken=taken.strftime("%Y:%m:%d %H:%M:%S"), offset="+02:00", mtime=mtime)
    return rel


def scan(config) -> None:
    Indexer(config.photos_dir).scan()


@pytest.fixture
def small(app, photos_dir, config):
    """album/: three photos (one in album/sub), a newer one in other/, the TRICKY name in album/."""
    made = {"old": dated(photos_dir, "album/old.jpg", 1), "sub": dated(photos_dir, "album/sub/mid.jpg", 2),
            "tricky": dated(photos_dir, f"album/{TRICKY}", 3), "other": dated(photos_dir, "other/new.jpg", 9)}
    scan(config)
    return made


def feed_of(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Content-Type"] == "application/atom+xml; charset=utf-8"
    etree.fromstring(response.data)  # well-formed XML
    parsed = feedparser.parse(response.data)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return parsed


def paths(parsed) -> list[str]:
    """The gallery paths of the entries, from their enclosures (the preview URL's ?path=)."""
    return [query(enclosure(entry))["path"] for entry in parsed.entries]


def enclosure(entry) -> str:
    (found,) = [link for link in entry.links if link.rel == "enclosure"]
    assert found.type == "image/webp" and "length" not in found
    return found.href


def query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


def viewer(client) -> dict[str, str]:
    token = client.post("/api/auth/login", json={"password": share_links.GALLERY_PASSWORD}).get_json()["token"]
    return {"Authorization": f"Bearer {token}"}


def local(url: str) -> str:
    """An absolute URL of this test server as the test client asks for it."""
    assert url.startswith(BASE + "/"), url
    return url[len(BASE):]


def test_the_newest_50_of_an_album_and_everything_below_it(client, photos_dir, config):
    # 53 photos a day apart (the newest in a sub-album), two taken at the same moment (the newer mtime first),
    # and a newer photo outside the album that its feed leaves out.
    rels = [dated(photos_dir, f"trip/{'deep/' if day % 2 else ''}d{day:02}.jpg", day) for day in range(53)]
    tie = dated(photos_dir, "trip/tie.jpg", 52, mtime=MTIME + 50)  # same date taken as d52, copied in later
    dated(photos_dir, "elsewhere/newer.jpg", 99)
    scan(config)
    parsed = feed_of(client.get("/api/feed/trip"))
    newest = [tie, *reversed(rels)][:50]
    assert paths(parsed) == newest
    assert parsed.feed.title == "Photonix – trip"
    assert {link.rel: link.href for link in parsed.feed.links} == {
        "self": f"{BASE}/api/feed/trip", "alternate": f"{BASE}/#/browse/trip"}
    assert parsed.feed.updated_parsed[:6] == datetime.fromtimestamp(MTIME + 50, UTC).timetuple()[:6]
    first, deep = parsed.entries[0], parsed.entries[2]  # tie.jpg, then d52.jpg, then deep/d51.jpg
    assert first.title == "tie.jpg" and first.link == f"{BASE}/#/browse/trip"
    assert deep.title == "d51.jpg" and deep.link == f"{BASE}/#/browse/trip/deep"
    assert first.published == "2020-02-22T10:00:00+02:00"  # taken, with its offset
    assert first.updated_parsed[:6] == datetime.fromtimestamp(MTIME + 50, UTC).timetuple()[:6]  # the file's mtime
    assert enclosure(first) == f"{BASE}/api/preview?path=trip%2Ftie.jpg&v={version(MTIME + 50)}"
    assert len({entry.id for entry in parsed.entries}) == 50 and first.id.startswith("urn:uuid:")


def test_entry_ids_stay_and_a_new_version_gets_a_new_one(client, photos_dir, config, small):
    before = {entry.title: entry.id for entry in feed_of(client.get("/api/feed/album")).entries}
    assert before == {entry.title: entry.id for entry in feed_of(client.get("/api/feed/album")).entries}
    os.utime(photos_dir / small["old"], (MTIME + 7, MTIME + 7))
    scan(config)
    after = {entry.title: entry.id for entry in feed_of(client.get("/api/feed/album")).entries}
    assert after["mid.jpg"] == before["mid.jpg"] and after["old.jpg"] != before["old.jpg"]


def test_enclosures_answer_with_the_preview(client, small):
    parsed = feed_of(client.get("/api/feed/album"))
    assert paths(parsed) == [small["tricky"], small["sub"], small["old"]]
    for entry in parsed.entries:
        response = client.get(local(enclosure(entry)))
        assert response.status_code == 200 and response.mimetype == "image/webp"


def test_names_are_escaped_in_titles_and_summaries(client, small):
    response = client.get("/api/feed/album")
    raw = response.get_data(as_text=True)
    assert "<title>a&lt;b&amp;c \"猫\" 'x'.jpg</title>" in raw  # lxml's escaping, UTF-8 as is
    assert TRICKY not in raw
    entry = feed_of(response).entries[0]
    assert entry.title == TRICKY
    summary = etree.fromstring(f"<div>{entry.summary}</div>", etree.HTMLParser()).find(".//img")
    assert summary.get("alt") == TRICKY and summary.get("src") == enclosure(entry)


def test_the_root_feed_holds_every_album(client, small):
    parsed = feed_of(client.get("/api/feed"))
    assert paths(parsed) == [small["other"], small["tricky"], small["sub"], small["old"]]
    assert parsed.feed.title == "Photonix"
    assert {link.rel: link.href for link in parsed.feed.links}["alternate"] == f"{BASE}/#/"
    assert feed_of(client.get("/api/feed/")).entries == parsed.entries


def test_an_empty_album_has_an_empty_feed(client, photos_dir, small):
    (photos_dir / "empty").mkdir()
    parsed = feed_of(client.get("/api/feed/empty"))
    assert parsed.entries == [] and parsed.feed.title == "Photonix – empty"


@pytest.mark.parametrize(("path", "status", "code"), [
    ("album/old.jpg", 404, "NOT_FOUND"), ("nowhere", 404, "NOT_FOUND"), ("../x", 400, "INVALID_PATH"),
    (".hidden", 400, "INVALID_PATH"), ("%2Fetc", 400, "INVALID_PATH")])
def test_a_feed_of_what_is_not_an_album(client, small, path, status, code):
    assert_error(client.get(f"/api/feed/{path}"), status, code)


def test_etag_and_if_none_match(client, photos_dir, config, small):
    first = client.get("/api/feed/album")
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "public, no-cache"
    again = client.get("/api/feed/album", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == etag
    assert client.get("/api/feed", headers={"If-None-Match": etag}).status_code == 200  # another feed's tag
    dated(photos_dir, "album/newest.jpg", 5, mtime=MTIME - 100)  # newer by date, older by mtime
    scan(config)
    changed = client.get("/api/feed/album", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert paths(feed_of(changed))[0] == "album/newest.jpg"


def test_last_modified_and_if_modified_since(client, small):
    first = client.get("/api/feed/album")
    assert first.headers["Last-Modified"] == "Sun, 15 Jun 2025 15:06:40 GMT"  # MTIME, the newest mtime
    since = {"If-Modified-Since": first.headers["Last-Modified"]}
    assert client.get("/api/feed/album", headers=since).status_code == 304
    earlier = {"If-Modified-Since": "Sun, 15 Jun 2025 15:06:39 GMT"}
    assert client.get("/api/feed/album", headers=earlier).status_code == 200


def test_public_url_makes_the_links(app, client, small):
    app.extensions["photonix"] = dataclasses.replace(app.extensions["photonix"],
                                                     public_url="https://photos.example.com/g")
    parsed = feed_of(client.get("/api/feed/album"))
    assert parsed.feed.links[0].href == "https://photos.example.com/g/api/feed/album"
    assert enclosure(parsed.entries[0]).startswith("https://photos.example.com/g/api/preview?path=album%2F")


def test_links_behind_a_trusted_proxy_with_a_prefix(env, small):
    proxied = create_app(load_config({**env, "PHOTONIX_TRUSTED_PROXIES": "1"})).test_client()
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "photos.example.org",
               "X-Forwarded-Prefix": "/gallery"}
    parsed = feed_of(proxied.get("/api/feed/album", headers=headers))
    assert parsed.feed.links[0].href == "https://photos.example.org/gallery/api/feed/album"
    assert parsed.entries[0].link == "https://photos.example.org/gallery/#/browse/album"
    assert enclosure(parsed.entries[0]).startswith("https://photos.example.org/gallery/api/preview?path=album%2F")


def test_a_private_gallery_feed_needs_a_login(client, small):
    share_links.make_private()
    assert_error(client.get("/api/feed/album"), 401, "AUTH_REQUIRED")
    response = client.get("/api/feed/album", headers=viewer(client))
    assert len(feed_of(response).entries) == 3 and response.headers["Cache-Control"] == "private, no-cache"


# Share links: made by the admin through the API, read without any cookie or login.

@pytest.fixture
def private(small):
    share_links.make_private()
    return small


def test_a_password_less_links_feed_needs_no_session(app, private, photos_dir, config):
    link = share_links.create(app.test_client(), "album", title="Our trip")
    reader = app.test_client()  # a feed reader: no cookie, no login
    response = reader.get(f"/api/share/{link['token']}/feed")
    parsed = feed_of(response)
    assert response.headers["Cache-Control"] == "private, no-cache"
    assert paths(parsed) == [private["tricky"], private["sub"], private["old"]]
    assert parsed.feed.title == "Photonix – Our trip"
    assert parsed.entries[0].link == f"{BASE}/s/{link['token']}" and link["url"] == f"{BASE}/s/{link['token']}"
    for entry in parsed.entries:
        assert enclosure(entry).startswith(f"{BASE}/api/share/{link['token']}/preview?path=album%2F")
        preview = reader.get(local(enclosure(entry)))
        assert preview.status_code == 200 and preview.mimetype == "image/webp", preview.get_data(as_text=True)
        assert preview.headers["Cache-Control"].startswith("private, ")
    assert_error(reader.get("/api/feed/album"), 401, "AUTH_REQUIRED")  # the gallery itself stays closed
    again = reader.get(f"/api/share/{link['token']}/feed", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


def test_a_photo_links_feed_holds_that_photo(app, client, private):
    link = share_links.create(client, private["sub"])
    parsed = feed_of(app.test_client().get(f"/api/share/{link['token']}/feed"))
    assert paths(parsed) == [private["sub"]] and parsed.feed.title == "Photonix – mid.jpg"
    assert app.test_client().get(local(enclosure(parsed.entries[0]))).status_code == 200


def test_a_link_with_a_password_has_no_feed(app, client, private):
    link = share_links.create(client, "album", password="link password 1", passwordHint="the usual")
    reader = app.test_client()
    body = assert_error(reader.get(f"/api/share/{link['token']}/feed"), 401, "SHARE_PASSWORD_REQUIRED")
    assert body["passwordHint"] == "the usual"
    assert_error(reader.get(f"/api/share/{link['token']}/preview?path=album%2Fold.jpg&v=1"), 401,
                 "SHARE_PASSWORD_REQUIRED")


def test_revoked_expired_and_unknown_links(app, client, private):
    revoked, expired = share_links.create(client, "album"), share_links.create(client, "album")
    assert client.delete(f"/api/shares/{revoked['id']}", headers=ADMIN).status_code == 204
    share_links.expire(expired["id"])
    reader = app.test_client()
    for link, code in ((revoked, "SHARE_REVOKED"), (expired, "SHARE_EXPIRED")):
        assert_error(reader.get(f"/api/share/{link['token']}/feed"), 410, code)
        assert_error(reader.get(f"/api/share/{link['token']}/preview?path=album%2Fold.jpg"), 410, code)
    unknown = "A" * len(revoked["token"])
    for url in (f"/api/share/{unknown}/feed", "/api/share/nonsense/feed", "/api/share/x/preview?path=album"):
        assert_error(reader.get(url), 404, "NOT_FOUND")


def test_a_preview_outside_the_link_is_refused_alike_whether_it_exists_or_not(app, client, private):
    link = share_links.create(client, "album/sub")
    reader = app.test_client()
    preview = f"/api/share/{link['token']}/preview?path="
    assert reader.get(preview + quote(private["sub"], safe="")).status_code == 200
    for outside in (private["old"], private["other"], "album/missing.jpg", "", "album", "album/subway.jpg",
                    "album/sub%2F..%2Fold.jpg"):
        assert_error(reader.get(preview + quote(outside, safe="")), 403, "SHARE_SCOPE")
    for invalid in ("album/sub/../old.jpg", "/etc/passwd", "album/sub/.hidden.jpg"):  # bad syntax, anywhere
        assert_error(reader.get(preview + quote(invalid, safe="")), 400, "INVALID_PATH")
    assert_error(reader.get(f"/api/share/{link['token']}/preview"), 400, "VALIDATION_ERROR")


def test_a_symlink_leading_out_of_a_shared_album(app, client, photos_dir, config, private):
    os.symlink(photos_dir / "other", photos_dir / "album" / "linked")
    scan(config)
    assert "album/linked/new.jpg" in paths(feed_of(client.get("/api/feed/album", headers=viewer(client))))
    link = share_links.create(client, "album")
    reader = app.test_client()
    assert "album/linked/new.jpg" not in paths(feed_of(reader.get(f"/api/share/{link['token']}/feed")))
    response = reader.get(f"/api/share/{link['token']}/preview?path={quote('album/linked/new.jpg', safe='')}")
    assert_error(response, 403, "SHARE_SCOPE")


def test_a_share_session_reads_feeds_inside_its_link_only(app, client, private):
    link = share_links.create(client, "album")
    visitor = app.test_client()
    assert visitor.post(f"/api/share/{link['token']}/open", json={}).status_code == 200
    assert len(feed_of(visitor.get("/api/feed/album")).entries) == 3
    assert len(feed_of(visitor.get("/api/feed/album/sub")).entries) == 1
    assert_error(visitor.get("/api/feed"), 403, "SHARE_SCOPE")
    assert_error(visitor.get("/api/feed/other"), 403, "SHARE_SCOPE")
