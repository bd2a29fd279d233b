"""Issue 22, share links attacked through the API (Flask test client), written from the contract: scope escapes
by name, `..`, encoded forms and symlinks on every endpoint that takes a path (the share feed's previews, feeds and
ZIPs too), search, timeline and memories only inside, no viewed history, and event streams that carry only what
lies inside. The gallery is tests/support/share_gallery.py's; test_share_sessions.py has the links' sessions.
"""

from __future__ import annotations

import io
import json
import os
import threading
import zipfile
from urllib.parse import quote

import pytest

from models import View
from services import events
from services.gallery.index import Indexer
from tests.support import share_gallery
from tests.support.share_gallery import LINK_PASSWORD, OUT, as_share, outcome
from tests.support.share_links import ADMIN, create
from tests.support.waiting import until

DOTS = {(400, "INVALID_PATH"), OUT}  # refused as bad syntax before any scope check, or as outside: both name nothing
MISSING = (404, "NOT_FOUND")
ENDPOINTS = ("browse", "info", "thumbnail", "preview", "file")
ALBUM_INSIDE = {"trip/a.jpg", "trip/b.jpg", "trip/sub/c.jpg"}
# What an album share of "trip" may not reach, whether it exists or not: a 404 outside would tell what exists there.
ALBUM_ESCAPES: dict[str, object] = {
    "other": OUT, "other/secret.jpg": OUT, "other/missing.jpg": OUT, "trip-extra": OUT, "trip-extra/x.jpg": OUT,
    "root.jpg": OUT, "TRIP/a.jpg": OUT, "trip/link-album": OUT, "trip/link-album/secret.jpg": OUT,
    "trip/link-album/missing.jpg": OUT, "trip/link-photo.jpg": OUT, "%2e%2e/other/secret.jpg": OUT,
    "trip/../other/secret.jpg": DOTS, "trip/..": DOTS, "..": DOTS, "trip/sub/../../root.jpg": DOTS,
    "trip/%2e%2e/other/secret.jpg": MISSING,  # one decode only: a name in trip, and nothing has it
}
PHOTO_ESCAPES: dict[str, object] = {
    "trip": OUT, "trip/b.jpg": OUT, "trip/sub/c.jpg": OUT, "trip/sub": OUT, "other/secret.jpg": OUT,
    "trip/link-photo.jpg": OUT, "trip/A.jpg": OUT, "trip/a.jpg/../b.jpg": DOTS, "trip/missing.jpg": OUT,
}
ENCODED_URLS = {  # literal URLs: the one decode turns %2f into "/" and %2e into "."
    "/api/browse/trip%2f..%2fother": DOTS, "/api/browse/trip/%2e%2e/other": DOTS, "/api/browse/%2e%2e": DOTS,
    "/api/file/other%2fsecret.jpg": OUT, "/api/file/trip%2f%2e%2e%2fother%2fsecret.jpg": DOTS,
    "/api/file/trip/link-photo%2ejpg": OUT, "/api/file/trip%2flink-album%2fsecret.jpg": OUT,
    "/api/thumbnail?path=other%2Fsecret.jpg&v=1": OUT, "/api/preview?path=trip%2Flink-photo.jpg&v=1": OUT,
    "/api/info?path=trip%2F..%2Fother%2Fsecret.jpg": DOTS, "/api/browse/%252e%252e/other": OUT,
}
ROOT_URLS = {"/api/browse": OUT, "/api/browse/": OUT}  # the gallery root
gallery, mode, no_server_errors = share_gallery.gallery, share_gallery.mode, share_gallery.no_server_errors  # fixtures


@pytest.fixture
def env(env):
    """A 1 s heartbeat: a stream notices a revoked link at its next heartbeat at the latest."""
    return {**env, "PHOTONIX_SSE_HEARTBEAT_SECONDS": "1"}


def matches(got: tuple[int, str | None], expected: object) -> bool:
    return got in expected if isinstance(expected, set) else got == expected


def call(client, endpoint: str, raw: str, headers: dict):
    if endpoint in ("browse", "file"):
        return client.get(f"/api/{endpoint}/" + quote(raw, safe="/"), headers=headers)
    return client.get(f"/api/{endpoint}", query_string={"path": raw, "v": "1"}, headers=headers)


def wrong_answers(client, headers, escapes: dict[str, object], urls: dict[str, object]) -> dict:
    """{request: what it got} for each escape (on every endpoint) and each literal URL not answered as expected."""
    wrong = {}
    for endpoint in ENDPOINTS:
        for raw, expected in escapes.items():
            if not matches(got := outcome(call(client, endpoint, raw, headers)), expected):
                wrong[f"{endpoint} {raw}"] = got
    for url, expected in urls.items():
        if not matches(got := outcome(client.get(url, headers=headers)), expected):
            wrong[url] = got
    return wrong


