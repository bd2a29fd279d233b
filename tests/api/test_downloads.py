"""Download center API end to end: a real local HTTP server serves feeds and images; runs go through
the scheduler exactly as the lease-holding process runs them; files land on disk and in browse."""

from __future__ import annotations

import io
import json
import os
import time

import pytest

from models import Download, Event, Feed, FeedEntry
from services.downloads import scheduler, store
from tests.conftest import ADMIN_SECRET
from tests.support import images
from tests.support.feed_server import feed_server

ADMIN = {"X-Admin-Secret": ADMIN_SECRET}


def rss(items: list[tuple[str, str, list[str]]], title: str = "Cats daily") -> bytes:
    """RSS 2.0 with (guid, title, image urls) items; images as enclosures."""
    body = "".join(
        f'<item><guid isPermaLink="false">{guid}</guid><title>{name}</title><link>http://blog.test/{guid}</link>'

        + "".join(f'<enclosure url="{url}" type="image/jpeg" length="1"/>' for url in urls) + "</item>"
        for guid, name, urls in items)
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>'
            f"<link>http://blog.test/</link>{body}</channel></rss>").encode()


def image_bytes(tmp_path, kind: str = "jpeg", color=(200, 80, 40), size=(320, 240)) -> bytes:
    path = tmp_path / f"src-{kind}-{color[0]}-{size[0]}.img"
    # the fixture's red channel is a gradient: the first component also goes into green to tell images apart
    if kind == "png":
        images.png(path, size)
    else:
        images.jpeg(path, size, color=(color[0], color[0], color[2]))
    return path.read_bytes()


def events_of(kind):
    return [json.loads(e.data) for e in Event.select().where(Event.type == kind).order_by(Event.id)]


@pytest.fixture
def server():
    with feed_server() as srv:
        yield srv


@pytest.fixture
def allow_local(client, server):
    """The tests' feed server is on 127.0.0.1: allow private hosts and its port, as a LAN owner would."""
    port = int(server.url("/").rsplit(":", 1)[1].split("/")[0])
    response = client.put("/api/download/config", json={"allowPrivateHosts": True, "allowedPorts": [80, 443, port],
                                                        "minImageBytes": 100, "minImageWidth": 16,
                                                        "minImageHeight": 16}, headers=ADMIN)
    assert response.status_code == 200, response.get_json()


@pytest.fixture
def runner(config):
    return scheduler.make_runner(config.photos_dir, config.max_image_pixels)


