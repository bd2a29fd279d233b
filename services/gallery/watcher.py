"""The filesystem watcher: keeps the index in step with PHOTOS_DIR between scans, in the process that holds the jobs
lease only. watchdog runs in a child process (watch_process.py says why); this side reads its lines without
blocking the gevent hub, gathers the folders they name, and syncs each burst through the Indexer once it is quiet.

When the kernel runs out of watches or drops events, the watcher stops, asks for a full scan, and the periodic
scan finds changes as before. Its state is kept in the settings table for `photonix doctor`. No Flask here.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import select
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import peewee

from models import Folder
from services import child_processes, jobs, settings
from services.gallery import index
from services.gallery.index import Indexer, Publish
from services.paths import is_listed_path

WATCH_JOB = "watch"
STATE_KEY = "watcher-state"
INOTIFY, FALLBACK, OFF = "inotify", "polling-fallback", "off"
QUIET_S = 0.3  # the folders of a burst are synced once no event came for this long…
MAX_DELAY_S = 1.0  # …or this long after its first event, whichever comes first (a copy that never pauses)
TICK_S = 0.25  # the longest wait for an event between two checks that this process still leads
RETRY_S = 3600.0  # after a fallback, watching is tried again this much later (the limit may have been raised)
READ_BYTES = 1 << 16
CHILD_MODULE = "services.gallery.watch_process"
MAX_USER_WATCHES = Path("/proc/sys/fs/inotify/max_user_watches")
SYSCTL_FILE = "/etc/sysctl.d/60-photonix-inotify.conf"
MIN_SUGGESTED_WATCHES = 524_288

log = logging.getLogger("photonix.watcher")


def register_job(root: Path, watch: str, publish: Publish) -> None:
    """Watch `root` in the lease-holding process for as long as it leads (Config.watch "auto"); for "off", that
    process only records that it does not watch."""
    if watch == "off":
        jobs.register_periodic(WATCH_JOB, math.inf, lambda: _save_state(OFF, "PHOTONIX_WATCH=off", "", 0))
    else:
        jobs.register_periodic(WATCH_JOB, RETRY_S, lambda: Watcher(root, publish).run(jobs.is_leader))


def read_state() -> dict[str, Any] | None:
    """The state the leading process last saved: {mode, reason, detail, folders, since}, or None before any."""
    stored = settings.read_setting(STATE_KEY)
    return json.loads(stored) if stored else None


def max_user_watches() -> int | None:
    """The kernel's limit on inotify watches per user, None when it cannot be read (not Linux)."""
    try:
        return int(MAX_USER_WATCHES.read_text())
    except (OSError, ValueError):
        return None


def raise_limit_hint(folders: int) -> str:
    """How to give the watcher enough watches for `folders` folders, now and after a reboot."""
    value = max(MIN_SUGGESTED_WATCHES, 2 * folders)
    return (f"sudo sysctl fs.inotify.max_user_watches={value}; to keep it after a reboot: "
            f"echo fs.inotify.max_user_watches={value} | sudo tee {SYSCTL_FILE}; then restart Photonix")


def fallback_fix(reason: str, folders: int) -> str:
    """What to do about a fallback for `reason` ("watches", "overflow" or "error") with `folders` folders indexed."""
    if reason == "watches":
        return (f"inotify watches ran out ({folders} folders indexed, fs.inotify.max_user_watches is "
                f"{max_user_watches()}, shared by all programs of this user): {raise_limit_hint(folders)}")
    if reason == "overflow":
        return ("the kernel dropped file events during a very large burst of changes; if it happens often: sudo "
                f"sysctl fs.inotify.max_queued_events=65536 (and the same line in {SYSCTL_FILE})")
    return "see the server log for the watcher process's own lines"


