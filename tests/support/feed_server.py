"""A real threaded HTTP server on loopback serving canned routes to the download-center tests.

Records every request; answers 404 for unknown paths. Always shut down, drips included, on exit.
"""

from __future__ import annotations

import contextlib
import gzip as gzip_module
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

HANDLER_SOCKET_TIMEOUT_S = 5.0
SHUTDOWN_JOIN_S = 1.5
POLL_INTERVAL_S = 0.02
CLIENT_GONE = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, socket.timeout)


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    drip_bytes_per_s: float | None = None
    handler: Callable[[BaseHTTPRequestHandler], None] | None = None
    etag: str | None = None
    last_modified: str | None = None
    content_length: int | None = None  # announced instead of the real length (to lie)


class FeedServer:
    """Routes by path (the query string is ignored for routing and `hits`)."""

    def __init__(self, host: str, ssl_context: ssl.SSLContext | None = None):
        self.host = host
        self.scheme = "http" if ssl_context is None else "https"
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.stopping = threading.Event()
        self._routes: dict[str, Route] = {}
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self.httpd = ThreadingHTTPServer((host, 0), _Handler)
        self.httpd.daemon_threads = True
        if ssl_context is not None:
            self.httpd.socket = ssl_context.wrap_socket(self.httpd.socket, server_side=True)
        self.httpd.feed = self  # type: ignore[attr-defined]
        self.port: int = self.httpd.server_address[1]

    def url(self, path: str, host: str | None = None) -> str:
        return f"{self.scheme}://{host or self.host}:{self.port}{path}"

    def route(self, path: str, body: bytes = b"", status: int = 200, headers: dict[str, str] | None = None, *,
              gzip: bool = False, drip_bytes_per_s: float | None = None, redirect_to: str | None = None,
              handler: Callable[[BaseHTTPRequestHandler], None] | None = None, etag: str | None = None,
              last_modified: str | None = None, content_length: int | None = None) -> None:
        headers = dict(headers or {})
        if gzip:
            body = gzip_module.compress(body)
            headers["Content-Encoding"] = "gzip"
        if redirect_to is not None:
            headers["Location"] = redirect_to
            status = 302 if status == 200 else status
        self._routes[path] = Route(body, status, headers, drip_bytes_per_s, handler, etag, last_modified,
                                   content_length)

    def serve_file(self, path: str, file_path: str | Path, content_type: str) -> None:
        self.route(path, Path(file_path).read_bytes(), headers={"Content-Type": content_type})

    def hits(self, path: str) -> int:
        with self._lock:
            return sum(1 for _, seen, _ in self.requests if urlsplit(seen).path == path)

    def _answer(self, request: _Handler) -> None:
        with self._lock:
            self.requests.append((request.command, request.path, dict(request.headers.items())))
            self._threads.append(threading.current_thread())
        route = self._routes.get(urlsplit(request.path).path)
        if route is None:
            return self._send(request, Route(b"not found", 404))
        if route.handler is not None:
            return route.handler(request)
        if _not_modified(route, request):
            return self._send(request, Route(b"", 304, _validators(route)))
        self._send(request, route)

    def _send(self, request: _Handler, route: Route) -> None:
        try:
            request.send_response(route.status)
            length = len(route.body) if route.content_length is None else route.content_length
            for name, value in {"Content-Length": str(length), **_validators(route), **route.headers}.items():
                request.send_header(name, value)
            request.end_headers()
            if route.drip_bytes_per_s is None:
                request.wfile.write(route.body)
                return
            for index in range(len(route.body)):
                request.wfile.write(route.body[index:index + 1])
                if self.stopping.wait(1 / route.drip_bytes_per_s):
                    return
        except CLIENT_GONE:
            request.close_connection = True

    def stop(self) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        with self._lock:
            threads = list(self._threads)
        deadline = time.monotonic() + SHUTDOWN_JOIN_S
        for thread in threads:
            thread.join(max(deadline - time.monotonic(), 0))


class _Handler(BaseHTTPRequestHandler):
    timeout = HANDLER_SOCKET_TIMEOUT_S  # a client that stops reading cannot hold a thread for long
    server: ThreadingHTTPServer

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.server.feed._answer(self)  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: object) -> None:  # keep test output clean
        pass


def _validators(route: Route) -> dict[str, str]:
    found = {"ETag": route.etag, "Last-Modified": route.last_modified}
    return {name: value for name, value in found.items() if value}


def _not_modified(route: Route, request: BaseHTTPRequestHandler) -> bool:
    if route.etag and request.headers.get("If-None-Match") == route.etag:
        return True
    return bool(route.last_modified and request.headers.get("If-Modified-Since") == route.last_modified)


@contextlib.contextmanager
def feed_server(host: str = "127.0.0.1", ssl_context: ssl.SSLContext | None = None) -> Iterator[FeedServer]:
    """A started FeedServer on `host`, port 0 (https with `ssl_context`); stopped, drips cut short, on exit."""
    server = FeedServer(host, ssl_context)
    thread = threading.Thread(target=server.httpd.serve_forever, args=(POLL_INTERVAL_S,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stop()
        thread.join(SHUTDOWN_JOIN_S)
