"""The one HTTP client for outbound fetches: SSRF-guarded at connect time, bounded in time and in bytes.

The connection (guard.py) resolves a host once, checks every address and connects to a checked one (no DNS
rebinding gap). Only errors.DownloadFailed subclasses leave this module; cookies are never logged.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import io
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from http.cookiejar import DefaultCookiePolicy
from typing import BinaryIO
from urllib.parse import SplitResult, urljoin, urlsplit

import requests
from urllib3 import exceptions as u3

from errors import DownloadFailed, FetchTimeout, FetchTooLarge
from services.downloads.addresses import check_url
from services.downloads.guard import GuardedAdapter, answer_deadline
from services.logtext import escape
from services.version import VERSION

log = logging.getLogger(__name__)

CHUNK_BYTES = 64 * 1024
ACCEPT_ENCODING = "gzip, deflate"
RETRYABLE_STATUSES = frozenset({408, 425, 429})  # and every 5xx


@dataclass(frozen=True)
class FetchPolicy:
    allow_private_hosts: bool = False
    allowed_ports: frozenset[int] = frozenset({80, 443})
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 30.0  # per socket read, capped by what is left of the total
    total_timeout_s: float = 60.0  # wall clock for the whole fetch incl. redirects
    max_redirects: int = 5
    user_agent: str = f"Photonix/{VERSION} (+self-hosted gallery)"


@dataclass(frozen=True)
class FetchResult:
    url: str  # final URL after redirects
    status: int  # 200, or 304 when a conditional GET found nothing new
    content_type: str | None
    etag: str | None
    last_modified: str | None
    body: bytes | None  # fetch_bytes only
    size: int  # bytes after decompression
    sha256: str | None  # fetch_to_file only: hex digest of what was written


class Fetcher:
    """Fetches http(s) URLs under one FetchPolicy; safe to share between threads and greenlets.

    Raises only DownloadFailed subclasses for what the remote side does (FetchRefused, FetchTimeout,
    FetchTooLarge); an error from the caller's own `out` file propagates unchanged.
    """

    def __init__(self, policy: FetchPolicy):
        self.policy = policy
        self._session = requests.Session()
        self._session.trust_env = False  # no proxies, netrc or CA bundle from the environment
        self._session.headers.clear()
        self._session.headers.update({"User-Agent": policy.user_agent, "Accept": "*/*",
                                      "Accept-Encoding": ACCEPT_ENCODING})
        self._session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))  # never store Set-Cookie
        adapter = GuardedAdapter(policy.allow_private_hosts, policy.allowed_ports)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)

    def fetch_bytes(self, url: str, max_bytes: int, *, etag: str | None = None, last_modified: str | None = None,
                    cookie: str | None = None, accept: str | None = None) -> FetchResult:
        """The body, decoded, of at most `max_bytes`; status 304 and body None when `etag` or
        `last_modified` was given and the server found nothing new (the given validators are kept
        when the 304 does not repeat them)."""
        headers = _headers(accept=accept, etag=etag, last_modified=last_modified)
        deadline = time.monotonic() + self.policy.total_timeout_s
        with self._open(url, headers, cookie, deadline, conditional=bool(etag or last_modified)) as response:
            if response.status_code == 304:
                return _result(response, 0, etag=etag, last_modified=last_modified)
            buffer = io.BytesIO()
            size = self._read(response, max_bytes, deadline, buffer.write)
            return _result(response, size, body=buffer.getvalue())

    def fetch_to_file(self, url: str, out: BinaryIO, max_bytes: int, *, cookie: str | None = None,
                      referer: str | None = None, accept: str | None = None) -> FetchResult:
        """Writes the decoded body (at most `max_bytes`) to `out`; sha256 is the digest of what was
        written. After an error `out` may hold part of the body: the caller discards it."""
        deadline = time.monotonic() + self.policy.total_timeout_s
        with self._open(url, _headers(accept=accept, referer=referer), cookie, deadline, False) as response:
            digest = hashlib.sha256()

            def sink(chunk: bytes) -> None:
                out.write(chunk)
                digest.update(chunk)

            size = self._read(response, max_bytes, deadline, sink)
            return _result(response, size, sha256=digest.hexdigest())

    @contextlib.contextmanager
    def post(self, url: str, body: bytes, max_bytes: int, headers: Mapping[str, str]) -> Iterator[Iterator[bytes]]:
        """POST `body` and yield an iterator over the decoded answer's chunks as they arrive: at most `max_bytes`
        in all, within the total deadline. The URL is checked like every fetch; a redirect is not followed (its
        target would get the body and headers) but is an error, as is any answer that is not 2xx (httpStatus)."""
        deadline = time.monotonic() + self.policy.total_timeout_s
        parts = check_url(url, self.policy.allowed_ports, allow_private=self.policy.allow_private_hosts)
        response = self._send("POST", parts.geturl(), dict(headers), deadline, body)
        with contextlib.closing(response):
            if 300 <= response.status_code < 400:
                raise DownloadFailed(f"{parts.hostname} answered with a redirect (HTTP {response.status_code}); "
                                     "redirects are not followed here.", retryable=False,
                                     httpStatus=response.status_code)
            yield self._chunks(_successful(response, False), max_bytes, deadline)

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _open(self, url: str, headers: dict[str, str], cookie: str | None, deadline: float,
              conditional: bool) -> requests.Response:
        """The final response (2xx, or 304 when `conditional`) after following redirects by hand.

        Each hop is checked statically before connecting; the cookie goes only to the first URL's host."""
        origin = check_url(url, self.policy.allowed_ports, allow_private=self.policy.allow_private_hosts)
        for _ in range(self.policy.max_redirects + 1):
            parts = check_url(url, self.policy.allowed_ports, allow_private=self.policy.allow_private_hosts)
            url = parts.geturl()
            with_cookie = {"Cookie": cookie} if cookie and _same_site(origin, parts) else {}
            response = self._get(url, headers | with_cookie, deadline)
            target = _redirect_target(self._session, response)
            if target is None:
                return _successful(response, conditional)
            response.close()
            url = urljoin(url, target)
        raise DownloadFailed(f"{origin.hostname}: too many redirects (more than {self.policy.max_redirects}).",
                             retryable=False)

    def _get(self, url: str, headers: dict[str, str], deadline: float) -> requests.Response:
        return self._send("GET", url, headers, deadline)

    def _send(self, method: str, url: str, headers: dict[str, str], deadline: float,
              body: bytes | None = None) -> requests.Response:
        host = urlsplit(url).hostname
        remaining = self._remaining(deadline, host)
        timeout = (min(self.policy.connect_timeout_s, remaining), min(self.policy.read_timeout_s, remaining))
        armed = answer_deadline.set(deadline)  # the head as a whole, not only each read of it (guard.py)
        try:
            response = self._session.request(method, url, headers=headers, data=body, stream=True,
                                             allow_redirects=False, timeout=timeout)
        except requests.exceptions.InvalidHeader:  # `from None`: its text would repeat the cookie (or a key)
            raise DownloadFailed("A cookie, referer, accept or key value is not a valid header.",
                                 retryable=False) from None
        except requests.Timeout as exc:
            raise FetchTimeout(f"{host} did not answer in time.") from exc
        except requests.RequestException as exc:
            raise DownloadFailed(f"{host} could not be reached: {_reason(exc)}.") from exc
        finally:
            answer_deadline.reset(armed)
        log.debug("%s to %s answered %s", method, escape(host), response.status_code)
        return response

    def _read(self, response: requests.Response, max_bytes: int, deadline: float,
              sink: Callable[[bytes], None]) -> int:
        """Feeds the decoded body to `sink` chunk by chunk; returns its size in bytes.

        One read1 is at most one socket read, and each gets what is left of the deadline as its timeout,
        so a server dripping bytes cannot outlast the deadline. The cap counts decoded bytes."""
        size = 0
        for chunk in self._chunks(response, max_bytes, deadline):
            size += len(chunk)
            sink(chunk)
        return size

    def _chunks(self, response: requests.Response, max_bytes: int, deadline: float) -> Iterator[bytes]:
        """The decoded body chunk by chunk as it arrives (_next_chunk), at most `max_bytes` in all."""
        host = urlsplit(response.url).hostname
        declared = response.headers.get("Content-Length", "").strip()
        if declared.isascii() and declared.isdigit() and int(declared) > max_bytes:
            raise FetchTooLarge(f"{host} announced {declared} bytes; the limit is {max_bytes}.", maxBytes=max_bytes)
        size = 0
        while chunk := self._next_chunk(response, deadline, host):
            size += len(chunk)
            if size > max_bytes:
                raise FetchTooLarge(f"{host} sent more than {max_bytes} bytes.", maxBytes=max_bytes)
            yield chunk

    def _next_chunk(self, response: requests.Response, deadline: float, host: str | None) -> bytes:
        raw = response.raw
        remaining = self._remaining(deadline, host)
        sock = getattr(raw.connection, "stream_socket", None)  # None once the body is all in (conn released)
        try:
            if sock is not None:
                sock.settimeout(min(self.policy.read_timeout_s, remaining))
            return raw.read1(CHUNK_BYTES, decode_content=True) or b""
        except (u3.ReadTimeoutError, TimeoutError) as exc:
            # The same words whichever check noticed the deadline first (this read or _remaining's)
            if remaining < self.policy.read_timeout_s:
                raise self._past_deadline(host) from exc
            raise FetchTimeout(f"{host} was too slow sending its answer.") from exc
        except u3.DecodeError as exc:
            raise DownloadFailed(f"{host} sent a body that does not decompress.", retryable=False) from exc
        except (u3.HTTPError, http.client.HTTPException, OSError) as exc:
            raise DownloadFailed(f"{host} broke off its answer: {type(exc).__name__}.") from exc

    def _remaining(self, deadline: float, host: str | None) -> float:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise self._past_deadline(host)
        return remaining

    def _past_deadline(self, host: str | None) -> FetchTimeout:
        return FetchTimeout(f"{host} was too slow: it did not finish within {self.policy.total_timeout_s:g} s.")