class Watcher:
    """One watching session: start() the child, step() until told to stop or it falls back, stop().
    `max_watches` (tests) makes the child refuse watches past that count, as a low kernel limit would."""

    def __init__(self, root: Path, publish: Publish, max_watches: int | None = None):
        self.root, self.publish, self.max_watches = root, publish, max_watches
        self.mode: str | None = None  # INOTIFY once the child watches, FALLBACK when it gave up
        self.pending: set[str] = set()
        self.first_at = self.last_at = 0.0
        self.events = 0  # folder lines received
        self._proc: subprocess.Popen | None = None
        self._buffer = b""

    def run(self, keep_going: Callable[[], bool]) -> None:
        """Watch until keep_going() fails (the lease is lost, the process stops) or the watcher falls back."""
        self.start()
        try:
            while self.mode != FALLBACK and keep_going():
                self.step()
        finally:
            self.stop()

    def start(self) -> None:
        limit = [] if self.max_watches is None else ["--max-watches", str(self.max_watches)]
        self._proc = child_processes.start(CHILD_MODULE, *limit, "--", str(self.root))

    def step(self) -> None:
        """Wait for the child's lines (TICK_S at most, less when a burst is due), then sync a burst that is due.
        Does nothing once the watcher fell back."""
        if self.mode == FALLBACK:
            return
        self._read(max(0.0, min(TICK_S, self._due_in(time.monotonic()))) if self.pending else TICK_S)
        if self.mode != FALLBACK and self.pending and self._due_in(time.monotonic()) <= 0:
            self.flush()

    def flush(self) -> None:
        """Sync the pending folders now and tell the clients, as a scan does, when anything changed."""
        rels = {rel for rel in self.pending if is_listed_path(rel)}
        self.pending.clear()
        if not rels or Indexer(self.root).is_empty():  # no index yet: the full scan that makes it sees all
            return
        started = time.monotonic()
        try:
            stats = Indexer(self.root, self.publish).sync_folders(rels)
        except Exception:  # a database hiccup: the scan catches up, and watching goes on
            log.exception("file watcher: syncing %d folder(s) failed; a full scan will catch up", len(rels))
            _ask_for_scan()
            return
        if stats.added or stats.updated or stats.removed or stats.changed_folders:
            self.publish("index-complete", {**stats.as_event(time.monotonic() - started, finished=True),
                                            "source": "watcher"})

    def _due_in(self, now: float) -> float:
        """Seconds until the pending burst is due: quiet for QUIET_S, or MAX_DELAY_S after its first event."""
        return min(self.last_at + QUIET_S, self.first_at + MAX_DELAY_S) - now

    def stop(self) -> None:
        """End the child (its stdin closes, then a kill if it lingers) and wait for it. Safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is not None:
            child_processes.end(proc)

    def _read(self, timeout_s: float) -> None:
        """Read what the child wrote within `timeout_s`. poll() is gevent's under its monkey-patching, so the
        wait lets other greenlets run; the read that follows never blocks (data, or end of file, is there)."""
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        if not poller.poll(timeout_s * 1000):
            return
        try:
            data = os.read(fd, READ_BYTES)
        except BlockingIOError:  # woken without data after all
            return
        if not data:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(child_processes.STOP_TIMEOUT_S)
            self._fall_back("error", f"the watcher process ended (exit code {self._proc.returncode})")
            return
        *lines, self._buffer = (self._buffer + data).split(b"\n")
        for line in lines:
            if self.mode != FALLBACK:  # what follows the child's last word is not for us
                try:
                    message = json.loads(line)
                except ValueError:  # not a line the child meant (it writes UTF-8 JSON only): skipped
                    log.warning("file watcher: skipped a line its process wrote: %r", line[:200])
                    continue
                self._handle(message)

    def _handle(self, message: Any) -> None:
        if isinstance(message, str):
            now = time.monotonic()
            if not self.pending:
                self.first_at = now
            self.pending.add(message)
            self.last_at = now
            self.events += 1
        elif "ready" in message:
            self.mode = INOTIFY
            _save_state(INOTIFY, "", "", message["ready"])
            log.info("file watcher: watching %s (%d folders)", self.root, message["ready"])
        elif "fallback" in message:
            self._fall_back(message["fallback"], message.get("detail", ""))

    def _fall_back(self, reason: str, detail: str) -> None:
        """Give up watching for now: record why, warn once with the fix, and ask for a full scan."""
        self.mode = FALLBACK
        self.pending.clear()  # the full scan finds these too
        _save_state(FALLBACK, reason, detail, 0)
        log.warning("file watcher stopped (%s): %s. Changes are now found by the periodic scan "
                    "(PHOTONIX_SCAN_INTERVAL_SECONDS) and when a folder is browsed; watching is tried again in "
                    "%d minutes. Fix: %s", reason, detail, RETRY_S // 60, fallback_fix(reason, _folders()))
        _ask_for_scan()


# The database may be locked by another process for a while (a backup, a long write): what the watcher records or
# asks for then is lost, never the watching. Its state only informs `photonix doctor`; the periodic scan runs anyway.

def _save_state(mode: str, reason: str, detail: str, folders: int) -> None:
    state = {"mode": mode, "reason": reason, "detail": detail, "folders": folders, "since": time.time()}
    try:
        settings.write_settings({STATE_KEY: json.dumps(state)}, bump_epoch=False)
    except peewee.DatabaseError as exc:
        log.warning("file watcher: could not record its state (%s): %s", mode, exc)


def _ask_for_scan() -> None:
    try:
        jobs.request_run(index.JOB_NAME)
    except peewee.DatabaseError as exc:
        log.warning("file watcher: could not ask for a full scan (the periodic one will come): %s", exc)


def _folders() -> int:
    """How many folders are indexed (0 when the database cannot say now: the fix then names the usual limit)."""
    try:
        return Folder.select().count()
    except peewee.DatabaseError:
        return 0
