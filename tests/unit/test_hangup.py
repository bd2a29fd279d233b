"""services/hangup.py on gevent sockets: a peer's close or reset is noticed without any write; bytes the peer
sends are left unread and stop the watch; anything but a gevent socket is not watched; many sockets share one
epoll set and each is told only of its own peer."""

import socket
import struct

import gevent
import pytest
from gevent import socket as gsocket

from services import hangup


@pytest.fixture
def pair():
    ours, theirs = gsocket.socketpair()
    yield ours, theirs
    ours.close()
    theirs.close()


def watched(sock):
    calls = []
    fd = hangup.watch(sock, lambda: calls.append("hung up"))
    return calls, lambda: hangup.unwatch(fd)


@pytest.mark.parametrize("reset", [False, True])
def test_a_peer_that_goes_away_is_noticed_without_a_write(reset):
    listener = gsocket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    client = gsocket.create_connection(listener.getsockname())
    ours, _ = listener.accept()
    calls, stop = watched(ours)
    gevent.idle()
    assert calls == []  # an idle client is not a hang-up
    if reset:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()
    with gevent.Timeout(5):
        while not calls:
            gevent.sleep(0.01)
    gevent.idle()
    assert calls == ["hung up"]  # once
    stop()
    for sock in (ours, listener):
        sock.close()


def test_bytes_from_the_peer_stay_unread_and_end_the_watch(pair):
    ours, theirs = pair
    calls, stop = watched(ours)
    theirs.sendall(b"GET / HTTP/1.1\r\n")
    gevent.idle()
    assert ours.recv(64) == b"GET / HTTP/1.1\r\n"  # left for the server to read
    theirs.close()
    gevent.idle()
    assert calls == []  # the watch stopped at the bytes: the stream's writes decide from there
    stop()


def test_stopped_watch_calls_nothing(pair):
    ours, theirs = pair
    calls, stop = watched(ours)
    stop()
    theirs.close()
    gevent.idle()
    assert calls == []


def test_other_sockets_are_not_watched():
    plain_a, plain_b = socket.socketpair()
    calls, stop = watched(plain_a)
    plain_b.close()
    stop()
    assert calls == []
    plain_a.close()
    assert hangup.watch(None, lambda: None) == hangup.NOT_WATCHED
    hangup.unwatch(hangup.NOT_WATCHED)  # nothing to stop


def connected_pairs(count):
    listener = gsocket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(count)
    clients = [gsocket.create_connection(listener.getsockname()) for _ in range(count)]
    servers = [listener.accept()[0] for _ in range(count)]
    listener.close()
    return clients, servers


def test_each_watched_socket_hears_only_of_its_own_peer():
    clients, servers = connected_pairs(5)
    calls = []
    fds = [hangup.watch(sock, lambda n=n: calls.append(n)) for n, sock in enumerate(servers)]
    for n in (1, 3):
        clients[n].close()
    with gevent.Timeout(5):
        while len(calls) < 2:
            gevent.sleep(0.01)
    gevent.idle()
    assert sorted(calls) == [1, 3]
    for fd in fds:
        hangup.unwatch(fd)
    for sock in clients + servers:
        sock.close()
