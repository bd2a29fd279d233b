"""A real Photonix server for a workload: tests.support.servers.Gunicorn (gevent workers) over a photos folder,
with its own data folder and SQLite database, started after the schema exists and used only on 127.0.0.1.

Also the HTTP helpers every workload shares (timed requests, admin calls, login).
"""

from __future__ import annotations

import os
import secrets
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import requests

from bench.index_scan import url_of
from tests.support.servers import Gunicorn

ADMIN_SECRET = "bench-admin-secret-0123"  # noqa: S105 (a throwaway server on loopback)
PASSWORD = "bench gallery password"  # noqa: S105
RATE_LIMIT = "100000/minute"  # the global limit must not shape the figures
SCAN_INTERVAL_S = 86_400  # no periodic rescan while measuring
CLOSE = {"Connection": "close"}  # an idle keep-alive connection would hold the graceful stop for 10 s
REQUEST_TIMEOUT_S = 60
POLL_S = 0.1


class BenchServer:
    """`with BenchServer(photos, scratch) as server:` starts gunicorn and waits for its first index scan."""

    def __init__(self, photos: Path, scratch: Path, scan_timeout_s: float = 120.0,
                 database: Path | str | None = None, **variables: str) -> None:
        """`database`: an SQLite file or a postgresql:// URL indexed already (its first scan then only checks the
        tree)."""
        self.data_dir = scratch / "data"
        self.data_dir.mkdir(parents=True)
        database_url = url_of(database or self.data_dir / "photonix.db")
        _create_schema(database_url)
        env = {"PHOTONIX_PHOTOS_DIR": str(photos), "PHOTONIX_DATA_DIR": str(self.data_dir),
               "PHOTONIX_DATABASE_URL": database_url, "PHOTONIX_JWT_SECRET": secrets.token_urlsafe(48),
               "PHOTONIX_ADMIN_SECRET": ADMIN_SECRET, "PHOTONIX_RATE_LIMIT": RATE_LIMIT,
               "PHOTONIX_SCAN_INTERVAL_SECONDS": str(SCAN_INTERVAL_S),
               **{f"PHOTONIX_{name}": value for name, value in variables.items()}}
        self.gunicorn = Gunicorn(env, scratch / "gunicorn.log")
        self.scan_timeout_s = scan_timeout_s
        self.index: dict[str, Any] = {}

    def __enter__(self) -> BenchServer:
        self.gunicorn.start()
        try:
            self.index = self.wait_for_index()
        except BaseException:
            self.gunicorn.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.gunicorn.stop()

    @property
    def url(self) -> str:
        """http://127.0.0.1:<port>, known once started (gunicorn binds a port the kernel picks)."""
        return self.gunicorn.url

    def wait_for_index(self) -> dict[str, Any]:
        """GET /api/settings/status until the first background scan has finished; its state."""
        deadline = time.monotonic() + self.scan_timeout_s
        while time.monotonic() < deadline:
            state = requests.get(self.url + "/api/settings/status", headers=CLOSE, timeout=REQUEST_TIMEOUT_S)
            index = state.json()["index"]
            if index.get("finishedAt") and not index.get("running"):
                return index
            time.sleep(POLL_S)
        raise TimeoutError(f"no index scan finished within {self.scan_timeout_s} s:\n{self.gunicorn.log()[-3000:]}")

    def worker_pid(self) -> int:
        """The pid of the (first) gevent worker: a child of the gunicorn master."""
        master = self.gunicorn.proc.pid
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = _stat_fields(stat)
            except OSError:
                continue
            if int(fields[1]) == master:
                return int(stat.parent.name)
        raise RuntimeError(f"gunicorn master {master} has no worker")

    def admin(self, changes: dict[str, Any]) -> None:
        """POST /api/settings as the owner (X-Admin-Secret)."""
        response = requests.post(self.url + "/api/settings", json=changes, timeout=REQUEST_TIMEOUT_S,
                                 headers={"X-Admin-Secret": ADMIN_SECRET, **CLOSE})
        response.raise_for_status()

    def login(self, password: str = PASSWORD) -> str:
        """A viewer's Bearer token from POST /api/auth/login."""
        response = requests.post(self.url + "/api/auth/login", json={"password": password}, headers=CLOSE,
                                 timeout=REQUEST_TIMEOUT_S)
        response.raise_for_status()
        return response.json()["token"]

    def clear_thumbnails(self) -> None:
        """Forget every made thumbnail, so the next requests find the cache cold."""
        shutil.rmtree(self.data_dir / "thumbs", ignore_errors=True)

    def log_tail(self, chars: int = 3000) -> str:
        return self.gunicorn.log()[-chars:]


def timed_get(session: requests.Session, url: str, **kwargs: Any) -> tuple[float, requests.Response]:
    """Seconds from sending the request to having the whole body, and the response."""
    started = time.perf_counter()
    response = session.get(url, timeout=REQUEST_TIMEOUT_S, **kwargs)
    return time.perf_counter() - started, response


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of process `pid` so far, all its threads."""
    fields = _stat_fields(Path(f"/proc/{pid}/stat"))
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _stat_fields(stat: Path) -> list[str]:
    """The fields of a /proc/<pid>/stat after the command name (which may hold spaces and parentheses):
    [0] is the state, [1] the parent pid, [11] utime, [12] stime."""
    return stat.read_text().rsplit(")", 1)[1].split()


def rss_kib(pid: int) -> float:
    """Resident memory of process `pid` now, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return float(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


class PeakRss:
    """`with PeakRss(pid) as peak:` samples process `pid`'s VmRSS every `every_s` while the block runs;
    `peak.growth_kib` is then its highest value less the one at the start (KiB)."""

    def __init__(self, pid: int, every_s: float = 0.05):
        self.pid, self.every_s = pid, every_s
        self.before = self.peak = 0.0
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> PeakRss:
        self.before = self.peak = rss_kib(self.pid)
        self._sampler.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._sampler.join()

    @property
    def growth_kib(self) -> float:
        return self.peak - self.before

    def _sample(self) -> None:
        while not self._stop.wait(self.every_s):
            self.peak = max(self.peak, rss_kib(self.pid))


def _create_schema(database_url: str) -> None:
    from services.database import bind_database, close_connection, init_db, open_database

    bind_database(open_database(database_url))
    init_db()
    close_connection()