def paths(items: list[dict]) -> set[str]:
    return {item["path"] for item in items}


# --- scope escapes ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("credential", ["cookie", "bearer"])
def test_an_album_share_reaches_nothing_outside_its_folder(app, mode, credential):
    client, headers, *_ = as_share(app, "trip", credential)
    listing = client.get("/api/browse/trip", headers=headers)
    assert listing.status_code == 200, listing.get_json()
    assert {item["name"] for item in listing.get_json()["items"]} == {"a.jpg", "b.jpg", "sub"}  # no link leading out
    for endpoint in ENDPOINTS[1:]:
        for raw in ("trip/a.jpg", "trip/sub/c.jpg"):
            assert call(client, endpoint, raw, headers).status_code == 200, (endpoint, raw)
    assert client.get("/api/browse/trip/sub", headers=headers).status_code == 200
    assert wrong_answers(client, headers, ALBUM_ESCAPES, {**ROOT_URLS, **ENCODED_URLS}) == {}


@pytest.mark.parametrize("credential", ["cookie", "bearer"])
def test_a_photo_share_reaches_that_photo_only(app, mode, credential):
    client, headers, *_ = as_share(app, "trip/a.jpg", credential)
    for endpoint in ENDPOINTS[1:]:
        assert call(client, endpoint, "trip/a.jpg", headers).status_code == 200, endpoint
    assert wrong_answers(client, headers, PHOTO_ESCAPES, ROOT_URLS) == {}


def test_the_feed_previews_of_a_link_stay_inside_it(app, gallery):
    """/api/share/<token>/preview serves a password-less link's feed enclosures without any session."""
    share = create(app.test_client(), "trip")
    stranger = app.test_client()
    preview = f"/api/share/{share['token']}/preview"
    assert stranger.get(preview, query_string={"path": "trip/a.jpg", "v": "1"}).status_code == 200
    wrong = {raw: got for raw, expected in ALBUM_ESCAPES.items()
             if not matches(got := outcome(stranger.get(preview, query_string={"path": raw, "v": "1"})), expected)}
    assert wrong == {}
    locked = create(app.test_client(), "trip", password=LINK_PASSWORD)
    for raw in ("trip/a.jpg", "other/secret.jpg"):
        answer = stranger.get(f"/api/share/{locked['token']}/preview", query_string={"path": raw, "v": "1"})
        assert outcome(answer) == (401, "SHARE_PASSWORD_REQUIRED"), raw


def test_feeds_and_zips_of_a_share_stay_inside_it(app, gallery):
    client, headers, *_ = as_share(app, "trip", "bearer", allowDownload=True)
    for url in ("/api/feed", "/api/feed/other", "/api/feed/trip-extra", "/api/feed/trip/link-album",
                "/api/zip", "/api/zip/", "/api/zip/other", "/api/zip/trip-extra", "/api/zip/trip/link-album"):
        assert outcome(client.get(url, headers=headers)) == OUT, url
    for selection in (["trip/a.jpg", "other/secret.jpg"], ["trip/link-photo.jpg"], ["trip/link-album/o2.jpg"]):
        assert outcome(client.post("/api/zip", json={"paths": selection}, headers=headers)) == OUT, selection
    feed = client.get("/api/feed/trip", headers=headers)
    assert feed.status_code == 200 and "secret" not in feed.get_data(as_text=True) and "link-" not in feed.get_data(
        as_text=True)
    archive = client.get("/api/zip/trip", headers=headers)
    assert archive.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(archive.get_data())).namelist()
    assert sorted(names) == ["a.jpg", "b.jpg", "sub/c.jpg"]  # nothing behind the links leading out


def test_an_album_cover_from_outside_is_left_out(app, gallery, photos_dir, config):
    os.makedirs(photos_dir / "trip" / "covers")
    os.symlink(photos_dir / "other" / "o2.jpg", photos_dir / "trip" / "covers" / "o2.jpg")
    Indexer(config.photos_dir).scan()
    client, headers, *_ = as_share(app, "trip", "bearer")
    listed = {item["name"]: item for item in client.get("/api/browse/trip", headers=headers).get_json()["items"]}
    assert "covers" not in listed or listed["covers"]["coverUrl"] is None, listed.get("covers")


def test_a_thumbnail_outside_is_refused_before_any_work(app, gallery, config, loads):
    client, headers, *_ = as_share(app, "trip", "bearer")
    made_before = sorted(config.data_dir.rglob("*.webp"))
    for endpoint in ("thumbnail", "preview"):
        for raw in ("other/secret.jpg", "trip/link-photo.jpg", "trip/link-album/o2.jpg", "root.jpg"):
            assert outcome(call(client, endpoint, raw, headers)) == OUT, (endpoint, raw)
    assert loads == [] and sorted(config.data_dir.rglob("*.webp")) == made_before  # nothing decoded, nothing cached


