"""GET /api/openapi.json: the hand-written OpenAPI document of this API (blueprints/openapi.json).

Public, like any API documentation; read once per process. tests/api/test_openapi.py keeps the
document in step with the routes.
"""

from __future__ import annotations

import functools
from pathlib import Path

from flask import Blueprint, Response

bp = Blueprint("openapi", __name__)
DOCUMENT = Path(__file__).with_name("openapi.json")
MAX_AGE_S = 300


@bp.get("/api/openapi.json")
def get_openapi():
    response = Response(_document(), mimetype="application/json")
    response.headers["Cache-Control"] = f"public, max-age={MAX_AGE_S}"
    return response


@functools.cache
def _document() -> bytes:
    return DOCUMENT.read_bytes()
