"""The AI settings inside the admin settings (issue 23): `PUT /api/settings {ai: {...}}` goes through the same service
as PUT /api/ai/settings (services/ai/settings.py), and `GET /api/settings` answers `ai` only to an admin credential.
The API key is write-only: it is in no answer and no log line, whoever asks."""

from __future__ import annotations

import json
import logging

import pytest

from models import Event
from services import settings
from services.ai import settings as ai_settings
from tests.conftest import ADMIN_SECRET
from tests.support import share_links as links
from tests.support.share_links import ADMIN, GALLERY_PASSWORD, create

quick_bcrypt = links.quick_bcrypt  # fixture
KEY = "sk-settings-0123456789-do-not-leak"
PUBLIC_URL = "http://93.184.215.14/v1"  # a literal public address: no name to resolve


def admin_put(client, body):
    return client.put("/api/settings", json=body, headers=ADMIN)


def stored_ai(client) -> dict:
    return client.get("/api/ai/settings", headers=ADMIN).get_json()


def admin_bearer(client) -> dict:
    token = client.post("/api/auth/admin", json={"adminSecret": ADMIN_SECRET}).get_json()["token"]
    client.delete_cookie("admin_token", path="/api")
    return {"Authorization": f"Bearer {token}"}


def test_the_admin_sees_ai_and_everyone_else_only_ai_captions(client, photos_dir, caplog):
    caplog.set_level(logging.DEBUG)
    links.gallery(photos_dir)
    share = create(client)
    saved = admin_put(client, {"ai": {"url": PUBLIC_URL, "model": "m1", "apiKey": KEY, "enabled": True}})
    assert saved.status_code == 200, saved.get_json()
    links.make_private()
    viewer_token = client.post("/api/auth/login", json={"password": GALLERY_PASSWORD}).get_json()["token"]
    stranger = client.application.test_client()
    opened = stranger.post(f"/api/share/{share['token']}/open").get_json()
    answers = {
        "anonymous": client.application.test_client().get("/api/settings"),
        "viewer": client.application.test_client().get("/api/settings",
                                                       headers={"Authorization": f"Bearer {viewer_token}"}),
        "share cookie": stranger.get("/api/settings"),
        "share token": client.application.test_client().get(
            "/api/settings", headers={"Authorization": f"Bearer {opened['accessToken']}"}),
    }
    for who, answer in answers.items():
        assert answer.status_code == 200, who
        assert "ai" not in answer.get_json() and answer.get_json()["aiCaptions"] is True, who
    wrong = client.application.test_client().get("/api/settings", headers={"X-Admin-Secret": "not the secret!"})
    assert wrong.status_code == 401 and wrong.get_json()["code"] == "ADMIN_SECRET_INVALID"
    expected = {"enabled": True, "url": PUBLIC_URL, "model": "m1", "hasApiKey": True,
                "prompt": ai_settings.DEFAULT_PROMPT, "dailyLimitPerClient": 100, "allowPrivateHosts": False,
                "timeoutSeconds": 60}
    cookie = client.application.test_client()
    assert cookie.post("/api/auth/admin", json={"adminSecret": ADMIN_SECRET}).status_code == 200
    admins = [saved, client.get("/api/settings", headers=ADMIN),
              client.get("/api/settings", headers=admin_bearer(client)), cookie.get("/api/settings")]
    for answer in admins:
        assert answer.get_json()["ai"] == expected
        assert "no-store" in answer.headers["Cache-Control"]
    texts = [a.get_data(as_text=True) for a in [*answers.values(), wrong, *admins]]
    assert all(KEY not in text for text in texts) and KEY not in caplog.text
    assert KEY not in settings.read_setting(ai_settings.SETTING_KEY)  # stored sealed, as by /api/ai/settings
    assert stored_ai(client) == expected  # one service, one stored value


