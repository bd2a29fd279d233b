"""Faults on real processes (issue 10): a worker killed mid-thumbnail, processes killed mid-settings-write,
SQLite locked by another process, a full disk under the thumbnail cache and a download folder, and a
read-only data folder. Each asserts what the owner and the visitors see afterwards, and that nothing
half-written is left behind.

Disk full and read-only are real filesystems: a small tmpfs and a read-only bind mount, made with
mount(8). That needs root with CAP_SYS_ADMIN (the tests run as root here and in CI); where mount is
refused, those tests skip naming the refusal, and fail instead under CI=true. The killed-worker test holds the
worker at a chosen system call with strace (.ci/run installs it), required like a server binary.

Nothing here waits a fixed time for something to have happened: each step waits for a state it can see (a
thread of the worker held inside a system call, a line in the server's log, a pipe at its end).
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from PIL import Image

from services.database import SQLITE_BUSY_TIMEOUT_MS
from services.thumbnails import Source, Thumbnailer
from tests.conftest import ADMIN_SECRET
from tests.integration.test_downloads_server import configure, rss
from tests.support import images
from tests.support.feed_server import feed_server
from tests.support.servers import ROOT, Gunicorn, cannot_run, require_binary

pytestmark = [pytest.mark.integration, pytest.mark.slow]
CLOSE = {"Connection": "close"}
ADMIN = {"X-Admin-Secret": ADMIN_SECRET, **CLOSE}
PASSWORD = "fault-test-password"  # noqa: S105 (a test fixture)
WAIT_S = 20.0
BUSY_S = SQLITE_BUSY_TIMEOUT_MS / 1000
HOLD_S = 300  # how long strace holds a system call: far past any wait here, so only the test's kill ends it
SYS_READ, SYS_FSYNC = 0, 74  # x86_64 system call numbers, as /proc/<pid>/task/<tid>/syscall shows them


# --- processes ---------------------------------------------------------------------------------------

def workers(server: Gunicorn) -> list[int]:
    """The pids of the gunicorn master's children (its workers)."""
    assert server.proc is not None
    text = Path(f"/proc/{server.proc.pid}/task/{server.proc.pid}/children").read_text()
    return [int(pid) for pid in text.split()]


def only_worker(server: Gunicorn) -> int:
    (pid,) = wait_until(lambda: (found := workers(server)) and len(found) == 1 and found, "one worker")
    return pid


def replacement_worker(server: Gunicorn, dead: int) -> int:
    """Wait until the master has replaced worker `dead` and the new one answers /health with 200."""
    pid = wait_until(lambda: (found := workers(server)) and dead not in found and found[0], "a new worker")
    wait_until(lambda: get(server, "/health").status_code == 200, "/health 200 from the new worker")
    return pid


def wait_until(check, what: str, timeout_s: float = WAIT_S):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException, OSError):
            value = check()
            if value:
                return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def get(server: Gunicorn, path: str, **kwargs) -> requests.Response:
    return requests.get(server.url + path, timeout=kwargs.pop("timeout", 10), headers=CLOSE, **kwargs)


def wait_for_scan(server: Gunicorn, headers: dict[str, str] = CLOSE) -> None:
    wait_until(lambda: (s := requests.get(server.url + "/api/settings/status", headers=headers, timeout=5)
                        .json()["index"]).get("finishedAt")
               and not s["running"], "the first index scan")


def in_background(fn) -> tuple[threading.Thread, list]:
    """Run fn() on a thread; the list receives its result or the exception it raised."""
    out: list = []

    def run():
        try:
            out.append(fn())
        except Exception as exc:  # the worker dies under it: a connection error is the expected outcome
            out.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


# --- filesystems -------------------------------------------------------------------------------------

def _mount(*args: str) -> None:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        cannot_run("this fault needs mount(8) as root (a real tmpfs / read-only bind mount)")
    done = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)  # noqa: S603,S607
    if done.returncode != 0:
        cannot_run(f"mount {' '.join(args)} was refused ({done.stderr.strip()}): needs CAP_SYS_ADMIN")


