"""Issue #18 item 2: every address of one IPv6 /64 is one client for the lockout, the rate limit and the
event-stream cap (behind a trusted proxy, through X-Forwarded-For); IPv4-mapped addresses are their IPv4."""

from __future__ import annotations

import pytest

from app import create_app
from config import load_config
from services import events
from services.database import init_db

NETWORK = "2001:db8:1:2::"


def proxied(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


@pytest.fixture
def make_client(env):
    """A test client behind one trusted proxy (plus any variables given); the event hub is per test."""
    events.shutdown()

    def make(**variables):
        app = create_app(load_config({**env, "PHOTONIX_TRUSTED_PROXIES": "1",
                                      **{f"PHOTONIX_{k}": v for k, v in variables.items()}}))
        init_db()
        return app.test_client()

    yield make
    events.shutdown()


def wrong_secret(client, address: str):
    return client.post("/api/auth/admin", json={"adminSecret": "not the admin secret"}, headers=proxied(address))


def test_seven_addresses_of_one_64_share_one_lockout_budget(make_client):
    client = make_client()
    answers = [wrong_secret(client, f"{NETWORK}{n}") for n in range(1, 8)]
    assert [a.get_json().get("remainingAttempts") for a in answers[:4]] == [4, 3, 2, 1]
    assert [a.status_code for a in answers[4:]] == [429, 429, 429]
    assert {a.get_json()["code"] for a in answers[4:]} == {"LOGIN_LOCKED"}
    # The next /64 and an IPv4 client have budgets of their own; the mapped form of that IPv4 is the same client.
    assert wrong_secret(client, "2001:db8:1:3::1").get_json()["remainingAttempts"] == 4
    assert wrong_secret(client, "203.0.113.5").get_json()["remainingAttempts"] == 4
    assert wrong_secret(client, "::ffff:203.0.113.5").get_json()["remainingAttempts"] == 3


def test_a_64_shares_one_api_rate_limit(make_client):
    client = make_client(RATE_LIMIT="3/minute")
    codes = [client.get("/api/auth/status", headers=proxied(f"{NETWORK}{n}")).status_code for n in range(1, 5)]
    assert codes == [200, 200, 200, 429]
    assert client.get("/api/auth/status", headers=proxied("2001:db8:1:3::1")).status_code == 200


def test_the_stream_cap_counts_a_64_as_one_client(make_client):
    client = make_client(SSE_MAX_PER_IP="2")
    held = []
    try:
        for n in (1, 2):
            response = client.get("/api/events", buffered=False, headers=proxied(f"{NETWORK}{n}"))
            assert response.status_code == 200
            held.append(response)
            next(iter(response.response))  # started, so closing it runs the stream's cleanup
        refused = client.get("/api/events", headers=proxied(f"{NETWORK}3"))
        assert refused.status_code == 429 and refused.get_json()["code"] == "TOO_MANY_STREAMS"
        other = client.get("/api/events", buffered=False, headers=proxied("2001:db8:1:3::1"))
        assert other.status_code == 200
        held.append(other)
        next(iter(other.response))
    finally:
        for response in held:
            response.close()
