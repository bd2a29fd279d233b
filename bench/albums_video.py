"""Workload 13 Albums and video (issue 23), each through a real gunicorn (one gevent worker, SQLite):

- video: an HEVC clip (1080p, 20 s; quick 720p, 5 s) made once by ffmpeg into the cached inputs is added to a
  served photos folder and a scan is asked for (POST /api/settings/sync/index): the scan finds it and asks for
  its HLS rendition. Timed until GET /api/video/status says it is ready; meanwhile GET /health every 50 ms.
- AI captions: POST /api/ai/caption of 12 MP photos against tests.support.fake_openai on loopback (it checks each
  request as the real API would and answers at once: what is timed is our side), uncached then cached.
- albums: an album of small JPEGs with its thumbnails made (`photonix thumbs`) renamed back and forth, moved to
  the trash and restored (POST /api/albums/<path>/rename, DELETE /api/albums/<path>, POST
  /api/trash/<id>/restore); then the trash on another file system (DATA_DIR on /dev/shm): copy, compare, remove.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

import requests

from bench import data
from bench.context import Context
from bench.server import ADMIN_SECRET, CLOSE, REQUEST_TIMEOUT_S, BenchServer, timed_get
from bench.stats import Row, Summary, ratio
from tests.support import videos
from tests.support.fake_openai import fake_openai

ADMIN = {"X-Admin-Secret": ADMIN_SECRET, **CLOSE}
VIDEO = ((20, (1920, 1080)), (5, (1280, 720)))  # seconds and size of the clip: full, quick
STATUS_POLL_S = 0.1
HEALTH_EVERY_S = 0.05
IDLE_HEALTH = 40  # /health requests timed before the transcoding, as the reference
TRANSCODE_BOUND_S_PER_S = 20.0  # as services.video.transcoder bounds ffmpeg, plus SCAN_SLACK_S
SCAN_SLACK_S = 60.0
CAPTIONS = (50, 10)  # photos captioned: full, quick
ALBUM = (5000, 500)  # small JPEGs in the album: full, quick
ALBUM_PATH, ALBUM_OTHER_NAME = "trips/summer", "summer 2024"
ROUNDS = 3  # renames back and forth, and deletes with their restores
THUMB_CHECKS = 50  # thumbnails asked for again after a rename
SHM = Path("/dev/shm")
SHM_HEADROOM = 256 << 20
THUMBS_TIMEOUT_S = 900
MB = 1e6
ROOT = Path(__file__).resolve().parents[1]


def run(ctx: Context) -> None:
    _video(ctx)
    _captions(ctx)
    _albums(ctx)


# Video ------------------------------------------------------------------------------------------------------


def _video(ctx: Context) -> None:
    seconds, size = ctx.pick(*VIDEO)
    codec = videos.hevc_codec()
    name = f"{codec}-{size[0]}x{size[1]}-{seconds}s"
    clip = data.cached(ctx.inputs / "video" / name, name,
                       lambda root: videos.make(root / "clip.mp4", codec, seconds, size)) / "clip.mp4"
    photos = ctx.scratch("video-photos")
    (photos / "clips").mkdir()
    with BenchServer(photos, ctx.scratch("video-server"), WATCH="off") as server, requests.Session() as session:
        idle = [timed_get(session, server.url + "/health")[0] for _ in range(IDLE_HEALTH)]
        shutil.copyfile(clip, photos / "clips" / clip.name)
        worker = server.worker_pid()
        children_before = _children_cpu_s(worker)
        with _HealthSampler(server.url) as health:
            started = time.perf_counter()
            requests.post(server.url + "/api/settings/sync/index", headers=ADMIN,
                          timeout=REQUEST_TIMEOUT_S).raise_for_status()
            _wait_ready(server, session, started, TRANSCODE_BOUND_S_PER_S * seconds + SCAN_SLACK_S)
            wall = time.perf_counter() - started
        ffmpeg_cpu = _children_cpu_s(worker) - children_before
        rendition = sum(path.stat().st_size for path in (server.data_dir / "video").rglob("*") if path.is_file())
        batch_s = _logged_batch_s(server.log_tail(10**9))
    source = clip.stat().st_size
    label = f"{codec.upper()} {size[1]}p {seconds} s"
    ctx.emit(Row(f"{label} video → HLS 480p+720p, scan request to ready", "s", value=wall,
                 note=f"the batch itself logged {batch_s} s" if batch_s is not None else ""))
    ctx.emit(Row(f"{label} transcoding, realtime factor (video s / wall s)", "×", value=seconds / wall))
    ctx.emit(Row("ffmpeg CPU seconds (the worker's reaped children, ffprobe too)", "s", value=ffmpeg_cpu or None,
                 note=f"{ffmpeg_cpu / wall:.2f} cores on average" if ffmpeg_cpu else "not measured: no child reaped"))
    busy, calm = Summary.of(health.samples).scaled(1000), Summary.of(idle).scaled(1000)
    ctx.emit(Row("GET /health while ffmpeg transcodes", "ms", busy, reference="idle p50",
                 reference_value=calm.median, ratio=ratio(busy.median, calm.median),
                 note=f"{health.failures} failed" if health.failures else ""))
    ctx.emit(Row("HLS rendition on disk (both variants)", "MB", value=rendition / MB, reference="source file MB",
                 reference_value=source / MB, ratio=ratio(rendition, source),
                 note="the test pattern compresses far better in HEVC than a camera's video would"))
    ctx.note(f"video: a {seconds} s {size[0]}x{size[1]} {codec} test pattern at 15 fps with AAC sound (made by "
             "tests.support.videos), added to a served folder (file watcher off) and found by a scan asked for "
             f"by POST /api/settings/sync/index; GET /api/video/status polled every {STATUS_POLL_S} s; ffmpeg is "
             "niced and one at a time (PHOTONIX_VIDEO_THREADS=1)")


def _wait_ready(server: BenchServer, session: requests.Session, started: float, bound_s: float) -> None:
    while time.perf_counter() - started < bound_s:
        _, answer = timed_get(session, server.url + "/api/video/status")
        answer.raise_for_status()
        status = answer.json()
        if status["failed"]:
            raise RuntimeError(f"the rendition failed: {status}\n{server.log_tail()}")
        if status["ready"] == 1:
            return
        time.sleep(STATUS_POLL_S)
    raise TimeoutError(f"no rendition within {bound_s:.0f} s:\n{server.log_tail()}")


def _logged_batch_s(log: str) -> float | None:
    """The seconds services.video.batch logs at the end of a batch ("… made, 0 failed in 12.3s")."""
    lines = [line for line in log.splitlines() if "video renditions:" in line]
    if not lines:
        return None
    return float(lines[-1].rsplit(" in ", 1)[1].rstrip("s"))


def _children_cpu_s(pid: int) -> float:
    """User + system CPU seconds of process `pid`'s children it has waited for (cutime + cstime)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


