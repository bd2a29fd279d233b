"""Real servers for the tests: PostgreSQL, Redis and gunicorn, on loopback, always torn down.

Each helper is a context manager. Outside CI a missing server binary skips the layer loudly;
in CI (CI=true) it fails, because .ci/run installs everything.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_binary(name: str, *candidates: str) -> str:
    """Path of a server binary; skip (or fail in CI) with a loud reason when it is missing."""
    for candidate in (name, *candidates):
        found = shutil.which(candidate) or next(iter(sorted(glob.glob(candidate))), None)
        if found:
            return found
    cannot_run(f"{name} is not installed: this real-component layer did not run (bash .ci/run installs it)")


def cannot_run(message: str) -> None:
    """What a test needs is missing here: skip naming it, or fail under CI=true, where everything must run."""
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout_s: float = 20.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listened on 127.0.0.1:{port} within {timeout_s}s")


def stop_process(proc: subprocess.Popen, timeout_s: float = 15.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@contextlib.contextmanager
def postgres_server(fsync: bool = False) -> Iterator[str]:
    """A throwaway PostgreSQL cluster; yields an admin URL without a database name. Without `fsync` (tests) it
    never waits for the disk; the benchmark asks for it, as a real server has it."""
    initdb = require_binary("initdb", "/usr/lib/postgresql/*/bin/initdb")
    bindir = Path(initdb).parent
    workdir = Path(tempfile.mkdtemp(prefix="photonix-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        user = pwd.getpwnam("postgres")
        os.chown(workdir, user.pw_uid, user.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    data = workdir / "data"
    subprocess.run([*run_as, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                    "-E", "UTF8", "--locale=C.UTF-8"], check=True, capture_output=True)

    def start(port: int) -> subprocess.Popen:
        return subprocess.Popen(
            [*run_as, str(bindir / "postgres"), "-D", str(data), "-p", str(port), "-k", str(workdir),
             "-c", "listen_addresses=127.0.0.1", "-c", f"fsync={'on' if fsync else 'off'}",
             "-c", "max_connections=300"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    def ours(proc: subprocess.Popen, port: int) -> bool:
        # postmaster.pid names the port and says "ready" only once this postmaster listens on it.
        with contextlib.suppress(OSError):
            lines = (data / "postmaster.pid").read_text().splitlines()
            return len(lines) > 7 and lines[3].strip() == str(port) and lines[7].strip() == "ready"
        return False

    try:
        port, proc = start_on_free_port(start, ours, 30)
        try:
            yield f"postgresql://postgres@127.0.0.1:{port}"
        finally:
            # PostgreSQL's fast shutdown (SIGINT to the postmaster itself: runuser passes on only SIGTERM, the
            # smart shutdown, which waits for every session, a test process's pooled ones too) ends them now.
            with contextlib.suppress(OSError, ValueError, IndexError):
                os.kill(int((data / "postmaster.pid").read_text().split()[0]), signal.SIGINT)
            stop_process(proc)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def create_pg_database(admin_url: str, name: str, template: str | None = None) -> str:
    """A new database on the server (a copy of `template` when given); its URL."""
    import psycopg2

    conn = psycopg2.connect(admin_url + "/postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    conn.close()
    return f"{admin_url}/{name}"


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    binary = require_binary("redis-server")

    def start(port: int) -> subprocess.Popen:
        return subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    def ours(proc: subprocess.Popen, port: int) -> bool:
        """The Redis on `port` is `proc` (INFO names its process id)."""
        reply = b""
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
            conn.sendall(b"INFO server\r\n")
            while not (found := re.search(rb"process_id:(\d+)\r\n", reply)) and (chunk := conn.recv(65536)):
                reply += chunk
            return bool(found) and int(found.group(1)) == proc.pid
        return False

    port, proc = start_on_free_port(start, ours, 15)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop_process(proc)


def start_on_free_port(start: Callable[[int], subprocess.Popen], ours: Callable[[subprocess.Popen, int], bool],
                       timeout_s: float, attempts: int = 5) -> tuple[int, subprocess.Popen]:
    """`start(port)` on a free port, again on another one while the server exits before listening (the
    port was taken between free_port and its bind: other test workers pick ports at the same time);
    `ours(proc, port)` tells this server from another process that holds the port."""
    for _ in range(attempts):
        port = free_port()
        proc = start(port)
        deadline = time.monotonic() + timeout_s
        while proc.poll() is None:
            if ours(proc, port):
                return port, proc
            if time.monotonic() > deadline:
                stop_process(proc)
                raise TimeoutError(f"the server did not listen on 127.0.0.1:{port} within {timeout_s}s")
            time.sleep(0.05)
    raise RuntimeError(f"the server exited (last with {proc.returncode}) before listening, {attempts} times")


_LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")


class Gunicorn:
    """A real `gunicorn -c gunicorn.conf.py wsgi:app` (gevent workers) with the given environment."""

    def __init__(self, env: dict[str, str], log_path: Path):
        # Port 0: gunicorn binds a port the kernel picks (`port` and `url` are known once started), so that
        # parallel test workers never race for one between choosing it and binding it.
        self.env = {**_base_env(), **env, "PHOTONIX_BIND": "127.0.0.1:0"}
        self.log_path = log_path
        self.port = 0
        self.url = ""
        self.proc: subprocess.Popen | None = None

    def start(self, timeout_s: float = 30.0) -> Gunicorn:
        """Start, and return once every worker has answered (each /health on a new connection): on a small
        machine the others are still loading the app when the first answers, and would get no request."""
        log = open(self.log_path, "ab")  # noqa: SIM115 (closed with the process)
        logged_before = log.tell()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "wsgi:app"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}:\n{self.log()}")
            if not self.port and (found := _LISTENING.search(self.log()[logged_before:])):
                self.port = int(found.group(1))
                self.url = f"http://127.0.0.1:{self.port}"
            if self.port:
                with contextlib.suppress(requests.RequestException):
                    answer = requests.get(self.url + "/health", timeout=2, headers={"Connection": "close"})
                    if answer.status_code in (200, 503) and len(self.pids("GET /health")) >= self.workers:
                        return self
            time.sleep(0.1)
        raise TimeoutError(f"not all {self.workers} gunicorn workers answered /health within {timeout_s}s:\n"
                           f"{self.log()}")

    @property
    def workers(self) -> int:
        return int(self.env.get("PHOTONIX_WORKERS") or 1)

    def pids(self, request: str) -> set[str]:
        """Worker pids that answered `request` (e.g. "POST /api/auth/login"), from gunicorn's access log."""
        return set(re.findall(rf'pid=<(\d+)> \S+ fwd=\S+ "{re.escape(request)}', self.log()))

    def worker_of(self, response: requests.Response, timeout_s: float = 5.0) -> str:
        """Pid of the worker that answered `response`: its access-log line, found by the request id. (A
        stream's line is written when the stream ends.)"""
        pattern = re.compile(rf'pid=<(\d+)> .* rid={re.escape(response.headers["X-Request-Id"])}$', re.M)
        deadline = time.monotonic() + timeout_s
        while not (found := pattern.search(self.log())):
            if time.monotonic() > deadline:
                raise AssertionError(f"no access-log line for request {response.headers['X-Request-Id']}")
            time.sleep(0.02)
        return found.group(1)

    @contextlib.contextmanager
    def connections(self, count: int, workers: int = 2, tries: int = 200) -> Iterator[list[requests.Session]]:
        """`count` kept-alive connections (one Session each, its `worker` the pid that accepted it) that reach
        at least `workers` different workers, closed on exit (an idle one would delay a graceful stop). Which
        worker accepts a new connection is the kernel's choice, and on a small busy machine one worker can
        take every connection in a row: tests that must cross workers send their requests over these, at
        once (gunicorn closes a connection idle for `keepalive`, 2 s)."""
        opened: list[requests.Session] = []
        try:
            for _ in range(tries):
                session = requests.Session()
                session.worker = self._ask_worker(session)
                opened.append(session)
                by_worker = _by_worker(opened)
                if len(opened) < count or len(by_worker) < workers:
                    continue
                chosen = _round_robin(list(by_worker.values()))[:count]
                # A session idle past `keepalive` reconnects on its own, maybe to another worker: ask again.
                for session in chosen:
                    session.worker = self._ask_worker(session)
                if len({session.worker for session in chosen}) >= workers:
                    yield chosen
                    return
            raise AssertionError(f"{tries} connections reached only {len(_by_worker(opened))} worker(s)")
        finally:
            for session in opened:
                session.close()

    def _ask_worker(self, session: requests.Session) -> str:
        return self.worker_of(session.get(self.url + "/health", timeout=5))

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)

    def __enter__(self) -> Gunicorn:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _by_worker(sessions: list[requests.Session]) -> dict[str, list[requests.Session]]:
    grouped: dict[str, list[requests.Session]] = {}
    for session in sessions:
        grouped.setdefault(session.worker, []).append(session)
    return grouped


def _round_robin(groups: list[list]) -> list:
    """Every item, taking one from each group in turn."""
    return [group[i] for i in range(max(map(len, groups))) for group in groups if i < len(group)]


def _base_env() -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV", "SYSTEMROOT")
    return {k: v for k, v in os.environ.items() if k in keep}
