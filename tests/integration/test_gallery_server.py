"""The gallery on a real gunicorn+gevent server: the first full scan runs in the background by itself,
a scan request from the API is picked up by the job runner, and browse answers meanwhile."""

from __future__ import annotations

import time

import pytest
import requests

from tests.conftest import ADMIN_SECRET
from tests.support import images
from tests.support.servers import Gunicorn

pytestmark = pytest.mark.integration
WAIT_S = 20.0


def status(server):
    return requests.get(server.url + "/api/settings/status", timeout=5,
                        headers={"Connection": "close"}).json()["index"]


def wait_for_scan(server, after: float = 0.0):
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        state = status(server)
        if state.get("finishedAt", 0) > after and not state["running"]:
            return state
        time.sleep(0.1)
    raise AssertionError(f"no scan finished: {status(server)}\n{server.log()[-3000:]}")


def test_background_scan_and_requested_rescan(env, tmp_path, db, photos_dir):
    for n in range(30):
        images.jpeg(photos_dir / f"album{n % 3}" / f"img{n}.jpg", (64, 48))
    with Gunicorn(env, tmp_path / "gunicorn.log") as server:
        first = wait_for_scan(server)
        assert (first["albums"], first["photos"], first["added"]) == (3, 30, 30)
        root = requests.get(server.url + "/api/browse?sort=name_asc", timeout=5, headers={"Connection": "close"})
        assert [item["itemCount"] for item in root.json()["items"]] == [10, 10, 10]
        images.jpeg(photos_dir / "album0" / "deeper" / "new.jpg", (64, 48))
        queued = requests.post(server.url + "/api/settings/sync/index", timeout=5,
                               headers={"X-Admin-Secret": ADMIN_SECRET, "Connection": "close"})
        assert queued.status_code == 202
        second = wait_for_scan(server, after=first["finishedAt"])
        assert second["added"] == 1 and second["photos"] == 31
    assert "Traceback" not in server.log()


def test_parallel_requests_for_one_uncached_thumbnail_on_two_workers(env, tmp_path, db, photos_dir):
    from concurrent.futures import ThreadPoolExecutor
    from io import BytesIO

    from PIL import Image

    from tests.support.servers import redis_server

    images.jpeg(photos_dir / "big" / "photo.jpg", (4000, 3000), orientation=6)
    with redis_server() as redis_url, Gunicorn({**env, "PHOTONIX_WORKERS": "2", "PHOTONIX_REDIS_URL": redis_url},
                                               tmp_path / "gunicorn.log") as server:
        wait_for_scan(server)
        url = server.url + "/api/thumbnail?path=big/photo.jpg&v=1"
        with ThreadPoolExecutor(20) as pool:
            answers = list(pool.map(lambda _: requests.get(url, timeout=30, headers={"Connection": "close"}),
                                    range(40)))
        assert {a.status_code for a in answers} <= {200, 202}
        for answer in answers:
            if answer.status_code == 200:
                assert Image.open(BytesIO(answer.content)).size == (500, 667)  # never half-written
        final = requests.get(url, timeout=30, headers={"Connection": "close"})
        assert final.status_code == 200 and final.headers["X-Thumb-Status"] == "ready"
    cache = tmp_path / "data" / "thumbs"
    assert len(list(cache.rglob("*.webp"))) == 1 and not list(cache.rglob("*.tmp"))
    assert "Traceback" not in server.log()