# --- search, timeline, memories, viewed history -----------------------------------------------------------------


def test_search_finds_only_what_lies_inside(app, mode):
    client, headers, *_ = as_share(app, "trip", "bearer")
    for q in ("secret", "link", "other", "root", "x.jpg", "o2", "extra", "trip", "jpg", "2023"):
        response = client.get("/api/search", query_string={"q": q}, headers=headers)
        assert response.status_code == 200, (q, response.get_json())
        assert paths(response.get_json()["items"]) <= ALBUM_INSIDE | {"trip", "trip/sub"}, q
    everything = client.get("/api/search", query_string={"q": "jpg"}, headers=headers).get_json()["items"]
    assert paths(everything) == ALBUM_INSIDE
    assert outcome(client.get("/api/search/filters", headers=headers)) == OUT
    photo, photo_headers, *_ = as_share(app, "trip/a.jpg", "bearer")
    assert paths(photo.get("/api/search?q=jpg", headers=photo_headers).get_json()["items"]) == {"trip/a.jpg"}
    assert photo.get("/api/search?q=b.jpg", headers=photo_headers).get_json()["items"] == []


def months(body: dict) -> list[tuple[int, int, int]]:
    return [(m["year"], m["month"], m["count"]) for m in body["months"]]


def test_the_timeline_shows_only_the_scope(app, mode):
    client, headers, *_ = as_share(app, "trip", "bearer")
    for url in ("/api/timeline", "/api/timeline?path="):
        response = client.get(url, headers=headers)
        assert response.status_code == 200, (url, response.get_json())
        assert {(2024, 8, 1), (2024, 7, 1), (2022, 7, 1)} <= set(months(response.get_json())), url
        assert not {(2021, 7), (2020, 7)} & {m[:2] for m in months(response.get_json())}, url
    assert months(client.get("/api/timeline?path=trip/sub", headers=headers).get_json()) == [(2022, 7, 1)]
    assert paths(client.get("/api/timeline/2024-07", headers=headers).get_json()["items"]) == {"trip/a.jpg"}
    assert client.get("/api/timeline/2023-07", headers=headers).get_json()["items"] == []
    for path, expected in (("other", OUT), ("trip-extra", OUT), ("trip/link-album", OUT), ("trip/../other", DOTS)):
        for url in (f"/api/timeline?path={quote(path)}", f"/api/timeline/2023-07?path={quote(path)}"):
            assert matches(outcome(client.get(url, headers=headers)), expected), url
    photo, photo_headers, *_ = as_share(app, "trip/a.jpg", "bearer")
    assert months(photo.get("/api/timeline", headers=photo_headers).get_json()) == [(2024, 7, 1)]
    assert paths(photo.get("/api/timeline/2024-08", headers=photo_headers).get_json()["items"]) == set()
    assert outcome(photo.get("/api/timeline?path=trip", headers=photo_headers)) == OUT


def test_the_timeline_counts_nothing_behind_a_link_leading_out(app, gallery):
    client, headers, *_ = as_share(app, "trip", "bearer")
    assert months(client.get("/api/timeline", headers=headers).get_json()) == [(2024, 8, 1), (2024, 7, 1), (2022, 7, 1)]
    assert client.get("/api/timeline/2023-07", headers=headers).get_json()["totalResults"] == 0


def test_memories_come_from_inside_only(app, mode):
    def memories(client, headers):
        response = client.get("/api/memories?date=2026-07-14", headers=headers)
        assert response.status_code == 200, response.get_json()
        return [(y["year"], sorted(paths(y["items"]))) for y in response.get_json()["years"]]

    assert memories(*as_share(app, "trip", "bearer")[:2]) == [(2024, ["trip/a.jpg"]), (2022, ["trip/sub/c.jpg"])]
    assert memories(*as_share(app, "trip/a.jpg", "bearer")[:2]) == [(2024, ["trip/a.jpg"])]


def test_no_viewed_history_for_shares(app, gallery):
    client, _, _, session = as_share(app, "trip", "cookie")
    csrf = {"X-CSRF-TOKEN": session["csrfToken"]}
    assert client.post("/api/browse/viewed", json={"path": "trip/sub"}, headers=csrf).status_code == 204
    assert client.get("/api/browse/viewed").get_json() == {"items": []}
    assert View.select().count() == 0


# --- events ------------------------------------------------------------------------------------------------------


class Frames:
    """SSE events `(event, data)` read from a streaming test response on a thread."""

    def __init__(self, response):
        self.response, self.events, self.ended = response, [], threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        buffer = ""
        try:
            for chunk in self.response.response:
                buffer += chunk.decode() if isinstance(chunk, bytes) else chunk
                *frames, buffer = buffer.split("\n\n")
                for frame in frames:
                    fields = dict(line.split(": ", 1) for line in frame.splitlines() if ": " in line
                                  and not line.startswith(":"))
                    if "event" in fields:
                        self.events.append((fields["event"], fields.get("data", "")))
        finally:
            self.ended.set()