def add_task(client, url, **fields):
    response = client.post("/api/download/tasks", json={"feedUrl": url, **fields}, headers=ADMIN)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def files_in(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


ROUTES = [("GET", "/api/download/status"), ("GET", "/api/download/tasks"), ("POST", "/api/download/tasks"),
          ("GET", "/api/download/tasks/1"), ("PATCH", "/api/download/tasks/1"), ("DELETE", "/api/download/tasks/1"),
          ("POST", "/api/download/tasks/1/run"), ("POST", "/api/download/tasks/1/pause"),
          ("GET", "/api/download/tasks/1/preview"), ("POST", "/api/download/tasks/1/download"),
          ("GET", "/api/download/tasks/1/logs"), ("GET", "/api/download/logs"), ("DELETE", "/api/download/logs"),
          ("GET", "/api/download/history"), ("GET", "/api/download/config"), ("PUT", "/api/download/config"),
          ("GET", "/api/download/opml"), ("POST", "/api/download/opml")]


@pytest.mark.parametrize(("method", "url"), ROUTES)
def test_every_route_needs_admin_even_in_an_open_gallery(client, method, url):
    response = client.open(url, method=method, json={})
    assert response.status_code == 403 and response.get_json()["code"] == "ADMIN_REQUIRED"


def test_task_crud_and_validation(client, photos_dir):
    task = add_task(client, "https://feeds.example.com/cats.xml", interval=30, cookie="session=s3cr3t",
                    excludeKeywords=["NSFW", "ad"], tags=["cats"], category="pets", status="paused")
    assert task["hasCookie"] is True and "cookie" not in task and "s3cr3t" not in json.dumps(task)
    assert task["interval"] == 30 and task["status"] == "paused"
    assert task["targetFolder"] == "Downloads/feeds.example.com"
    listed = client.get("/api/download/tasks", headers=ADMIN).get_json()["items"]
    assert [t["id"] for t in listed] == [task["id"]] and "s3cr3t" not in json.dumps(listed)
    changed = client.patch(f"/api/download/tasks/{task['id']}", json={"interval": 5, "targetFolder": "Cats/Daily",
                                                                       "cookie": None}, headers=ADMIN).get_json()
    assert changed["interval"] == 5 and changed["targetFolder"] == "Cats/Daily" and changed["hasCookie"] is False
    resumed = client.post(f"/api/download/tasks/{task['id']}/resume", headers=ADMIN).get_json()
    assert resumed["status"] == "running" and resumed["nextRunAt"] <= time.time()
    assert client.post("/api/download/tasks", json={"feedUrl": "https://feeds.example.com/cats.xml"},
                       headers=ADMIN).status_code == 409
    assert client.delete(f"/api/download/tasks/{task['id']}", headers=ADMIN).status_code == 204
    for method in ("GET", "PATCH", "DELETE"):
        response = client.open(f"/api/download/tasks/{task['id']}", method=method, json={"interval": 10}, headers=ADMIN)
        assert response.status_code == 404 and response.get_json()["code"] == "NOT_FOUND"
    assert client.post("/api/download/tasks/999/run", headers=ADMIN).status_code == 404


@pytest.mark.parametrize(("body", "field"), [
    ({}, "feedUrl"),
    ({"feedUrl": "ftp://example.com/feed"}, "feedUrl"),
    ({"feedUrl": "file:///etc/passwd"}, "feedUrl"),
    ({"feedUrl": "http://127.0.0.1/feed"}, "feedUrl"),
    ({"feedUrl": "http://[::ffff:10.0.0.1]/feed"}, "feedUrl"),
    ({"feedUrl": "http://example.com:8080/feed"}, "feedUrl"),
    ({"feedUrl": "https://example.com/f", "interval": 4}, "interval"),
    ({"feedUrl": "https://example.com/f", "interval": "60"}, "interval"),
    ({"feedUrl": "https://example.com/f", "targetFolder": "../outside"}, "targetFolder"),
    ({"feedUrl": "https://example.com/f", "targetFolder": "/etc"}, "targetFolder"),
    ({"feedUrl": "https://example.com/f", "cookie": "a=b\r\nX-Evil: 1"}, "cookie"),
    ({"feedUrl": "https://example.com/f", "status": "sleeping"}, "status"),
    ({"feedUrl": "https://example.com/f", "excludeKeywords": [1]}, "excludeKeywords"),
    ({"feedUrl": "https://example.com/f", "colour": "red"}, "colour"),
])
def test_bad_task_input_is_400_naming_the_field(client, body, field):
    response = client.post("/api/download/tasks", json=body, headers=ADMIN)
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["field"] == field
    assert Feed.select().count() == 0


def test_config_defaults_and_validated_ranges(client):
    defaults = client.get("/api/download/config", headers=ADMIN).get_json()
    assert defaults["allowPrivateHosts"] is False and defaults["allowedPorts"] == [80, 443]
    assert defaults["maxFeedBytes"] == 10 * 1024 * 1024 and defaults["maxImageBytes"] == 50 * 1024 * 1024
    for body, field in [({"maxConcurrentDownloads": 0}, "maxConcurrentDownloads"),
                        ({"allowedPorts": [0]}, "allowedPorts"), ({"allowPrivateHosts": "yes"}, "allowPrivateHosts"),
                        ({"defaultIntervalMinutes": 1}, "defaultIntervalMinutes"),
                        ({"maxRedirects": 1.5}, "maxRedirects"), ({"nope": 1}, "nope"), ({}, "body")]:
        response = client.put("/api/download/config", json=body, headers=ADMIN)
        assert response.status_code == 400 and response.get_json()["field"] == field, body
    assert client.get("/api/download/config", headers=ADMIN).get_json() == defaults


def test_a_run_saves_images_named_from_the_entry_indexes_them_and_reports(client, server, allow_local, runner,
                                                                          photos_dir, tmp_path):
    server.route("/a.jpg", image_bytes(tmp_path, color=(10, 20, 30)), headers={"Content-Type": "image/jpeg"})
    server.route("/b.png", image_bytes(tmp_path, "jpeg", color=(90, 20, 30)))  # a JPEG behind a .png URL
    server.route("/c.jpg", image_bytes(tmp_path, "png"))
    feed = rss([("e1", "First post", [server.url("/a.jpg")]), ("e2", "Two pictures", [server.url("/b.png"),
                                                                                       server.url("/c.jpg")])])
    server.route("/feed.xml", feed, headers={"Content-Type": "application/rss+xml"}, etag='"v1"')
    task = add_task(client, server.url("/feed.xml"))
    client.post(f"/api/download/tasks/{task['id']}/run", headers=ADMIN)
    [summary] = scheduler.run_due(runner)
    assert summary.status == "ok" and summary.saved == 3, summary

    folder = photos_dir / "Downloads" / "Cats daily"
    assert files_in(folder) == ["First post.jpg", "Two pictures-1.jpg", "Two pictures-2.png"]
    browse = client.get("/api/browse/Downloads/Cats%20daily").get_json()
    assert sorted(item["name"] for item in browse["items"]) == files_in(folder)
    root = client.get("/api/browse").get_json()
    assert [a["name"] for a in root["items"] if a["type"] == "album"] == ["Downloads"]

    complete = events_of("download-complete")
    # a feed lists the newest first; its back catalogue is fetched oldest first
    assert [c["entry"]["key"] for c in complete] == ["e2", "e1"] and complete[0]["images"] == [
        "Downloads/Cats daily/Two pictures-1.jpg", "Downloads/Cats daily/Two pictures-2.png"]
    assert events_of("download-progress")[-1] | {"taskId": task["id"]} == events_of("download-progress")[-1]
    body = client.get(f"/api/download/tasks/{task['id']}", headers=ADMIN).get_json()
    assert body["title"] == "Cats daily" and body["stats"]["imagesSaved"] == 3 and body["lastError"] is None
    assert body["lastSuccessAt"] and body["nextRunAt"] > time.time() + 59 * 60
    history = client.get("/api/download/history", headers=ADMIN).get_json()
    assert history["total"] == 3 and {i["status"] for i in history["items"]} == {"ok"}
    logs = client.get(f"/api/download/tasks/{task['id']}/logs", headers=ADMIN).get_json()["items"]
    assert logs[0]["message"] == "run finished" and logs[0]["taskId"] == task["id"]

    # The next run asks with the validators and gets 304: nothing new, nothing refetched.
    client.post(f"/api/download/tasks/{task['id']}/run", headers=ADMIN)
    [again] = scheduler.run_due(runner)
    assert again.status == "ok" and again.saved == 0 and again.new_entries == 0
    assert server.requests[-1][2].get("If-None-Match") == '"v1"'
    assert server.hits("/a.jpg") == 1 and files_in(folder) == ["First post.jpg", "Two pictures-1.jpg",
                                                               "Two pictures-2.png"]


def test_dedupe_by_entry_url_and_content(client, server, allow_local, runner, photos_dir, tmp_path):
    same = image_bytes(tmp_path, color=(1, 2, 3))
    server.route("/x.jpg", same)
    server.route("/mirror/x.jpg", same)
    server.route("/y.jpg", image_bytes(tmp_path, color=(200, 2, 3)))
    feed = rss([("dup", "Post", [server.url("/x.jpg")]), ("dup", "Post again", [server.url("/x.jpg")]),
                ("m", "Mirror", [server.url("/mirror/x.jpg"), server.url("/y.jpg"), server.url("/y.jpg")])])
    server.route("/feed.xml", feed)
    # One download at a time: with several, which of two copies of one picture is fetched first is a race.
    client.put("/api/download/config", json={"maxConcurrentDownloads": 1}, headers=ADMIN)
    task = add_task(client, server.url("/feed.xml"), targetFolder="Mine")
    [summary] = scheduler.run_due(runner)
    assert (summary.saved, summary.duplicates) == (2, 1), summary
    # oldest (last listed) first: the mirror's copy is saved, the same picture in "Post" is a duplicate
    assert files_in(photos_dir / "Mine") == ["Mirror-1.jpg", "Mirror-2.jpg"]
    assert FeedEntry.select().where(FeedEntry.feed == task["id"]).count() == 2
    statuses = {row.url.rsplit("/", 1)[1] if "mirror" not in row.url else "mirror": row.status
                for row in Download.select()}
    assert statuses == {"x.jpg": "duplicate", "mirror": "ok", "y.jpg": "ok"}


def test_bad_images_are_never_written_and_a_dead_one_fails_fast(client, server, allow_local, runner, photos_dir,
                                                                 tmp_path):
    server.route("/html.jpg", b"<html><script>alert(1)</script></html>" * 10, headers={"Content-Type": "image/jpeg"})
    server.route("/svg.jpg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>' * 10)
    server.route("/bomb.jpg", b"\0" * (80 * 1024 * 1024), gzip=True)  # ~80 KB on the wire
    server.route("/gone.jpg", b"no", status=404)
    server.route("/busy.jpg", b"later", status=503)
    server.route("/ok.jpg", image_bytes(tmp_path))
    urls = [server.url(p) for p in ("/html.jpg", "/svg.jpg", "/bomb.jpg", "/gone.jpg", "/busy.jpg", "/ok.jpg")]
    server.route("/feed.xml", rss([("e", "Mixed", urls)]))
    client.put("/api/download/config", json={"maxImageBytes": 10 * 1024 * 1024}, headers=ADMIN)
    add_task(client, server.url("/feed.xml"), targetFolder="Mixed")
    started = time.monotonic()
    [summary] = scheduler.run_due(runner)
    assert time.monotonic() - started < 30
    assert files_in(photos_dir / "Mixed") == ["Mixed-6.jpg"]
    rows = {row.url.rsplit("/", 1)[1]: (row.status, row.attempts) for row in Download.select()}
    assert rows["html.jpg"][0] == rows["svg.jpg"][0] == "rejected"
    assert rows["bomb.jpg"][0] == "failed" and rows["gone.jpg"][0] == "failed"
    assert rows["busy.jpg"] == ("retrying", 1) and rows["ok.jpg"][0] == "ok"
    entry = FeedEntry.get()
    assert entry.status == "partial" and entry.next_attempt_at > time.time()
    warnings = client.get("/api/download/logs?level=warning", headers=ADMIN).get_json()["items"]
    assert len(warnings) == 5 and all(w["level"] == "warning" for w in warnings)


def test_private_addresses_are_refused_unless_allowed(client, server, runner, photos_dir):
    server.route("/feed.xml", rss([("e", "x", [])]))
    local_name = server.url("/feed.xml").replace("127.0.0.1", "localhost")
    port = local_name.rsplit(":", 1)[1].split("/")[0]
    client.put("/api/download/config", json={"allowedPorts": [80, 443, int(port)]}, headers=ADMIN)
    assert client.post("/api/download/tasks", json={"feedUrl": server.url("/feed.xml")},
                       headers=ADMIN).get_json()["field"] == "feedUrl"
    task = add_task(client, local_name)  # a name: judged by the address it resolves to, at fetch time
    [summary] = scheduler.run_due(runner)
    assert summary.status == "failed" and server.requests == []
    body = client.get(f"/api/download/tasks/{task['id']}", headers=ADMIN).get_json()
    assert "not allowed" in body["lastError"] and body["nextRunAt"] > time.time()
    [error] = events_of("download-error")
    assert error["taskId"] == task["id"] and error["code"] == "FETCH_REFUSED"


def test_feed_bombs_are_refused_without_harm(client, server, allow_local, runner):
    laughs = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
              + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
                         for i in range(1, 10))
              + b']><rss version="2.0"><channel><title>&lol9;</title></channel></rss>')
    server.route("/laughs.xml", laughs)
    task = add_task(client, server.url("/laughs.xml"))
    [summary] = scheduler.run_due(runner)
    assert summary.status == "failed"
    assert client.get(f"/api/download/tasks/{task['id']}", headers=ADMIN).get_json()["lastError"]
    assert events_of("download-error")[0]["code"] == "FEED_INVALID"


