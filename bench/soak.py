"""Workload 8 Soak (issue 10): minutes of mixed traffic on one gevent worker of a password-protected gallery,
the way a public server lives: viewers browsing, searching, opening originals with Range and thumbnails warm
and cold; logins (bcrypt); the owner changing settings (events); event streams that connect and vanish (FIN or
RST); and hostile requests (forged tokens, traversal, bad JSON, huge ids). A probe process times `/health`
throughout.

Figures: answers of 5xx (target 0: every hostile request is a 4xx), `/health` p99, and what is left once the
load stops and the streams have ended: open streams, descriptors and resident memory of the worker, compared
with the same worker after a warm-up round of the same traffic.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import requests

from bench import data
from bench.context import Context
from bench.probe import HealthProbe, between
from bench.server import ADMIN_SECRET, CLOSE, PASSWORD, REQUEST_TIMEOUT_S, BenchServer, rss_kib
from bench.stats import Row, Summary, Target

SOAK_S = (180.0, 25.0)  # full, quick; the probe process stops by itself after 300 s
WARM_UP_S = (20.0, 5.0)
PHOTOS = (16, 6)
COLD_EVERY_S = 10.0  # the thumbnail cache is emptied this often, so generation keeps going
PROBE_INTERVAL_MS = 50
DRAIN_TIMEOUT_S = 20.0
FD_MARGIN = 8  # descriptors that come and go on their own (database files, the WAL, a log)
HOSTILE_PATHS = (
    "/api/browse/..%2f..%2fetc", "/api/file/../../etc/passwd", "/api/file//etc/passwd", "/api/thumbnail?path=..",
    "/api/file/a%00b.jpg", "/api/browse/" + "x" * 5000, "/api/download/tasks/99999999999999999999",
    "/api/search?q=" + "%" * 300, "/api/browse?limit=-1", "/api/file/.env",
)
FORGED_TOKENS = (
    "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "a.b", "a.b.c.d", "x" * 16_000,
    "eyJhbGciOiJIUzUxMiJ9.eyJzdWIiOiJ2aWV3ZXIifQ.AAAA",
)


class _Tally:
    """Answers by status, from every client thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.statuses: Counter[int] = Counter()
        self.server_errors: list[str] = []

    def add(self, response: requests.Response) -> requests.Response:
        with self.lock:
            self.statuses[response.status_code] += 1
            if response.status_code >= 500 and response.status_code != 503:
                self.server_errors.append(f"{response.request.method} {response.request.path_url[:120]} → "
                                          f"{response.status_code} {response.text[:200]}")
        return response


def run(ctx: Context) -> None:
    photos = data.photo_pool(ctx.inputs, ctx.pick(*PHOTOS))
    with BenchServer(photos[0].parent, ctx.scratch("server"), SSE_MAX_PER_IP="100000",
                     SSE_HEARTBEAT_SECONDS="5") as server:
        server.admin({"newPassword": PASSWORD})
        pid = server.worker_pid()
        tally = _Tally()
        _traffic(server, photos, tally, time.monotonic() + ctx.pick(*WARM_UP_S))
        _drain(server)
        rss_before, fds_before = _rss_mib(pid), _fds(pid)
        ctx.log(f"warmed up: RSS {rss_before:.1f} MiB, {fds_before} descriptors; soaking")
        tally = _Tally()
        with HealthProbe(server.url + "/health", PROBE_INTERVAL_MS) as probe:
            started = time.monotonic()
            _traffic(server, photos, tally, started + ctx.pick(*SOAK_S))
            ended = time.monotonic()
            samples = probe.stop()
        streams_left = _drain(server)
        rss_after, fds_after = _rss_mib(pid), _fds(pid)
        restarted = server.worker_pid() != pid
    total = sum(tally.statuses.values())
    errors = len(tally.server_errors)
    ctx.emit(Row(f"answers 5xx (not 503) in {total} requests", "answers", value=errors,
                 target=Target("value", "<=", 0)))
    health = Summary.of(between(samples, started, ended)).scaled(1000)
    ctx.emit(Row("/health during the soak", "ms", health, target=Target("p99", "<=", 100, "ms")))
    ctx.emit(Row("event streams still open after the load", "streams", value=streams_left,
                 target=Target("value", "<=", 0)))
    ctx.emit(Row("worker descriptors after the load vs after warm-up", "fds", value=fds_after - fds_before,
                 target=Target("value", "<=", FD_MARGIN)))
    ctx.emit(Row("worker RSS after the load vs after warm-up", "MiB", value=rss_after - rss_before,
                 note=f"{rss_before:.1f} → {rss_after:.1f} MiB over {ended - started:.0f} s"))
    by_status = ", ".join(f"{status}: {count}" for status, count in sorted(tally.statuses.items()))
    ctx.note(f"{total} requests in {ended - started:.0f} s ({total / (ended - started):.0f}/s): {by_status}")
    for line in tally.server_errors[:5]:
        ctx.note(f"5xx: {line}")
    if restarted:
        ctx.note("the worker was replaced during the soak: its figures are not comparable")


