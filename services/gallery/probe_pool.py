"""Header reading in child processes (probe_process.py), for a scan that meets many new files at once.

A header is read in Python (Pillow's EXIF parsing): threads share one core through the GIL, so a cold index of a
big library reads headers in `size` processes side by side, in chunks, each process holding at most MAX_OUTSTANDING
chunks (so neither side ever blocks on a full pipe). Waiting is select() on the pipes, which gevent makes
cooperative: the hub keeps serving meanwhile. A child that fails makes the pool raise PoolFailed, and the caller
reads headers itself from then on. No Flask, no database.
"""

from __future__ import annotations

import json
import logging
import os
import select
from pathlib import Path

from services import child_processes
from services.gallery import scanner
from services.gallery.metadata import PhotoMeta

MIN_FILES = 64  # fewer new files in a folder are read in-process: feeding children costs more than it saves
CHUNK = 32  # files per request: a folder of 100 new files keeps two processes busy
MAX_OUTSTANDING = 2  # requests a child holds at once: its answers (≈ 7 KB each) fit in a pipe's 64 KB
CHILD_MODULE = "services.gallery.probe_process"

log = logging.getLogger("photonix.gallery")


class PoolFailed(Exception):
    """A child process died or answered nonsense; the pool is closed."""


class _Child:
    def __init__(self) -> None:
        self.proc = child_processes.start(CHILD_MODULE)
        self.fd = self.proc.stdout.fileno()
        self.waiting: list[int] = []  # chunk numbers sent and not answered yet, oldest first
        self.buffer = b""

    def send(self, number: int, folder: Path, chunk: list[scanner.FileEntry]) -> None:
        request = json.dumps({"folder": str(folder), "files": [[entry.name, entry.kind] for entry in chunk]})
        self.proc.stdin.write(request.encode() + b"\n")
        self.proc.stdin.flush()
        self.waiting.append(number)

    def receive(self) -> list[tuple[int, list]]:
        """(chunk number, answer) for each whole line now readable; PoolFailed at end of file."""
        data = os.read(self.fd, 1 << 20)
        if not data:
            raise PoolFailed(f"header reader {self.proc.pid} ended (exit code {self.proc.poll()})")
        self.buffer += data
        *lines, self.buffer = self.buffer.split(b"\n")
        return [(self.waiting.pop(0), json.loads(line)) for line in lines]

    def stop(self) -> None:
        child_processes.end(self.proc)


class ProbePool:
    """`with ProbePool(size) as pool: pool.probe(folder, entries)`; children start on the first probe."""

    def __init__(self, size: int):
        self.size = size
        self._children: list[_Child] = []

    def __enter__(self) -> ProbePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def probe(self, folder: Path, entries: list[scanner.FileEntry]) -> list[scanner.Probe]:
        """scanner.probe of each entry of `folder`, in order; PoolFailed (pool closed) when a child fails."""
        chunks = [entries[start:start + CHUNK] for start in range(0, len(entries), CHUNK)]
        answers: list[list | None] = [None] * len(chunks)
        try:
            children = self._started()
            sent = 0
            while sent < len(chunks) or any(child.waiting for child in children):
                for child in children:
                    while sent < len(chunks) and len(child.waiting) < MAX_OUTSTANDING:
                        child.send(sent, folder, chunks[sent])
                        sent += 1
                busy = {child.fd: child for child in children if child.waiting}
                readable, _, _ = select.select(list(busy), [], [])
                for fd in readable:
                    for number, answer in busy[fd].receive():
                        answers[number] = answer
            probes = [_decode(found) for answer in answers for found in answer]
            if len(probes) != len(entries):
                raise PoolFailed(f"{len(probes)} headers read for {len(entries)} files")
            return probes
        except (OSError, ValueError, TypeError, IndexError, PoolFailed) as exc:
            self.close()
            raise PoolFailed(str(exc)) from exc

    def close(self) -> None:
        children, self._children = self._children, []
        for child in children:
            child.stop()

    def _started(self) -> list[_Child]:
        if not self._children:
            self._children = [_Child() for _ in range(self.size)]
        return self._children


def _decode(found: list) -> scanner.Probe:
    mime, width, height, details = found
    return scanner.Probe(mime, width, height, PhotoMeta(*details))
