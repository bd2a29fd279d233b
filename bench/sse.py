"""Workload 4 SSE: a burst of BURST streams opening at once (connect → `connected` frame, against one connect on the
idle server), then many idle event streams on one gevent worker (its RSS per stream, and /health latency
meanwhile), then one event fanned out to the first FANOUT of them (time from publish to arrival, per client).

Clients are plain non-blocking sockets in this process, read with a selector: no thread per stream.
"""

from __future__ import annotations

import selectors
import socket
import time

import requests

from bench.context import Context
from bench.probe import HealthProbe, between
from bench.server import CLOSE, REQUEST_TIMEOUT_S, BenchServer, rss_kib
from bench.stats import Row, Summary, Target, ratio

BURST = 500  # issue 24: streams opening at once (full and quick alike: it takes about a second)
SINGLES = 30  # the reference: one stream at a time on the idle server
BURST_READ_EVERY = 10  # connects between two looks at what has arrived
STREAMS = (5000, 1000)  # full, quick
FANOUT = (1000, 300)
EVENTS = (5, 3)  # events published for the fan-out figure
BATCH = 200  # connections opened before waiting for their first frames
SETTLE_S = 2.0
HOLD_S = 5.0
CONNECT_TIMEOUT_S = 60.0
DELIVERY_TIMEOUT_S = 10.0
PROBE_INTERVAL_MS = 20
REQUEST = b"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n"


def run(ctx: Context) -> None:
    photos = ctx.scratch("photos")
    streams, fanout = ctx.pick(*STREAMS), ctx.pick(*FANOUT)
    with BenchServer(photos, ctx.scratch("server"), SSE_MAX_PER_IP="100000", SSE_HEARTBEAT_SECONDS="15") as server:
        pid = server.worker_pid()
        single, burst = connect_times(server, SINGLES, 1), connect_times(server, 1, BURST)
        clients = _Clients()
        clients.open(server.gunicorn.port, 10)  # warm: the hub's poller and first allocations exist
        before = rss_kib(pid)
        with HealthProbe(server.url + "/health", PROBE_INTERVAL_MS) as probe:
            clients.open(server.gunicorn.port, streams - 10)
            started = time.monotonic()  # all connected: now they idle
            time.sleep(HOLD_S)
            held = time.monotonic()
            samples = probe.stop()
        after = rss_kib(pid)
        clients.keep(fanout)  # the fan-out target is about `fanout` connected clients
        time.sleep(SETTLE_S)
        latencies, ended_s = _fan_out(server, clients, ctx.pick(*EVENTS))
        clients.close()
    ctx.emit(Row(f"{BURST} streams opening at once, connect → connected", "ms", burst, reference="one at a time",
                 reference_value=single.median, ratio=ratio(burst.median, single.median),
                 target=Target("median", "<=", 30, "ms")))
    per_stream = (after - before) / (streams - 10)
    ctx.emit(Row(f"RSS per idle stream ({streams} streams)", "KiB", value=per_stream, target=Target("value", "<=", 24,
                                                                                                    "KiB")))
    health = Summary.of(between(samples, started, held)).scaled(1000)
    ctx.emit(Row(f"/health while {streams} streams idle", "ms", health, target=Target("p95", "<=", 100,
                                                                                                   "ms")))
    ctx.emit(Row(f"one event to {fanout} streams, publish → arrival", "ms", Summary.of(latencies).scaled(1000),
                 target=Target("p99", "<=", 1000, "ms")))
    ctx.note(f"worker RSS {before / 1024:.1f} MiB before, {after / 1024:.1f} MiB with {streams} streams")
    ctx.note(f"the worker ended the {streams - fanout} hung-up streams {ended_s:.1f} s after the event that found "
             "them (each a failed write and its clean-up); the fan-out was measured after that")


def connect_times(server: BenchServer, rounds: int, at_once: int) -> Summary:
    """Open `at_once` streams together, `rounds` times (each round's streams closed and ended on the server
    before the next); the ms from each socket's connect() to the arrival of its `connected` frame."""
    seconds: list[float] = []
    for _ in range(rounds):
        clients = _Clients()
        seconds.extend(clients.burst(server.gunicorn.port, at_once))
        clients.close()
        _wait_for_streams(server, 0, CONNECT_TIMEOUT_S)
    return Summary.of(seconds).scaled(1000)


