"""Scale-out on real servers sharing one PostgreSQL database and one Redis: four gevent workers, two nodes
(also behind one nginx upstream), and event streams that resume without loss after a graceful reload
(SIGHUP) or a restart. Every test here runs on PostgreSQL, whatever --db says."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from models import Event as EventRow
from services import events, lease, settings
from services.auth.passwords import hash_password
from services.gallery import watcher
from tests.conftest import ADMIN_SECRET
from tests.integration.test_watcher_server import watch_processes
from tests.support import images
from tests.support.feed_server import feed_server
from tests.support.nginx import NGINX_DIR, Nginx
from tests.support.servers import Gunicorn, create_pg_database, redis_server
from tests.support.sse import EventStream

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PASSWORD = "scale-out password"
WRONG = {"password": "not the password"}
ADMIN = {"X-Admin-Secret": ADMIN_SECRET, "Connection": "close"}
CLOSE = {"Connection": "close"}  # a fresh connection per request, so any worker may answer it
DELIVERY_S = 1.0
WAIT_S = 30.0


@pytest.fixture
def database_url(postgres_admin_url) -> str:
    """Overrides conftest's: scale-out needs the shared PostgreSQL database, never a SQLite file."""
    return create_pg_database(postgres_admin_url, "scale_" + uuid.uuid4().hex[:12])


@pytest.fixture
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@pytest.fixture
def private_gallery(db) -> None:
    settings.write_settings({settings.PASSWORD_HASH: hash_password(PASSWORD), settings.PASSWORD_ENABLED: "1"},
                            bump_epoch=True)


class Stream(EventStream):
    """Events as (int id, event, parsed data)."""

    def record(self, event_id: str | None, kind: str, data: str) -> None:
        self.events.append((int(event_id) if event_id else None, kind, json.loads(data or "{}")))

    def ids(self, kind: str | None = None) -> list[int]:
        return [i for i, k, _ in self.events if k != "connected" and (kind is None or k == kind)]

    def last_id(self) -> int:
        return self.events[-1][0]

    def close(self) -> None:
        self.response.close()


def login(url: str, body: dict | None = None) -> requests.Response:
    return requests.post(url + "/api/auth/login", json=body or {"password": PASSWORD}, timeout=10, headers=CLOSE)


def rows_after(after: int, kind: str | None = None) -> list[int]:
    query = EventRow.select(EventRow.id).where(EventRow.id > after).order_by(EventRow.id)
    if kind is not None:
        query = query.where(EventRow.type == kind)
    return [row.id for row in query]


def wait_until(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout_s}s")
        time.sleep(0.05)


def workers(env: dict[str, str], tmp_path: Path, redis_url: str, count: int, name: str = "gunicorn") -> Gunicorn:
    return Gunicorn({**env, "PHOTONIX_WORKERS": str(count), "PHOTONIX_REDIS_URL": redis_url,
                     "PHOTONIX_SSE_HEARTBEAT_SECONDS": "1"}, tmp_path / f"{name}.log")


# -- one node, four workers ------------------------------------------------------------------------------

def test_four_workers_keep_the_lockout_schedule_exact(env, tmp_path, private_gallery, redis_url):
    """Sequential attempts from one client, then a parallel burst from another: both admitted exactly (each
    attempt takes its place in Redis before bcrypt runs), whichever workers answer."""
    trusting = {**env, "PHOTONIX_TRUSTED_PROXIES": "1"}  # one proxy hop: X-Forwarded-For names the client
    with workers(trusting, tmp_path, redis_url, 4) as server, server.connections(2) as connections:
        # Attempts take turns on connections held by two different workers.
        answers = [connections[n % 2].post(server.url + "/api/auth/login", json=WRONG, timeout=10,
                                           headers={"X-Forwarded-For": "203.0.113.1"}) for n in range(5)]
        answered = [server.worker_of(answer) for answer in answers]
        burst, burst_workers = parallel_burst(server, "203.0.113.2", 30)
        after = requests.post(server.url + "/api/auth/login", json={"password": PASSWORD}, timeout=10,
                              headers={"X-Forwarded-For": "203.0.113.2", **CLOSE})
    assert [a.status_code for a in answers] == [401, 401, 401, 401, 429]
    assert [a.json().get("remainingAttempts") for a in answers[:4]] == [4, 3, 2, 1]
    locked = answers[4].json()
    assert locked["code"] == "LOGIN_LOCKED" and 58 <= locked["retryAfterSeconds"] <= 60, locked
    assert len(set(answered)) >= 2, f"the attempts did not alternate between workers: {answered}"

    codes = sorted((a.status_code, a.json()["code"]) for a in burst)
    assert codes == [(401, "INVALID_CREDENTIALS")] * 4 + [(429, "LOGIN_LOCKED")] * 26
    checked = re.findall(r"wrong gallery password from 203\.0\.113\.2 \(failure (\d+)", server.log())
    assert sorted(map(int, checked)) == [1, 2, 3, 4, 5]  # five bcrypt checks in all the workers, no more
    assert (after.status_code, after.json()["code"]) == (429, "LOGIN_LOCKED")  # the right password too
    assert len(burst_workers) >= 3, f"the burst did not spread over the workers: {burst_workers}"


