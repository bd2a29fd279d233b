"""Explains "the cookie is there but I still get 401": compares what the server saw with the public URL.

`Observed` is what one request looked like on arrival (built by GET /api/auth/diagnose, or rebuilt
from its JSON by `photonix doctor --url`); `hints()` turns disagreements into problems with fixes.
Pure functions: no Flask, no network, nothing secret in or out.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

from services.auth import origins

PROXY_HEADERS = ("X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Forwarded-Prefix",
                 "X-Forwarded-Port", "X-Real-IP", "Forwarded")
MAX_CLOCK_SKEW_S = 60
_DEFAULT_PORTS = {"http": "80", "https": "443"}
_NGINX_HEADERS = ("proxy_set_header Host $host; proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for; "
                  "proxy_set_header X-Forwarded-Proto $scheme; (see nginx/ in the Photonix source)")


@dataclass(frozen=True)
class Observed:
    """One request as the server saw it after PHOTONIX_TRUSTED_PROXIES hops were applied."""

    scheme: str
    host: str
    prefix: str
    client_ip: str
    remote_addr: str
    trusted_proxies: int
    cookie_secure: str
    secure_cookies: bool
    server_time: float
    proxy_headers: dict[str, str] = field(default_factory=dict)
    cookies: list[str] = field(default_factory=list)
    jwt_state: str = "none"  # none, valid, or the 401 code a protected call would get
    jwt_source: str = "none"  # headers, cookies or none
    jwt_issued_at: float | None = None
    client_time: float | None = None
    origin: str | None = None  # the browser page's origin: its Origin header, else its Referer's
    origin_source: str = "none"  # origin, referer or none
    sec_fetch_site: str | None = None
    server_origins: list[str] = field(default_factory=list)  # what the cross-site guard accepts as its own
    cross_site_refusal: str | None = None  # why a change sent like this would get 403 CROSS_SITE_REQUEST

    def to_json(self) -> dict[str, Any]:
        return {_camel(name): value for name, value in asdict(self).items()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Observed:
        known = cls.__dataclass_fields__
        return cls(**{name: data[_camel(name)] for name in known if _camel(name) in data})


@dataclass(frozen=True)
class Hint:
    code: str
    problem: str
    fix: str


def hints(seen: Observed, public_url: str | None) -> list[Hint]:
    """Every way this request disagrees with a working setup behind `public_url` (None: unknown)."""
    found = _proxy_hints(seen)
    if public_url:
        found += _public_url_hints(seen, public_url)
    elif seen.cookie_secure == "true" and seen.scheme == "http":
        found.append(_secure_over_http())
    found += _origin_hints(seen)
    found += _token_hints(seen)
    return found


def _proxy_hints(seen: Observed) -> list[Hint]:
    arrived = [name for name in PROXY_HEADERS if name in seen.proxy_headers]
    if seen.trusted_proxies == 0 and arrived:
        return [Hint("PROXY_HEADERS_IGNORED",
                     f"{', '.join(arrived)} arrived but PHOTONIX_TRUSTED_PROXIES is 0, so they are ignored: the "
                     f"server sees scheme {seen.scheme}, host {seen.host} and client {seen.client_ip} (the proxy).",
                     "Set PHOTONIX_TRUSTED_PROXIES=1 when one nginx sits in front of Photonix.")]
    if seen.trusted_proxies > 0 and "X-Forwarded-For" not in seen.proxy_headers:
        return [Hint("NO_PROXY_HEADERS",
                     f"PHOTONIX_TRUSTED_PROXIES is {seen.trusted_proxies} but this request carried no "
                     "X-Forwarded-For: it bypassed the proxy, or the proxy does not set the headers.",
                     f"Reach Photonix only through nginx, and in nginx: {_NGINX_HEADERS}")]
    return []


def _public_url_hints(seen: Observed, public_url: str) -> list[Hint]:
    public = urlsplit(public_url)
    found = []
    if public.scheme == "https" and seen.scheme != "https":
        found.append(Hint("SCHEME_MISMATCH",
                          "Browsers use https but the server sees http: the proxy does not send X-Forwarded-Proto "
                          "(or PHOTONIX_TRUSTED_PROXIES is 0), so cookies are set without Secure and links "
                          "point to http.",
                          "In nginx: proxy_set_header X-Forwarded-Proto $scheme; and set PHOTONIX_TRUSTED_PROXIES=1."))
    if public.scheme == "http" and seen.cookie_secure == "true":
        found.append(_secure_over_http())
    if _host_port(public.scheme, public.netloc) != _host_port(public.scheme, seen.host):
        found.append(_host_mismatch(public, seen.host))
    expected_prefix = public.path.rstrip("/")
    if expected_prefix != seen.prefix:
        found.append(Hint("PREFIX_MISMATCH",
                          f"The public URL is under {expected_prefix or '/'} but the server sees the prefix "
                          f"{seen.prefix or '/'}: cookie paths and links will be wrong.",
                          f"In the nginx location for {expected_prefix or '/'}: "
                          f"proxy_set_header X-Forwarded-Prefix {expected_prefix or '/'}; "
                          "and set PHOTONIX_TRUSTED_PROXIES=1."))
    return found


def _origin_hints(seen: Observed) -> list[Hint]:
    if seen.sec_fetch_site == "cross-site":
        return [Hint("CROSS_SITE", "This request came from a page on another site (Sec-Fetch-Site: cross-site): "
                     "logins and other changes sent like it are refused with 403 CROSS_SITE_REQUEST.",
                     "Use the gallery from its own address; other sites cannot log in or change anything.")]
    if seen.origin is None or origins.origin_of(seen.origin) in seen.server_origins:
        return []
    own = seen.server_origins[0] if seen.server_origins else f"{seen.scheme}://{seen.host}"
    if seen.cross_site_refusal:
        effect = "logins and every other change from it are refused with 403 CROSS_SITE_REQUEST."
    else:
        effect = ("this browser vouches for its own requests (Sec-Fetch-Site), but browsers that do not send "
                  "that header get 403 CROSS_SITE_REQUEST on every login and change.")
    return [Hint("ORIGIN_MISMATCH",
                 f"The browser is at {seen.origin} but the server takes itself for {own} (scheme and Host as the "
                 f"proxy passes them): {effect}",
                 "In nginx: proxy_set_header Host $host; (on a non-standard port $http_host, or X-Forwarded-Host) "
                 "and proxy_set_header X-Forwarded-Proto $scheme; with PHOTONIX_TRUSTED_PROXIES=1 (one per proxy); "
                 "or set PHOTONIX_PUBLIC_URL to the address the browser uses.")]


def _token_hints(seen: Observed) -> list[Hint]:
    found = []
    if seen.jwt_state == "TOKEN_INVALID":
        found.append(Hint("TOKEN_INVALID",
                          f"A token arrived ({seen.jwt_source}) whose signature does not match this server's "
                          "PHOTONIX_JWT_SECRET: the secret changed (a restart with a new one, or nodes with "
                          "different secrets), or the token is damaged.",
                          "Give every node the same fixed PHOTONIX_JWT_SECRET, then log in again."))
    elif seen.jwt_state == "TOKEN_REVOKED":
        found.append(Hint("TOKEN_REVOKED", "The token was revoked: the gallery password (or admin secret) "
                          "changed since it was issued.", "Log in again."))
    elif seen.jwt_state == "TOKEN_EXPIRED":
        found.append(Hint("TOKEN_EXPIRED", "The token has expired.",
                          "Log in again; if this happens right after logging in, check the clocks (NTP)."))
    others = [t for t in (seen.client_time, seen.jwt_issued_at) if t is not None]
    skew = max((abs(t - seen.server_time) for t in others), default=0.0)
    if skew > MAX_CLOCK_SKEW_S:
        found.append(Hint("CLOCK_SKEW", f"Clocks differ by {int(skew)} s between this server and the client "
                          "or the node that issued the token.",
                          "Keep every machine's clock synchronised (timedatectl set-ntp true)."))
    return found


def _secure_over_http() -> Hint:
    return Hint("SECURE_COOKIE_OVER_HTTP",
                "PHOTONIX_COOKIE_SECURE is true but the gallery is reached over http: browsers drop Secure "
                "cookies there, so every login seems to work and the next request is a 401.",
                "Serve the gallery over https, or set PHOTONIX_COOKIE_SECURE=auto.")


def _host_mismatch(public, seen_host: str) -> Hint:
    wanted, got = _host_port(public.scheme, public.netloc), _host_port(public.scheme, seen_host)
    if wanted[0] == got[0]:  # same name, the port got lost: nginx's $host never carries one
        fix = ("In nginx, for a site on a non-standard port: proxy_set_header Host $http_host; and "
               "proxy_set_header X-Forwarded-Host $http_host; (they keep the port), or fix PHOTONIX_PUBLIC_URL.")
    else:
        fix = "In nginx: proxy_set_header Host $host; (or X-Forwarded-Host), or fix PHOTONIX_PUBLIC_URL."
    return Hint("HOST_MISMATCH", f"The public URL's host is {public.netloc} but the server sees {seen_host}.", fix)


def _host_port(scheme: str, netloc: str) -> tuple[str, str]:
    parts = urlsplit("//" + netloc)
    try:
        port = parts.port
    except ValueError:  # a port that is not a number: compare the text as it is
        return netloc.lower(), ""
    return parts.hostname or "", str(port or _DEFAULT_PORTS.get(scheme, ""))


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
