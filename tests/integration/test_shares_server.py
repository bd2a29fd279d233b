"""Issue 22 on real servers: share links on two gunicorn+gevent workers sharing one PostgreSQL database and one
Redis. A link revoked or expired on one worker is refused on the other at its next request, and no token ever
reaches the server's output (app log and access log) or a database row. tests/security/test_shares.py has the
rest, in-process. Every test here runs on PostgreSQL, whatever --db says."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import requests

from services.gallery.index import Indexer
from tests.support import images
from tests.support.servers import Gunicorn, create_pg_database, redis_server
from tests.support.share_gallery import database_text
from tests.support.share_links import ADMIN, expire, make_private

pytestmark = pytest.mark.integration

CLOSE = {"Connection": "close"}  # a fresh connection per request, so any worker may answer it
LINK_PASSWORD = "link password 1"
TRIES = 200


@pytest.fixture
def database_url(postgres_admin_url) -> str:
    """Overrides conftest's: workers and nodes share a PostgreSQL database in production."""
    return create_pg_database(postgres_admin_url, "shares_" + uuid.uuid4().hex[:12])


@pytest.fixture
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@pytest.fixture
def gallery(db, photos_dir) -> None:
    images.jpeg(photos_dir / "trip" / "a.jpg", (64, 48))
    images.jpeg(photos_dir / "other" / "b.jpg", (64, 48))
    Indexer(photos_dir).scan()
    make_private()


def call(server: Gunicorn, method: str, path: str, headers: dict | None = None, **kwargs) -> requests.Response:
    return requests.request(method, server.url + path, timeout=10, headers={**CLOSE, **(headers or {})}, **kwargs)


def on_every_worker(server: Gunicorn, method: str, path: str, headers: dict | None = None,
                    **kwargs) -> dict[str, requests.Response]:
    """The same request on fresh connections until every worker has answered it: {worker pid: its answer}."""
    answers: dict[str, requests.Response] = {}
    for _ in range(TRIES):
        response = call(server, method, path, headers, **kwargs)
        answers.setdefault(server.worker_of(response), response)
        if len(answers) == server.workers:
            return answers
    raise AssertionError(f"{TRIES} connections reached only the workers {sorted(answers)}")


def codes(answers: dict[str, requests.Response]) -> set[tuple[int, str | None]]:
    return {(r.status_code, r.json().get("code") if r.headers["Content-Type"].startswith("application/json")
             else None) for r in answers.values()}


def make_link(server: Gunicorn, **fields) -> dict:
    made = call(server, "POST", "/api/shares", ADMIN, json={"path": "trip", **fields})
    assert made.status_code == 201, made.text
    return made.json()


def open_link(server: Gunicorn, token: str, password: str | None = None) -> requests.Response:
    return call(server, "POST", f"/api/share/{token}/open", json={} if password is None else {"password": password})


def test_revoked_and_expired_links_are_refused_on_the_other_worker(env, tmp_path, gallery, redis_url):
    server = Gunicorn({**env, "PHOTONIX_WORKERS": "2", "PHOTONIX_REDIS_URL": redis_url}, tmp_path / "gunicorn.log")
    with server:
        revoked, expired = make_link(server), make_link(server)
        sessions = {}
        for link in (revoked, expired):
            opened = open_link(server, link["token"])
            assert opened.status_code == 200, opened.text
            sessions[link["id"]] = {"Authorization": f"Bearer {opened.json()['accessToken']}"}
            # Both workers know the link and its session before it ends: nothing they may keep is fresh by chance.
            assert codes(on_every_worker(server, "GET", "/api/browse/trip", sessions[link["id"]])) == {(200, None)}

        revoking = call(server, "DELETE", f"/api/shares/{revoked['id']}", ADMIN)
        assert revoking.status_code == 204
        # Every worker answers, so the one that did not revoke it too.
        assert codes(on_every_worker(server, "GET", "/api/browse/trip", sessions[revoked["id"]])) == {
            (401, "SHARE_REVOKED")}
        assert codes(on_every_worker(server, "POST", f"/api/share/{revoked['token']}/open", json={})) == {
            (410, "SHARE_REVOKED")}

        expire(expired["id"])  # its time is up: the row says so, as it would after the days went by
        assert codes(on_every_worker(server, "GET", "/api/file/trip/a.jpg", sessions[expired["id"]])) == {
            (401, "SHARE_EXPIRED")}
        assert codes(on_every_worker(server, "POST", f"/api/share/{expired['token']}/open", json={})) == {
            (410, "SHARE_EXPIRED")}
        for link in (revoked, expired):
            page = call(server, "GET", f"/s/{link['token']}")
            assert page.status_code == 410 and page.headers["Content-Type"].startswith("text/html")
    assert "Traceback" not in server.log()


def test_no_token_in_the_server_output_or_the_database(env, tmp_path, gallery):
    server = Gunicorn({**env, "PHOTONIX_AUTH_DEBUG": "1"}, tmp_path / "gunicorn.log")
    with server:
        links = [make_link(server, password=LINK_PASSWORD), make_link(server)]
        for link in links:
            password = LINK_PASSWORD if link["hasPassword"] else None
            with requests.Session() as browser:
                assert browser.get(f"{server.url}/s/{link['token']}", timeout=10).status_code == 200
                wrong = browser.post(f"{server.url}/api/share/{link['token']}/open", json={"password": "wrong"},
                                     timeout=10)
                assert wrong.status_code < 500, wrong.text
                opened = browser.post(f"{server.url}/api/share/{link['token']}/open", timeout=10,
                                      json={} if password is None else {"password": password},
                                      headers={"Referer": link["url"]})
                assert opened.status_code == 200, opened.text
                cookie = next(c for c in browser.cookies if c.name == "share_session")
                assert cookie.expires is None  # a browser-session cookie
                assert browser.get(f"{server.url}/api/browse/trip", headers={"Referer": link["url"]},
                                   timeout=10).status_code == 200
                browser.get(f"{server.url}/api/share/{link['token']}/feed", timeout=10)
        call(server, "GET", "/api/shares", ADMIN)
    log = server.log()
    assert "/s/" in log and "/open" in log and "auth decision" in log  # the requests were logged
    stored = database_text()
    for link in links:
        assert link["token"] not in log, "a token in the server's output"
        assert link["token"] not in stored, "a token in the database"
