"""Schemathesis against a real gunicorn: generated requests for every documented operation, as an
anonymous visitor and as the admin; no answer is a 5xx, and every answer matches the document
(status code documented, body valid against its schema).

Bounded and offline: a few examples per operation, derandomized, no shrinking, a timeout on every
request; the event stream and the operations that fetch a feed (run, preview, download) are not
fuzzed, and every feed URL sent points at a local feed server. Each request comes from its own
X-Forwarded-For address (one trusted proxy hop), so wrong passwords and secrets never add up to a lockout.
"""

from __future__ import annotations

import itertools
import time
import zlib
from urllib.parse import quote

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from tests.conftest import ADMIN_SECRET
from tests.support import images
from tests.support.feed_server import feed_server
from tests.support.servers import Gunicorn

pytestmark = [pytest.mark.integration, pytest.mark.slow]

POSITIVE, NEGATIVE = GenerationMode.POSITIVE, GenerationMode.NEGATIVE
# (as admin, kind of data) -> examples per operation; negative data breaks the schema on purpose.
EXAMPLES = {(False, POSITIVE): 8, (True, POSITIVE): 16, (True, NEGATIVE): 10}
PASSES = tuple(EXAMPLES)
REQUEST_TIMEOUT_S = 15
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]
NOT_FUZZED = {
    "GET /api/events": "an endless stream (tests/api/test_events_stream.py covers it)",
    "POST /api/download/tasks/{taskId}/run": "fetches the feed",
    "GET /api/download/tasks/{taskId}/preview": "fetches the feed",
    "POST /api/download/tasks/{taskId}/download": "fetches the feed",
}
# Operations that stand in for an upstream server and answer its state with a documented 5xx: these codes are
# their answers, not server errors (any other 5xx still fails); status and schema are checked as everywhere.
UPSTREAM_ANSWERS = {"POST /api/ai/caption": {"AI_NOT_CONFIGURED", "AI_UNAVAILABLE"}}
MAX_URL_BYTES = 3500  # of path and query values, encoded: below gunicorn's limit_request_line (4094)
# Writes that change what the other operations see go last, deletions at the very end.
LAST = ("PUT", "POST", "PATCH", "DELETE")
GALLERY = ("Trips/Alps/peak.jpg", "Trips/Alps/lake.png", "Trips/sea.jpg", "Family/2024/party.jpg", "cover.jpg")


@pytest.mark.parametrize(("admin", "mode"), PASSES,
                         ids=[f"{'admin' if admin else 'anonymous'}-{mode.value}" for admin, mode in PASSES])
def test_every_operation_answers_as_documented(env, db, tmp_path, photos_dir, admin, mode):
    """One pass per test (each with its own server), so that the passes run side by side on the test workers."""
    for n, rel in enumerate(GALLERY):
        (images.png if rel.endswith(".png") else images.jpeg)(photos_dir / rel, (96 + n, 64))
    env = {**env, "PHOTONIX_TRUSTED_PROXIES": "1", "PHOTONIX_RATE_LIMIT": "100000/minute"}
    with feed_server() as feeds, Gunicorn(env, tmp_path / "gunicorn.log") as server:
        _wait_for_first_scan(server)
        task_ids = _seed_tasks(server, feeds)
        schema = schemathesis.openapi.from_url(server.url + "/api/openapi.json")
        operations = sorted((result.ok() for result in schema.get_all_operations()), key=_order)
        assert len(operations) >= 40
        failures, ran = [], 0
        addresses = itertools.count(1)
        for operation in operations:
            if operation.label in NOT_FUZZED:
                continue
            problem = _fuzz(operation, server.url, admin, mode, addresses, feeds, task_ids)
            ran += 1
            if problem:
                failures.append(f"{operation.label} ({'admin' if admin else 'anonymous'}, {mode.value}): {problem}")
        log = server.log()
    print(f"fuzzed {ran} operations with {log.count(' rid=')} requests")
    assert ran >= len(operations) - len(NOT_FUZZED)
    assert not failures, "\n\n".join(failures) + "\n\n--- gunicorn log (tail) ---\n" + log[-6000:]
    assert "Traceback" not in log, log[-6000:]


