"""Header reading in child processes (probe_process.py), for a scan that meets many new files at once.

A header is read in Python (Pillow's EXIF parsing): threads share one core through the GIL, so a cold index of a
big library reads headers in `size` processes side by side. A folder's files are submitted in chunks and queued;
the scan submits the next folder before it writes the last one, and pumps between its write batches, so the
children read while the database writes. Each child is sent a request only while the requests it has not
answered fit in half its stdin pipe: writing to it then never blocks, so neither side can wait on the other with
both pipes full. Waiting is select() on the pipes, which gevent makes cooperative: the hub keeps serving
meanwhile. A child that fails makes the pool raise PoolFailed from then on, and the caller reads headers itself.
No Flask, no database.
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import json
import logging
import os
import select
from pathlib import Path

from services import child_processes
from services.gallery import scanner
from services.gallery.metadata import PhotoMeta

MIN_FILES = 64  # fewer new files in a folder are read in-process: feeding children costs more than it saves
CHUNK = 32  # files per request
ANSWER_PIPE_BYTES = 1 << 20  # asked for each child's stdout (the kernel's default maximum): answers wait there
CHILD_MODULE = "services.gallery.probe_process"

log = logging.getLogger("photonix.gallery")


class PoolFailed(Exception):
    """A child process died or answered nonsense; the pool is closed."""


class Ticket:
    """The headers of one submitted folder, filled in chunk by chunk."""

    def __init__(self, chunks: int, files: int):
        self.answers: list[list | None] = [None] * chunks
        self.missing = chunks
        self.files = files


class _Child:
    def __init__(self) -> None:
        self.proc = child_processes.start(CHILD_MODULE)
        self.fd = self.proc.stdout.fileno()
        with contextlib.suppress(OSError):  # a user over the pipe budget keeps the default size
            fcntl.fcntl(self.fd, fcntl.F_SETPIPE_SZ, ANSWER_PIPE_BYTES)
        self.room = fcntl.fcntl(self.proc.stdin.fileno(), fcntl.F_GETPIPE_SZ) // 2
        self.waiting: collections.deque[tuple[Ticket, int, int]] = collections.deque()  # (ticket, chunk, bytes)
        self.buffer = b""

    def has_room(self, size: int) -> bool:
        """Whether a request of `size` bytes may be sent without the write ever blocking (an idle child reads)."""
        return not self.waiting or sum(sent for _, _, sent in self.waiting) + size <= self.room

    def send(self, ticket: Ticket, number: int, request: bytes) -> None:
        self.proc.stdin.write(request)
        self.proc.stdin.flush()
        self.waiting.append((ticket, number, len(request)))

    def receive(self) -> None:
        """Files each whole answer line now readable into its ticket; PoolFailed at end of file."""
        data = os.read(self.fd, 1 << 20)
        if not data:
            raise PoolFailed(f"header reader {self.proc.pid} ended (exit code {self.proc.poll()})")
        self.buffer += data
        *lines, self.buffer = self.buffer.split(b"\n")
        for line in lines:
            ticket, number, _ = self.waiting.popleft()
            ticket.answers[number] = json.loads(line)
            ticket.missing -= 1

    def stop(self) -> None:
        child_processes.end(self.proc)


class ProbePool:
    """`with ProbePool(size) as pool: ticket = pool.submit(folder, entries); …; pool.result(ticket)`; children
    start on the first submit. `pool.pump()` between other work keeps them fed."""

    def __init__(self, size: int):
        self.size = size
        self._children: list[_Child] = []
        self._queue: collections.deque[tuple[Ticket, int, bytes]] = collections.deque()
        self._failed: str | None = None

    def __enter__(self) -> ProbePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def submit(self, folder: Path, entries: list[scanner.FileEntry]) -> Ticket:
        """Queue scanner.probe of each entry of `folder`; PoolFailed when the pool has failed."""
        ticket = Ticket((len(entries) + CHUNK - 1) // CHUNK, len(entries))
        where = str(folder.absolute())  # the children run in another working directory
        for number, start in enumerate(range(0, len(entries), CHUNK)):
            files = [[entry.name, entry.kind] for entry in entries[start:start + CHUNK]]
            self._queue.append((ticket, number, json.dumps({"folder": where, "files": files}).encode() + b"\n"))
        self.pump()
        return ticket

    def result(self, ticket: Ticket) -> list[scanner.Probe]:
        """The ticket's probes, in order, waiting for them; PoolFailed (pool closed) when a child fails."""
        while ticket.missing:
            self.pump(block=True)
        try:
            probes = [_decode(found) for answer in ticket.answers for found in answer]
        except (ValueError, TypeError) as exc:
            self._fail(str(exc))
        if len(probes) != ticket.files:
            self._fail(f"{len(probes)} headers read for {ticket.files} files")
        return probes

    def probe(self, folder: Path, entries: list[scanner.FileEntry]) -> list[scanner.Probe]:
        """scanner.probe of each entry of `folder`, in order (submit, then wait for the result)."""
        return self.result(self.submit(folder, entries))

    def pump(self, block: bool = False) -> None:
        """Send queued requests to children with room, and file the answers ready (with `block`, wait for one)."""
        if self._failed is not None:
            raise PoolFailed(self._failed)
        try:
            children = self._started()
            self._send(children)
            busy = {child.fd: child for child in children if child.waiting}
            if block and not busy:
                raise PoolFailed("waiting for answers no child owes (the pool was closed)")
            if busy:
                readable, _, _ = select.select(list(busy), [], [], None if block else 0)
                for fd in readable:
                    busy[fd].receive()
        except (OSError, ValueError, TypeError, IndexError, PoolFailed) as exc:
            self._fail(str(exc))

    def _send(self, children: list[_Child]) -> None:
        """Queued requests to children with room, one each in turn (a small folder is read by all of them)."""
        sent = True
        while self._queue and sent:
            sent = False
            for child in children:
                if self._queue and child.has_room(len(self._queue[0][2])):
                    child.send(*self._queue.popleft())
                    sent = True

    def close(self) -> None:
        children, self._children = self._children, []
        self._queue.clear()
        for child in children:
            child.stop()

    def _fail(self, reason: str) -> None:
        self._failed = self._failed or reason
        self.close()
        raise PoolFailed(reason)

    def _started(self) -> list[_Child]:
        if not self._children:
            self._children = [_Child() for _ in range(self.size)]
        return self._children


def _decode(found: list) -> scanner.Probe:
    mime, width, height, details = found
    return scanner.Probe(mime, width, height, PhotoMeta(*details))