class _HealthSampler:
    """`with _HealthSampler(url) as health:` times GET /health every HEALTH_EVERY_S from a thread of its own."""

    def __init__(self, url: str):
        self.url = url + "/health"
        self.samples: list[float] = []
        self.failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> _HealthSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        with requests.Session() as session:
            while not self._stop.is_set():
                try:
                    seconds, answer = timed_get(session, self.url)
                    if answer.status_code == 200:
                        self.samples.append(seconds)
                    else:
                        self.failures += 1
                except requests.RequestException:
                    self.failures += 1
                self._stop.wait(HEALTH_EVERY_S)


# AI captions ------------------------------------------------------------------------------------------------


def _captions(ctx: Context) -> None:
    pool = data.photo_pool(ctx.inputs, ctx.pick(*CAPTIONS))
    photos = ctx.scratch("caption-photos")
    (photos / "album").mkdir()
    for photo in pool:
        os.link(photo, photos / "album" / photo.name)
    paths = [f"album/{photo.name}" for photo in pool]
    with fake_openai() as fake, BenchServer(photos, ctx.scratch("caption-server")) as server, \
            requests.Session() as session:
        settings = {"enabled": True, "url": fake.base, "model": fake.model, "allowPrivateHosts": True}
        requests.put(server.url + "/api/ai/settings", json=settings, headers=ADMIN,
                     timeout=REQUEST_TIMEOUT_S).raise_for_status()
        uncached = [_caption(session, server, path, cached=False) for path in paths]
        cached = [_caption(session, server, path, cached=True) for path in paths]
        if fake.problems or len(fake.requests) != len(paths):
            raise RuntimeError(f"{len(fake.requests)} calls upstream for {len(paths)} photos: {fake.problems[:3]}")
    width, height = data.PHOTO_SIZE
    upstream = "the upstream is a local fake (tests.support.fake_openai) answering at once"
    ctx.emit(Row(f"POST /api/ai/caption, uncached ({width}x{height} JPEG: preview, ≤1024 px JPEG, call)", "ms",
                 Summary.of(uncached).scaled(1000), note=upstream))
    ctx.emit(Row("POST /api/ai/caption, cached (no call)", "ms", Summary.of(cached).scaled(1000)))
    ctx.note(f"captions: {len(paths)} photos of {width}x{height} (bench.data.photo_pool, two in five rotated by "
             "EXIF), asked one after another by the admin (X-Admin-Secret: no daily quota) on one keep-alive "
             f"connection; {upstream}, so the figures are the server's own overhead: the preview made on demand "
             "from the original, its JPEG re-encode and the HTTP call")