def test_preview_and_downloading_picked_entries_of_a_paused_task(client, server, allow_local, runner, photos_dir,
                                                                tmp_path):
    server.route("/1.jpg", image_bytes(tmp_path, color=(1, 1, 1)))
    server.route("/2.jpg", image_bytes(tmp_path, color=(2, 200, 2)))
    server.route("/feed.xml", rss([("one", "One", [server.url("/1.jpg")]), ("two", "Two ad", [server.url("/2.jpg")])]))
    task = add_task(client, server.url("/feed.xml"), status="paused", excludeKeywords=["AD"], targetFolder="P")
    preview = client.get(f"/api/download/tasks/{task['id']}/preview", headers=ADMIN).get_json()
    assert [(e["key"], e["excluded"], e["downloaded"]) for e in preview["entries"]] == [
        ("one", False, False), ("two", True, False)]
    assert preview["entries"][0]["imageUrls"] == [server.url("/1.jpg")]
    bad = client.post(f"/api/download/tasks/{task['id']}/download", json={"entries": ["nope"]}, headers=ADMIN)
    assert bad.status_code == 400 and bad.get_json()["field"] == "entries"
    picked = client.post(f"/api/download/tasks/{task['id']}/download", json={"entries": ["two"]}, headers=ADMIN)
    assert picked.status_code == 202 and picked.get_json()["queued"] == 1
    [summary] = scheduler.run_due(runner)
    assert summary.saved == 1 and files_in(photos_dir / "P") == ["Two ad.jpg"]
    assert server.hits("/1.jpg") == 0 and Feed.get().enabled is False
    preview = client.get(f"/api/download/tasks/{task['id']}/preview", headers=ADMIN).get_json()
    assert [e["downloaded"] for e in preview["entries"]] == [False, True]


