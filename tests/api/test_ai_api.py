"""AI captions through the Flask test client against a real OpenAI-compatible server on loopback
(tests/support/fake_openai.py), which checks every request as the public API documents it: the settings (write-only
key, address rules), POST /api/ai/caption plain and streamed, caching, and every error the route answers."""

from __future__ import annotations

import json
import logging
from urllib.parse import quote

import pytest

from config import load_config
from models import Caption
from services import settings
from services.ai import settings as ai_settings
from services.gallery.index import Indexer
from tests.conftest import ADMIN_SECRET
from tests.support import exif, images
from tests.support.fake_openai import fake_openai
from tests.support.servers import redis_server

ADMIN = {"X-Admin-Secret": ADMIN_SECRET}
KEY = "sk-test-0123456789-do-not-leak"
PHOTO = "Trip/big photo.jpg"
SMALL = "Trip/small.jpg"
CLIP = "Trip/clip.mp4"


@pytest.fixture
def fake():
    with fake_openai() as server:
        yield server


@pytest.fixture
def gallery(client, photos_dir, config):
    exif.photo(photos_dir / PHOTO, taken="2024:07:14 18:03:05", make="Canon", model="EOS R6",
               gps=(48.86, 2.2945, 35.5), size=(1600, 1200))
    images.jpeg(photos_dir / SMALL, size=(64, 48))
    exif.clip(photos_dir / CLIP)
    Indexer(config.photos_dir).scan()
    return client


def configure(client, fake, **changes):
    body = {"enabled": True, "url": fake.base, "model": fake.model, "allowPrivateHosts": True} | changes
    response = client.put("/api/ai/settings", json=body, headers=ADMIN)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def caption(client, path=PHOTO, **body):
    return client.post("/api/ai/caption", json={"path": path} | body)


def test_settings_start_off_and_are_admin_only(client):
    assert client.get("/api/ai/settings").get_json()["code"] == "ADMIN_REQUIRED"
    assert client.put("/api/ai/settings", json={"enabled": True}).status_code == 403
    body = client.get("/api/ai/settings", headers=ADMIN).get_json()
    assert body == {"enabled": False, "url": "", "model": "", "hasApiKey": False, "prompt": ai_settings.DEFAULT_PROMPT,
                    "dailyLimitPerClient": 100, "allowPrivateHosts": False, "timeoutSeconds": 60}


def test_the_api_key_is_write_only_and_never_logged(gallery, fake, caplog):
    caplog.set_level(logging.DEBUG)
    fake.api_key = KEY
    answers = [configure(gallery, fake, apiKey=KEY)]
    answers.append(gallery.get("/api/ai/settings", headers=ADMIN).get_json())
    assert all(a["hasApiKey"] is True and "apiKey" not in a for a in answers)
    fake.mode = "fail"
    failed = caption(gallery)
    fake.mode = "ok"
    described = caption(gallery)
    assert described.status_code == 200 and fake.problems == []  # the key went out as a Bearer header
    texts = [json.dumps(a) for a in answers] + [failed.get_data(as_text=True), described.get_data(as_text=True)]
    assert all(KEY not in text for text in texts) and KEY not in caplog.text
    assert KEY not in settings.read_setting(ai_settings.SETTING_KEY)  # stored sealed
    assert gallery.put("/api/ai/settings", json={"apiKey": None}, headers=ADMIN).get_json()["hasApiKey"] is False


@pytest.mark.parametrize("url", ["http://127.0.0.1:11434", "http://localhost:11434/v1", "http://[::1]:8080",
                                 "http://10.0.0.5/v1", "http://2130706433:8080"])
def test_a_private_or_loopback_url_is_refused_without_allow_private_hosts(client, url):
    response = client.put("/api/ai/settings", json={"url": url, "model": "m"}, headers=ADMIN)
    assert response.status_code == 400 and response.get_json()["field"] == "url"
    assert "allowPrivateHosts" in response.get_json()["message"]
    assert client.get("/api/ai/settings", headers=ADMIN).get_json()["url"] == ""  # nothing was stored
    allowed = client.put("/api/ai/settings", json={"url": url, "model": "m", "allowPrivateHosts": True}, headers=ADMIN)
    assert allowed.status_code == 200
    refused = client.put("/api/ai/settings", json={"allowPrivateHosts": False}, headers=ADMIN)
    assert refused.status_code == 400 and refused.get_json()["field"] == "url"


