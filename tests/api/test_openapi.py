"""The OpenAPI document (blueprints/openapi.json) is served, valid, and in step with the routes.

Every Flask rule under /api (and /health) is documented with the same methods and path parameter
types, every documented operation exists, and every documented error answer is the one Error schema.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from openapi_spec_validator import validate

DOCUMENT_PATH = Path(__file__).resolve().parents[2] / "blueprints" / "openapi.json"
DOCUMENT = json.loads(DOCUMENT_PATH.read_text())
METHODS = ("get", "put", "post", "delete", "patch")
UNDOCUMENTED_METHODS = {"HEAD", "OPTIONS"}
# /health answers its report (naming the failing part) with 503, not an error body: monitors read it.
NOT_ERROR_BODIES = {("/health", "get", "503")}
_FLASK_VARIABLE = re.compile(r"<(?:(?P<converter>[a-z]+)(?:\((?P<args>[^)]*)\))?:)?(?P<name>[A-Za-z_]\w*)>")
_OPENAPI_VARIABLE = re.compile(r"\{[^}]+\}")


def documented_path(rule: str) -> str:
    """A Flask rule as an OpenAPI template whose variables are all `{}` (names may differ)."""
    return _FLASK_VARIABLE.sub("{}", rule)


def routes(app) -> dict[str, dict[str, object]]:
    """Template -> {method -> the werkzeug rule}, for the API's rules (and /health)."""
    found: dict[str, dict[str, object]] = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api") or rule.rule == "/health":
            for method in rule.methods - UNDOCUMENTED_METHODS:
                found.setdefault(documented_path(rule.rule), {})[method.lower()] = rule
    return found


def operations():
    for path, item in DOCUMENT["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def resolve(node: dict) -> dict:
    while "$ref" in node:
        section, kind, name = node["$ref"].removeprefix("#/").split("/")
        node = DOCUMENT[section][kind][name]
    return node


def test_document_is_valid_openapi():
    validate(DOCUMENT)
    assert DOCUMENT["openapi"].startswith("3.")


def test_document_is_served(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == DOCUMENT


def test_every_route_is_documented_with_its_methods(app):
    documented = {_OPENAPI_VARIABLE.sub("{}", path): {m for m in METHODS if m in item}
                  for path, item in DOCUMENT["paths"].items()}
    served = {path: set(methods) for path, methods in routes(app).items()}
    assert served == documented


@pytest.mark.parametrize(("path", "method", "operation"), list(operations()),
                         ids=[f"{m.upper()} {p}" for p, m, _ in operations()])
def test_path_parameters_match_the_rule(app, path, method, operation):
    rule = routes(app)[_OPENAPI_VARIABLE.sub("{}", path)][method]
    expected = [(m["converter"] or "default", m["args"]) for m in _FLASK_VARIABLE.finditer(rule.rule)]
    names = [name.strip("{}") for name in _OPENAPI_VARIABLE.findall(path)]
    params = {p["name"]: p for p in map(resolve, operation.get("parameters", [])) if p["in"] == "path"}
    assert sorted(params) == sorted(names), "every template variable is a documented path parameter"
    for name, (converter, args) in zip(names, expected, strict=True):
        schema = params[name]["schema"]
        if converter == "int":
            assert schema["type"] == "integer" and schema.get("minimum", -1) >= 0
        elif converter == "any":
            assert sorted(schema["enum"]) == sorted(a.strip() for a in args.split(","))
        else:
            assert schema["type"] == "string" and schema.get("minLength", 0) >= 1


@pytest.mark.parametrize(("path", "method", "operation"), list(operations()),
                         ids=[f"{m.upper()} {p}" for p, m, _ in operations()])
def test_every_error_answer_is_the_error_schema(path, method, operation):
    assert operation.get("operationId") and operation.get("summary")
    for status, answer in operation["responses"].items():
        answer = resolve(answer)
        if int(status) < 400 or (path, method, status) in NOT_ERROR_BODIES:
            continue
        content = answer.get("content", {})
        assert "application/json" in content, f"{status} is answered in JSON"
        assert content["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


def test_error_schema_is_the_contract():
    error = DOCUMENT["components"]["schemas"]["Error"]
    assert error["required"] == ["code", "message", "requestId"]
    assert error.get("additionalProperties", True) is not False


def test_operation_ids_are_unique():
    ids = [operation["operationId"] for _, _, operation in operations()]
    assert len(ids) == len(set(ids))
