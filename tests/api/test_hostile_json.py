"""Hostile JSON on every JSON endpoint is a documented 4xx, never a 500 (issue #18 item 3).

Deep nesting, lone surrogates, NaN/Infinity, huge numbers and wrong types are refused where the body is
parsed (blueprints/_http.py json_body), and every body is capped per route before it is parsed.
The property test enumerates the state-changing /api routes from the Flask url_map, so a new
endpoint is covered without editing this file.
"""

from __future__ import annotations

import io
import json
import math
import re
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.routing import IntegerConverter

from blueprints._http import DEFAULT_JSON_BODY_BYTES
from blueprints._json import MAX_JSON_DEPTH, parse_object
from errors import InvalidJson, ValidationFailed
from models import Feed
from services.downloads import options
from tests.api.test_openapi import DOCUMENT, documented_path
from tests.conftest import ADMIN_SECRET

ADMIN = {"X-Admin-Secret": ADMIN_SECRET}
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")
EXAMPLES_PER_ROUTE = 25
# Routes whose valid body fetches the task's feed: aimed at a task that does not exist, so the
# body is still parsed (before the task is looked up) but nothing leaves the machine.
FETCHES_FEED = {"downloads.post_task_download"}
MISSING_TASK_ID = 987654
_OPENAPI_VARIABLE = re.compile(r"\{[^}]+\}")


def test_deep_nesting_is_400_on_every_parsed_route(client):
    deep = "[" * 100_000 + "]" * 100_000
    for url, method in (("/api/auth/login", "POST"), ("/api/browse/viewed", "POST"), ("/api/settings", "PUT")):
        response = client.open(url, method=method, data=deep, content_type="application/json", headers=ADMIN)
        assert response.status_code in (400, 413), (url, response.status_code)
    nested = '{"password": ' + "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1) + "}"
    response = client.post("/api/auth/login", data=nested, content_type="application/json")
    assert response.status_code == 400 and response.get_json()["code"] == "INVALID_JSON"
    assert str(MAX_JSON_DEPTH) in response.get_json()["message"]


def test_nesting_up_to_the_limit_is_parsed(client):
    nested = '{"path": ' + "[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1) + "}"
    response = client.post("/api/browse/viewed", data=nested, content_type="application/json")
    assert response.get_json()["code"] == "VALIDATION_ERROR"  # parsed; the value is just not a path


def test_brackets_and_escaped_quotes_inside_text_are_not_nesting():
    text = '[[[\\"{{' * MAX_JSON_DEPTH
    assert parse_object(json.dumps({"a": text, "b": [[1]]}).encode()) == {"a": text, "b": [[1]]}
    # The depth scan reads the body once: a run of escaped quotes (once quadratic) is just text, or bad JSON.
    unterminated = '{"a": "' + '\\"' * 8000
    with pytest.raises(InvalidJson):
        parse_object(unterminated.encode())


@pytest.mark.parametrize(("url", "method", "field"), [
    ("/api/auth/admin", "POST", "adminSecret"),
    ("/api/auth/login", "POST", "password"),
    ("/api/settings", "PUT", "siteTitle"),
    ("/api/settings", "PUT", "newPassword"),
    ("/api/download/tasks", "POST", "title"),
    ("/api/download/tasks", "POST", "cookie"),
    ("/api/download/tasks", "POST", "tags"),
])
def test_a_lone_surrogate_is_400_naming_the_field(client, url, method, field):
    value = '["ok", "\\ud800x"]' if field == "tags" else '"\\ud800x"'
    data = f'{{"{field}": {value}}}'
    response = client.open(url, method=method, data=data, content_type="application/json", headers=ADMIN)
    assert response.status_code == 400
    body = response.get_json()
    assert body["code"] == "INVALID_JSON" and body["field"] == field


def test_a_lone_surrogate_admin_secret_does_not_count_toward_the_lockout(client):
    for _ in range(6):
        response = client.post("/api/auth/admin", data='{"adminSecret": "\\udfffx"}', content_type="application/json")
        assert response.status_code == 400
    wrong = client.post("/api/auth/admin", json={"adminSecret": "not the secret"})
    assert wrong.status_code == 401 and wrong.get_json()["remainingAttempts"] == 4


def test_paired_surrogates_are_text(client):
    response = client.put("/api/settings", data='{"siteTitle": "Smile \\ud83d\\ude00"}',
                          content_type="application/json", headers=ADMIN)
    assert response.status_code == 200 and response.get_json()["siteTitle"] == "Smile \U0001f600"


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999", "-1e400"])
def test_non_finite_numbers_are_400(client, number):
    response = client.put("/api/download/config", data=f'{{"maxAttempts": {number}}}',
                          content_type="application/json", headers=ADMIN)
    assert response.status_code == 400 and response.get_json()["code"] == "INVALID_JSON"


@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf])
def test_download_options_refuse_non_finite_numbers_from_any_caller(client, number):
    with pytest.raises(ValidationFailed) as refused:
        options.change({"maxRedirects": 2, "maxAttempts": number})
    assert refused.value.extra["field"] == "maxAttempts"


def test_huge_integers_are_400(client):
    response = client.put("/api/download/config", data='{"maxAttempts": ' + "9" * 5000 + "}",
                          content_type="application/json", headers=ADMIN)
    assert response.status_code == 400 and response.get_json()["code"] == "INVALID_JSON"


def test_a_big_body_is_413_before_parsing(client):
    big = json.dumps({"password": "x" * DEFAULT_JSON_BODY_BYTES})
    response = client.post("/api/auth/login", data=big, content_type="application/json")
    assert response.status_code == 413 and response.get_json()["code"] == "PAYLOAD_TOO_LARGE"