@pytest.mark.parametrize("body, field", [
    ({"url": "ftp://example.com/v1"}, "url"), ({"url": "http://u:p@example.com"}, "url"),
    ({"enabled": "yes"}, "enabled"), ({"dailyLimitPerClient": 0}, "dailyLimitPerClient"),
    ({"timeoutSeconds": 1}, "timeoutSeconds"), ({"prompt": " "}, "prompt"), ({"model": "a\x00b"}, "model"),
    ({"colour": 1}, "colour"), ({"enabled": True}, "enabled")])
def test_bad_settings_are_refused_naming_the_field(client, body, field):
    response = client.put("/api/ai/settings", json=body, headers=ADMIN)
    assert response.status_code == 400 and response.get_json()["field"] == field


def test_the_guard_refuses_a_loopback_url_at_connect_time_too(gallery, fake):
    """Stored behind the validation's back (a name that resolved elsewhere when it was saved): still refused."""
    stored = ai_settings.AiSettings(enabled=True, url=f"http://localhost:{fake.port}", model=fake.model)
    settings.write_settings({ai_settings.SETTING_KEY: json.dumps(stored.__dict__)}, bump_epoch=False)
    response = caption(gallery)
    assert response.status_code == 502 and response.get_json()["code"] == "AI_UNAVAILABLE"
    assert response.get_json()["upstreamStatus"] is None and fake.headers == []


def test_a_redirect_is_not_followed(gallery, fake):
    with fake_openai("127.0.0.2") as other:
        configure(gallery, fake)
        fake.mode, fake.redirect_to = "redirect", f"{other.base}/v1/chat/completions"
        response = caption(gallery)
        assert response.status_code == 502 and response.get_json()["upstreamStatus"] == 307
        assert other.headers == []


def test_a_caption_is_made_from_a_small_clean_jpeg_and_kept(gallery, fake):
    configure(gallery, fake)
    first = caption(gallery)
    assert first.status_code == 200, first.get_json()
    assert first.get_json() == {"caption": fake.caption, "model": fake.model, "cached": False}
    assert fake.problems == [] and len(fake.requests) == 1
    assert fake.images[0].size == (1024, 768) and fake.requests[0]["stream"] is False
    assert fake.requests[0]["messages"][0]["content"][0]["text"] == ai_settings.DEFAULT_PROMPT
    assert caption(gallery).get_json() == {"caption": fake.caption, "model": fake.model, "cached": True}
    assert len(fake.requests) == 1


def test_the_language_is_asked_for_and_kept_apart(gallery, fake):
    configure(gallery, fake)
    caption(gallery, language="en")
    fake.caption = "一个红色的小方块。"
    chinese = caption(gallery, language="zh-CN").get_json()
    assert chinese == {"caption": "一个红色的小方块。", "model": fake.model, "cached": False}
    prompts = [r["messages"][0]["content"][0]["text"] for r in fake.requests]
    assert "Answer in English" in prompts[0] and "Answer in Simplified Chinese" in prompts[1]
    configure(gallery, fake, prompt="Describe it in French.")
    caption(gallery, language="zh-CN")
    assert len(fake.requests) == 3  # a new prompt is a new caption


def test_a_changed_photo_or_model_gets_a_new_caption(gallery, fake, photos_dir, config):
    configure(gallery, fake)
    caption(gallery, path=SMALL)
    fake.model = "other-model"
    configure(gallery, fake)
    assert caption(gallery, path=SMALL).get_json()["cached"] is False
    images.jpeg(photos_dir / SMALL, size=(80, 60), mtime=1_800_000_000)
    Indexer(config.photos_dir).scan()
    assert caption(gallery, path=SMALL).get_json()["cached"] is False
    assert len(fake.requests) == 3
    kept = Caption.select().where(Caption.path == SMALL)
    assert [(c.model, c.size) for c in kept] == [("other-model", (photos_dir / SMALL).stat().st_size)]