def _caption(session: requests.Session, server: BenchServer, path: str, cached: bool) -> float:
    started = time.perf_counter()
    answer = session.post(server.url + "/api/ai/caption", json={"path": path}, timeout=REQUEST_TIMEOUT_S,
                          headers={"X-Admin-Secret": ADMIN_SECRET})
    seconds = time.perf_counter() - started
    if answer.status_code != 200 or answer.json().get("cached") is not cached:
        raise RuntimeError(f"caption of {path}: {answer.status_code} {answer.text[:300]}")
    return seconds


# Albums -----------------------------------------------------------------------------------------------------


def _albums(ctx: Context) -> None:
    count = ctx.pick(*ALBUM)
    source = data.small_library(ctx.inputs / f"album-{count}", [("summer", count)]) / "summer"
    album_bytes = sum(path.stat().st_size for path in source.iterdir())
    photos = _album_copy(ctx.scratch("album-photos"), source)
    with BenchServer(photos, ctx.scratch("album-server"), WATCH="off") as server:
        timings, check = _album_rounds(ctx, server, photos, thumb_check=True)
    size = f"{count:,} photos, {album_bytes / MB:.1f} MB"
    ctx.emit(Row(f"POST /api/albums/<path>/rename ({size})", "ms", Summary.of(timings["rename"]).scaled(1000),
                 note=f"after it {check['same']} of {check['asked']} thumbnails 200 with the same bytes, "
                      f"{check['processing']} 202, {check['made']} made anew", extra=check))
    ctx.emit(Row(f"DELETE /api/albums/<path> to the trash, same file system ({size})", "ms",
                 Summary.of(timings["delete"]).scaled(1000)))
    ctx.emit(Row(f"POST /api/trash/<id>/restore, same file system ({size})", "ms",
                 Summary.of(timings["restore"]).scaled(1000)))
    ctx.note(f"albums: `{ALBUM_PATH}` of {count:,} small JPEGs (bench.data.small_library, copied from the cached "
             f"inputs) with its thumbnails made first by `photonix thumbs`; {ROUNDS} renames there and {ROUNDS} "
             f"back, {ROUNDS} deletes each restored, by the admin (X-Admin-Secret); after the first rename "
             f"{THUMB_CHECKS} of its thumbnails asked for at their new paths: cached when the answer is 200 with "
             "the bytes it had before and no file in DATA_DIR/thumbs is new (a carried thumbnail keeps its inode; "
             "the ETag is the cache key, which names the path, so it changes by design)")
    free = shutil.disk_usage(SHM).free if SHM.is_dir() else 0
    if free < 3 * album_bytes + SHM_HEADROOM:
        ctx.note(f"the trash on another file system was not measured: /dev/shm has {free / MB:,.0f} MB free")
        return
    _albums_across(ctx, source, album_bytes, size)


def _albums_across(ctx: Context, source: Path, album_bytes: int, size: str) -> None:
    """DATA_DIR (and so the trash) on /dev/shm, the photos on the disk: a delete copies, compares and removes."""
    photos = _album_copy(ctx.scratch("album-photos-shm"), source)
    scratch = Path(tempfile.mkdtemp(prefix="photonix-bench-", dir=SHM))
    try:
        with BenchServer(photos, scratch, WATCH="off") as server:
            timings, _ = _album_rounds(ctx, server, photos, thumb_check=False)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    for action, verb in (("delete", "DELETE /api/albums/<path> to the trash"),
                         ("restore", "POST /api/trash/<id>/restore")):
        ms = Summary.of(timings[action]).scaled(1000)
        ctx.emit(Row(f"{verb}, trash on tmpfs: copy + fsync + compare ({size})", "ms", ms,
                     note=f"{album_bytes / MB / (ms.median / 1000):.1f} MB/s, "
                          f"{len(list(source.iterdir())) / (ms.median / 1000):,.0f} files/s"))
    ctx.note("trash on another file system: DATA_DIR (database, thumbnails, trash) on /dev/shm (tmpfs), the "
             "photos on the disk, so each delete and restore copies every file, compares it and only then removes "
             "the original; small files: the figure is bound by files per second more than by bytes")