@pytest.fixture
def hub(env):
    events.shutdown()
    yield
    events.shutdown()


@pytest.mark.parametrize("credential", ["cookie", "bearer"])
def test_a_share_stream_gets_only_events_about_its_path(hub, app, gallery, credential):
    client, headers, share, _ = as_share(app, "trip", credential)
    response = client.get("/api/events", headers=headers, buffered=False)
    assert response.status_code == 200, response.get_data(as_text=True)
    stream = Frames(response)
    until(lambda: stream.events, "no connected frame")
    inside = [("thumbnail-generated", {"path": "trip/a.jpg", "v": 1}), ("album-changed", {"path": "trip"}),
              ("thumbnail-generated", {"path": "trip/sub/c.jpg", "v": 2})]
    outside = [("thumbnail-generated", {"path": "other/secret.jpg", "v": 1}), ("album-changed", {"path": "other"}),
               ("album-changed", {"path": ""}), ("thumbnail-generated", {"path": "trip-extra/x.jpg", "v": 1}),
               ("album-changed", {"path": "trip-extra"}), ("index-progress", {"scanned": 3}),
               ("index-complete", {"added": 1, "removed": 0, "updated": 0}), ("settings-changed", {"keys": ["x"]}),
               ("auth-changed", {"passwordEnabled": True, "publicAccess": False}),
               ("thumbnail-progress", {"done": 1, "total": 2, "failed": 0})]
    for kind, data in outside[:5] + inside[:2] + outside[5:] + inside[2:]:
        events.publish(kind, data)
    until(lambda: len(stream.events) > 1 and "trip/sub/c.jpg" in stream.events[-1][1], "the last inside event")
    assert stream.events[1:] == [(kind, json.dumps(data, separators=(",", ":"))) for kind, data in inside]
    assert app.test_client().delete(f"/api/shares/{share['id']}", headers=ADMIN).status_code == 204
    until(lambda: stream.ended.is_set(), "the stream outlived the revocation")
    assert stream.events[-1] == ("auth-expired", '{"code":"SHARE_REVOKED"}')


def test_a_stream_drops_events_about_links_leading_out(hub, app, gallery):
    client, headers, *_ = as_share(app, "trip", "bearer")
    stream = Frames(client.get("/api/events", headers=headers, buffered=False))
    until(lambda: stream.events, "no connected frame")
    events.publish("thumbnail-generated", {"path": "trip/link-photo.jpg", "v": 1})  # named inside, lies outside
    events.publish("thumbnail-generated", {"path": "trip/link-album/o2.jpg", "v": 1})
    events.publish("album-changed", {"path": "trip/link-album"})
    events.publish("album-changed", {"path": "trip/sub"})
    until(lambda: "trip/sub" in str(stream.events[-1]), "the last inside event")
    assert [data for _, data in stream.events[1:]] == ['{"path":"trip/sub"}']


def test_a_photo_share_stream_gets_only_events_about_that_photo(hub, app, gallery):
    client, headers, *_ = as_share(app, "trip/a.jpg", "bearer")
    stream = Frames(client.get("/api/events", headers=headers, buffered=False))
    until(lambda: stream.events, "no connected frame")
    events.publish("thumbnail-generated", {"path": "trip/b.jpg", "v": 1})
    events.publish("album-changed", {"path": "trip"})
    events.publish("thumbnail-generated", {"path": "trip/a.jpg", "v": 1})
    until(lambda: "trip/a.jpg" in str(stream.events[-1]), "the photo's own event")
    assert stream.events[1:] == [("thumbnail-generated", '{"path":"trip/a.jpg","v":1}')]


@pytest.mark.parametrize("how", ["header", "query"])
def test_a_replay_after_last_event_id_is_filtered_too(hub, app, gallery, how):
    client, headers, *_ = as_share(app, "trip", "bearer")
    before = events.publish("index-progress", {"scanned": 0})
    for kind, path in (("thumbnail-generated", "other/secret.jpg"), ("album-changed", "other"),
                       ("settings-changed", None), ("album-changed", "trip")):
        events.publish(kind, {"keys": ["siteTitle"]} if path is None else {"path": path})
    resume = {"headers": {**headers, "Last-Event-ID": str(before)}} if how == "header" else {
        "headers": headers, "query_string": {"lastEventId": before}}
    stream = Frames(client.get("/api/events", buffered=False, **resume))
    until(lambda: any("trip" in data for _, data in stream.events), "the replayed inside event")
    assert stream.events[1:] == [("album-changed", '{"path":"trip"}')]
