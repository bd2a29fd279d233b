"""Workload 1c (issue 24): the thumbnail batch at the CPU ceiling with a browser's thumbnails first, through a
real gunicorn (one gevent worker, its CPU pool at the core count) over COPIES hard links of each bench photo
(each link a thumbnail of its own): a browser's cold thumbnails one at a time with nothing else running; the
batch (POST /api/thumbnail/batch) alone, in thumbnails/s and the worker's CPU seconds / wall / cores; the batch
while the browser asks for the batch's last photos, one at a time and then a page of them over six connections
at once (asking again after Retry-After, as it does); then `photonix thumbs` in a process of its own beside the
server, at its default niceness and at --nice 0, with the browser asking again."""

from __future__ import annotations

import os
import secrets
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import requests

from bench import thumbs
from bench.context import Context
from bench.server import ADMIN_SECRET, CLOSE, REQUEST_TIMEOUT_S, BenchServer, cpu_s
from bench.stats import Row, Summary, ratio

COPIES = (8, 3)  # links of each photo: full, quick
BROWSER_REQUESTS = (40, 12)  # cold thumbnails the browser asks for, one after the other
PAGE_IMAGES = 48  # then a page of cold thumbnails at once ...
PAGE_CONNECTIONS = 6  # ... over the connections a browser opens to one site over HTTP/1.1
POLL_S = 0.05  # how often the server's log is read for the batch's end while it runs
BATCH_LOGGED = "thumbnail batch:"  # services.gallery.thumbs.run_batch logs this at the end
BATCH_TIMEOUT_S = 600
CORES = os.cpu_count() or 2
ROOT = Path(__file__).resolve().parents[1]


def run(ctx: Context, photos: list[Path], cli_niceness: tuple[str | None, ...] = (None, "0")) -> None:
    """`cli_niceness`: the --nice values `photonix thumbs` runs with beside the server (None: its default)."""
    library = _linked(ctx.scratch("batch-photos"), photos, ctx.pick(*COPIES))
    with BenchServer(library, ctx.scratch("batch-server")) as server:
        order = _batch_order(server)
        count = ctx.pick(*BROWSER_REQUESTS)
        browsed = order[-count:][::-1]  # those the batch reaches last, the last first
        paged = order[-count - PAGE_IMAGES:-count]
        idle, idle_page = _browse(server, browsed), _page(server, paged)
        server.clear_thumbnails()
        alone = _server_batch(server, len(order), [], [])
        server.clear_thumbnails()
        during = _server_batch(server, len(order), browsed, paged)
        ctx.emit(Row("batch in the server, alone", "images/s", value=alone["rate"], note=_cpu_note(alone, "worker")))
        ctx.emit(Row("batch in the server, while a browser asks", "images/s", value=during["rate"],
                     note=_cpu_note(during, "worker")))
        _latency(ctx, "browser thumbnail during the server's batch", during["latency"], idle)
        _latency(ctx, f"page of {PAGE_IMAGES} thumbnails, idle, each", idle_page[0], idle)
        _latency(ctx, f"page of {PAGE_IMAGES} thumbnails during the server's batch, each", during["page"][0], idle)
        ctx.note(f"202 answers in the page of {PAGE_IMAGES}: {idle_page[1]} idle, {during['page'][1]} during the "
                 "batch (each asked again after its Retry-After)")
        for niceness in cli_niceness:
            server.clear_thumbnails()
            beside = _cli_batch(server, library, len(order), browsed, niceness)
            label = f"`photonix thumbs{'' if niceness is None else ' --nice ' + niceness}`"
            ctx.emit(Row(f"{label} beside the server", "images/s", value=beside["rate"],
                         note=_cpu_note(beside, "command, its start included")))
            _latency(ctx, f"browser thumbnail during {label}", beside["latency"], idle)


def _cpu_note(batch: dict, whose: str) -> str:
    return (f"CPU {batch['cpu']:.0%} of {CORES} cores ({whose}: CPU s / wall / cores), "
            f"{1000 * batch['cpu'] * CORES / batch['rate']:.0f} CPU ms per image")


def _latency(ctx: Context, metric: str, samples: list[float], idle: list[float]) -> None:
    ms, idle_ms = Summary.of(samples).scaled(1000), Summary.of(idle).scaled(1000)
    ctx.emit(Row(metric, "ms", ms, reference="idle p50", reference_value=idle_ms.median,
                 ratio=ratio(ms.median, idle_ms.median)))


