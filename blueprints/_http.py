"""Small request helpers shared by the blueprints: the app's Config and the JSON body."""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from werkzeug.routing import PathConverter

from config import Config
from errors import InvalidJson
from services.clients import client_key


class GalleryPathConverter(PathConverter):
    """`<path:...>` that also takes a leading slash, so "/api/file//etc/passwd" reaches the one path check
    (400 INVALID_PATH) instead of missing every route."""

    regex = ".+?"
    part_isolating = False  # spans "/" (werkzeug would guess True from a regex without one)


def app_config() -> Config:
    return current_app.extensions["photonix"]


def json_body() -> dict[str, Any]:
    """The request body as a JSON object, or InvalidJson (400) when it is anything else."""
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        raise InvalidJson("The request body must be a JSON object.")
    return body


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
