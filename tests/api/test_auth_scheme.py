"""The Authorization scheme is case-insensitive (RFC 7235); any other scheme is a clear TOKEN_INVALID."""

from __future__ import annotations

import pytest

from services import settings
from services.auth.passwords import hash_password

PASSWORD = "scheme password"


@pytest.fixture
def token(client):
    settings.write_settings({settings.PASSWORD_HASH: hash_password(PASSWORD), settings.PASSWORD_ENABLED: "1"},
                            bump_epoch=True)
    return client.post("/api/auth/login", json={"password": PASSWORD}).get_json()["token"]


def test_the_bearer_scheme_in_any_case_is_accepted(app, token):
    for scheme in ("Bearer", "bearer", "BEARER", "bEaReR"):
        client = app.test_client()  # no cookies: only the header counts
        headers = {"Authorization": f"{scheme} {token}"}
        assert client.get("/api/browse", headers=headers).status_code == 200, scheme
        status = client.get("/api/auth/status", headers=headers).get_json()
        assert status["authenticated"] is True and status["reason"] is None, scheme


@pytest.mark.parametrize("header", ["Token abc", "bearer", "Bearertoken"])
def test_another_scheme_is_token_invalid_naming_bearer(app, token, header):
    answer = app.test_client().get("/api/browse", headers={"Authorization": header})
    assert answer.status_code == 401
    body = answer.get_json()
    assert body["code"] == "TOKEN_INVALID" and "Bearer <token>" in body["message"], body


def test_a_proxy_basic_password_passed_through_is_not_a_token_problem(app, token):
    # nginx auth_basic in front of a private gallery forwards the visitor's Basic header with every request.
    answer = app.test_client().get("/api/browse", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert answer.status_code == 401 and answer.get_json()["code"] == "AUTH_REQUIRED"