def _linked(folder: Path, photos: list[Path], copies: int) -> Path:
    """COPIES folders of hard links to the photos: the same bytes, a thumbnail each, no disk to speak of."""
    for copy in range(copies):
        (folder / f"copy-{copy}").mkdir()
        for photo in photos:
            os.link(photo, folder / f"copy-{copy}" / photo.name)
    return folder


def _batch_order(server: BenchServer) -> list[str]:
    """Every photo's path in the order the batch makes them: the index's."""
    with sqlite3.connect(server.data_dir / "photonix.db") as database:
        return [path for (path,) in database.execute("SELECT path FROM media ORDER BY id")]


def _browse(server: BenchServer, paths: list[str]) -> list[float]:
    """Seconds to each image, asked one after another on one keep-alive connection as a browser does."""
    with requests.Session() as session:
        return [thumbs.fetch(session, f"{server.url}/api/thumbnail?path={quote(path)}&v=1")[0] for path in paths]


def _page(server: BenchServer, paths: list[str]) -> tuple[list[float], int]:
    """Seconds to each image when a browser asks for them all at once over PAGE_CONNECTIONS connections, asking
    again after Retry-After; and how many answers were 202."""
    def connection(share: list[str]) -> list[tuple[float, int]]:
        # A connection each time: the server closes one idle for longer than its keep-alive (2 s), as a wait
        # for Retry-After is, and a browser simply opens another.
        return [thumbs.fetch(requests, f"{server.url}/api/thumbnail?path={quote(path)}&v=1", retry_s=None,
                             headers=CLOSE) for path in share]

    with ThreadPoolExecutor(PAGE_CONNECTIONS) as clients:
        answers = [answer for share in clients.map(connection, [paths[n::PAGE_CONNECTIONS]
                                                                for n in range(PAGE_CONNECTIONS)]) for answer in share]
    return [seconds for seconds, _ in answers], sum(retries for _, retries in answers)


def _server_batch(server: BenchServer, total: int, browsed: list[str], paged: list[str]) -> dict:
    worker, batches = server.worker_pid(), server.log_tail(10**9).count(BATCH_LOGGED)
    spent, started = cpu_s(worker), time.perf_counter()
    answer = requests.post(server.url + "/api/thumbnail/batch", timeout=REQUEST_TIMEOUT_S,
                           headers={"X-Admin-Secret": ADMIN_SECRET, **CLOSE})
    answer.raise_for_status()
    latency = _browse(server, browsed)
    page = _page(server, paged) if paged else ([], 0)
    while server.log_tail(10**9).count(BATCH_LOGGED) == batches:
        if time.perf_counter() - started > BATCH_TIMEOUT_S:
            raise TimeoutError(f"the batch did not end within {BATCH_TIMEOUT_S} s:\n{server.log_tail()}")
        time.sleep(POLL_S)
    wall = time.perf_counter() - started
    return {"rate": total / wall, "cpu": (cpu_s(worker) - spent) / wall / CORES, "latency": latency, "page": page}


def _cli_batch(server: BenchServer, library: Path, total: int, browsed: list[str], niceness: str | None) -> dict:
    """`photonix thumbs` of this tree over the server's database and data folder, while the browser asks."""
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), "PHOTONIX_PHOTOS_DIR": str(library),
           "PHOTONIX_DATA_DIR": str(server.data_dir), "PHOTONIX_JWT_SECRET": secrets.token_urlsafe(48),
           "PHOTONIX_DATABASE_URL": f"sqlite:///{server.data_dir / 'photonix.db'}"}
    command = [sys.executable, "-c", "import sys; from cli import main; sys.exit(main())", "thumbs"]
    before, started = os.times(), time.perf_counter()
    process = subprocess.Popen([*command, *([] if niceness is None else ["--nice", niceness])], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while not (server.data_dir / "thumbs").exists():  # the command has started making them
            if process.poll() is not None or time.perf_counter() - started > BATCH_TIMEOUT_S:
                break
            time.sleep(POLL_S)
        latency = _browse(server, browsed)
        _, errors = process.communicate(timeout=BATCH_TIMEOUT_S)
    finally:
        process.kill()
    wall, after = time.perf_counter() - started, os.times()  # the command's CPU: a child waited for
    if process.returncode != 0:
        raise RuntimeError(f"photonix thumbs failed: {errors.decode()[-2000:]}")
    spent = after.children_user + after.children_system - before.children_user - before.children_system
    return {"rate": total / wall, "cpu": spent / wall / CORES, "latency": latency}