def parallel_burst(server: Gunicorn, client: str, count: int) -> tuple[list[requests.Response], set[str]]:
    """`count` wrong logins from `client` released at once on connections spread over the workers; the answers
    and the workers that gave them."""
    gate = threading.Barrier(count)

    def attempt(connection: requests.Session) -> requests.Response:
        gate.wait(30)
        return connection.post(server.url + "/api/auth/login", json=WRONG, timeout=30,
                               headers={"X-Forwarded-For": client})

    with server.connections(count, workers=3) as connections, ThreadPoolExecutor(count) as pool:
        answers = list(pool.map(attempt, connections))
    return answers, {server.worker_of(answer) for answer in answers}


def test_an_event_reaches_streams_spread_over_the_workers(env, tmp_path, db, redis_url):
    with workers(env, tmp_path, redis_url, 4) as server, server.connections(8) as connections:
        streams = [Stream(server.url, session=connection) for connection in connections]
        try:
            for stream in streams:
                stream.wait(lambda s: s.events and s.events[0][1] == "connected")
            published_at = time.monotonic()
            event_id = events.publish("index-progress", {"probe": True})
            for stream in streams:
                stream.wait(lambda s: event_id in s.ids(), DELIVERY_S - (time.monotonic() - published_at))
        finally:
            for stream in streams:
                stream.close()
        answered = {server.worker_of(stream.response) for stream in streams}  # written when a stream ends
    assert len(answered) >= 2, f"all 8 streams were served by one worker ({answered})"
    assert "Traceback" not in server.log()


def test_background_jobs_run_in_one_worker_only(env, tmp_path, db, redis_url, photos_dir):
    for n in range(3):
        images.jpeg(photos_dir / "Trip" / f"{n}.jpg", (64, 48), color=(0, 60 + n * 60, 120))
    with workers(env, tmp_path, redis_url, 4) as server:
        # Whoever takes the lease scans at once; four scans would mean four leaders.
        wait_until(lambda: rows_after(0, "index-complete"), WAIT_S, "the startup scan")
        time.sleep(1.5)
        assert len(rows_after(0, "index-complete")) == 1
        booted = set(re.findall(r"Booting worker with pid: (\d+)", server.log()))
        holder = lease.current_holder("jobs")
        assert len(booted) == 4 and holder is not None and holder.split(":")[1] in booted, (holder, booted)

        mark = events.latest_id()
        asked = requests.post(server.url + "/api/settings/sync/index", headers=ADMIN, timeout=5)
        assert asked.status_code == 202, asked.text
        wait_until(lambda: rows_after(mark, "index-complete"), WAIT_S, "the requested scan")
        time.sleep(1.5)
        assert len(rows_after(mark, "index-complete")) == 1
        listing = requests.get(server.url + "/api/browse/Trip", timeout=5, headers=CLOSE).json()
        assert listing["totalResults"] == 3
    assert server.log().count("now runs the background jobs") == 1


# -- two nodes -------------------------------------------------------------------------------------------

@contextlib.contextmanager
def two_nodes(env: dict[str, str], tmp_path: Path, redis_url: str, **extra: str) -> Iterator[list[Gunicorn]]:
    """Nodes A and B: one worker each, their own data folder, the same photos, database, Redis and secrets."""
    nodes = [Gunicorn({**env, "PHOTONIX_DATA_DIR": str(tmp_path / f"data-{name}"), "PHOTONIX_REDIS_URL": redis_url,
                       "PHOTONIX_SSE_HEARTBEAT_SECONDS": "1", **extra}, tmp_path / f"node-{name}.log")
             for name in "ab"]
    try:
        for node in nodes:
            node.start()
        yield nodes
    finally:
        for node in nodes:
            node.stop()


