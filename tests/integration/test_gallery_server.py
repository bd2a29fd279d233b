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
