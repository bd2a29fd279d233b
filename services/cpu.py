"""The native thread pools for CPU work, so it never runs on the gevent hub: one lane for image work
(decode/encode, feed parsing) and a small one of its own for password checks (bcrypt).

Owns both pools per process, created on first use. Each lane is first come, first served, but the lanes
do not wait for each other: a burst of logins cannot hold back thumbnails, and a burst of thumbnails
cannot hold back a login. So that a password check also gets a core to itself, image work starts one
task fewer for each running check (down to half its threads, never to none). Image work comes in two
priorities: batch work (the thumbnail batch) takes a thread only when one is free and no other image work
waits for one, so a browser's thumbnail waits for at most the batch items already running, never a queue.

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


class Priority:
    """How a task waits for its turn on a lane that takes turns: urgent work (someone waits for it) starts as
    soon as a thread is free; batch work only when a thread is free and no urgent work waits for it."""

    def __init__(self, batch: bool = False):
        self.batch = batch

    def promote(self) -> None:
        """Make this work urgent from now on, also while it waits (someone now waits for this very work)."""
        if self.batch:
            with _turns():
                self.batch = False
                _turns().notify_all()


URGENT = Priority()


class Lane:
    """A fixed number of native threads; a lane that `yields_to` another takes turns: it runs one task fewer for
    each task running there (at most half of its own threads fewer), and urgent work goes before batch work.
    A lane that takes no turns is a FIFO queue in front of its threads and runs urgent work only."""

    def __init__(self, name: str, size: int, yields_to: Lane | None = None):
        self.name = name
        self.yields_to = yields_to
        self._lock = threading.Lock()
        self._size = size
        self._pool: Any = None
        self._in_flight = 0  # lanes without turns
        self._waiting: list[Priority] = []  # tasks waiting for their turn (lanes that take turns)
        self._running: list[Priority] = []  # tasks past their turn (lanes that take turns)

    @property
    def size(self) -> int:
        """The number of native threads the lane may use."""
        return self._size

    @property
    def waiting(self) -> int:
        """Urgent tasks waiting for their turn right now."""
        return sum(not priority.batch for priority in list(self._waiting))

    @property
    def batch_waiting(self) -> int:
        """Batch tasks waiting for their turn right now."""
        return sum(priority.batch for priority in list(self._waiting))

    def busy(self) -> int:
        """Urgent tasks running or waiting for a thread right now; `busy() >= size` means saturated. Batch work
        is not counted: new urgent work goes before it (and waits for the batch items already running only)."""
        if self.yields_to is None:
            return self._in_flight
        return self.waiting + sum(not priority.batch for priority in list(self._running))

    def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run fn(*args, **kwargs) on one of the lane's threads as urgent work; see run_at."""
        return self.run_at(URGENT, fn, *args, **kwargs)

    def run_at(self, priority: Priority, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run fn(*args, **kwargs) on one of the lane's threads when `priority` lets it start; return its result
        or raise its exception. The calling greenlet waits without blocking the gevent hub; a plain thread
        simply waits. Batch work needs a lane that takes turns (one that yields_to another)."""
        if priority.batch and self.yields_to is None:
            raise ValueError(f"lane {self.name} takes no turns, so it runs no batch work")
        pool = self._get_pool()
        with self._turn(priority):
            if isinstance(pool, ThreadPoolExecutor):
                return pool.submit(fn, *args, **kwargs).result()
            ok, value = pool.apply(_outcome, (fn, args, kwargs))
            if not ok:
                raise value
            return value

    @contextlib.contextmanager
    def _turn(self, priority: Priority) -> Iterator[None]:
        """Wait (in the calling greenlet or thread) until this lane may start the task; count it meanwhile."""
        if self.yields_to is None:
            yield from self._counted()
            return
        turns = _turns()
        with turns:
            self._waiting.append(priority)  # counted by busy() from here on, under the lock the others check
            try:
                turns.wait_for(lambda: self._may_start(priority))
            finally:
                self._waiting.remove(priority)
            self._running.append(priority)
        try:
            yield
        finally:
            with turns:
                self._running.remove(priority)
                turns.notify_all()

    def _counted(self) -> Iterator[None]:
        with self._lock:
            self._in_flight += 1
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1
            with _turns():
                _turns().notify_all()  # a lane yielding to this one may start one more task

    def _may_start(self, priority: Priority) -> bool:
        """Under the turns lock: a thread is free for this lane (after yielding), and batch work lets urgent
        work that waits go first. The lane never hands its pool more tasks than threads: none queue there."""
        other = self.yields_to
        assert other is not None
        if len(self._running) >= self._size - min(other.busy(), other.size, self._size // 2):
            return False
        return not priority.batch or self.waiting == 0

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
    """Urgent image tasks running or waiting for a thread right now (not batch work); `busy() >= size()` means
    saturated."""
    return images.busy()


def _outcome(fn: Callable[..., T], args: tuple, kwargs: dict) -> tuple[bool, Any]:
    """(True, result) or (False, the exception): gevent's pool would also print an exception raised in its thread
    as a crash, where it is the caller's to handle (a 404 from the trash, a refused file)."""
    try:
        return True, fn(*args, **kwargs)
    except Exception as error:  # noqa: BLE001 (handed to the caller, who raises it)
        return False, error


def run_cpu(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run image (or other non-password) CPU work on the image lane as urgent work; see Lane.run_at."""
    return images.run(fn, *args, **kwargs)


def run_cpu_at(priority: Priority, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run image work on the image lane at `priority` (Priority(batch=True) for the batch); see Lane.run_at."""
    return images.run_at(priority, fn, *args, **kwargs)


def run_password(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a password hash or check on the password lane; see Lane.run."""
    return passwords.run(fn, *args, **kwargs)


def run_lowered(niceness: int, fn: Callable[[], T]) -> T:
    """fn() on a new native thread that first lowers its own CPU priority by `niceness` (os.nice; 0 keeps it),
    for CPU work beside a server on the same machine (`photonix thumbs`). Linux keeps niceness per thread and a
    new thread inherits its creator's: the threads fn starts, and a pool first used from them (configure()
    before), run lowered too, while the caller's thread keeps its priority; elsewhere the whole process is
    lowered. For plain threads only, never under gevent (it would lower the hub)."""
    outcome: list[tuple[bool, Any]] = []

    def lowered() -> None:
        try:
            os.nice(niceness)
            outcome.append((True, fn()))
        except BaseException as error:  # handed to the caller
            outcome.append((False, error))

    # A daemon, so that Ctrl-C in the caller's join ends the command instead of waiting for the batch.
    thread = threading.Thread(target=lowered, name="photonix-lowered", daemon=True)
    thread.start()
    thread.join()
    succeeded, value = outcome[0]
    if not succeeded:
        raise value
    return value


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
