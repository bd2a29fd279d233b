"""Settings API: the public view never leaks secrets; every change needs admin and is validated."""

import pytest

from models import Event
from services import settings
from tests.conftest import ADMIN_SECRET

ADMIN = {"X-Admin-Secret": ADMIN_SECRET}
PASSWORD = "a good long password"


def events_of(kind):
    return [e.data for e in Event.select().where(Event.type == kind).order_by(Event.id)]


def test_public_view_of_a_fresh_gallery(client):
    body = client.get("/api/settings").get_json()
    assert body == {"passwordEnabled": False, "publicAccess": False, "hasPassword": False,
                    "adminSecretConfigured": True, "siteTitle": "Photonix", "showLocation": False,
                    "allowNeverExpiringShares": False, "allowZipDownloads": True, "allowAlbumDelete": False,
                    "trashDays": 30, "aiCaptions": False, "version": body["version"]}


def test_writes_need_admin(client):
    for method in (client.post, client.put):
        response = method("/api/settings", json={"siteTitle": "Mine"})
        assert response.status_code == 403 and response.get_json()["code"] == "ADMIN_REQUIRED"
        wrong = method("/api/settings", json={"siteTitle": "Mine"}, headers={"X-Admin-Secret": "wrong secret!"})
        assert wrong.status_code == 401 and wrong.get_json()["code"] == "ADMIN_SECRET_INVALID"
    assert client.get("/api/settings").get_json()["siteTitle"] == "Photonix"


def test_set_password_enables_it_and_never_shows_the_hash(client):
    response = client.put("/api/settings", json={"newPassword": PASSWORD}, headers=ADMIN)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["passwordEnabled"] and body["hasPassword"] and not body["publicAccess"]
    assert "$2b$" not in response.get_data(as_text=True) and PASSWORD not in response.get_data(as_text=True)
    assert "$2b$" not in client.get("/api/settings").get_data(as_text=True)
    assert settings.auth_state().epoch == 1
    assert client.post("/api/auth/login", json={"password": PASSWORD}).status_code == 200
    assert events_of("settings-changed")[-1] == '{"keys":["password","passwordEnabled"]}'
    assert events_of("auth-changed")[-1] == '{"passwordEnabled":true,"publicAccess":false}'


def test_change_and_disable_revoke_viewer_tokens(client):
    client.post("/api/settings", json={"newPassword": PASSWORD}, headers=ADMIN)
    token = client.post("/api/auth/login", json={"password": PASSWORD}).get_json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/auth/status", headers=bearer).get_json()["authenticated"]
    client.post("/api/settings", json={"newPassword": "another password"}, headers=ADMIN)
    assert client.get("/api/auth/status", headers=bearer).get_json()["reason"] == "TOKEN_REVOKED"
    token = client.post("/api/auth/login", json={"password": "another password"}).get_json()["token"]
    client.post("/api/settings", json={"passwordEnabled": False}, headers=ADMIN)
    client.post("/api/settings", json={"passwordEnabled": True}, headers=ADMIN)  # the kept hash is reused
    status = client.get("/api/auth/status", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert status["passwordEnabled"] and status["reason"] == "TOKEN_REVOKED"
    assert settings.auth_state().epoch == 4


def test_public_access_and_title_do_not_revoke(client):
    client.post("/api/settings", json={"newPassword": PASSWORD}, headers=ADMIN)
    body = client.put("/api/settings", json={"publicAccess": True, "siteTitle": "  Family photos "},
                      headers=ADMIN).get_json()
    assert body["publicAccess"] and body["siteTitle"] == "Family photos"
    assert settings.auth_state().epoch == 1
    assert events_of("settings-changed")[-1] == '{"keys":["publicAccess","siteTitle"]}'
    assert client.put("/api/settings", json={"siteTitle": "Family photos"}, headers=ADMIN).status_code == 200
    assert len(events_of("settings-changed")) == 2  # nothing changed, nothing announced


@pytest.mark.parametrize("body, field", [
    ({"passwordEnabled": True}, "newPassword"),
    ({"newPassword": "short"}, "newPassword"),
    ({"newPassword": "x" * 73}, "newPassword"),
    ({"newPassword": 12345678}, "newPassword"),
    ({"passwordEnabled": "yes"}, "passwordEnabled"),
    ({"publicAccess": 1}, "publicAccess"),
    ({"siteTitle": ""}, "siteTitle"),
    ({"siteTitle": "x" * 81}, "siteTitle"),
    ({"siteTitle": "bad\u0000title"}, "siteTitle"),
    ({"siteTitle": "ok", "adminSecret": "x"}, "adminSecret"),
    ({"passwordHash": "$2b$12$abc"}, "passwordHash"),
    ({}, "body"),
])
def test_bad_changes_are_400_naming_the_field_and_change_nothing(client, body, field):
    response = client.post("/api/settings", json=body, headers=ADMIN)
    assert response.status_code == 400
    assert response.get_json()["code"] == "VALIDATION_ERROR" and response.get_json()["field"] == field
    assert client.get("/api/settings").get_json()["siteTitle"] == "Photonix"
    assert settings.auth_state().epoch == 0 and not events_of("settings-changed")


def test_body_must_be_a_json_object(client):
    for data in ("[1, 2]", "not json", '"text"'):
        response = client.post("/api/settings", data=data, headers={**ADMIN, "Content-Type": "application/json"})
        assert response.status_code == 400 and response.get_json()["code"] == "INVALID_JSON"


def test_admin_token_works_for_writes(client):
    token = client.post("/api/auth/admin", json={"adminSecret": ADMIN_SECRET}).get_json()["token"]
    response = client.put("/api/settings", json={"siteTitle": "T"}, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200 and response.get_json()["siteTitle"] == "T"
