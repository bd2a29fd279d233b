"""/api/zip on a real gunicorn+gevent worker (issue 22): a 4.2 GiB album of sparse files comes out as a valid
ZIP64 archive, and a client that disconnects mid-ZIP leaves no file open in the worker, which keeps serving."""

from __future__ import annotations

import os
import socket
import struct
import zipfile
from pathlib import Path

import pytest
import requests

from tests.support import images, waiting
from tests.support.servers import Gunicorn, cannot_run

pytestmark = pytest.mark.integration
GIB = 1 << 30
CHUNK = 1 << 20
ZEROS = bytes(CHUNK)
BIG = {"a.mp4": int(2.3 * GIB), "b.mp4": int(1.9 * GIB)}  # together past 4 GiB: c.jpg starts beyond 32 bits
WAIT_S = 20.0
CLOSE = {"Connection": "close"}


def sparse(path: Path, size: int) -> Path:
    """A file of `size` zero bytes that takes (almost) no disk. Where the filesystem cannot, skip loudly (fail under
    CI=true, where every layer must run: tests/support/servers.cannot_run)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as file:
        file.truncate(size)
    blocks = os.stat(path).st_blocks
    if blocks * 512 > size // 1000:
        path.unlink()
        cannot_run(f"SKIPPED LOUDLY: {path.parent} has no sparse files ({blocks} blocks for {size} bytes): the ZIP64 "
                   f"and disconnect tests would need {size / GIB:.1f} GiB of real disk")
    return path


def download_sparse(url: str, target: Path) -> int:
    """Stream the answer into `target`, leaving holes for all-zero chunks (so a 4 GiB copy of sparse files costs
    no disk); the number of bytes received."""
    received = 0
    with requests.get(url, stream=True, timeout=60, headers=CLOSE) as response, open(target, "wb") as out:
        assert response.status_code == 200, response.text
        assert int(response.headers["Content-Length"]) > 4 * GIB
        for chunk in response.iter_content(CHUNK):
            if chunk != ZEROS[:len(chunk)]:
                os.pwrite(out.fileno(), chunk, received)
            received += len(chunk)
        out.truncate(received)
        assert received == int(response.headers["Content-Length"])
    return received


@pytest.mark.slow
def test_a_4_gib_album_is_a_valid_zip64_archive(env, tmp_path, db, photos_dir):
    for name, size in BIG.items():
        sparse(photos_dir / "big" / name, size)
    photo = images.jpeg(photos_dir / "big" / "c.jpg", (64, 48))
    copy = tmp_path / "copy.zip"
    with Gunicorn(env, tmp_path / "gunicorn.log") as server:
        received = download_sparse(server.url + "/api/zip/big", copy)
    assert received > sum(BIG.values())
    with zipfile.ZipFile(copy) as archive:
        infos = {info.filename: info for info in archive.infolist()}
        assert sorted(infos) == ["a.mp4", "b.mp4", "c.jpg"]
        assert {name: infos[name].file_size for name in BIG} == BIG
        assert infos["c.jpg"].header_offset > 0xFFFFFFFF  # only a ZIP64 central directory can say where it is
        assert archive.read("c.jpg") == photo.read_bytes()
        assert archive.testzip() is None  # every CRC, over every byte received (4.2 GiB of zeros: ~2 s)
    with open(copy, "rb") as file:
        file.seek(-200, os.SEEK_END)
        assert b"PK\x06\x06" in file.read()  # the ZIP64 end of central directory record


def album_files_open(pid: str, album: Path) -> list[str]:
    """The files below `album` that process `pid` has open now."""
    found = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:  # closed meanwhile
            continue
        if target.startswith(str(album) + "/"):
            found.append(target)
    return found


def test_a_client_that_disconnects_mid_zip_leaves_no_open_file(env, tmp_path, db, photos_dir):
    album = photos_dir / "clips"
    sparse(album / "long.mp4", 2 * GIB)  # far more than the socket buffers hold: the worker must wait for us
    with Gunicorn(env, tmp_path / "gunicorn.log") as server:
        [pid] = server.pids("GET /health")
        with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT_S) as client:
            client.sendall(b"GET /api/zip/clips HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            assert client.recv(65536).startswith(b"HTTP/1.1 200")
            waiting.until(lambda: album_files_open(pid, album), "the worker never opened the album's file", WAIT_S)
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close at once: a reset
        waiting.until(lambda: not album_files_open(pid, album),
                      f"the worker still holds {album_files_open(pid, album)} after the client left", WAIT_S)
        assert requests.get(server.url + "/health", timeout=WAIT_S, headers=CLOSE).status_code == 200
        images.jpeg(photos_dir / "small" / "p.jpg", (32, 24))
        again = requests.get(server.url + "/api/zip/small", timeout=WAIT_S, headers=CLOSE)
        assert again.status_code == 200 and again.content[:4] == b"PK\x03\x04"
        assert server.worker_of(again) == pid  # the same worker, still serving (its log line may come after the body)
    assert "Traceback" not in server.log()
