"""Request headers fixed or refused before Flask reads them, just inside ProxyFix (install() before ProxyFix wraps).

- The script root a trusted proxy announced (X-Forwarded-Prefix, now SCRIPT_NAME) must be a plain absolute
  path: anything else is dropped from the environ at once, so no page, cookie path or redirect can reflect it,
  and the request is answered 400 INVALID_PROXY_HEADER through the one error handler.
- The Authorization scheme is compared without regard to case (RFC 7235): `bearer`/`BEARER` become `Bearer`
  for flask-jwt-extended, which compares it exactly.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote

from flask import Flask, request

from errors import InvalidProxyHeader
from services.logtext import quote

PREFIX_REFUSED = "photonix.prefix_refused"  # environ key: the refused prefix, for the log line
AUTH_SCHEME = "Bearer"
# RFC 3986 unreserved characters, percent escapes and the sub-delimiters that mean nothing in HTML or URLs'
# authority: no quotes, spaces, backslashes, "<>" or non-ASCII.
_SEGMENT = re.compile(r"[A-Za-z0-9._~%!$&()*+,;=:@-]+")
log = logging.getLogger("photonix.http")


def install(app: Flask) -> None:
    """Wrap app.wsgi_app (before ProxyFix wraps it, so this runs after ProxyFix) and refuse bad prefixes."""
    app.wsgi_app = RequestHeaders(app.wsgi_app)
    app.before_request(_refuse_bad_prefix)


class RequestHeaders:
    """WSGI middleware: validates SCRIPT_NAME and normalises the Authorization scheme's case."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        prefix = environ.get("SCRIPT_NAME", "")
        if plain_prefix(prefix):
            environ["SCRIPT_NAME"] = prefix.rstrip("/")
        else:
            environ["SCRIPT_NAME"] = ""
            environ[PREFIX_REFUSED] = prefix
        scheme, space, credentials = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
        if space and scheme.lower() == AUTH_SCHEME.lower():
            environ["HTTP_AUTHORIZATION"] = f"{AUTH_SCHEME} {credentials}"
        return self.app(environ, start_response)


def plain_prefix(prefix: str) -> bool:
    """Whether `prefix` is "" or an absolute path of non-empty segments (a trailing "/" allowed): no "//",
    no scheme, no . or .. segments (percent-encoded ones included), no backslash, space or control character."""
    if prefix in ("", "/"):
        return True
    if not prefix.startswith("/"):
        return False
    for segment in prefix.removesuffix("/").split("/")[1:]:
        decoded = unquote(segment)
        if not _SEGMENT.fullmatch(segment) or decoded in (".", "..") or not decoded.isprintable() \
                or "/" in decoded or "\\" in decoded:
            return False
    return True


def _refuse_bad_prefix() -> None:
    refused = request.environ.get(PREFIX_REFUSED)
    if refused is not None:
        log.warning("refused X-Forwarded-Prefix %s from the trusted proxy", quote(refused))
        raise InvalidProxyHeader("The proxy sent an X-Forwarded-Prefix that is not a plain path such as /gallery. "
                                 "Set it in the proxy: proxy_set_header X-Forwarded-Prefix /gallery; "
                                 '(or "" when Photonix is served at the root).')