def test_an_ai_change_is_partial_and_the_key_can_be_kept_or_removed(client):
    assert admin_put(client, {"ai": {"url": PUBLIC_URL, "model": "m1", "apiKey": KEY}}).status_code == 200
    kept = admin_put(client, {"ai": {"prompt": "Say what is there.", "timeoutSeconds": 30}}).get_json()["ai"]
    assert kept["hasApiKey"] is True and kept["url"] == PUBLIC_URL and kept["prompt"] == "Say what is there."
    assert kept["timeoutSeconds"] == 30
    removed = admin_put(client, {"ai": {"apiKey": None}}).get_json()["ai"]
    assert removed["hasApiKey"] is False and stored_ai(client)["hasApiKey"] is False
    assert [json.loads(e.data) for e in Event.select().where(Event.type == "settings-changed")][-1] == {"keys": ["ai"]}


@pytest.mark.parametrize("ai, field", [
    ({"url": "http://127.0.0.1:11434", "model": "m"}, "ai.url"), ({"url": "ftp://example.com/v1"}, "ai.url"),
    ({"enabled": "yes"}, "ai.enabled"), ({"dailyLimitPerClient": 0}, "ai.dailyLimitPerClient"),
    ({"timeoutSeconds": 1}, "ai.timeoutSeconds"), ({"prompt": " "}, "ai.prompt"), ({"colour": 1}, "ai.colour"),
    ({"enabled": True}, "ai.enabled"), ({}, "ai"), ("on", "ai"), (None, "ai"), ([1], "ai")])
def test_bad_ai_settings_are_refused_naming_the_field(client, ai, field):
    response = admin_put(client, {"ai": ai})
    assert response.status_code == 400 and response.get_json()["field"] == field, response.get_json()
    assert response.get_json()["code"] == "VALIDATION_ERROR" and response.get_json()["requestId"]
    assert stored_ai(client)["url"] == ""


def test_a_refused_loopback_url_says_allow_private_hosts_and_is_allowed_with_it(client):
    refused = admin_put(client, {"ai": {"url": "http://localhost:11434/v1", "model": "llava"}}).get_json()
    assert refused["field"] == "ai.url" and "allowPrivateHosts" in refused["message"]
    allowed = admin_put(client, {"ai": {"url": "http://localhost:11434/v1", "model": "llava",
                                        "allowPrivateHosts": True}})
    assert allowed.status_code == 200 and allowed.get_json()["ai"]["url"] == "http://localhost:11434/v1"


def test_nothing_is_written_when_either_part_is_refused(client):
    bad_title = admin_put(client, {"siteTitle": " ", "ai": {"url": PUBLIC_URL, "model": "m1"}})
    assert bad_title.status_code == 400 and bad_title.get_json()["field"] == "siteTitle"
    assert stored_ai(client)["url"] == ""
    bad_ai = admin_put(client, {"siteTitle": "Mine", "ai": {"url": "http://10.0.0.5/v1", "model": "m1"}})
    assert bad_ai.status_code == 400 and bad_ai.get_json()["field"] == "ai.url"
    assert client.get("/api/settings").get_json()["siteTitle"] == "Photonix"
    both = admin_put(client, {"siteTitle": "Mine", "ai": {"url": PUBLIC_URL, "model": "m1", "enabled": True}})
    assert both.status_code == 200 and both.get_json()["siteTitle"] == "Mine" and both.get_json()["aiCaptions"]


def test_writing_ai_still_needs_admin(client):
    response = client.put("/api/settings", json={"ai": {"url": PUBLIC_URL, "model": "m1"}})
    assert response.status_code == 403 and response.get_json()["code"] == "ADMIN_REQUIRED"
    assert stored_ai(client)["url"] == ""


@pytest.mark.parametrize("body, field", [({"aiSettings": {}}, "aiSettings"), ({}, "body")])
def test_an_unknown_or_missing_setting_is_answered_with_every_name_ai_included(client, body, field):
    response = admin_put(client, body)
    assert response.status_code == 400 and response.get_json()["field"] == field
    names = response.get_json()["message"].rpartition(" are ")[2] if field != "body" else response.get_json()["message"]
    assert "trashDays" in names and names.rstrip(".").endswith(", ai"), names