def test_not_configured_is_503_for_viewers_while_the_admin_may_try(gallery, fake):
    assert caption(gallery).get_json()["code"] == "AI_NOT_CONFIGURED"
    assert caption(gallery).status_code == 503
    configure(gallery, fake, enabled=False)
    assert caption(gallery).status_code == 503
    admin = gallery.post("/api/ai/caption", json={"path": PHOTO}, headers=ADMIN)
    assert admin.status_code == 200 and admin.get_json()["caption"] == fake.caption


@pytest.mark.parametrize("body, status, code", [
    ({"path": CLIP}, 400, "NOT_A_PHOTO"), ({"path": "Trip/none.jpg"}, 404, "NOT_FOUND"),
    ({"path": "../etc/passwd"}, 400, "INVALID_PATH"),
    ({"path": PHOTO, "language": "en; drop"}, 400, "VALIDATION_ERROR"),
    ({"path": PHOTO, "stream": "yes"}, 400, "VALIDATION_ERROR"),
    ({"path": PHOTO, "extra": 1}, 400, "VALIDATION_ERROR"), ({}, 400, "VALIDATION_ERROR")])
def test_bad_caption_requests_are_4xx(gallery, fake, body, status, code):
    configure(gallery, fake)
    response = gallery.post("/api/ai/caption", json=body)
    assert (response.status_code, response.get_json()["code"]) == (status, code)
    assert fake.headers == []


def test_a_failing_upstream_is_502_with_its_status(gallery, fake):
    configure(gallery, fake)
    fake.mode = "fail"
    response = caption(gallery)
    assert response.status_code == 502
    assert response.get_json()["code"] == "AI_UNAVAILABLE" and response.get_json()["upstreamStatus"] == 500
    fake.mode = "ok"
    assert caption(gallery).get_json()["cached"] is False  # a failure is never kept


def test_a_huge_upstream_answer_is_cut_off(gallery, fake):
    configure(gallery, fake)
    fake.mode = "huge"
    response = caption(gallery)
    assert response.status_code == 502 and "too large" in response.get_json()["message"]


def test_the_daily_quota_counts_upstream_calls_per_client(gallery, fake):
    configure(gallery, fake, dailyLimitPerClient=2)
    assert caption(gallery, language="en").status_code == 200
    assert caption(gallery, language="en").get_json()["cached"] is True  # a kept caption costs nothing
    assert caption(gallery, language="zh").status_code == 200
    refused = caption(gallery, language="fr")
    assert refused.status_code == 429 and refused.get_json()["code"] == "AI_QUOTA"
    assert refused.get_json()["limit"] == 2 and 0 < int(refused.headers["Retry-After"]) <= 86_401
    other = gallery.post("/api/ai/caption", json={"path": PHOTO, "language": "de"},
                         environ_base={"REMOTE_ADDR": "192.0.2.9"})
    assert other.status_code == 200  # another client has its own
    assert gallery.post("/api/ai/caption", json={"path": PHOTO, "language": "it"}, headers=ADMIN).status_code == 200
    assert len(fake.requests) == 4


def test_the_quota_is_shared_by_workers_through_the_limiter_storage(env, gallery, fake):
    """Two apps on one Redis count as two workers (or nodes) do: together."""
    with redis_server() as redis_url:
        shared = {**env, "PHOTONIX_REDIS_URL": redis_url}
        from app import create_app
        first, second = (create_app(load_config(shared)).test_client() for _ in range(2))
        configure(first, fake, dailyLimitPerClient=2)
        assert caption(first, language="en").status_code == 200
        assert caption(second, language="zh").status_code == 200
        assert caption(first, language="fr").status_code == 429
        assert caption(second, language="de").status_code == 429


def sse_events(response) -> list[tuple[str, dict]]:
    found = []
    for block in response.get_data(as_text=True).split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in lines:
            found.append((lines["event"], json.loads(lines["data"])))
    return found