def test_two_nodes_share_logins_revocation_events_and_the_lockout(env, tmp_path, private_gallery, redis_url):
    with two_nodes(env, tmp_path, redis_url) as (a, b):
        signed = login(a.url)
        assert signed.status_code == 200, signed.text
        bearer = {"Authorization": f"Bearer {signed.json()['token']}", **CLOSE}
        assert requests.get(b.url + "/api/browse", headers=bearer, timeout=5).status_code == 200
        with requests.Session() as browser:
            browser.cookies.update(signed.cookies)  # host-scoped to 127.0.0.1: valid on B's port too
            assert browser.get(b.url + "/api/browse", headers=CLOSE, timeout=5).status_code == 200

            stream = Stream(b.url, bearer)
            stream.wait(lambda s: s.events and s.events[0][1] == "connected")
            changed_at = time.monotonic()
            retitled = requests.put(a.url + "/api/settings", json={"siteTitle": "Two nodes"}, headers=ADMIN, timeout=5)
            assert retitled.status_code == 200, retitled.text
            stream.wait(lambda s: s.ids("settings-changed"), DELIVERY_S - (time.monotonic() - changed_at))

            new_password = requests.put(a.url + "/api/settings", json={"newPassword": "a new password"},
                                        headers=ADMIN, timeout=15)
            assert new_password.status_code == 200, new_password.text
            for revoked in (requests.get(b.url + "/api/browse", headers=bearer, timeout=5),
                            browser.get(b.url + "/api/browse", headers=CLOSE, timeout=5)):
                assert (revoked.status_code, revoked.json()["code"]) == (401, "TOKEN_REVOKED")
            stream.wait(lambda s: s.ended.is_set(), 5)
            assert stream.events[-1][1:] == ("auth-expired", {"code": "TOKEN_REVOKED"}), stream.events

        answers = [login(node.url, WRONG) for node in (a, a, a, b, b)]
        assert [r.status_code for r in answers] == [401, 401, 401, 401, 429]
        assert [r.json().get("remainingAttempts") for r in answers[:4]] == [4, 3, 2, 1]
        assert login(a.url, {"password": "a new password"}).status_code == 429  # locked on both nodes
    for node in (a, b):
        assert "Traceback" not in node.log()


def test_two_nodes_watch_the_photos_once_and_both_show_a_new_photo(env, tmp_path, db, redis_url, photos_dir):
    """Issue 24: the watcher runs in the lease holder only; the other node learns of its changes through the
    event log and shows them from the shared index, with no scan on either node."""
    images.jpeg(photos_dir / "album" / "one.jpg", (64, 48))
    with two_nodes(env, tmp_path, redis_url, PHOTONIX_SCAN_INTERVAL_SECONDS="86400") as (a, b):
        wait_until(lambda: rows_after(0, "index-complete"), WAIT_S, "the startup scan")
        wait_until(lambda: (watcher.read_state() or {}).get("mode") == watcher.INOTIFY, WAIT_S, "the watcher")
        streams = [Stream(node.url, CLOSE) for node in (a, b)]
        for stream in streams:
            stream.wait(lambda s: s.events and s.events[0][1] == "connected")
        mark = events.latest_id()
        shutil.copyfile(photos_dir / "album" / "one.jpg", photos_dir / "album" / "copy.jpg")
        for stream in streams:
            stream.wait(lambda s: s.ids("index-complete"), WAIT_S)
            assert [data.get("source") for _, kind, data in stream.events if kind == "index-complete"] == ["watcher"]
        for node in (a, b):  # the root's mtime did not change: the album's count is the index's
            listing = requests.get(node.url + "/api/browse", timeout=5, headers=CLOSE).json()
            assert listing["items"][0]["itemCount"] == 2, listing
        assert len(rows_after(mark, "index-complete")) == 1
        logs = a.log() + b.log()
        assert logs.count("now runs the background jobs") == 1 and len(watch_processes(photos_dir)) == 1
        for stream in streams:
            stream.close()
    assert "Traceback" not in a.log() + b.log()