def _traffic(server: BenchServer, photos: list[Path], tally: _Tally, until: float) -> None:
    """Every kind of client on its own thread until `until`; re-raises the first client that crashed."""
    token = server.login()
    bearer = {"Authorization": f"Bearer {token}"}
    names = [path.name for path in photos]
    kinds: list[Callable[[requests.Session], None]] = [
        lambda s: _viewer(s, server.url, bearer, names, tally),
        lambda s: _viewer(s, server.url, bearer, names, tally),
        lambda s: _thumbnails(s, server, bearer, names, tally),
        lambda s: _logins(s, server.url, tally),
        lambda s: _owner(s, server.url, tally),
        lambda s: _hostile(s, server.url, tally),
        lambda s: _streams(server, bearer),
    ]
    failures: list[BaseException] = []

    def loop(kind: Callable[[requests.Session], None]) -> None:
        try:
            with requests.Session() as session:
                while time.monotonic() < until:
                    kind(session)
        except BaseException as error:  # re-raised on the workload's thread
            failures.append(error)

    threads = [threading.Thread(target=loop, args=(kind,), daemon=True) for kind in kinds]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(until - time.monotonic() + REQUEST_TIMEOUT_S * 2)
    if failures:
        raise failures[0]


def _viewer(session: requests.Session, url: str, bearer: dict, names: list[str], tally: _Tally) -> None:
    for path in ("/api/browse", "/api/browse?sort=name_desc&limit=5", "/api/search?q=" + quote(names[0][:4]),
                 "/api/browse/viewed"):
        tally.add(session.get(url + path, headers=bearer, timeout=REQUEST_TIMEOUT_S))
    name = names[int(time.monotonic() * 1000) % len(names)]
    tally.add(session.get(f"{url}/api/file/{quote(name)}", headers={**bearer, "Range": "bytes=0-65535"},
                          timeout=REQUEST_TIMEOUT_S))
    tally.add(session.get(f"{url}/api/thumbnail?path={quote(name)}&v=1", headers=bearer, timeout=REQUEST_TIMEOUT_S))
    tally.add(session.post(url + "/api/browse/viewed", json={"path": ""}, headers=bearer, timeout=REQUEST_TIMEOUT_S))


def _thumbnails(session: requests.Session, server: BenchServer, bearer: dict, names: list[str],
                tally: _Tally) -> None:
    """Empty the cache, then ask for every thumbnail as a polite client (Retry-After after a 202)."""
    server.clear_thumbnails()
    cold_until = time.monotonic() + COLD_EVERY_S
    for name in names:
        while True:
            answer = tally.add(session.get(f"{server.url}/api/thumbnail?path={quote(name)}&v=1", headers=bearer,
                                           timeout=REQUEST_TIMEOUT_S))
            if answer.status_code != 202:
                break
            time.sleep(float(answer.headers.get("Retry-After", 1)))
    time.sleep(max(0.0, cold_until - time.monotonic()))


def _logins(session: requests.Session, url: str, tally: _Tally) -> None:
    tally.add(session.post(url + "/api/auth/login", json={"password": PASSWORD}, headers=CLOSE,
                           timeout=REQUEST_TIMEOUT_S))
    time.sleep(0.5)


def _owner(session: requests.Session, url: str, tally: _Tally) -> None:
    admin = {"X-Admin-Secret": ADMIN_SECRET}
    tally.add(session.post(url + "/api/settings", json={"siteTitle": f"Soak {time.monotonic():.0f}"},
                           headers=admin, timeout=REQUEST_TIMEOUT_S))
    tally.add(session.get(url + "/api/settings/status", headers=admin, timeout=REQUEST_TIMEOUT_S))
    time.sleep(1.0)


def _hostile(session: requests.Session, url: str, tally: _Tally) -> None:
    for token in FORGED_TOKENS:
        tally.add(session.get(url + "/api/browse", headers={"Authorization": f"Bearer {token}"},
                              timeout=REQUEST_TIMEOUT_S))
    for path in HOSTILE_PATHS:
        tally.add(session.get(url + path, headers={"X-Admin-Secret": ADMIN_SECRET}, timeout=REQUEST_TIMEOUT_S))
    tally.add(session.post(url + "/api/settings", data=b"{not json", timeout=REQUEST_TIMEOUT_S,
                           headers={"X-Admin-Secret": ADMIN_SECRET, "Content-Type": "application/json"}))
    time.sleep(0.2)


def _streams(server: BenchServer, bearer: dict) -> None:
    """One event stream: connect, read up to its `connected` frame, then vanish (FIN or RST by turns)."""
    request = (f"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {bearer['Authorization']}\r\n"
               "Accept: text/event-stream\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", server.gunicorn.port), timeout=REQUEST_TIMEOUT_S) as sock:
        sock.sendall(request)
        received = b""
        while b"event: connected" not in received:
            chunk = sock.recv(4096)
            if not chunk:
                raise RuntimeError(f"an event stream ended before its connected frame: {received[:200]!r}")
            received += chunk
        if int(time.monotonic() * 10) % 2:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    time.sleep(0.05)


def _drain(server: BenchServer) -> int:
    """Wait until the worker has ended every event stream (or DRAIN_TIMEOUT_S); how many are still open."""
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while True:
        streams = requests.get(server.url + "/health", headers=CLOSE, timeout=REQUEST_TIMEOUT_S).json()["streams"]
        if streams == 0 or time.monotonic() > deadline:
            return streams
        time.sleep(0.2)


def _fds(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/fd").iterdir()))



def _rss_mib(pid: int) -> float:
    return rss_kib(pid) / 1024