def test_a_streamed_caption_is_relayed_as_sse_and_kept(gallery, fake):
    configure(gallery, fake)
    response = caption(gallery, stream=True, language="en")
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    assert response.headers["X-Accel-Buffering"] == "no"
    events = sse_events(response)
    assert [e for e, _ in events] == ["delta"] * len(fake.pieces) + ["done"]
    assert [d["text"] for _, d in events[:-1]] == fake.pieces
    assert events[-1][1] == {"caption": fake.caption, "model": fake.model, "cached": False}
    assert fake.problems == [] and fake.requests[0]["stream"] is True
    again = sse_events(caption(gallery, stream=True, language="en"))
    assert again == [("delta", {"text": fake.caption}), ("done", {"caption": fake.caption, "model": fake.model,
                                                                  "cached": True})]
    assert caption(gallery, language="en").get_json()["cached"] is True and len(fake.requests) == 1


def test_a_stream_that_fails_before_it_starts_is_a_json_error(gallery, fake):
    configure(gallery, fake)
    fake.mode = "fail"
    response = caption(gallery, stream=True)
    assert response.status_code == 502 and response.get_json()["upstreamStatus"] == 500


def test_a_stream_cut_off_mid_way_ends_with_an_error_event_and_keeps_nothing(gallery, fake):
    configure(gallery, fake)
    fake.mode = "huge"
    events = sse_events(caption(gallery, stream=True))
    assert events[0][0] == "delta" and events[-1][0] == "error"
    assert events[-1][1]["code"] == "AI_UNAVAILABLE" and "too large" in events[-1][1]["message"]
    assert "done" not in [e for e, _ in events]
    fake.mode = "ok"
    assert caption(gallery).get_json()["cached"] is False


def test_the_caption_shows_in_the_details_and_is_found_by_search(gallery, fake):
    configure(gallery, fake)
    assert gallery.get(f"/api/info?path={quote(PHOTO)}").get_json()["caption"] is None
    assert gallery.get("/api/search?q=red+SQUARE").get_json()["totalResults"] == 0
    caption(gallery, language="en")
    shown = gallery.get(f"/api/info?path={quote(PHOTO)}").get_json()["caption"]
    assert shown["text"] == fake.caption and shown["model"] == fake.model and shown["language"] == "en"
    found = gallery.get("/api/search?q=red+SQUARE").get_json()
    assert [item["path"] for item in found["items"]] == [PHOTO] and found["totalResults"] == 1
    assert [i["path"] for i in gallery.get("/api/search?q=small").get_json()["items"]] == [PHOTO, SMALL]
    assert gallery.get("/api/search?q=rouge").get_json()["totalResults"] == 0


def test_a_caption_of_an_older_version_is_neither_shown_nor_found(gallery, fake, photos_dir, config):
    configure(gallery, fake)
    caption(gallery, path=SMALL)
    images.jpeg(photos_dir / SMALL, size=(80, 60), mtime=1_800_000_000)
    Indexer(config.photos_dir).scan()
    assert gallery.get(f"/api/info?path={quote(SMALL)}").get_json()["caption"] is None
    assert gallery.get("/api/search?q=square").get_json()["totalResults"] == 0


def test_the_public_settings_say_whether_captions_are_available(client, fake):
    assert client.get("/api/settings").get_json()["aiCaptions"] is False
    configure(client, fake, enabled=False)
    assert client.get("/api/settings").get_json()["aiCaptions"] is False
    configure(client, fake)
    assert client.get("/api/settings").get_json()["aiCaptions"] is True


def test_a_client_that_leaves_ends_the_call_to_the_ai_server(gallery, fake):
    configure(gallery, fake)
    fake.wait_for_hangup = True  # the upstream sends its first piece, then waits for this side to hang up
    response = gallery.post("/api/ai/caption", json={"path": PHOTO, "stream": True}, buffered=False)
    assert response.status_code == 200 and fake.first_piece_sent.wait(10)
    response.close()  # the browser went away before reading anything
    assert fake.client_gone.wait(10)
    assert caption(gallery).get_json()["cached"] is False  # nothing was kept