def test_leftover_temp_files_are_cleaned_and_the_next_run_finishes(client, server, allow_local, runner, photos_dir,
                                                                  tmp_path):
    server.route("/a.jpg", image_bytes(tmp_path))
    server.route("/feed.xml", rss([("a", "A", [server.url("/a.jpg")])]))
    add_task(client, server.url("/feed.xml"), targetFolder="T")
    (photos_dir / "T").mkdir()
    for pid in (999_999_999, os.getpid()):  # a killed writer's file goes; a live writer's stays
        (photos_dir / "T" / f"{store.TEMP_PREFIX}{store._WRITER}-{pid}-x{store.TEMP_SUFFIX}").write_bytes(b"half")
    [summary] = scheduler.run_due(runner)
    assert summary.saved == 1
    live = f"{store.TEMP_PREFIX}{store._WRITER}-{os.getpid()}-x{store.TEMP_SUFFIX}"
    assert files_in(photos_dir / "T") == [live, "A.jpg"]


def test_opml_export_never_has_cookies_and_import_merges_or_replaces(client, photos_dir):
    add_task(client, "https://a.example.com/feed", cookie="sid=topsecret", category="art", tags=["x", "y"])
    add_task(client, "https://b.example.com/feed", title="B")
    exported = client.get("/api/download/opml", headers=ADMIN)
    assert exported.status_code == 200 and exported.mimetype == "text/x-opml"
    assert b"topsecret" not in exported.data and b'xmlUrl="https://a.example.com/feed"' in exported.data
    opml = (b'<?xml version="1.0"?><opml version="2.0"><head/><body><outline text="Art">'
            b'<outline type="rss" text="C" xmlUrl="https://c.example.com/rss" interval="15"/></outline>'
            b'<outline type="rss" text="B2" xmlUrl="https://b.example.com/feed"/>'
            b'<outline type="rss" text="bad" xmlUrl="gopher://x.example.com/"/></body></opml>')
    merged = client.post("/api/download/opml?mode=merge", data=opml, headers=ADMIN).get_json()
    assert (merged["added"], merged["updated"], merged["removed"]) == (1, 0, 0) and len(merged["skipped"]) == 1
    c = Feed.get(Feed.url == "https://c.example.com/rss")
    assert (c.category, c.interval_minutes, c.title) == ("Art", 15, "C")
    upload = {"file": (io.BytesIO(opml), "feeds.opml"), "mode": "replace"}
    replaced = client.post("/api/download/opml", data=upload, headers=ADMIN, content_type="multipart/form-data")
    assert replaced.get_json()["removed"] == 1 and replaced.get_json()["updated"] == 2
    assert sorted(f.url for f in Feed.select()) == ["https://b.example.com/feed", "https://c.example.com/rss"]
    assert Feed.get(Feed.url == "https://b.example.com/feed").title == "B2"
    for bad in (b"not xml", b"<html/>", b'<!DOCTYPE x [<!ENTITY a "b">]><opml><body/></opml>'):
        response = client.post("/api/download/opml", data=bad, headers=ADMIN)
        assert response.status_code == 400 and response.get_json()["field"] == "file"
    assert client.post("/api/download/opml?mode=wipe", data=opml, headers=ADMIN).get_json()["field"] == "mode"


