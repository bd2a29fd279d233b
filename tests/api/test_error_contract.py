"""Every error body is {code, message, requestId} and every response carries X-Request-Id."""

import pytest

from blueprints._http import json_body


@pytest.fixture
def app(app):
    def crash():
        raise RuntimeError("secret internal detail /etc/passwd")

    def echo():
        return json_body()

    app.add_url_rule("/test/crash", view_func=crash)
    app.add_url_rule("/test/echo", view_func=echo, methods=["POST"])
    return app


def assert_error(response, status, code):
    assert response.status_code == status
    body = response.get_json()
    assert set(body) >= {"code", "message", "requestId"}
    assert body["code"] == code and body["message"]
    assert body["requestId"] == response.headers["X-Request-Id"]
    return body


def test_unknown_route_is_404(client):
    assert_error(client.get("/api/nope"), 404, "NOT_FOUND")


def test_wrong_method_is_405_with_allow(client):
    response = client.delete("/health")
    assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert "GET" in response.headers["Allow"]


@pytest.mark.parametrize("data", [b"{not json", b"", b"[1, 2]", b"\xff\xfe"])
def test_bad_json_is_400(client, data):
    assert_error(client.post("/test/echo", data=data, content_type="application/json"), 400, "INVALID_JSON")


def test_good_json_passes(client):
    assert client.post("/test/echo", json={"a": 1}).get_json() == {"a": 1}


def test_a_body_that_is_not_json_is_415(client):
    assert_error(client.post("/api/auth/login", data="password=x", content_type="text/plain"), 415,
                 "UNSUPPORTED_MEDIA_TYPE")


def test_a_cross_site_change_is_403(client):
    response = client.post("/api/auth/logout", headers={"Origin": "https://evil.example"})
    assert_error(response, 403, "CROSS_SITE_REQUEST")


def test_body_too_large_is_413(client):
    response = client.post("/test/echo", data=b"x" * (17 * 1024 * 1024), content_type="application/json")
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")


def test_crash_is_500_without_details(client, caplog):
    response = client.get("/test/crash")
    body = assert_error(response, 500, "INTERNAL_ERROR")
    assert "secret internal detail" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)
    assert body["requestId"] in caplog.text  # the log line can be found from the client's report


def test_safe_client_request_id_is_kept(client):
    assert client.get("/health", headers={"X-Request-Id": "abc-123.x"}).headers["X-Request-Id"] == "abc-123.x"


@pytest.mark.parametrize("sent", ["a" * 65, "has space", "<script>", "x\u00e9"])
def test_unsafe_client_request_id_is_replaced(client, sent):
    got = client.get("/health", headers={"X-Request-Id": sent}).headers["X-Request-Id"]
    assert got != sent and len(got) == 32


def test_success_responses_have_request_id(client):
    assert client.get("/health").headers["X-Request-Id"]