def _headers(**values: str | None) -> dict[str, str]:
    names = {"accept": "Accept", "etag": "If-None-Match", "last_modified": "If-Modified-Since", "referer": "Referer"}
    return {names[key]: value for key, value in values.items() if value}


def _same_site(origin: SplitResult, parts: SplitResult) -> bool:
    """Whether a cookie meant for `origin` may go to `parts`: same host name, and never from https to http."""
    return parts.hostname == origin.hostname and not (origin.scheme == "https" and parts.scheme == "http")


def _redirect_target(session: requests.Session, response: requests.Response) -> str | None:
    try:
        return session.get_redirect_target(response)
    except UnicodeError:  # a Location header that is not UTF-8
        response.close()
        host = urlsplit(response.url).hostname
        raise DownloadFailed(f"{host} redirected to an unreadable address.", retryable=False) from None


def _successful(response: requests.Response, conditional: bool) -> requests.Response:
    status = response.status_code
    if 200 <= status < 300 or (status == 304 and conditional):
        return response
    response.close()
    host = urlsplit(response.url).hostname
    retryable = status in RETRYABLE_STATUSES or status >= 500
    raise DownloadFailed(f"{host} answered HTTP {status}.", retryable=retryable, httpStatus=status)


def _reason(exc: requests.RequestException) -> str:
    if isinstance(exc, requests.exceptions.SSLError):
        return "the TLS handshake or certificate check failed"
    cause = getattr(exc.args[0], "reason", None) if exc.args else None
    return "its name does not resolve" if isinstance(cause, u3.NameResolutionError) else "the connection failed"


def _result(response: requests.Response, size: int, *, body: bytes | None = None, sha256: str | None = None,
            etag: str | None = None, last_modified: str | None = None) -> FetchResult:
    headers = response.headers
    return FetchResult(url=response.url, status=response.status_code, content_type=headers.get("Content-Type"),
                       etag=headers.get("ETag") or etag, last_modified=headers.get("Last-Modified") or last_modified,
                       body=body, size=size, sha256=sha256)