def all_at_once(urls: list[str]) -> list[tuple[requests.Response, float]]:
    """GET every url from its own thread, all released together; each answer with the time it came."""
    start = threading.Barrier(len(urls))

    def fetch(url: str) -> tuple[requests.Response, float]:
        start.wait()
        return requests.get(url, timeout=60, headers=CLOSE), time.time()

    with ThreadPoolExecutor(len(urls)) as pool:
        return list(pool.map(fetch, urls))


def test_two_nodes_sharing_the_data_folder_make_each_thumbnail_and_preview_once(env, tmp_path, db, redis_url,
                                                                               photos_dir):
    """Issue 24: with DATA_DIR (thumbs/, previews/) shared, a thumbnail or preview asked of both nodes at once is
    made once: the other node waits on the file lock and sends the same file."""
    images.png(photos_dir / "herd" / "big.png", (3000, 2000))  # 6 MP: real work for each request
    shared = tmp_path / "shared-data"
    with two_nodes(env, tmp_path, redis_url, PHOTONIX_DATA_DIR=str(shared),
                   PHOTONIX_MAX_IMAGE_PIXELS="200000000") as (a, b):
        wait_until(lambda: requests.get(a.url + "/api/settings/status", timeout=5, headers=CLOSE).json()["index"]
                   .get("photos") == 1, WAIT_S, "the index")
        for endpoint in ("thumbnail", "preview"):
            urls = [f"{node.url}/api/{endpoint}?path=herd/big.png&v=1" for node in (a, b)] * 10
            timed = all_at_once(urls)
            assert {answer.status_code for answer, _ in timed} <= {200, 202}
            for url in urls[:2]:  # each node, once the file is there
                wait_until(lambda url=url: requests.get(url, timeout=30, headers=CLOSE).status_code == 200, WAIT_S,
                           f"the {endpoint} on {url}")
            first_ready = min([at for answer, at in timed if answer.status_code == 200] + [time.time()])
            cache = shared / ("thumbs" if endpoint == "thumbnail" else "previews")
            made = list(cache.rglob("*.webp"))
            assert len(made) == 1, made
            assert not [p for p in cache.rglob("*") if p.is_file() and p.suffix != ".webp"]  # no temp, lock, marker
            assert made[0].stat().st_mtime <= first_ready  # written before the first answer, never rewritten after
    assert "Traceback" not in a.log() + b.log()


def rss(entries: list[tuple[str, str]]) -> bytes:
    items = "".join(f'<item><guid>{title}</guid><title>{title}</title><enclosure url="{url}" type="image/jpeg"/>'
                    "</item>" for title, url in entries)
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Shared</title>{items}</channel></rss>'.encode()


def test_a_feed_run_asked_on_both_nodes_fetches_and_saves_each_image_once(env, tmp_path, db, redis_url, photos_dir):
    with feed_server() as feeds, two_nodes(env, tmp_path, redis_url) as (a, b):
        for n in range(4):
            picture = images.jpeg(tmp_path / "src" / f"{n}.jpg", (160, 120), color=(0, 40 + n * 40, 160 - n * 30))
            feeds.route(f"/{n}.jpg", picture.read_bytes())
        feeds.route("/feed.xml", rss([(f"Post {n}", feeds.url(f"/{n}.jpg")) for n in range(4)]))
        configured = requests.put(a.url + "/api/download/config", headers=ADMIN, timeout=5, json={
            "allowPrivateHosts": True, "allowedPorts": [80, 443, feeds.port], "minImageBytes": 100,
            "minImageWidth": 16, "minImageHeight": 16})
        assert configured.status_code == 200, configured.text
        task = requests.post(a.url + "/api/download/tasks", headers=ADMIN, timeout=5,
                             json={"feedUrl": feeds.url("/feed.xml"), "targetFolder": "Shared"}).json()
        for node in (a, b):
            asked = requests.post(f"{node.url}/api/download/tasks/{task['id']}/run", headers=ADMIN, timeout=5)
            assert asked.status_code == 202, asked.text

        def finished() -> bool:
            body = requests.get(f"{b.url}/api/download/tasks/{task['id']}", headers=ADMIN, timeout=5).json()
            return body["stats"]["imagesSaved"] == 4 and not body["active"]

        wait_until(finished, WAIT_S, "the feed run")
        time.sleep(2.0)  # room for a second run, which must fetch nothing again
        assert [feeds.hits(f"/{n}.jpg") for n in range(4)] == [1, 1, 1, 1]
        assert sorted(p.name for p in (photos_dir / "Shared").iterdir()) == [f"Post {n}.jpg" for n in range(4)]
        # Read while both still run: the first node to stop releases the lease, and the other may take it over
        # before it stops too (a slow shutdown on a loaded machine made this count 2).
        leaders = [node for node in (a, b) if "now runs the background jobs" in node.log()]
    assert len(leaders) == 1