class _Clients:
    def __init__(self) -> None:
        self.selector = selectors.DefaultSelector()
        self.socks: list[socket.socket] = []
        self.buffers: dict[int, bytes] = {}

    def open(self, port: int, count: int) -> None:
        """Connect `count` streams in batches, each read up to its `connected` frame."""
        for start in range(0, count, BATCH):
            batch = [socket.create_connection(("127.0.0.1", port), timeout=CONNECT_TIMEOUT_S)
                     for _ in range(min(BATCH, count - start))]
            for sock in batch:
                sock.sendall(REQUEST)
                sock.setblocking(False)
                self.selector.register(sock, selectors.EVENT_READ)
                self.buffers[sock.fileno()] = b""
            self.socks.extend(batch)
            self._read_until(self._connected, batch, CONNECT_TIMEOUT_S)

    def burst(self, port: int, count: int) -> list[float]:
        """Connect `count` streams one right after the other, reading meanwhile whatever has arrived, so each
        frame is timed when it comes; seconds from each connect() to its `connected` frame."""
        started: dict[int, float] = {}
        waiting: dict[int, socket.socket] = {}
        finished: dict[int, float] = {}
        for n in range(count):
            connect_at = time.monotonic()
            sock = socket.create_connection(("127.0.0.1", port), timeout=CONNECT_TIMEOUT_S)
            sock.sendall(REQUEST)
            sock.setblocking(False)
            self.selector.register(sock, selectors.EVENT_READ)
            self.buffers[sock.fileno()], started[sock.fileno()], waiting[sock.fileno()] = b"", connect_at, sock
            self.socks.append(sock)
            if n % BURST_READ_EVERY == BURST_READ_EVERY - 1:
                self._read_ready(self._connected, waiting, finished, 0.0)
        deadline = time.monotonic() + CONNECT_TIMEOUT_S
        while waiting and time.monotonic() < deadline:
            self._read_ready(self._connected, waiting, finished, 0.5)
        if waiting:
            raise TimeoutError(f"{len(waiting)} of {count} streams got no `connected` within {CONNECT_TIMEOUT_S} s")
        return [finished[fd] - at for fd, at in started.items()]

    def _connected(self, sock: socket.socket) -> bool:
        return b"event: connected" in self.buffers[sock.fileno()]

    def _read_until(self, done, socks: list[socket.socket], timeout_s: float) -> dict[int, float]:
        """Read whatever arrives until done(sock) for every sock; the monotonic time each became done."""
        waiting, finished = {s.fileno(): s for s in socks}, {}
        deadline = time.monotonic() + timeout_s
        while waiting and time.monotonic() < deadline:
            self._read_ready(done, waiting, finished, 0.5)
        if waiting:
            raise TimeoutError(f"{len(waiting)} of {len(socks)} streams got nothing within {timeout_s} s")
        return finished

    def _read_ready(self, done, waiting: dict[int, socket.socket], finished: dict[int, float], wait_s: float) -> None:
        """One select of up to `wait_s`: read every readable socket; move those now done from `waiting` to
        `finished` with the monotonic time."""
        for key, _ in self.selector.select(wait_s):
            sock = key.fileobj
            self.buffers[sock.fileno()] += sock.recv(65536)
            if sock.fileno() in waiting and done(sock):
                finished[sock.fileno()] = time.monotonic()
                del waiting[sock.fileno()]

    def keep(self, count: int) -> None:
        """Hang up all but the first `count` streams."""
        for sock in self.socks[count:]:
            self.selector.unregister(sock)
            sock.close()
        self.socks = self.socks[:count]

    def close(self) -> None:
        self.keep(0)


def _fan_out(server: BenchServer, clients: _Clients, count: int) -> tuple[list[float], float]:
    """Publish `count` events one by one; seconds from each publish to its arrival at each open stream, and
    how long the worker took to end the streams whose clients had hung up."""
    from services import events
    from services.database import bind_database, close_connection, open_database

    bind_database(open_database(f"sqlite:///{server.data_dir / 'photonix.db'}"))
    socks, latencies = clients.socks, []
    # Streams whose client hung up notice it only at their next write: one unmeasured event lets the
    # server find the closed ones, and the measuring starts once it has ended them all (/health's count),
    # so what is measured is delivery to the connected clients.
    found_at = time.monotonic()
    events.publish("settings-changed", {"keys": [], "benchFanout": -1})
    close_connection()
    clients._read_until(lambda s: b'"benchFanout":-1' in clients.buffers[s.fileno()], socks, DELIVERY_TIMEOUT_S)
    ended_s = _wait_for_streams(server, len(socks), DELIVERY_TIMEOUT_S * 6) - found_at
    time.sleep(0.5)
    for n in range(count):
        marker = f'"benchFanout":{n}'.encode()
        published = time.monotonic()
        events.publish("settings-changed", {"keys": [], "benchFanout": n})
        close_connection()
        arrived = clients._read_until(lambda s, m=marker: m in clients.buffers[s.fileno()], socks, DELIVERY_TIMEOUT_S)
        latencies.extend(at - published for at in arrived.values())
        for sock in clients.socks:
            clients.buffers[sock.fileno()] = b""
        time.sleep(0.5)
    return latencies, ended_s


def _wait_for_streams(server: BenchServer, count: int, timeout_s: float) -> float:
    """Poll /health until the worker counts `count` open streams; the monotonic time it did."""
    deadline = time.monotonic() + timeout_s
    while True:
        open_now = requests.get(server.url + "/health", headers=CLOSE, timeout=REQUEST_TIMEOUT_S).json()["streams"]
        if open_now <= count:
            return time.monotonic()
        if time.monotonic() > deadline:
            raise TimeoutError(f"the worker still had {open_now} streams open after {timeout_s} s (expected {count})")
        time.sleep(0.05)