def test_logs_filter_and_clear_and_status(client):
    from services.downloads import logs

    logs.write("info", "hello", feed_id=None, scope="scheduler")
    logs.write("error", "boom", feed_id=None, scope="scheduler")
    lines = client.get("/api/download/logs", headers=ADMIN).get_json()["items"]
    assert [r["message"] for r in lines] == ["boom", "hello"]
    assert [r["message"] for r in client.get("/api/download/logs?level=error",
                                             headers=ADMIN).get_json()["items"]] == ["boom"]
    assert client.get("/api/download/logs?level=loud", headers=ADMIN).get_json()["field"] == "level"
    assert client.delete("/api/download/logs", headers=ADMIN).get_json() == {"removed": 2}
    status = client.get("/api/download/status", headers=ADMIN).get_json()
    assert status["tasks"] == 0 and status["activeTaskIds"] == [] and status["downloads"]["ok"] == 0


def test_atom_media_and_lazy_html_feeds_end_to_end(client, server, allow_local, runner, photos_dir, tmp_path):
    """The fixture feeds with their hosts pointed at the local server: every image URL the parser finds
    (media:content, lazy <img>, the largest srcset candidate) is fetched and saved once."""
    from pathlib import Path

    from services.downloads import feeds

    fixtures = Path(__file__).resolve().parents[1] / "support" / "feeds"
    base = server.url("").rstrip("/")
    saved = 0
    for n, name in enumerate(("atom_media.xml", "html_lazy.xml")):
        text = fixtures.joinpath(name).read_text()
        for host in ("img", "blog", "atom", "evil"):
            text = text.replace(f"https://{host}.example.test", base)
        body = text.encode()
        urls = {u for e in feeds.parse_feed(body, server.url(f"/{name}")).entries for u in e.image_urls}
        for m, url in enumerate(sorted(urls)):
            server.route(url[len(base):], image_bytes(tmp_path, color=(n * 100 + m * 7 % 100, 5, 9)))
        server.route(f"/{name}", body)
        add_task(client, server.url(f"/{name}"), targetFolder=f"F{n}")
        saved += len(urls)
    summaries = scheduler.run_due(runner)
    assert [s.status for s in summaries] == ["ok", "ok"] and sum(s.saved for s in summaries) == saved
    assert len(files_in(photos_dir / "F0")) + len(files_in(photos_dir / "F1")) == saved
    assert all(server.hits(path) <= 1 for _, path, _ in server.requests)


