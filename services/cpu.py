"""The native thread pools for CPU work, so it never runs on the gevent hub: one lane for image work
(decode/encode, feed parsing) and a small one of its own for password checks (bcrypt).

Owns both pools per process, created on first use. Each lane is first come, first served, but the lanes
do not wait for each other: a burst of logins cannot hold back thumbnails, and a burst of thumbnails
cannot hold back a login. So that a password check also gets a core to itself, image work starts one
task fewer for each running check (down to half its threads, never to none).

Short blocking disk calls that belong to such work (the fsyncs of a downloaded image) may run here too;
network I/O and database work must not: pool threads are outside gevent and hold no connection.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

DEFAULT_SIZE = 2


def password_lane_size(pool_size: int, cores: int | None = None) -> int:
    """Threads for password checks: at most one per core and at most half the image pool, never none."""
    return max(1, min(cores or os.cpu_count() or 1, pool_size // 2))


class Lane:
    """A fixed number of native threads with a FIFO queue in front of them; a lane that `yields_to` another
    runs one task fewer for each task running there (at most half of its own threads fewer)."""

    def __init__(self, name: str, size: int, yields_to: Lane | None = None):
        self.name = name
        self.yields_to = yields_to
        self._lock = threading.Lock()
        self._size = size
        self._pool: Any = None
        self._in_flight = 0
        self._started = 0  # tasks past their turn (yielding lanes only)
        self.waiting = 0  # tasks waiting for their turn (yielding lanes only)

    @property
    def size(self) -> int:
        """The number of native threads the lane may use."""
        return self._size

    def busy(self) -> int:
        """Tasks running or waiting for a thread right now; `busy() >= size` means saturated."""
        return self._in_flight

    def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run fn(*args, **kwargs) on one of the lane's threads; return its result or raise its exception.

        The calling greenlet waits without blocking the gevent hub; a plain thread simply waits.
        """
        pool = self._get_pool()
        with self._lock:
            self._in_flight += 1
        try:
            with self._turn():
                if isinstance(pool, ThreadPoolExecutor):
                    return pool.submit(fn, *args, **kwargs).result()
                return pool.apply(fn, args, kwargs)
        finally:
            with self._lock:
                self._in_flight -= 1
            if self.yields_to is None:
                with _turns():
                    _turns().notify_all()

    @contextlib.contextmanager
    def _turn(self) -> Iterator[None]:
        """Wait (in the calling greenlet or thread) until this lane may start one more task."""
        if self.yields_to is None:
            yield
            return
        other = self.yields_to
        turns = _turns()
        with turns:
            self.waiting += 1
            turns.wait_for(lambda: self._started < self._size - min(other.busy(), other.size, self._size // 2))
            self.waiting -= 1
            self._started += 1
        try:
            yield
        finally:
            with turns:
                self._started -= 1
                turns.notify_all()

    def resize(self, size: int) -> None:
        """Use `size` threads from now on. Starts no thread; a pool already made is replaced."""
        with self._lock:
            old, self._pool, self._size = self._pool, None, size
        if old is not None:
            _retire(old)

    def shutdown(self) -> None:
        with self._lock:
            old, self._pool = self._pool, None
        if old is not None:
            _retire(old)

    def _get_pool(self) -> Any:
        with self._lock:
            if self._pool is None:
                self._pool = _make_pool(self._size, self.name)
            return self._pool


passwords = Lane("photonix-bcrypt", password_lane_size(DEFAULT_SIZE))
images = Lane("photonix-cpu", DEFAULT_SIZE, yields_to=passwords)
_turns_lock = threading.Lock()
_turns_condition: Any = None


def _turns() -> Any:
    """The condition the lanes take turns on, made on first use: a gevent one once gevent has patched threading."""
    global _turns_condition
    with _turns_lock:
        if _turns_condition is None:
            _turns_condition = threading.Condition()
        return _turns_condition


def configure(size: int, cores: int | None = None) -> None:
    """Give image work `size` threads (e.g. Config.thumb_threads) and password checks their lane beside it."""
    if size < 1:
        raise ValueError(f"the CPU pool needs at least one thread, not {size}")
    images.resize(size)
    passwords.resize(password_lane_size(size, cores))


def size() -> int:
    """The number of native threads image work may use."""
    return images.size


def busy() -> int:
    """Image tasks running or waiting for a thread right now; `busy() >= size()` means saturated."""
    return images.busy()


def run_cpu(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run image (or other non-password) CPU work on the image lane; see Lane.run."""
    return images.run(fn, *args, **kwargs)


def run_password(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a password hash or check on the password lane; see Lane.run."""
    return passwords.run(fn, *args, **kwargs)


def shutdown() -> None:
    """Let the process exit: idle pool threads end now (a gevent ThreadPool's threads keep a worker alive)."""
    images.shutdown()
    passwords.shutdown()


def _make_pool(count: int, name: str) -> Any:
    from gevent import monkey

    if monkey.is_module_patched("threading"):
        from gevent.threadpool import ThreadPool

        # Dedicated pools: the hub's default one also does gevent's DNS lookups, which a burst of
        # thumbnails or logins must not starve.
        return ThreadPool(count)
    return ThreadPoolExecutor(count, thread_name_prefix=name)


def _retire(pool: Any) -> None:
    # Tasks already submitted still finish; idle threads go away.
    if isinstance(pool, ThreadPoolExecutor):
        pool.shutdown(wait=False)
    else:
        pool.maxsize = 0
