"""Which origins are this server's own, and whether a state-changing request came from another site.

Pure functions shared by the request guard (blueprints/_guard.py) and the diagnosis, so
`/api/auth/diagnose` predicts exactly what the guard will do. No Flask here.
"""

from __future__ import annotations

from urllib.parse import urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> str | None:
    """`scheme://host[:port]` of an http(s) URL or Origin header, lowercased and without a default
    port; None for anything else (including the Origin "null" of sandboxed pages and file://)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:  # a port that is not a number, a bad IPv6 literal
        return None
    scheme, host = parts.scheme.lower(), parts.hostname
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}" + (f":{port}" if port and port != _DEFAULT_PORTS[scheme] else "")


def server_origins(scheme: str, host: str, public_url: str | None) -> list[str]:
    """The request's own origin (scheme and Host as resolved through the trusted proxies) and
    PHOTONIX_PUBLIC_URL's, when set."""
    found = [origin_of(f"{scheme}://{host}"), origin_of(public_url) if public_url else None]
    return list(dict.fromkeys(origin for origin in found if origin))


def cross_site_reason(origin: str | None, fetch_site: str | None, own: list[str]) -> str | None:
    """Why a state-changing request with these headers counts as cross-site, or None to let it through.

    The browser's own word comes first (pages cannot set Sec-Fetch-Site): `cross-site` is refused;
    `same-origin` and `none` (typed by the user) pass even when a proxy rewrote the Host. Otherwise
    (`same-site`, a sibling subdomain, or an older browser that sends no Sec-Fetch-Site) the Origin,
    when sent, must be one of `own`. Requests with neither header (curl, API clients) pass: no page sent them.
    """
    site = (fetch_site or "").strip().lower()
    if site == "cross-site":
        return "The browser says this request came from another site (Sec-Fetch-Site: cross-site)."
    if site in ("same-origin", "none"):
        return None
    if origin is not None and origin_of(origin) not in own:
        return (f"The request came from {origin[:100]!r}, which is not this gallery's address "
                f"({', '.join(own) or 'unknown'}).")
    return None
