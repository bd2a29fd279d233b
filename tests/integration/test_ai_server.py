"""AI captions on a real gunicorn with one gevent worker: while the AI server holds its answer back (until the test
releases it), the same worker keeps answering other requests, so the outbound call waits cooperatively and never
blocks the hub; the held caption then arrives whole."""

from __future__ import annotations

import threading

import pytest
import requests

from services.gallery.index import Indexer
from tests.conftest import ADMIN_SECRET
from tests.support import images
from tests.support.fake_openai import fake_openai
from tests.support.servers import Gunicorn

pytestmark = pytest.mark.integration
PHOTO = "Garden/rose.jpg"


@pytest.fixture
def server(env, tmp_path, photos_dir, db):
    images.jpeg(photos_dir / PHOTO, size=(1200, 900))
    Indexer(photos_dir).scan()
    with Gunicorn(env, tmp_path / "gunicorn.log") as running:
        yield running


def test_a_held_caption_does_not_block_the_worker(server):
    with fake_openai() as fake:
        fake.mode = "hold"
        answer = requests.put(f"{server.url}/api/ai/settings", timeout=10, headers={"X-Admin-Secret": ADMIN_SECRET},
                              json={"enabled": True, "url": fake.base, "model": fake.model, "allowPrivateHosts": True})
        assert answer.status_code == 200, answer.text
        result: dict[str, requests.Response] = {}
        caller = threading.Thread(target=lambda: result.setdefault("caption", requests.post(
            f"{server.url}/api/ai/caption", json={"path": PHOTO, "language": "en"}, timeout=60)))
        caller.start()
        try:
            assert fake.received.wait(30), fake.problems  # the worker's outbound call is now waiting
            assert requests.get(f"{server.url}/health", timeout=10).status_code == 200
            browse = requests.get(f"{server.url}/api/browse/Garden", timeout=10)
            assert browse.status_code == 200 and browse.json()["items"][0]["path"] == PHOTO
            assert "caption" not in result  # still held: the answers above came while it waited
        finally:
            fake.release.set()
            caller.join(60)
        assert result["caption"].status_code == 200
        assert result["caption"].json() == {"caption": fake.caption, "model": fake.model, "cached": False}
        assert fake.problems == [] and fake.images[0].size == (1024, 768)