def _album_copy(folder: Path, source: Path) -> Path:
    """A photos folder holding a copy of the album at ALBUM_PATH: files of their own, as a real album's are (a
    hard link would make the first delete across file systems cheaper than the next: unlinking frees nothing),
    written to the disk before it is served (as an album that has been there a while: unlinking a file the kernel
    has not written yet is cheaper)."""
    shutil.copytree(source, folder / ALBUM_PATH)
    os.sync()
    return folder


def _album_rounds(ctx: Context, server: BenchServer, photos: Path,
                  thumb_check: bool) -> tuple[dict[str, list[float]], dict[str, int]]:
    """Seconds of each rename, delete and restore; with `thumb_check`, what the thumbnails asked for after the
    first rename were: {asked, same (200, the bytes as before), processing (202), made (new files in the cache)}."""
    server.admin({"allowAlbumDelete": True})
    _make_thumbnails(server, photos)
    names = sorted(path.name for path in (photos / ALBUM_PATH).iterdir())[:THUMB_CHECKS]
    parent, name = ALBUM_PATH.rsplit("/", 1)
    other = f"{parent}/{ALBUM_OTHER_NAME}"
    timings: dict[str, list[float]] = {"rename": [], "delete": [], "restore": []}
    check: dict[str, int] = {}
    with requests.Session() as session:
        before = _thumbnails(session, server, ALBUM_PATH, names) if thumb_check else {}
        made = _cache_inodes(server)
        for number in range(ROUNDS):
            timings["rename"].append(_admin_call(session, "POST", f"{server.url}/api/albums/{quote(ALBUM_PATH)}"
                                                 "/rename", {"name": ALBUM_OTHER_NAME}))
            if thumb_check and number == 0:
                after = _thumbnails(session, server, other, names)
                check = {"asked": len(names), "same": sum(after[n] == before[n] for n in names),
                         "processing": sum(after[n][0] == 202 for n in names),
                         "made": len(_cache_inodes(server) - made)}
            timings["rename"].append(_admin_call(session, "POST", f"{server.url}/api/albums/{quote(other)}/rename",
                                                 {"name": name}))
        for _ in range(ROUNDS):
            started = time.perf_counter()
            answer = session.delete(f"{server.url}/api/albums/{quote(ALBUM_PATH)}", headers=ADMIN,
                                    timeout=REQUEST_TIMEOUT_S)
            timings["delete"].append(time.perf_counter() - started)
            _check(answer)
            timings["restore"].append(_admin_call(session, "POST",
                                                  f"{server.url}/api/trash/{answer.json()['id']}/restore"))
    ctx.log(" ".join(f"{action} " + "/".join(f"{1000 * s:.0f}" for s in values) + " ms"
                     for action, values in timings.items()))
    return timings, check


def _admin_call(session: requests.Session, method: str, url: str, body: dict | None = None) -> float:
    started = time.perf_counter()
    answer = session.request(method, url, json=body, headers=ADMIN, timeout=REQUEST_TIMEOUT_S)
    seconds = time.perf_counter() - started
    _check(answer)
    return seconds


def _check(answer: requests.Response) -> None:
    if answer.status_code != 200:
        raise RuntimeError(f"{answer.request.method} {answer.url}: {answer.status_code} {answer.text[:300]}")


def _thumbnails(session: requests.Session, server: BenchServer, album: str, names: list[str]) -> dict[str, tuple]:
    """(status, body) of each file's thumbnail at its path in `album`."""
    found = {}
    for name in names:
        _, answer = timed_get(session, f"{server.url}/api/thumbnail?path={quote(f'{album}/{name}')}")
        found[name] = (answer.status_code, answer.content)
    return found


def _cache_inodes(server: BenchServer) -> set[int]:
    """The inodes of the made thumbnails: a rename carries a file over (same inode), making one writes a new."""
    return {path.stat().st_ino for path in (server.data_dir / "thumbs").rglob("*.webp")}


def _make_thumbnails(server: BenchServer, photos: Path) -> None:
    """`photonix thumbs` over the server's database and data folder: every thumbnail made before the timings."""
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), "PHOTONIX_PHOTOS_DIR": str(photos),
           "PHOTONIX_DATA_DIR": str(server.data_dir), "PHOTONIX_JWT_SECRET": secrets.token_urlsafe(48),
           "PHOTONIX_DATABASE_URL": f"sqlite:///{server.data_dir / 'photonix.db'}"}
    done = subprocess.run([sys.executable, "-c", "import sys; from cli import main; sys.exit(main())", "thumbs",
                           "--nice", "0"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          timeout=THUMBS_TIMEOUT_S, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"photonix thumbs failed: {done.stderr.decode()[-2000:]}")
