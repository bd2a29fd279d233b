"""The native thread pool for CPU work (image decode/encode, bcrypt), so it never runs on the gevent hub.

Owns one pool per process, created on first use. Short blocking disk calls that belong to such work
(the fsyncs of a downloaded image) may run here too; network I/O and database work must not: pool
threads are outside gevent and hold no connection.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

DEFAULT_SIZE = 2

_lock = threading.Lock()
_size = DEFAULT_SIZE
_pool: Any = None
_in_flight = 0


def configure(size: int) -> None:
    """Set the pool size (e.g. Config.thumb_threads). Starts no thread; a pool already made is replaced."""
    global _size, _pool
    if size < 1:
        raise ValueError(f"the CPU pool needs at least one thread, not {size}")
    with _lock:
        old, _pool, _size = _pool, None, size
    if old is not None:
        _retire(old)


def size() -> int:
    """The number of native threads the pool may use."""
    return _size


def busy() -> int:
    """Tasks running or waiting for a thread right now; `busy() >= size()` means saturated."""
    return _in_flight


def run_cpu(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run fn(*args, **kwargs) on a native thread and return its result or raise its exception.

    The calling greenlet waits without blocking the gevent hub; a plain thread simply waits.
    """
    global _in_flight
    pool = _get_pool()
    with _lock:
        _in_flight += 1
    try:
        if isinstance(pool, ThreadPoolExecutor):
            return pool.submit(fn, *args, **kwargs).result()
        return pool.apply(fn, args, kwargs)
    finally:
        with _lock:
            _in_flight -= 1


def shutdown() -> None:
    """Let the process exit: idle pool threads end now (a gevent ThreadPool's threads keep a worker alive)."""
    global _pool
    with _lock:
        old, _pool = _pool, None
    if old is not None:
        _retire(old)


def _get_pool() -> Any:
    global _pool
    with _lock:
        if _pool is None:
            _pool = _make_pool(_size)
        return _pool


def _make_pool(count: int) -> Any:
    from gevent import monkey

    if monkey.is_module_patched("threading"):
        from gevent.threadpool import ThreadPool

        # A dedicated pool: the hub's default one also does gevent's DNS lookups, which a burst of
        # thumbnails must not starve.
        return ThreadPool(count)
    return ThreadPoolExecutor(count, thread_name_prefix="photonix-cpu")


def _retire(pool: Any) -> None:
    # Tasks already submitted still finish; idle threads go away.
    if isinstance(pool, ThreadPoolExecutor):
        pool.shutdown(wait=False)
    else:
        pool.maxsize = 0
