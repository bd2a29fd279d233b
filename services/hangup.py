"""Notices at once when the client of a long-lived response (an event stream) hangs up, by watching its
socket for the FIN or RST in the event loop, so the stream ends and frees its slot without waiting for a
write to fail. Costs no greenlet while the client stays; needs a gevent socket and watches nothing else.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import gevent
from gevent import monkey
from gevent import socket as gsocket

_READ = 1  # libev/libuv EV_READ: readable, which includes the peer's FIN and RST
_PEEK = socket.MSG_PEEK | socket.MSG_DONTWAIT
# The unpatched class: its recv reads once and never waits on the hub (whether or not gevent patched socket).
_RealSocket = monkey.get_original("socket", "socket")


def watch(sock: Any, on_hangup: Callable[[], None]) -> Callable[[], None]:
    """Call `on_hangup` once, in a greenlet of its own, when the peer of `sock` closes or resets the
    connection; return a function that stops watching (call it before the socket closes, e.g. in finally).

    The client of a stream sends nothing after its request, so the socket turns readable only when it goes
    away. If it sends bytes instead (say, a pipelined request), they are left for the server to read and
    the watch simply stops: the stream then ends at a failed write, as without a watch. Anything but a
    plain gevent socket (the Flask test client, TLS terminated by gunicorn) is not watched.
    """
    if not isinstance(sock, gsocket.socket) or hasattr(sock, "getpeercert") or sock.fileno() < 0:
        return _nothing
    fd = sock.fileno()
    watcher = gevent.get_hub().loop.io(fd, _READ)

    def readable() -> None:  # runs in the hub: nothing here may block
        gone = _peer_gone(fd)
        if gone is None:  # woken for nothing: keep watching
            return
        watcher.stop()
        if gone:
            gevent.spawn(on_hangup)

    def stop() -> None:
        watcher.stop()
        watcher.close()

    watcher.start(readable)
    return stop


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


def _nothing() -> None:
    return None