def test_two_nodes_behind_one_nginx_upstream(env, tmp_path, private_gallery, redis_url):
    with two_nodes(env, tmp_path, redis_url, PHOTONIX_TRUSTED_PROXIES="1") as (a, b):
        # The shipped upstream block, with its one server line turned into the two nodes (as docs/scaling.md shows).
        both = f"server 127.0.0.1:{a.port};\n    server 127.0.0.1:{b.port};"
        with Nginx(NGINX_DIR / "photonix-http.conf", a.port, tmp_path,
                   replacements={f"server 127.0.0.1:{a.port};": both}) as proxy, requests.Session() as browser:
            assert browser.post(proxy.url + "/api/auth/login", json={"password": PASSWORD}, timeout=10).ok
            request_ids = []
            for _ in range(6):
                answer = browser.get(proxy.url + "/api/browse", timeout=5)
                assert answer.status_code == 200, answer.text
                request_ids.append(answer.headers["X-Request-Id"])
    served = {node.url: sum(f"rid={rid}" in node.log() for rid in request_ids) for node in (a, b)}
    assert sum(served.values()) == 6 and all(served.values()), served


# -- graceful reload and restart -------------------------------------------------------------------------

def open_streams(url: str, count: int, last_event_id: int | None = None) -> list[Stream]:
    headers = {} if last_event_id is None else {"Last-Event-ID": str(last_event_id)}
    streams = [Stream(url, headers) for _ in range(count)]
    for stream in streams:
        stream.wait(lambda s: s.events and s.events[0][1] == "connected")
    return streams


def assert_replayed(url: str, last_id: int, missed: list[int]) -> None:
    """A stream resumed after `last_id` gets every event since, `missed` included, in order and once each."""
    stream = Stream(url, {"Last-Event-ID": str(last_id)})
    try:
        stream.wait(lambda s: set(missed) <= set(s.ids()))
        time.sleep(0.3)
        received = stream.ids()
        assert received == rows_after(last_id)[:len(received)], received
        assert [i for i in received if i in missed] == missed
    finally:
        stream.close()


def test_streams_resume_without_loss_after_a_graceful_reload(env, tmp_path, db, redis_url):
    server = workers(env, tmp_path, redis_url, 2).start()
    try:
        streams = open_streams(server.url, 4)
        seen = events.publish("index-progress", {"before": True})
        for stream in streams:
            stream.wait(lambda s: seen in s.ids(), DELIVERY_S)
        server.proc.send_signal(signal.SIGHUP)  # new workers start, the old ones stop gracefully
        for stream in streams:
            assert stream.ended.wait(10), "a stream outlived its worker's graceful stop"
        missed = [events.publish("index-progress", {"gap": n}) for n in range(3)]
        for stream in streams:
            assert_replayed(server.url, stream.last_id(), missed)
        assert server.proc.poll() is None
    finally:
        server.stop()
    assert server.log().count("Booting worker with pid") == 4 and "Traceback" not in server.log()


def test_streams_resume_without_loss_after_a_restart(env, tmp_path, db, redis_url):
    first = workers(env, tmp_path, redis_url, 2, "first").start()
    try:
        streams = open_streams(first.url, 2)
        seen = events.publish("index-progress", {"before": True})
        for stream in streams:
            stream.wait(lambda s: seen in s.ids(), DELIVERY_S)
        first.proc.send_signal(signal.SIGTERM)
        for stream in streams:
            assert stream.ended.wait(10), "a stream outlived SIGTERM"
        assert first.proc.wait(15) == 0
    finally:
        first.stop()
    missed = [events.publish("index-progress", {"gap": n}) for n in range(3)]
    with workers(env, tmp_path, redis_url, 2, "second") as second:
        for stream in streams:
            assert_replayed(second.url, stream.last_id(), missed)
    assert "Traceback" not in first.log() + second.log()
