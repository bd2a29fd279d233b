"""The SSRF guard at connect time: a urllib3 connection that resolves a host once, refuses it unless every
address is allowed, and connects to one of the addresses it checked (no DNS-rebinding gap).

Used only through GuardedAdapter by services/downloads/fetch.py; the address rules live in addresses.py.
"""

from __future__ import annotations

import contextlib
import contextvars
import socket
import sys
import threading
import time
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3 import PoolManager
from urllib3 import exceptions as u3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.util.connection import allowed_gai_family

from errors import FetchRefused
from services.downloads.addresses import check_address

MAX_CONNECT_ATTEMPTS = 4  # of the addresses a name resolves to; every one of them is checked first

# When the status line and headers of the answer being awaited must have arrived (time.monotonic()), set by
# the fetcher around each request. A per-read timeout alone lets a server drip header bytes forever.
answer_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("answer_deadline", default=None)


def _resolve(host: str, port: int) -> list[tuple[Any, ...]]:
    """Every (family, type, proto, sockaddr) `host` resolves to; socket.gaierror when it does not."""
    infos = socket.getaddrinfo(host, port, allowed_gai_family(), socket.SOCK_STREAM)
    return [(family, kind, proto, sockaddr) for family, kind, proto, _, sockaddr in infos]


class _GuardedHTTPConnection(HTTPConnection):
    """`_new_conn` resolves once, refuses unless every address is allowed, then connects to one of those
    checked addresses itself. `host` is untouched, so TLS still sends SNI for and verifies the name."""

    def __init__(self, *args: Any, allow_private: bool = False, allowed_ports: frozenset[int] = frozenset(),
                 **kwargs: Any):
        self.allow_private = allow_private
        self.allowed_ports = allowed_ports
        super().__init__(*args, **kwargs)

    def connect(self) -> None:
        super().connect()
        self.stream_socket = self.sock  # http.client forgets self.sock once a will-close response arrives

    def getresponse(self) -> Any:
        """The answer's head, or TimeoutError (urllib3 makes it a ReadTimeoutError) when it is not all in by
        `answer_deadline`: a watchdog shuts the socket down then, which wakes the blocked read."""
        deadline = answer_deadline.get()
        if deadline is None or self.sock is None:
            return super().getresponse()
        sock = self.sock
        cut = threading.Event()

        def shut_down() -> None:
            cut.set()
            with contextlib.suppress(OSError):  # already closed: nothing left to wake
                sock.shutdown(socket.SHUT_RDWR)

        watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), shut_down)
        watchdog.daemon = True
        watchdog.start()
        try:
            response = super().getresponse()
        except Exception as exc:
            if cut.is_set():  # the read failed because the watchdog cut it
                raise TimeoutError("the answer's head did not arrive in time") from exc
            raise
        finally:
            watchdog.cancel()
        if cut.is_set():  # an EOF inside the head ends it early in http.client: the answer is not whole
            response.close()
            raise TimeoutError("the answer's head did not arrive in time")
        return response

    def _new_conn(self) -> socket.socket:
        if self.port not in self.allowed_ports:
            raise FetchRefused(f"{self.host}: port {self.port} is not an allowed port.")
        try:
            addresses = _resolve(self._dns_host.strip("[]"), self.port)
        except (OSError, UnicodeError) as exc:
            raise u3.NameResolutionError(self.host, self, exc) from exc  # type: ignore[arg-type]
        for *_, sockaddr in addresses:
            try:
                check_address(sockaddr[0], self.allow_private)
            except FetchRefused as exc:
                raise FetchRefused(f"{self.host}: {exc.message}") from None
        return self._connect_first(addresses[:MAX_CONNECT_ATTEMPTS])

    def _connect_first(self, addresses: list[tuple[Any, ...]]) -> socket.socket:
        error = OSError("the name resolved to no address")
        for family, kind, proto, sockaddr in addresses:
            sock = socket.socket(family, kind, proto)
            try:
                for option in self.socket_options or ():
                    sock.setsockopt(*option)
                sock.settimeout(self.timeout if isinstance(self.timeout, int | float) else None)
                sock.connect(sockaddr)
            except OSError as exc:
                sock.close()
                error = exc
                continue
            sys.audit("http.client.connect", self, self.host, self.port)
            return sock
        if isinstance(error, TimeoutError):
            raise u3.ConnectTimeoutError(self, f"Connection to {self.host} timed out.")
        raise u3.NewConnectionError(self, f"Failed to establish a new connection: {error}")


class _GuardedHTTPSConnection(_GuardedHTTPConnection, HTTPSConnection):
    pass


class _GuardedPoolManager(PoolManager):
    """Every pool it makes opens its connections through the guard, with these rules."""

    def __init__(self, allow_private: bool, allowed_ports: frozenset[int], **kwargs: Any):
        self._rules = {"allow_private": allow_private, "allowed_ports": allowed_ports}
        super().__init__(**kwargs)

    def _new_pool(self, scheme: str, host: str, port: int, request_context: dict[str, Any] | None = None) -> Any:
        pool = super()._new_pool(scheme, host, port, request_context)
        pool.ConnectionCls = _GuardedHTTPSConnection if scheme == "https" else _GuardedHTTPConnection
        pool.conn_kw.update(self._rules)
        return pool


class GuardedAdapter(HTTPAdapter):
    """Mount on a requests.Session (for http:// and https://): every connection goes through the guard.
    No retries, and no proxies (a proxy would connect on our behalf to an address we never checked)."""

    def __init__(self, allow_private: bool, allowed_ports: frozenset[int]):
        self._rules = (allow_private, allowed_ports)  # before super().__init__, which calls init_poolmanager
        super().__init__(max_retries=0)

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        self.poolmanager = _GuardedPoolManager(*self._rules, num_pools=connections, maxsize=maxsize, block=block,
                                               **pool_kwargs)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        raise FetchRefused("Fetching through a proxy is not supported.")