def _umount(target: Path) -> None:
    if subprocess.run(["umount", str(target)], capture_output=True, check=False).returncode:  # noqa: S603,S607
        subprocess.run(["umount", "-l", str(target)], capture_output=True, check=False)  # noqa: S603,S607


@contextlib.contextmanager
def small_tmpfs(target: Path, size: str = "64k"):
    """A tmpfs of `size` mounted on `target` (created if missing), unmounted afterwards."""
    target.mkdir(parents=True, exist_ok=True)
    _mount("-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(target))
    try:
        yield target
    finally:
        _umount(target)


def fill(folder: Path) -> Path:
    """Write a file in `folder` until its filesystem says ENOSPC; returns the filler."""
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as out, contextlib.suppress(OSError):
        while True:
            out.write(b"\0" * 4096)
    assert os.statvfs(folder).f_bavail == 0
    return filler


@contextlib.contextmanager
def read_only(folder: Path):
    """`folder` bind-mounted read-only onto itself: even root cannot write there (unlike chmod 0555)."""
    _mount("--bind", str(folder), str(folder))
    try:
        _mount("-o", "remount,ro,bind", str(folder))
        yield folder
    finally:
        _umount(folder)


# --- 1. a worker killed in the middle of a thumbnail --------------------------------------------------

def cache_files(data_dir: Path, photo: Path, rel: str):
    """The cache's (webp, marker, lock) names for `photo`, from the engine's own key (500 px default)."""
    stat = photo.stat()
    engine = Thumbnailer(data_dir / "thumbs", 500, 1)
    return engine._files(engine._key(Source(photo, rel, stat.st_mtime, stat.st_size, "photo")))


@contextlib.contextmanager
def syscall_held(pid: int, syscall: str, path: Path | None = None):
    """strace holds every `syscall` of process `pid` (all its threads; only those on `path` when given) for
    HOLD_S before it runs, until the block ends: a window the test kills the worker in. A SIGKILL sent inside the
    block stops the worker at the held call, and its exit completes once strace lets go at the block's end: none
    of its code runs after the held call. Fails under CI=true (skips elsewhere) when strace may not attach (no
    ptrace in this container)."""
    strace = require_binary("strace")
    only = ["-P", str(path), "-e", f"trace=openat,{syscall}"] if path else ["-e", f"trace={syscall}"]
    tracer = subprocess.Popen(  # noqa: S603
        [strace, "-f", "-qq", "-o", "/dev/null", *only, "-e", f"inject={syscall}:delay_enter={HOLD_S * 1_000_000}",
         "-p", str(pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: tracer.poll() is not None or "TracerPid:\t0" not in
                   Path(f"/proc/{pid}/status").read_text(), "strace to attach or give up", 5)
        if tracer.poll() is not None:
            cannot_run("strace could not attach to the worker (is ptrace refused here?)")
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            tracer.kill()
        tracer.wait(5)


def held_in(pid: int, number: int, argument: int = 0) -> list[Path]:
    """What the threads of `pid` now inside system call `number` are working on: the file of the descriptor that is
    the call's `argument` (0: the first)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = (task / "syscall").read_text().split()
            if int(fields[0]) == number:
                found.append(Path(os.readlink(f"/proc/{pid}/fd/{int(fields[1 + argument], 16)}")))
    return found


def test_worker_killed_while_making_a_thumbnail_leaves_no_partial_file_and_is_replaced(env, tmp_path, db, photos_dir):
    """SIGKILL the only worker twice while it makes one thumbnail of a 48 MP PNG: once while decoding (held by
    strace inside a read of the photo), once after the WebP bytes are in the temp file but before the rename
    (held inside the temp file's fsync). Each time the client sees a broken connection, never a partial image;
    the master starts a new worker; the cache never holds a file under a finished name; and the next request
    makes the thumbnail whole."""
    assert os.uname().machine == "x86_64", "held_in() reads x86_64 system call numbers"
    photo = images.png(photos_dir / "big" / "huge.png", (8000, 6000))
    webp, _, lock = cache_files(tmp_path / "data", photo, "big/huge.png")
    url = "/api/thumbnail?path=big/huge.png&v=1"
    with Gunicorn(env, tmp_path / "gunicorn.log") as server:
        wait_for_scan(server)
        pid = only_worker(server)
        with syscall_held(pid, "read", photo):
            thread, out = in_background(lambda: get(server, url, timeout=30))
            wait_until(lambda: photo in held_in(pid, SYS_READ), "the worker held reading the photo")
            assert lock.exists()  # generation under way
            os.kill(pid, signal.SIGKILL)  # the decode never gets past this read
        thread.join(10)
        assert isinstance(out[0], requests.ConnectionError), out
        assert not webp.exists() and not list(webp.parent.glob("*.tmp"))
        pid = replacement_worker(server, pid)

        with syscall_held(pid, "fsync"):
            thread, out = in_background(lambda: get(server, url, timeout=30))
            (temp,) = wait_until(lambda: [f for f in held_in(pid, SYS_FSYNC) if f.parent == webp.parent],
                                 "the worker held in the temp file's fsync")
            assert temp.name.endswith(".tmp") and temp.stat().st_size > 0  # written, not yet renamed
            assert not webp.exists()
            os.kill(pid, signal.SIGKILL)
        thread.join(10)
        assert isinstance(out[0], requests.ConnectionError), out
        assert not webp.exists()  # the bytes never appeared under the finished name
        assert temp.exists()  # what a kill between write and rename leaves: a temp name only
        pid = replacement_worker(server, pid)

        answer = get(server, url, timeout=30)
        assert answer.status_code == 200 and answer.headers["X-Thumb-Status"] == "ready", answer.text[:200]
        with Image.open(io.BytesIO(answer.content)) as image:
            image.load()
            assert image.format == "WEBP" and image.size == (500, 375)
        assert get(server, "/health").status_code == 200
    for cached in (tmp_path / "data" / "thumbs").rglob("*.webp"):
        with Image.open(cached) as image:
            image.load()  # every file under a finished name decodes to the end
    assert [p.name for p in (tmp_path / "data" / "thumbs").rglob("*.webp")] == [webp.name]
    log = server.log()
    assert log.count("was sent SIGKILL") + log.count("was sent signal 9") >= 1, log[-2000:]


# --- 2. processes killed while writing settings --------------------------------------------------------

WRITER = """
import sys
from services.database import bind_database, open_database
from services.settings import write_settings
bind_database(open_database(sys.argv[1]))
n = 0
while True:
    n += 1
    write_settings({"FAULT_A": str(n), "FAULT_B": str(n)}, bump_epoch=True)
    print(n, flush=True)
"""


def start_writer(database_url: str) -> tuple[subprocess.Popen, list[int], threading.Thread]:
    """A process committing FAULT_A = FAULT_B = n and AUTH_EPOCH + 1 per transaction, printing each n; the
    thread collecting the numbers ends once the process's output has ended (it has died)."""
    proc = subprocess.Popen([sys.executable, "-c", WRITER, database_url], cwd=ROOT,  # noqa: S603
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env={"PATH": os.environ["PATH"]})
    committed: list[int] = []

    def drain():
        for line in proc.stdout:
            committed.append(int(line))

    drainer = threading.Thread(target=drain, daemon=True)
    drainer.start()
    return proc, committed, drainer


def stored(db_path: Path) -> dict[str, str]:
    with contextlib.closing(sqlite3.connect(db_path, timeout=10)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        return dict(conn.execute("SELECT key, value FROM setting").fetchall())


def test_processes_killed_while_writing_settings_leave_a_consistent_database(env, tmp_path, db, database_url):
    """Three rounds: a gunicorn worker hammered with PUT /api/settings and a second process committing
    settings in a tight loop (services.settings.write_settings) are both SIGKILLed at a random moment.
    Afterwards the SQLite file passes integrity_check, every transaction is all-or-nothing (FAULT_A =
    FAULT_B, and AUTH_EPOCH grew by exactly the writer's commits), nothing reported committed is lost,
    and the app serves settings. Finally the master is SIGKILLed too and a fresh server starts on the
    same file with /health 200."""
    if not database_url.startswith("sqlite:"):
        pytest.skip("a SQLite file fault")
    db_path = tmp_path / "data" / "photonix.db"
    epoch0 = int(stored(db_path).get("AUTH_EPOCH", 0))
    with Gunicorn(env, tmp_path / "gunicorn.log") as server:
        wait_for_scan(server)
        statuses: list[object] = []
        stop = threading.Event()

        def hammer(n: int) -> None:
            while not stop.is_set():
                try:
                    answer = requests.put(server.url + "/api/settings", headers=ADMIN, timeout=15,
                                          json={"siteTitle": f"title {n} {time.monotonic()}"})
                    statuses.append(answer.status_code)
                except requests.RequestException as exc:
                    statuses.append(type(exc).__name__)
                    time.sleep(0.05)

        hammers = [threading.Thread(target=hammer, args=(n,), daemon=True) for n in range(4)]
        for thread in hammers:
            thread.start()
        try:
            for _ in range(3):
                pid = only_worker(server)
                writer, committed, drainer = start_writer(database_url)
                wait_until(lambda c=committed: len(c) >= 50, "the writer's first commits")  # noqa: B023
                time.sleep(random.uniform(0.05, 0.4))  # noqa: S311
                os.kill(pid, signal.SIGKILL)
                writer.send_signal(signal.SIGKILL)
                writer.wait(5)
                drainer.join(10)  # everything the writer printed before it died has been read
                assert not drainer.is_alive()
                values = stored(db_path)
                assert values["FAULT_A"] == values["FAULT_B"], values
                assert committed[-1] <= int(values["FAULT_A"]) <= committed[-1] + 1
                assert int(values["AUTH_EPOCH"]) == epoch0 + int(values["FAULT_A"]), values
                epoch0 = int(values["AUTH_EPOCH"])
                replacement_worker(server, pid)
        finally:
            stop.set()
            for thread in hammers:
                thread.join(20)
        print("PUT /api/settings while processes were killed:", {s: statuses.count(s) for s in set(statuses)})
        assert 200 in statuses, statuses
        assert set(statuses) <= {200, 503, "ConnectionError", "ChunkedEncodingError"}, set(statuses)
        answer = requests.put(server.url + "/api/settings", headers=ADMIN, timeout=15, json={"siteTitle": "After"})
        assert answer.status_code == 200 and answer.json()["siteTitle"] == "After"
        master, pids = server.proc, workers(server)
        master.send_signal(signal.SIGKILL)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        master.wait(5)
    assert stored(db_path)["SITE_TITLE"] == "After"
    with Gunicorn(env, tmp_path / "gunicorn-2.log") as fresh:
        assert get(fresh, "/health").status_code == 200
        assert get(fresh, "/api/settings").json()["siteTitle"] == "After"


# --- 4. SQLite locked by another process ---------------------------------------------------------------

@contextlib.contextmanager
def write_locked(db_path: Path):
    """Another process's view of SQLite: a connection holding the write lock (BEGIN EXCLUSIVE) until exit."""
    locker = sqlite3.connect(db_path, isolation_level=None, timeout=10)
    try:
        locker.execute("BEGIN EXCLUSIVE")
        yield
    finally:
        if locker.in_transaction:
            locker.rollback()
        locker.close()


def locked_server_env(env, photos_dir, database_url):
    if not database_url.startswith("sqlite:"):
        pytest.skip("a SQLite file fault")
    images.jpeg(photos_dir / "album" / "a.jpg", (64, 48))
    return env


def test_a_database_locked_by_another_process_answers_503_after_the_busy_timeout(env, tmp_path, db, photos_dir,
                                                                                 database_url):
    """Another process holds SQLite's write lock. A settings change and an anonymous 'viewed' mark answer
    503 DATABASE_BUSY once the 5 s busy timeout has passed: no hang, no 500. A read still answers 200.
    After the lock is released the same requests succeed. Each waits one busy timeout, not more: a job-lease
    renewal waiting for the same lock waits cooperatively (services/database.py) and delays nobody."""
    locked_server_env(env, photos_dir, database_url)
    with Gunicorn(env, tmp_path / "gunicorn.log") as server:
        wait_for_scan(server)  # also creates SYSTEM_ID, which the first auth check would otherwise write
        change = lambda: requests.put(server.url + "/api/settings", headers=ADMIN, timeout=4 * BUSY_S,  # noqa: E731
                                      json={"siteTitle": "Locked out"})
        viewed = lambda: requests.post(server.url + "/api/browse/viewed", headers=CLOSE, timeout=4 * BUSY_S,  # noqa: E731
                                       json={"path": "album"})
        with write_locked(tmp_path / "data" / "photonix.db"):
            for request in (change, viewed):
                started = time.monotonic()
                answer = request()
                took = time.monotonic() - started
                print(f"{answer.request.method} {answer.request.path_url}: {answer.status_code} in {took:.2f} s")
                assert answer.status_code == 503 and answer.json()["code"] == "DATABASE_BUSY", answer.text
                assert BUSY_S - 0.5 <= took <= BUSY_S + 2.0
            assert get(server, "/api/browse/album", timeout=4 * BUSY_S).status_code == 200  # WAL: reads go on
        assert change().status_code == 200
        assert viewed().status_code == 204
        assert get(server, "/api/settings").json()["siteTitle"] == "Locked out"
    assert "Traceback" not in server.log()


def test_a_write_waiting_for_the_lock_does_not_stall_other_requests(env, tmp_path, db, photos_dir, database_url):
    """While one request waits for the write lock another process holds, the same worker keeps
    answering requests that need no lock (/health) promptly.

    The PUT is known to be waiting from the worker's log: with PHOTONIX_AUTH_DEBUG its admin check logs a line,
    and from there its greenlet runs to the lock wait without yielding (SQLite calls and log writes do not
    yield), so the worker can answer /health only once the PUT is waiting."""
    locked_server_env(env, photos_dir, database_url)
    with Gunicorn({**env, "PHOTONIX_AUTH_DEBUG": "1"}, tmp_path / "gunicorn.log") as server:
        wait_for_scan(server)
        with write_locked(tmp_path / "data" / "photonix.db"):
            thread, out = in_background(lambda: requests.put(
                server.url + "/api/settings", headers=ADMIN, timeout=4 * BUSY_S, json={"siteTitle": "Waiting"}))
            wait_until(lambda: "auth decision: admin PUT /api/settings -> ALLOWED" in server.log(),
                       "the PUT's admin check in the log (it then waits for the lock)")
            started = time.monotonic()
            health = get(server, "/health", timeout=4 * BUSY_S)
            took = time.monotonic() - started
            answered_while_waiting = not out
            thread.join(4 * BUSY_S)
        print(f"/health while a write waits for the lock: {health.status_code} in {took:.2f} s; PUT: {out}")
        assert answered_while_waiting and out[0].status_code == 503
        # A worker stalled by the wait would answer only when the PUT gives up, a whole busy timeout later.
        assert health.status_code == 200 and took < BUSY_S / 2, f"/health took {took:.2f} s"


# --- 5. disk full ---------------------------------------------------------------------------------------

def test_a_full_thumbnail_cache_disk_answers_the_failure_placeholder_and_recovers(env, tmp_path, db, photos_dir):
    """data/thumbs is a 64 KiB tmpfs, filled to the last block: a new thumbnail cannot be written.
    The answer is the documented failure (404 SVG, X-Thumb-Status failed), not a 500; no partial file
    is left; browse and the original file still answer; once space is freed the same thumbnail is made
    (a full disk is not the photo's fault, so the failure must not be remembered)."""
    images.jpeg(photos_dir / "album" / "a.jpg", (1600, 1200))
    thumbs = tmp_path / "data" / "thumbs"
    url = "/api/thumbnail?path=album/a.jpg&v=1"
    with small_tmpfs(thumbs), Gunicorn(env, tmp_path / "gunicorn.log") as server:
        wait_for_scan(server)
        filler = fill(thumbs)
        answer = get(server, url)
        assert answer.status_code == 404 and answer.headers["X-Thumb-Status"] == "failed", answer.text[:300]
        assert answer.headers["Content-Type"].startswith("image/svg+xml")
        assert [p for p in thumbs.rglob("*") if p.is_file()] == [filler]  # no webp, no temp, no marker
        assert get(server, "/api/browse/album").status_code == 200
        original = get(server, "/api/file/album/a.jpg")
        assert original.status_code == 200 and original.content == (photos_dir / "album" / "a.jpg").read_bytes()
        filler.unlink()
        again = get(server, url)
        assert again.status_code == 200 and again.headers["X-Thumb-Status"] == "ready"
        with Image.open(io.BytesIO(again.content)) as image:
            image.load()


def noisy_jpeg(path: Path) -> bytes:
    """~3 MB that no 64 KiB filesystem can hold."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.effect_noise((2000, 1500), 80).convert("RGB").save(path, "JPEG", quality=95)
    return path.read_bytes()


def run_task(server: Gunicorn, feed_url: str, folder: str) -> dict:
    task = requests.post(server.url + "/api/download/tasks", headers=ADMIN, timeout=5,
                         json={"feedUrl": feed_url, "targetFolder": folder}).json()
    return wait_until(lambda: (body := requests.get(f"{server.url}/api/download/tasks/{task['id']}",
                                                    headers=ADMIN, timeout=5).json())["lastRunAt"]
                      and not body["active"] and body, "the task's first run")


def test_a_full_download_folder_fails_the_task_clearly_and_leaves_nothing(env, tmp_path, db, photos_dir):
    """The task's target folder is a 64 KiB tmpfs and the image is ~3 MB: the write fails with ENOSPC.
    lastError must name the write failure (no space); no partial or temp file is left in the folder;
    gallery reads keep working."""
    images.jpeg(photos_dir / "album" / "a.jpg", (64, 48))
    picture = noisy_jpeg(tmp_path / "src" / "big.jpg")
    full = photos_dir / "Full"
    with small_tmpfs(full), feed_server() as srv, Gunicorn(env, tmp_path / "gunicorn.log") as server:
        srv.route("/big.jpg", picture)
        srv.route("/feed.xml", rss([("big", "Big", [srv.url("/big.jpg")])]))
        configure(server.url, srv)
        body = run_task(server, srv.url("/feed.xml"), "Full")
        print("lastError:", body["lastError"])
        assert list(full.iterdir()) == []  # no partial image, no temp file
        assert get(server, "/api/browse/album").status_code == 200
        assert get(server, "/api/file/album/a.jpg").status_code == 200
        assert body["lastError"] and "space" in body["lastError"].lower(), body


# --- 6. read-only data folder ----------------------------------------------------------------------------

def protected_gallery(photos_dir: Path) -> None:
    from services.settings import change_settings

    images.jpeg(photos_dir / "album" / "a.jpg", (64, 48))
    change_settings({"newPassword": PASSWORD, "publicAccess": False})


def test_a_server_refuses_to_start_on_a_read_only_data_folder(env, tmp_path, db, photos_dir):
    """A data folder that is read-only at start (a read-only bind mount: chmod would not stop root) is a
    configuration error: gunicorn exits non-zero naming PHOTONIX_DATA_DIR, so nothing ever answers."""
    protected_gallery(photos_dir)
    db.close()
    with read_only(tmp_path / "data"), pytest.raises(RuntimeError) as refused:
        Gunicorn(env, tmp_path / "gunicorn.log").start()
    assert "gunicorn exited with" in str(refused.value)
    assert "PHOTONIX_DATA_DIR" in str(refused.value) and "not writable" in str(refused.value)


def test_a_data_folder_turning_read_only_is_unhealthy_and_never_opens_a_protected_gallery(env, tmp_path, db,
                                                                                        photos_dir):
    """The data folder turns read-only under a running server (as ext4 does with errors=remount-ro) in a
    password-protected gallery without public access. /health answers 503 naming storage; anonymous
    visitors are still refused everywhere (no silent fallback to an open gallery); a login still works
    and reads with it answer; a new thumbnail fails cleanly (no 500).

    The kernel refuses to make a mount read-only while a file on it is open for writing (EBUSY), and the
    server keeps its SQLite file open: so here the database lives in a folder of its own
    (PHOTONIX_DATABASE_URL), and only the data folder (thumbnail cache, health probe) goes read-only."""
    (tmp_path / "db").mkdir()
    url = f"sqlite:///{tmp_path / 'db' / 'photonix.db'}"
    env = {**env, "PHOTONIX_DATABASE_URL": url}
    from services.database import bind_database, init_db, open_database

    bind_database(open_database(url))
    init_db()
    protected_gallery(photos_dir)
    data = tmp_path / "data"
    _mount("--bind", str(data), str(data))
    try:
        with Gunicorn(env, tmp_path / "gunicorn.log") as server:
            login = requests.post(server.url + "/api/auth/login", json={"password": PASSWORD}, headers=CLOSE,
                                  timeout=10)
            assert login.status_code == 200, login.text
            bearer = {"Authorization": f"Bearer {login.json()['token']}", **CLOSE}
            wait_for_scan(server, bearer)
            assert get(server, "/health").status_code == 200
            _mount("-o", "remount,ro,bind", str(data))
            health = get(server, "/health")
            print("health:", health.json())
            assert health.status_code == 503 and health.json()["storage"] == "data folder not writable"
            for path in ("/api/browse", "/api/browse/album", "/api/file/album/a.jpg", "/api/search?q=a",
                         "/api/thumbnail?path=album/a.jpg", "/api/browse/viewed", "/api/events"):
                with get(server, path, stream=True) as answer:
                    assert (answer.status_code, answer.json()["code"]) == (401, "AUTH_REQUIRED"), path
            assert get(server, "/api/settings").json()["passwordEnabled"] is True
            assert get(server, "/api/auth/status").json()["passwordEnabled"] is True
            again = requests.post(server.url + "/api/auth/login", json={"password": PASSWORD}, headers=CLOSE,
                                  timeout=10)
            assert again.status_code == 200, again.text
            browse = requests.get(server.url + "/api/browse/album", headers=bearer, timeout=10)
            assert browse.status_code == 200 and browse.json()["totalResults"] == 1
            thumb = requests.get(server.url + "/api/thumbnail?path=album/a.jpg&v=1", headers=bearer, timeout=10)
            print("thumbnail on a read-only cache:", thumb.status_code, thumb.headers.get("X-Thumb-Status"))
            assert thumb.status_code == 404 and thumb.headers["X-Thumb-Status"] == "failed"
            wrong = requests.post(server.url + "/api/auth/login", json={"password": "not-it-at-all"},
                                  headers=CLOSE, timeout=10)
            assert wrong.status_code == 401
            assert not list(data.rglob("*.webp")) and not list(data.rglob("*.tmp"))
    finally:
        _umount(data)