def test_a_big_chunked_body_without_content_length_is_413(client):
    big = json.dumps({"adminSecret": "x" * 16 * 1024 * 1024}).encode()
    stream = io.BytesIO(big)
    response = client.post("/api/auth/admin", input_stream=stream, content_type="application/json",
                           headers={"Transfer-Encoding": "chunked"}, environ_overrides={"wsgi.input_terminated": True})
    assert response.status_code == 413 and response.get_json()["code"] == "PAYLOAD_TOO_LARGE"
    assert stream.tell() <= 2 * DEFAULT_JSON_BODY_BYTES  # read up to the cap, not the whole body


def test_settings_and_downloads_take_bigger_bodies(client):
    tags = [f"tag{n:03d}-" + "x" * 80 for n in range(100)]  # ~9 KB: over the small routes' cap
    response = client.post("/api/download/tasks", headers=ADMIN,
                           json={"feedUrl": "https://feeds.example.com/a.xml", "status": "paused", "tags": tags})
    assert response.status_code == 201, response.get_json()


# --- every JSON endpoint, generated hostile bodies --------------------------------------------------

def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


_SCALAR_TEXT = st.one_of(
    st.none().map(json.dumps), st.booleans().map(json.dumps), st.integers().map(json.dumps),
    st.floats(allow_nan=False, allow_infinity=False).map(json.dumps),
    st.text(max_size=40).map(json.dumps),
)
_WRONG_TYPES = st.recursive(_SCALAR_TEXT, lambda inner: st.one_of(
    st.lists(inner, max_size=4).map(lambda items: "[" + ", ".join(items) + "]"),
    st.dictionaries(st.text(max_size=8).map(json.dumps), inner, max_size=3).map(
        lambda d: "{" + ", ".join(f"{k}: {v}" for k, v in d.items()) + "}")), max_leaves=8)
_HOSTILE = st.one_of(
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "9" * 5000, "-" + "1" * 4400, '"\\ud800"',
                     '"a\\udc00b"', '["\\udbff"]', '{"\\ud800": 1}', '"\\u0000"', '"\\n\\r\\t"']),
    st.integers(MAX_JSON_DEPTH - 2, 3 * MAX_JSON_DEPTH).map(_nested),
    _WRONG_TYPES,
)


def _bodies(fields: list[str]):
    """Raw JSON text: an object whose fields (known ones, mostly) carry hostile values, or a hostile document."""
    names = st.sampled_from(fields) if fields else st.text(max_size=10)
    members = st.lists(st.tuples(st.one_of(names, st.text(max_size=10)).map(json.dumps), _HOSTILE), max_size=3)
    obj = members.map(lambda pairs: "{" + ", ".join(f"{k}: {v}" for k, v in pairs) + "}")
    return st.one_of(obj, obj, obj, _HOSTILE, st.integers(1, 20_000).map(_nested))


def _operation(rule, method: str) -> dict:
    for path, item in DOCUMENT["paths"].items():
        if _OPENAPI_VARIABLE.sub("{}", path) == documented_path(rule.rule) and method.lower() in item:
            return item[method.lower()]
    raise AssertionError(f"{method} {rule.rule} is not documented")


def _json_fields(operation: dict) -> list[str]:
    schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
    while "$ref" in schema:
        schema = DOCUMENT["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return sorted(schema.get("properties", {}))


def _url(rule, task_id: int) -> str:
    values = {}
    for name in rule.arguments:
        converter = rule._converters[name]
        if name == "task_id":
            values[name] = MISSING_TASK_ID if rule.endpoint in FETCHES_FEED else task_id
        elif hasattr(converter, "items"):  # any(...): the first choice
            values[name] = sorted(converter.items)[0] if isinstance(converter.items, set) else converter.items[0]
        elif isinstance(converter, IntegerConverter):  # a share link's id (none exists: 404 after the body check)
            values[name] = 1
        elif name == "token":  # a share link's token: 32 characters
            values[name] = "t" * 32
        else:
            values[name] = "album"
    return rule.build(values)[1]


def _routes(app) -> list[tuple]:
    found = [(rule, method) for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/")
             for method in sorted(rule.methods & set(UNSAFE))]
    return sorted(found, key=lambda pair: (pair[1] == "DELETE", pair[0].rule))  # deletions last


def test_every_json_endpoint_answers_hostile_json_with_a_documented_4xx(app, client, photos_dir):
    (photos_dir / "album").mkdir()
    task = Feed.create(url="https://feeds.example.com/seed.xml", url_hash="seed", title="Seed", interval_minutes=60,
                       target_folder="", enabled=False, created_at=time.time(), next_run_at=time.time())
    routes = _routes(app)
    assert len(routes) >= 15, routes
    for rule, method in routes:
        operation = _operation(rule, method)
        _post_hostile_bodies(client, method, _url(rule, task.id), operation)


def _post_hostile_bodies(client, method: str, url: str, operation: dict) -> None:
    allowed = {int(status) for status in operation["responses"]}

    @settings(max_examples=EXAMPLES_PER_ROUTE, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(body=_bodies(_json_fields(operation)))
    def post(body):
        response = client.open(url, method=method, data=body.encode("utf-8", "surrogatepass"),
                               content_type="application/json", headers=ADMIN)
        status = response.status_code
        assert status < 500 and status in allowed, (method, url, body[:200], status, response.get_data()[:300])
        if status >= 400:
            assert response.get_json()["code"] != "INTERNAL_ERROR"

    post()
