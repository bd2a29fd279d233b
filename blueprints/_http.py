"""Small request helpers shared by the blueprints: the app's Config and the JSON body."""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.routing import PathConverter

from blueprints._json import parse_object
from config import Config
from errors import PayloadTooLarge, UnsupportedMediaType
from services.clients import client_key

KIB = 1024
DEFAULT_JSON_BODY_BYTES = 4 * KIB  # login, admin secret: one short field
# Bigger JSON bodies by blueprint. browse (viewed): a gallery path of up to 2048 characters, 12 KiB when
# escaped as \uXXXX. settings: a password and a title. downloads: up to 100 tags, a cookie of up to 4 KiB
# and 1000 picked entry keys. zips: up to 10,000 gallery paths. The app-wide MAX_CONTENT_LENGTH (16 MiB) is for
# uploads.
JSON_BODY_BYTES = {"browse": 16 * KIB, "settings": 16 * KIB, "downloads": 256 * KIB, "zips": 4096 * KIB}
MAX_ROW_ID = 2**63 - 1  # a database integer: a larger id in a URL is simply not found


class GalleryPathConverter(PathConverter):
    """`<path:...>` that also takes a leading slash, so "/api/file//etc/passwd" reaches the one path check
    (400 INVALID_PATH) instead of missing every route."""

    regex = ".+?"
    part_isolating = False  # spans "/" (werkzeug would guess True from a regex without one)


def app_config() -> Config:
    return current_app.extensions["photonix"]


def json_body() -> dict[str, Any]:
    """The request body as a JSON object: the one JSON parser of the API.

    415 UnsupportedMediaType unless sent as application/json; 413 PayloadTooLarge over the route's
    cap, reading no further than the cap (with or without Content-Length); 400 InvalidJson for
    anything but an object of finite numbers and real text nested at most MAX_JSON_DEPTH levels.
    """
    if not request.is_json:
        raise UnsupportedMediaType()
    max_bytes = JSON_BODY_BYTES.get(request.blueprint or "", DEFAULT_JSON_BODY_BYTES)
    too_large = PayloadTooLarge(f"The request body may be at most {max_bytes // KIB} KiB here.")
    if (request.content_length or 0) > max_bytes:
        raise too_large
    # A chunked body has no Content-Length: werkzeug stops reading one byte past the cap (or raises 413).
    request.max_content_length = max_bytes + 1
    try:
        raw = request.get_data(cache=True)
    except RequestEntityTooLarge:
        raise too_large from None
    if len(raw) > max_bytes:
        raise too_large
    return parse_object(raw)


def client_ip() -> str:
    """The client's key (services/clients.py) for the address resolved through PHOTONIX_TRUSTED_PROXIES hops
    (ProxyFix): an IPv4 address, or an IPv6 network such as "2001:db8:1:2::/64". The lockout, the rate limit,
    the event-stream cap and the auth log lines all count and name clients by it."""
    return client_key(request.remote_addr, app_config().ipv6_prefix)


def secure_cookies() -> bool:
    """Whether cookies get the Secure flag: PHOTONIX_COOKIE_SECURE, where auto = the request's scheme
    as resolved through the trusted proxies."""
    setting = app_config().cookie_secure
    return request.scheme == "https" if setting == "auto" else setting == "true"


def public_base() -> str:
    """The app's absolute address without a trailing slash: PHOTONIX_PUBLIC_URL, else this request's (through
    the trusted proxies, with the sub-path prefix)."""
    return app_config().public_url or request.url_root.rstrip("/")
