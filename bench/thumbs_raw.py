"""Workload 1b: raw thumbnail generation in this process (no server) on a cold cache: photo by photo, the
product's `Thumbnailer.ensure()` against plain Pillow without draft and `pyvips.Image.thumbnail`, all at the
product's width and WebP quality, the methods in rotating order so none is always first; then the product's
throughput with a CPU pool of 1 thread and of 2."""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageOps

from bench import data
from bench.context import Context
from bench.profile import py_spy
from bench.stats import Row, Summary, Target, ratio

THUMB_WIDTH = 500  # PHOTONIX_THUMB_WIDTH's default
WEBP_QUALITY = 70  # the product's quality for 4-16 MP sources
MAX_PIXELS = 200_000_000  # PHOTONIX_MAX_IMAGE_PIXELS's default
RAW_TARGET = Target("ratio", "<=", 1.2)  # product ≤ 1.2 × pyvips
FSYNC_PROBE_BYTES = 30_000  # about one thumbnail
FSYNC_PROBES = 20
PARALLEL_THREADS = 2  # the server's CPU pool on 2 cores
SERVER_THREADS = os.cpu_count() or PARALLEL_THREADS  # PHOTONIX_THUMB_THREADS defaults to the cores
THROUGHPUT_ROUNDS = (3, 2)  # full, quick: each a cold run over every photo with 1 and with 2 threads
THROUGHPUT_TARGET = Target("value", ">=", 35, "images/s")
SPEEDUP_TARGET = Target("ratio", ">=", 1.7)
Method = Callable[[Path, Path | None], None]  # (source, target file; None: the product keeps only its cache)


def run(ctx: Context, photos: list[Path]) -> float:
    """Emit the raw rows; returns the product's median milliseconds (the HTTP rows' reference)."""
    vips = _pyvips_methods(ctx)
    methods: dict[str, Method] = {"product": _product(ctx.scratch("raw-product")), "pillow": _pillow_naive, **vips}
    for path in photos:  # page-cache warm for every method alike
        path.read_bytes()
    times = _measure(ctx, methods, photos)
    ms = {name: Summary.of(samples).scaled(1000) for name, samples in times.items()}
    reference = ("pyvips", ms["pyvips"].median) if vips else (None, None)
    ctx.emit(Row("raw Thumbnailer.ensure, cold", "ms", ms["product"], reference=reference[0],
                 reference_value=reference[1], ratio=ratio(ms["product"].median, reference[1]),
                 target=RAW_TARGET if vips else None))
    ctx.emit(Row("raw plain Pillow, no draft", "ms", ms["pillow"], reference=reference[0],
                 reference_value=reference[1], ratio=ratio(ms["pillow"].median, reference[1]),
                 note="open, exif_transpose, thumbnail, save WebP"))
    for name, label in (("pyvips", "raw pyvips.Image.thumbnail"), ("pyvips-1", "raw pyvips, 1 thread")):
        if name in ms:
            ctx.emit(Row(label, "ms", ms[name]))
    _by_orientation(ctx, times)
    _throughput(ctx, photos, vips.get("pyvips-1"))
    ctx.note(f"an fsync'd {FSYNC_PROBE_BYTES // 1000} KB write (the product stores each thumbnail so) takes "
             f"{_fsync_ms(ctx.scratch('fsync')):.2f} ms median here; the references write without fsync")
    if ctx.profile_dir is not None:
        product = _product(ctx.scratch("raw-profiled"))
        with py_spy(ctx, os.getpid(), "raw-product"):
            for path in photos:
                product(path, None)
    return ms["product"].median


def _by_orientation(ctx: Context, times: dict[str, list[float]]) -> None:
    """Upright photos decode at 1/8 scale; with EXIF 6/8 the 500 px width lies along the stored 3000 px side,
    which needs 1/4 scale and a resize. The medians of each kind, so the mixed medians above can be read."""
    parts = [f"{name} {orientation_medians(times[name])}" for name in ("product", "pyvips") if name in times]
    ctx.note("medians by orientation: " + "; ".join(parts))


def orientation_medians(samples: list[float]) -> str:
    """'47.5 ms upright (30), 66.8 ms with EXIF 6/8 (20)' for per-photo seconds in pool order."""
    upright = [t for n, t in enumerate(samples) if data.orientation_of(n) is None]
    rotated = [t for n, t in enumerate(samples) if data.orientation_of(n) is not None]
    return (f"{1000 * Summary.of(upright).median:.1f} ms upright ({len(upright)}), "
            f"{1000 * Summary.of(rotated).median:.1f} ms with EXIF 6/8 ({len(rotated)})")


