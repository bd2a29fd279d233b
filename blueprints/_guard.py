"""The cross-site guard: one before_request hook that refuses, before any auth or lockout work,
state-changing /api requests sent by another site's page or with a body that is not JSON.

A CORS "simple" request (text/plain, a form) needs no preflight, so without this a page on any
site could post logins (filling the visitor's lockout) or log the visitor out.
"""

from __future__ import annotations

from flask import request

from blueprints._http import app_config
from errors import CrossSiteRequest, UnsupportedMediaType
from services.auth import origins

UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
# Endpoints that take a body other than JSON (what blueprints/openapi.json documents for them).
OTHER_BODY_TYPES = {"downloads.post_opml": ("multipart/form-data", "application/octet-stream"),
                    "zips.post_zip": ("application/x-www-form-urlencoded",)}  # a browser's download form


def refuse_cross_site() -> None:
    """403 CROSS_SITE_REQUEST or 415 UNSUPPORTED_MEDIA_TYPE for an unsafe /api request; else nothing."""
    if request.method not in UNSAFE_METHODS or not request.path.startswith("/api/"):
        return
    own = origins.server_origins(request.scheme, request.host, app_config().public_url)
    reason = origins.cross_site_reason(request.headers.get("Origin"), request.headers.get("Sec-Fetch-Site"), own)
    if reason:
        raise CrossSiteRequest(reason)
    # A body without Content-Type is application/octet-stream (RFC 9110 8.3): fine for a raw OPML file.
    media_type = request.mimetype or "application/octet-stream"
    if _has_body() and not request.is_json and media_type not in OTHER_BODY_TYPES.get(request.endpoint, ()):
        raise UnsupportedMediaType()


def _has_body() -> bool:
    """A body or a declared type: an empty body with no Content-Type (a bodiless POST) is fine."""
    chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    return bool(request.content_length) or chunked or "Content-Type" in request.headers
