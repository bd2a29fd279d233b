"""Workload 11 Zip (issue 22): a 2 GiB album streamed as one ZIP through GET /api/zip by a real gunicorn worker;
throughput, time to the first byte, and the worker's RSS growth.

The album is 512 real files of 4 MiB (seeded random bytes: as incompressible as JPEGs; named .jpg, so the
gallery lists them), cached in bench/.data/inputs and read from a warm page cache. Reference in the same run:
`cat` of the same files to /dev/null, which reads them and does nothing else (no CRC, no HTTP, no client).
The client is `requests` on the same machine, reading 1 MiB at a time and dropping it.
"""

from __future__ import annotations

import random
import subprocess
import time
from pathlib import Path

import requests

from bench import data
from bench.context import Context
from bench.server import CLOSE, REQUEST_TIMEOUT_S, BenchServer, PeakRss
from bench.stats import Row, Summary, Target, ratio

FILES, FILE_BYTES = 512, 4 << 20  # 2 GiB
ROUNDS = (3, 1)  # full downloads: full, quick
FIRST_BYTES = (20, 5)  # requests timed to their first byte, then dropped
CHUNK = 1 << 20
RSS_SAMPLE_S = 0.05
MB = 1e6
FIRST_BYTE = Target("median", "<=", 200, "ms")  # issue 22: "first byte within 200 ms"
RSS_GROWTH = Target("value", "<=", 20, "MiB")  # issue 22: "≤ 20 MB RSS growth" (for a 10 GB album)


def run(ctx: Context) -> None:
    # The gallery holds the album as its one folder (and its cache stamp, not listed): /api/zip/album.
    album = data.cached(ctx.inputs / "zip-photos" / "album", f"zip-{FILES}x{FILE_BYTES}-seed{data.SEED}", _build)
    photos = album.parent
    files = sorted(str(path) for path in album.rglob("*.jpg"))
    total = sum(Path(path).stat().st_size for path in files)
    _cat(files)  # warms the page cache for both sides
    rounds = ctx.pick(*ROUNDS)
    with BenchServer(photos, ctx.scratch("server")) as server:
        pid = server.worker_pid()
        url = server.url + "/api/zip/album"
        firsts = [_first_byte(url) for _ in range(ctx.pick(*FIRST_BYTES))]
        cats, zips, growths = [], [], []
        for number in range(rounds):
            cats.append(_cat(files))
            seconds, received, growth = _download(url, pid)
            zips.append(seconds)
            growths.append(growth)
            ctx.log(f"round {number + 1}: zip {received / MB / seconds:.0f} MB/s, cat {total / MB / cats[-1]:.0f} "
                    f"MB/s, RSS +{growth / 1024:.1f} MiB")
    zip_rate = Summary.of([received / MB / s for s in zips])
    cat_rate = Summary.of([total / MB / s for s in cats])
    ctx.emit(Row(f"GET /api/zip of {FILES} × {FILE_BYTES >> 20} MiB ({total / MB:,.0f} MB)", "MB/s", zip_rate,
                 reference="cat of the same files > /dev/null", reference_value=cat_rate.median,
                 ratio=ratio(zip_rate.median, cat_rate.median)))
    ctx.emit(Row("time to the first byte of the ZIP", "ms", Summary.of(firsts).scaled(1000), target=FIRST_BYTE))
    ctx.emit(Row("worker RSS growth during a download (largest)", "MiB", value=max(growths) / 1024,
                 target=RSS_GROWTH))
    ctx.note(f"{rounds} full download(s) of a {total / MB:,.0f} MB album of real files (seeded random bytes, "
             f"warm page cache), {len(firsts)} requests timed to their first byte and dropped; the ZIP is "
             f"{received - total:,} bytes larger than its files (headers, data descriptors, central directory)")


def _build(root: Path) -> None:
    rng = random.Random(data.SEED)
    for index in range(FILES):
        folder = root / f"day-{index // 64:02}"
        folder.mkdir(exist_ok=True)
        (folder / f"img_{index:04}.jpg").write_bytes(rng.randbytes(FILE_BYTES))


def _cat(files: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(["cat", *files], stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def _first_byte(url: str) -> float:
    """Seconds from sending the request to holding the first byte of the body; the rest is not read."""
    started = time.perf_counter()
    with requests.get(url, headers=CLOSE, stream=True, timeout=REQUEST_TIMEOUT_S) as response:
        response.raise_for_status()
        if not response.raw.read(1):
            raise RuntimeError("an empty answer")
        return time.perf_counter() - started


def _download(url: str, pid: int) -> tuple[float, int, float]:
    """Seconds for the whole ZIP, its bytes, and the worker's peak RSS growth meanwhile (KiB)."""
    received = 0
    with PeakRss(pid, RSS_SAMPLE_S) as memory:
        started = time.perf_counter()
        with requests.get(url, headers=CLOSE, stream=True, timeout=REQUEST_TIMEOUT_S) as response:
            response.raise_for_status()
            for chunk in response.iter_content(CHUNK):
                received += len(chunk)
            if received != int(response.headers["Content-Length"]):
                raise RuntimeError(f"got {received} of {response.headers['Content-Length']} bytes")
        seconds = time.perf_counter() - started
    return seconds, received, memory.growth_kib