def _throughput(ctx: Context, photos: list[Path], vips_one: Method | None) -> None:
    """Images/s of the product's thumbnail code with a pool of 1 thread and of 2 (as many callers as threads),
    no HTTP: the issue's "throughput with 2 threads vs 1". Cold cache each round, order alternating."""
    from services import cpu

    rates: dict[int, list[float]] = {1: [], PARALLEL_THREADS: []}
    for index in range(ctx.pick(*THROUGHPUT_ROUNDS)):
        for threads in (sorted(rates) if index % 2 == 0 else sorted(rates, reverse=True)):
            product = _product(ctx.scratch(f"raw-parallel-{threads}-{index}"), threads)
            rates[threads].append(_rate(product, photos, threads))
    one, two = (Summary.of(rates[n]) for n in sorted(rates))
    vips = _rate(vips_one, photos, PARALLEL_THREADS) if vips_one else None
    speedup = ratio(two.median, one.median)
    ctx.emit(Row("raw Thumbnailer.ensure, 1 thread", "images/s", one, value=one.median))
    ctx.emit(Row(f"raw Thumbnailer.ensure, {PARALLEL_THREADS} threads", "images/s", two, value=two.median,
                 reference=f"pyvips {PARALLEL_THREADS}×1 thread" if vips else None, reference_value=vips,
                 ratio=ratio(two.median, vips), target=THROUGHPUT_TARGET))
    ctx.emit(Row(f"raw speedup, {PARALLEL_THREADS} threads vs 1", "×", value=speedup, ratio=speedup,
                 target=SPEEDUP_TARGET))
    cpu.configure(SERVER_THREADS)  # back to the server's default


def _rate(method: Method, photos: list[Path], threads: int) -> float:
    work = list(photos)
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                if not work:
                    return
                path = work.pop()
            method(path, None)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    started = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return len(photos) / (time.perf_counter() - started)


def _measure(ctx: Context, methods: dict[str, Method], photos: list[Path]) -> dict[str, list[float]]:
    names = list(methods)
    times: dict[str, list[float]] = {name: [] for name in names}
    outputs = ctx.scratch("raw-outputs")
    for index, path in enumerate(photos):
        sizes = set()
        for shift in range(len(names)):
            name = names[(index + shift) % len(names)]
            target = outputs / f"{name}-{index}.webp"
            started = time.perf_counter()
            methods[name](path, target)
            times[name].append(time.perf_counter() - started)
            with Image.open(target) as made:
                sizes.add(made.size)
        if len(sizes) > 1:
            ctx.note(f"{path.name}: the methods made different sizes {sorted(sizes)}")
    return times


def _product(cache: Path, threads: int | None = None) -> Method:
    """The product's Thumbnailer; its CPU pool has `threads` threads, by default as many as the server's."""
    from services import cpu
    from services.thumbnails import Source, Thumbnailer

    cpu.configure(threads or SERVER_THREADS)
    thumbnailer = Thumbnailer(cache, THUMB_WIDTH, MAX_PIXELS, ffmpeg=None)

    def make(path: Path, target: Path | None) -> None:
        stat = path.stat()
        result = thumbnailer.ensure(Source(path, path.name, stat.st_mtime, stat.st_size, "photo"))
        if result.status != "ok":
            raise RuntimeError(f"the product made no thumbnail of {path.name}: {result.reason}")
        if target is not None:
            os.link(result.path, target)  # for the size check only

    return make


def _pillow_naive(path: Path, target: Path | None) -> None:
    with Image.open(path) as opened:
        image = ImageOps.exif_transpose(opened)  # a full-size decode: what a naive implementation does
        image.thumbnail((THUMB_WIDTH, 3 * THUMB_WIDTH))
        image.save(target, "WEBP", quality=WEBP_QUALITY)


def _pyvips_methods(ctx: Context) -> dict[str, Method]:
    try:
        import pyvips
    except Exception as error:  # noqa: BLE001 (a missing wheel or library: the reference is skipped)
        ctx.note(f"pyvips could not be imported ({type(error).__name__}: {error}): no libvips reference")
        return {}
    pyvips.cache_set_max(0)  # every call decodes its file, as a cold thumbnail must
    default_threads = pyvips.concurrency_get()

    def vips(threads: int) -> Method:
        def make(path: Path, target: Path | None) -> None:
            pyvips.concurrency_set(threads)
            image = pyvips.Image.thumbnail(str(path), THUMB_WIDTH, height=3 * THUMB_WIDTH, size="down")
            if target is None:
                image.webpsave_buffer(Q=WEBP_QUALITY, keep="none")
            else:
                image.webpsave(str(target), Q=WEBP_QUALITY, keep="none")
        return make

    ctx.note(f"libvips {pyvips.version(0)}.{pyvips.version(1)} uses {default_threads} threads per image by "
             "default; 'pyvips, 1 thread' is the same with one")
    return {"pyvips": vips(default_threads), "pyvips-1": vips(1)}


def _fsync_ms(folder: Path) -> float:
    samples = []
    for _ in range(FSYNC_PROBES):
        started = time.perf_counter()
        with tempfile.NamedTemporaryFile(dir=folder) as file:
            file.write(os.urandom(FSYNC_PROBE_BYTES))
            file.flush()
            os.fsync(file.fileno())
        samples.append(time.perf_counter() - started)
    return Summary.of(samples).median * 1000