def _fuzz(operation, base_url: str, admin: bool, mode: GenerationMode, addresses, feeds,
          task_ids: list[int]) -> str | None:
    """Run one operation's examples; the first failure's description, or None."""

    @settings(max_examples=EXAMPLES[admin, mode], deadline=None, derandomize=True,
              database=None, phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=_strategy(operation, mode, task_ids).map(lambda case: _local_feed_urls(case, feeds)))
    def run(case):
        headers = {"X-Forwarded-For": _address(next(addresses)), "Connection": "close"}
        if admin:
            headers["X-Admin-Secret"] = ADMIN_SECRET
        upstream = UPSTREAM_ANSWERS.get(case.operation.label)
        if upstream is None:
            case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS, timeout=REQUEST_TIMEOUT_S)
            return
        response = case.call(base_url=base_url, headers=headers, timeout=REQUEST_TIMEOUT_S)
        if response.status_code >= 500:
            assert response.json().get("code") in upstream, (response.status_code, response.text)
        case.validate_response(response, checks=[response_schema_conformance, status_code_conformance])

    try:
        run()
    except Unsatisfiable:
        if mode is GenerationMode.NEGATIVE:
            return None  # nothing to break: no parameters and no body
        raise
    except (Exception, BaseExceptionGroup) as exc:  # a check failed; the message shows the request
        return f"{type(exc).__name__}: {exc}"
    return None


def _strategy(operation, mode: GenerationMode, task_ids: list[int]):
    """Generated cases, and as many again aimed at things that exist (real photos, seeded tasks)."""
    names = {p.name for p in operation.path_parameters}
    aimed = []
    if "taskId" in names:
        aimed = [operation.as_strategy(path_parameters={"taskId": task_id}) for task_id in task_ids]
    elif "path" in names:
        aimed = [operation.as_strategy(path_parameters={"path": rel}) for rel in (*GALLERY, "Trips", "Trips/Alps")]
    elif operation.label == "GET /api/thumbnail":
        aimed = [operation.as_strategy(query={"path": rel}) for rel in GALLERY]
    generated = operation.as_strategy(generation_mode=mode).filter(lambda case: not _too_long(case))
    if mode is GenerationMode.NEGATIVE:
        return generated.filter(lambda case: not _another_route(case))
    return st.one_of(generated, *aimed) if aimed else generated


def _another_route(case) -> bool:
    """Negative data that names another documented route: /api/browse/viewed is the viewed list."""
    return case.operation.label == "GET /api/browse/{path}" and case.path_parameters.get("path") == "viewed"


def _too_long(case) -> bool:
    """A request line over gunicorn's limit_request_line (4094 bytes) is answered 414 (HTML) by gunicorn
    itself, before the app: a long non-ASCII path within the app's 2048 characters can get there."""
    values = [*(case.path_parameters or {}).values(), *(case.query or {}).values()]
    return sum(len(quote(str(value), safe="")) for value in values) > MAX_URL_BYTES


def _local_feed_urls(case, feeds):
    """Keep the download center offline: any feedUrl sent names the local feed server (a path per value)."""
    if isinstance(case.body, dict) and isinstance(case.body.get("feedUrl"), str):
        key = zlib.crc32(case.body["feedUrl"].encode("utf-8", "replace")) % 1000
        case.body["feedUrl"] = feeds.url(f"/fuzz/{key}.xml")
    return case


def _order(operation) -> tuple[int, str]:
    position = LAST.index(operation.method.upper()) + 1 if operation.method.upper() in LAST else 0
    if operation.label.startswith(("POST /api/settings", "PUT /api/settings")):
        position = len(LAST)  # may turn the password on: gallery reads then need a token
    return position, operation.label


def _address(n: int) -> str:
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


def _wait_for_first_scan(server, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = requests.get(server.url + "/api/settings/status", timeout=5).json()["index"]
        if state.get("finishedAt") and not state["running"]:
            return
        time.sleep(0.1)
    raise AssertionError(f"the first scan did not finish:\n{server.log()[-3000:]}")


def _seed_tasks(server, feeds) -> list[int]:
    """Two paused tasks on the local feed server (its host and port allowed, so fuzzed tasks can be too)."""
    admin = {"X-Admin-Secret": ADMIN_SECRET}
    allow = {"allowPrivateHosts": True, "allowedPorts": [80, 443, feeds.port]}
    requests.put(server.url + "/api/download/config", json=allow, headers=admin, timeout=5).raise_for_status()
    ids = []
    for n in range(2):
        answer = requests.post(server.url + "/api/download/tasks", headers=admin, timeout=5,
                               json={"feedUrl": feeds.url(f"/seed/{n}.xml"), "status": "paused", "title": f"Seed {n}"})
        answer.raise_for_status()
        ids.append(answer.json()["id"])
    return ids
