"""Notices at once when the client of a long-lived response (an event stream) hangs up, so the stream ends and
frees its slot without waiting for a write to fail.

One epoll set per process holds every watched socket, and one event-loop watcher watches that set: a stream
costs an entry in the kernel's set and one here, no watcher, greenlet or closure of its own (idle streams'
memory is counted: bench workload 4). Needs Linux and a gevent socket; anything else is not watched.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
from collections.abc import Callable
from typing import Any

import gevent
from gevent import monkey
from gevent import socket as gsocket

NOT_WATCHED = -1
_READ = 1  # libev/libuv EV_READ
try:  # gevent's monkey-patching removes epoll from `select` (its calls block); ours never waits in it
    _Epoll: Any = monkey.get_original("select", "epoll")
except AttributeError:  # not Linux: nothing is watched
    _Epoll = None
_WATCHED = getattr(select, "EPOLLIN", 1) | getattr(select, "EPOLLRDHUP", 0x2000)
_GONE = getattr(select, "EPOLLRDHUP", 0x2000) | getattr(select, "EPOLLHUP", 0x10) | getattr(select, "EPOLLERR", 0x8)
_PEEK = socket.MSG_PEEK | socket.MSG_DONTWAIT
# The unpatched class: its recv reads once and never waits on the hub (whether or not gevent patched socket).
_RealSocket = monkey.get_original("socket", "socket")


def watch(sock: Any, on_hangup: Callable[[], None]) -> int:
    """Call `on_hangup` once, in a greenlet of its own, when the peer of `sock` closes or resets the
    connection; return the descriptor watched (NOT_WATCHED for anything but a plain gevent socket, e.g. the
    Flask test client's or a TLS one), to hand to unwatch() before the socket closes (e.g. in finally).

    The client of a stream sends nothing after its request, so the socket turns readable only when it goes
    away. If it sends bytes instead (say, a pipelined request), they are left for the server to read and
    the watch simply stops: the stream then ends at a failed write, as without a watch.
    """
    if _Epoll is None or not isinstance(sock, gsocket.socket) or hasattr(sock, "getpeercert"):
        return NOT_WATCHED
    fd = sock.fileno()
    if fd < 0:
        return NOT_WATCHED
    _monitor().add(fd, on_hangup)
    return fd


def unwatch(fd: int) -> None:
    """Stop watching `fd` (a value watch() returned); nothing is called for it afterwards."""
    if fd != NOT_WATCHED and _current is not None and _current.pid == os.getpid():
        _current.remove(fd)


class _Monitor:
    def __init__(self) -> None:
        self.pid = os.getpid()
        self.epoll = _Epoll()
        self.callbacks: dict[int, Callable[[], None]] = {}
        # ref=False: watching never keeps the event loop (or a process waiting on it) alive by itself.
        self.watcher = gevent.get_hub().loop.io(self.epoll.fileno(), _READ, ref=False)
        self.watcher.start(self._ready)

    def add(self, fd: int, on_hangup: Callable[[], None]) -> None:
        try:
            self.epoll.register(fd, _WATCHED)
        except FileExistsError:  # the number of a descriptor closed while still watched, reused
            self.epoll.modify(fd, _WATCHED)
        self.callbacks[fd] = on_hangup

    def remove(self, fd: int) -> None:
        if self.callbacks.pop(fd, None) is not None:
            with contextlib.suppress(OSError):  # already closed: the kernel dropped it from the set
                self.epoll.unregister(fd)

    def _ready(self) -> None:  # runs in the hub: nothing here may block
        for fd, events in self.epoll.poll(0):
            gone = True if events & _GONE else _peer_gone(fd)
            if gone is None:  # woken for nothing: keep watching
                continue
            on_hangup = self.callbacks.pop(fd, None)
            with contextlib.suppress(OSError):
                self.epoll.unregister(fd)
            if gone and on_hangup is not None:
                gevent.spawn(on_hangup)


_current: _Monitor | None = None


def _monitor() -> _Monitor:
    """This process's monitor (a forked worker makes its own: an epoll set is not shared across fork)."""
    global _current
    if _current is None or _current.pid != os.getpid():
        _current = _Monitor()
    return _current


def _peer_gone(fd: int) -> bool | None:
    """True on the peer's FIN or RST, False when it sent bytes (left unread), None when nothing is there."""
    try:
        peek = _RealSocket(fileno=fd)
    except OSError:  # the descriptor is gone already: so is the client
        return True
    try:
        return peek.recv(1, _PEEK) == b""
    except BlockingIOError:
        return None
    except OSError:  # reset by the peer
        return True
    finally:
        peek.detach()  # the descriptor stays open: it belongs to the server
