"""The watcher's own process: watchdog's inotify observer on PHOTOS_DIR, reporting each change on stdout as one
JSON line: a string (the folder, relative to the root, whose listing to sync) or an object ({"ready": watches} once
watching, {"fallback": reason, "detail": …} when it cannot go on, then it ends). It ends when stdin closes.

A process of its own, never a thread of the server's: under gevent's monkey-patching watchdog's threads become
greenlets and its event queue breaks (watchdog 7 subclasses queue.Queue, which gevent >= 25.4 replaces with one
whose maxsize is None: TypeError on the first event). It imports nothing of Photonix but this module.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import errno
import json
import logging
import os
import queue
import sys
import threading
from typing import IO, Any

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    EventsLostEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import inotify_c
from watchdog.observers.inotify import InotifyObserver

# What can change a listing: a file written and closed (new or rewritten in place), created (a hard link), moved,
# deleted; a folder created, moved or deleted. Modifications (IN_MODIFY, and DirModifiedEvent, which asks for it) are
# left out: one fires on every write() and would fill the kernel's queue during a big copy; the close that follows
# the writes is what counts. A change of mtime alone (touch) is left to the periodic scan.
EVENTS = [FileClosedEvent, FileCreatedEvent, FileDeletedEvent, FileMovedEvent, DirCreatedEvent, DirDeletedEvent,
          DirMovedEvent, EventsLostEvent]
EXHAUSTED = (errno.ENOSPC, errno.EMFILE)  # out of watches (max_user_watches) or of instances
STOP_TIMEOUT_S = 5.0


class _Output:
    """JSON lines on stdout, written whole by one thread at a time (watchdog's and the watch-limit's)."""

    def __init__(self, stream: IO[str]):
        self.stream = stream
        self.lock = threading.Lock()

    def send(self, message: Any) -> None:
        with self.lock:
            self.stream.write(json.dumps(message, ensure_ascii=False) + "\n")
            self.stream.flush()


class _Watches:
    """Wraps watchdog's inotify_add_watch call: counts the watches and notices when the kernel refuses one. watchdog
    logs and skips a folder it cannot watch once it is running; here that ends the watcher (the folder would be
    silently unwatched). `limit` (tests) refuses watches past that count, as the kernel's limit would."""

    def __init__(self, stop: queue.Queue, limit: int | None):
        self.stop, self.limit = stop, limit
        self.descriptors: set[int] = set()
        self.original = inotify_c.inotify_add_watch
        inotify_c.inotify_add_watch = self.add_watch

    def add_watch(self, fd: int, path: bytes, mask: int) -> int:
        if self.limit is not None and len(self.descriptors) >= self.limit:
            ctypes.set_errno(errno.ENOSPC)
            descriptor = -1
        else:
            descriptor = self.original(fd, path, mask)
        if descriptor == -1 and ctypes.get_errno() in EXHAUSTED:
            self.stop.put({"fallback": "watches", "detail": f"cannot watch {os.fsdecode(path)}: "
                                                            f"{os.strerror(ctypes.get_errno())}"})
        elif descriptor != -1:
            self.descriptors.add(descriptor)
        return descriptor


class _Reporter(FileSystemEventHandler):
    """Turns each event into the folder whose listing changed, relative to `root` (a new folder's content is
    walked by the parent when it syncs the folder that gained it)."""

    def __init__(self, root: str, output: _Output, stop: queue.Queue):
        self.root, self.output, self.stop = root, output, stop

    def on_any_event(self, event: FileSystemEvent) -> None:
        if isinstance(event, EventsLostEvent):
            self.stop.put({"fallback": "overflow", "detail": "the kernel's inotify event queue overflowed"})
            return
        for path in (event.src_path, event.dest_path):
            if path:
                self._send(os.path.dirname(os.fsdecode(path)))  # the listing that changed is the parent's

    def _send(self, folder: str) -> None:
        rel = os.path.relpath(folder, self.root)
        if rel == ".":
            rel = ""
        # Outside the root, or inside a hidden folder (a DATA_DIR kept in the photos folder writes thumbnails
        # there): not part of the gallery, so not worth a line. The parent checks every name again.
        if rel.startswith("..") or any(part.startswith(".") for part in rel.split("/")):
            return
        try:
            rel.encode()
        except UnicodeEncodeError:  # a name that is not UTF-8 (decoded with surrogates) is never listed either
            return
        self.output.send(rel)


def watch(root: str, output: _Output, limit: int | None = None, stdin: IO[str] | None = None) -> None:
    """Watch `root` until `stdin` closes (None: forever) or the watcher cannot go on; report on `output`."""
    stop: queue.Queue = queue.Queue()
    watches = _Watches(stop, limit)
    observer = InotifyObserver()
    try:
        try:
            observer.schedule(_Reporter(root, output, stop), root, recursive=True, event_filter=EVENTS)
            observer.start()
        except OSError as exc:
            reason = "watches" if exc.errno in EXHAUSTED else "error"
            output.send({"fallback": reason, "detail": f"cannot watch {root}: {exc.strerror or exc}"})
            return
        output.send({"ready": len(watches.descriptors)})
        if stdin is not None:
            threading.Thread(target=lambda: (stdin.read(), stop.put(None)), daemon=True).start()
        reason = stop.get()
        if reason is not None:
            output.send(reason)
    finally:
        observer.stop()  # also ends the inotify reader that schedule() started
        if observer.ident is not None:
            observer.join(STOP_TIMEOUT_S)
        inotify_c.inotify_add_watch = watches.original


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("root")
    parser.add_argument("--max-watches", type=int, default=None, help="refuse watches past this count (tests)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="photonix watcher process: %(levelname)s %(message)s")
    with contextlib.suppress(BrokenPipeError):  # the server went away meanwhile
        watch(os.path.abspath(args.root), _Output(sys.stdout), args.max_watches, sys.stdin)
    return 0


if __name__ == "__main__":
    sys.exit(main())