def test_per_host_concurrency_is_respected(client, server, allow_local, runner, photos_dir, tmp_path):
    import threading

    state = {"now": 0, "peak": 0}
    lock = threading.Lock()

    def slow_image(data):
        def handler(request):
            with lock:
                state["now"] += 1
                state["peak"] = max(state["peak"], state["now"])
            time.sleep(0.3)
            with lock:
                state["now"] -= 1
            request.send_response(200)
            request.send_header("Content-Length", str(len(data)))
            request.end_headers()
            request.wfile.write(data)
        return handler

    for n in range(6):
        server.route(f"/{n}.jpg", handler=slow_image(image_bytes(tmp_path, color=(n * 30, 1, 1))))
    server.route("/feed.xml", rss([(f"e{n}", f"E{n}", [server.url(f"/{n}.jpg")]) for n in range(6)]))
    client.put("/api/download/config", json={"perHostConcurrency": 2, "maxConcurrentDownloads": 8}, headers=ADMIN)
    add_task(client, server.url("/feed.xml"), targetFolder="C")
    [summary] = scheduler.run_due(runner)
    assert summary.saved == 6 and state["peak"] == 2


@pytest.mark.slow
def test_a_dripping_image_times_out_and_is_retried_later(client, server, allow_local, runner, tmp_path):
    server.route("/drip.jpg", image_bytes(tmp_path), drip_bytes_per_s=1.0)
    server.route("/feed.xml", rss([("d", "Drip", [server.url("/drip.jpg")])]))
    client.put("/api/download/config", json={"imageTimeoutSeconds": 5}, headers=ADMIN)
    add_task(client, server.url("/feed.xml"), targetFolder="D")
    started = time.monotonic()
    [summary] = scheduler.run_due(runner)
    assert time.monotonic() - started < 15 and summary.retrying == 1
    row = Download.get()
    assert row.status == "retrying" and "slow" in row.error and row.next_attempt_at > time.time()


def test_a_task_cookie_goes_to_its_own_host_only_and_is_never_shown(client, server, allow_local, runner, tmp_path):
    """The feed needs the cookie; the image on the same host gets it, one on another host name does not;
    no answer, log line, history row, event or OPML export ever contains it."""
    secret = "sid=TOPSECRET-1234"
    picture = image_bytes(tmp_path)

    def private_feed(request):
        if request.headers.get("Cookie") != secret:
            request.send_response(403)
            request.end_headers()
            return
        body = rss([("p", "Private", [server.url("/same.jpg"), server.url("/other.jpg", host="localhost")])])
        request.send_response(200)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    server.route("/private.xml", handler=private_feed)
    server.route("/same.jpg", picture)
    server.route("/other.jpg", image_bytes(tmp_path, color=(99, 1, 1)))
    task = add_task(client, server.url("/private.xml"), cookie=secret, targetFolder="Private")
    [summary] = scheduler.run_due(runner)
    assert summary.saved == 2, summary
    sent = {path: headers.get("Cookie") for _, path, headers in server.requests}
    assert sent == {"/private.xml": secret, "/same.jpg": secret, "/other.jpg": None}
    answers = [client.get(url, headers=ADMIN).get_data(as_text=True) for url in (
        "/api/download/tasks", f"/api/download/tasks/{task['id']}", "/api/download/logs", "/api/download/history",
        "/api/download/opml", "/api/download/status", f"/api/download/tasks/{task['id']}/logs")]
    stored = [e.data for e in Event.select()] + answers
    assert not any("TOPSECRET" in text for text in stored)


def test_an_unexpected_failure_is_recorded_and_the_task_keeps_its_schedule(client, server, allow_local, runner,
                                                                            monkeypatch):
    server.route("/feed.xml", rss([("e", "E", [])]))
    task = add_task(client, server.url("/feed.xml"))

    def broken_disk(*_args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "target_folder", broken_disk)
    [summary] = scheduler.run_due(runner)
    assert summary.status == "failed"
    body = client.get(f"/api/download/tasks/{task['id']}", headers=ADMIN).get_json()
    assert "OSError" in body["lastError"] and body["lastSuccessAt"] is None and body["nextRunAt"] > time.time()
    assert events_of("download-error")[0]["code"] == "INTERNAL_ERROR"


def test_every_new_entry_is_processed_not_only_the_newest_20(client, server, allow_local, runner):
    server.route("/feed.xml", rss([(f"n{n}", f"Entry {n}", []) for n in range(45)]))
    task = add_task(client, server.url("/feed.xml"))
    [summary] = scheduler.run_due(runner)
    assert summary.new_entries == 45 and summary.entries == 45
    assert FeedEntry.select().where((FeedEntry.feed == task["id"]) & (FeedEntry.status == "done")).count() == 45
    server.route("/feed.xml", rss([(f"n{n}", f"Entry {n}", []) for n in range(50)]))  # 5 more, no validators
    client.post(f"/api/download/tasks/{task['id']}/run", headers=ADMIN)
    [again] = scheduler.run_due(runner)
    assert again.new_entries == 5 and again.entries == 5


@pytest.mark.parametrize(("url", "status", "code"), [
    (f"/api/download/tasks/{2**63}", 404, "NOT_FOUND"),
    (f"/api/download/tasks/{2**63}/logs", 404, "NOT_FOUND"),
    (f"/api/download/history?taskId={2**63}", 400, "VALIDATION_ERROR"),
    (f"/api/download/logs?before={2**63}", 400, "VALIDATION_ERROR"),
    ("/api/download/logs?before=%C2%B2", 400, "VALIDATION_ERROR"),  # "²" counts as a digit for str.isdigit
])
def test_ids_beyond_a_database_integer_are_refused_cleanly(client, url, status, code):
    answer = client.get(url, headers={"X-Admin-Secret": ADMIN_SECRET})
    assert (answer.status_code, answer.get_json()["code"]) == (status, code)
