"""The outbound HTTP client against a real loopback server: redirects, caps, deadlines and the SSRF guard."""

import gzip
import hashlib
import io
import logging
import socket
import ssl
import subprocess
import time
import tracemalloc
import zlib

import pytest

from errors import DownloadFailed, FetchRefused, FetchTimeout, FetchTooLarge
from services.downloads import guard
from services.downloads.addresses import check_address
from services.downloads.fetch import Fetcher, FetchPolicy
from tests.support.feed_server import feed_server
from tests.support.servers import require_binary

FEED = b"<?xml version='1.0'?><rss version='2.0'><channel><title>t</title></channel></rss>"
MIB = 1024 * 1024


@pytest.fixture
def server():
    with feed_server() as started:
        yield started


def local_policy(*ports, **overrides):
    """Tests can only reach loopback, so they allow private hosts on the test servers' ports."""
    values = {"allow_private_hosts": True, "allowed_ports": frozenset(ports), "connect_timeout_s": 2.0,
              "read_timeout_s": 5.0, "total_timeout_s": 10.0} | overrides
    return FetchPolicy(**values)


@pytest.fixture
def fetcher(server):
    with Fetcher(local_policy(server.port)) as opened:
        yield opened


def test_plain_fetch_returns_body_and_headers(server, fetcher):
    server.route("/feed.xml", FEED, headers={"Content-Type": "application/rss+xml"})
    result = fetcher.fetch_bytes(server.url("/feed.xml"), 10_000, accept="application/rss+xml")
    assert (result.status, result.body, result.size) == (200, FEED, len(FEED))
    assert result.content_type == "application/rss+xml" and result.url == server.url("/feed.xml")
    assert result.sha256 is None
    _, _, headers = server.requests[0]
    assert headers["User-Agent"].startswith("Photonix/") and headers["Accept"] == "application/rss+xml"
    assert "Cookie" not in headers


def test_gzip_body_is_decoded(server, fetcher):
    server.route("/feed.xml", FEED * 100, gzip=True)
    result = fetcher.fetch_bytes(server.url("/feed.xml"), 100_000)
    assert result.body == FEED * 100 and result.size == len(FEED) * 100
    assert "gzip" in server.requests[0][2]["Accept-Encoding"]


def test_conditional_get_with_etag_answers_304(server, fetcher):
    server.route("/feed.xml", FEED, etag='"v1"')
    first = fetcher.fetch_bytes(server.url("/feed.xml"), 10_000)
    assert first.status == 200 and first.etag == '"v1"'
    again = fetcher.fetch_bytes(server.url("/feed.xml"), 10_000, etag=first.etag)
    assert (again.status, again.body, again.size, again.etag) == (304, None, 0, '"v1"')
    assert server.requests[1][2]["If-None-Match"] == '"v1"'


def test_conditional_get_with_last_modified_answers_304(server, fetcher):
    stamp = "Wed, 21 Oct 2015 07:28:00 GMT"
    server.route("/feed.xml", FEED, last_modified=stamp)
    assert fetcher.fetch_bytes(server.url("/feed.xml"), 10_000).last_modified == stamp
    again = fetcher.fetch_bytes(server.url("/feed.xml"), 10_000, last_modified=stamp)
    assert (again.status, again.body, again.last_modified) == (304, None, stamp)
    changed = fetcher.fetch_bytes(server.url("/feed.xml"), 10_000, last_modified="Thu, 01 Jan 2015 00:00:00 GMT")
    assert changed.status == 200 and changed.body == FEED


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirects_are_followed_and_the_final_url_reported(server, fetcher, status):
    server.route("/old", status=status, redirect_to="/middle")
    server.route("/middle", redirect_to=server.url("/feed.xml"))
    server.route("/feed.xml", FEED)
    result = fetcher.fetch_bytes(server.url("/old"), 10_000)
    assert result.body == FEED and result.url == server.url("/feed.xml")
    assert [path for _, path, _ in server.requests] == ["/old", "/middle", "/feed.xml"]


def test_a_redirect_loop_fails_after_max_redirects(server):
    server.route("/loop", redirect_to="/loop")
    with Fetcher(local_policy(server.port, max_redirects=3)) as fetcher, pytest.raises(DownloadFailed) as caught:
        fetcher.fetch_bytes(server.url("/loop"), 10_000)
    assert type(caught.value) is DownloadFailed and caught.value.code == "FETCH_FAILED"
    assert caught.value.retryable is False and "too many redirects" in caught.value.message
    assert server.hits("/loop") == 4


def test_cookie_goes_only_to_the_first_host(server, fetcher, caplog):
    server.route("/start", redirect_to="/same")
    server.route("/same", redirect_to=server.url("/other", host="127.0.0.1"))
    server.route("/other", FEED, headers={"Set-Cookie": "tracker=1"})
    caplog.set_level(logging.DEBUG)
    result = fetcher.fetch_bytes(server.url("/start", host="localhost"), 10_000, cookie="session=s3cr3t")
    assert result.body == FEED
    sent = {path: headers.get("Cookie") for _, path, headers in server.requests}
    assert sent == {"/start": "session=s3cr3t", "/same": "session=s3cr3t", "/other": None}
    fetcher.fetch_bytes(server.url("/other", host="localhost"), 10_000)
    assert "Cookie" not in server.requests[-1][2]  # Set-Cookie answers are never stored
    assert "s3cr3t" not in caplog.text


def test_error_messages_name_the_host_but_never_the_cookie(server, fetcher):
    with pytest.raises(DownloadFailed) as caught:
        fetcher.fetch_bytes(server.url("/missing"), 10_000, cookie="session=s3cr3t")
    assert "127.0.0.1" in str(caught.value) and "s3cr3t" not in str(caught.value)


def test_a_cookie_that_is_not_a_valid_header_is_refused_without_repeating_it(server, fetcher):
    server.route("/feed.xml", FEED)
    with pytest.raises(DownloadFailed) as caught:
        fetcher.fetch_bytes(server.url("/feed.xml"), 10_000, cookie="session=s3cr3t\r\nX-Injected: 1")
    assert caught.value.retryable is False and "s3cr3t" not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__ and server.requests == []


@pytest.mark.parametrize("status, retryable", [(404, False), (403, False), (410, False), (503, True), (500, True),
                                               (429, True), (408, True)])
def test_http_errors_say_whether_retrying_may_help(server, fetcher, status, retryable):
    server.route("/feed.xml", b"nope", status=status)
    with pytest.raises(DownloadFailed) as caught:
        fetcher.fetch_bytes(server.url("/feed.xml"), 10_000)
    assert caught.value.retryable is retryable and caught.value.extra["httpStatus"] == status


def test_an_unconditional_304_is_an_error(server, fetcher):
    server.route("/feed.xml", status=304)
    with pytest.raises(DownloadFailed):
        fetcher.fetch_bytes(server.url("/feed.xml"), 10_000)


def write_without_length(body):
    def handler(request):
        request.send_response(200)
        request.end_headers()
        request.wfile.write(body)
    return handler


def test_byte_cap_counts_the_body_as_it_arrives(server, fetcher):
    server.route("/big", handler=write_without_length(b"x" * 5000))
    with pytest.raises(FetchTooLarge) as caught:
        fetcher.fetch_bytes(server.url("/big"), 1000)
    assert caught.value.retryable is False
    assert fetcher.fetch_bytes(server.url("/big"), 5000).size == 5000


def test_byte_cap_counts_bytes_after_decompression(server, fetcher):
    server.route("/small-on-the-wire", b"a" * 100_000, gzip=True)
    with pytest.raises(FetchTooLarge):
        fetcher.fetch_bytes(server.url("/small-on-the-wire"), 50_000)


def test_a_gzip_bomb_stops_at_the_cap_in_bounded_memory(server, fetcher):
    compressor = zlib.compressobj(1, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(MIB)
    bomb = b"".join(compressor.compress(zeros) for _ in range(200)) + compressor.flush()
    server.route("/bomb", bomb, headers={"Content-Encoding": "gzip"})
    tracemalloc.start()
    try:
        with pytest.raises(FetchTooLarge):
            fetcher.fetch_bytes(server.url("/bomb"), 10 * MIB)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(bomb) < MIB and peak < 50 * MIB, f"peak {peak / MIB:.1f} MiB"
    print(f"gzip bomb: peak traced memory {peak / MIB:.1f} MiB")


def test_content_length_above_the_cap_is_refused_before_reading(server, fetcher):
    server.route("/huge", b"x" * 100, content_length=10**9, drip_bytes_per_s=1)  # reading it would take 100 s
    started = time.monotonic()
    with pytest.raises(FetchTooLarge, match="announced"):
        fetcher.fetch_bytes(server.url("/huge"), 10 * MIB)
    assert time.monotonic() - started < 1.0 and server.hits("/huge") == 1


def test_a_content_length_below_the_truth_only_delivers_what_was_announced(server, fetcher):
    server.route("/liar", b"x" * 100_000, content_length=10)
    assert fetcher.fetch_bytes(server.url("/liar"), 50).body == b"x" * 10


def test_a_content_length_above_the_truth_fails_without_hanging(server, fetcher):
    server.route("/short", b"x" * 10, content_length=1000)  # the server closes after 10 bytes
    started = time.monotonic()
    with pytest.raises(DownloadFailed) as caught:
        fetcher.fetch_bytes(server.url("/short"), 10_000)
    assert caught.value.retryable is True and time.monotonic() - started < 3.0


def test_a_dripping_body_hits_the_total_deadline(server):
    # Bytes leave at 0 s, 4 s, 8 s...: each socket read must wait only for what is left of the 2 s, not for a
    # fresh read timeout (5 s), which would see the byte sent at 4 s. The 2 s wide margin is for a loaded machine.
    server.route("/drip", b"x" * 100, drip_bytes_per_s=1 / 4)
    started = time.monotonic()
    with Fetcher(local_policy(server.port, total_timeout_s=2.0)) as fetcher, pytest.raises(FetchTimeout):
        fetcher.fetch_bytes(server.url("/drip"), 10_000)
    elapsed = time.monotonic() - started
    assert 1.9 < elapsed < 4.0, elapsed


def test_a_server_slow_to_answer_hits_the_total_deadline(server):
    server.route("/slow", handler=lambda request: server.stopping.wait(5))
    started = time.monotonic()
    with Fetcher(local_policy(server.port, total_timeout_s=1.0)) as fetcher, pytest.raises(FetchTimeout):
        fetcher.fetch_bytes(server.url("/slow"), 10_000)
    assert time.monotonic() - started < 2.5


def test_fetch_to_file_writes_the_body_and_its_digest(server, fetcher, tmp_path):
    image = bytes(range(256)) * 1000
    (tmp_path / "photo.jpg").write_bytes(image)
    server.serve_file("/photo.jpg", tmp_path / "photo.jpg", "image/jpeg")
    out = io.BytesIO()
    result = fetcher.fetch_to_file(server.url("/photo.jpg"), out, MIB, referer="https://example.com/post",
                                   accept="image/*")
    assert out.getvalue() == image and result.size == len(image) and result.body is None
    assert result.sha256 == hashlib.sha256(image).hexdigest() and result.content_type == "image/jpeg"
    assert server.requests[0][2]["Referer"] == "https://example.com/post"


def test_fetch_to_file_stops_at_the_cap(server, fetcher):
    server.route("/photo.jpg", gzip.compress(bytes(2 * MIB)), headers={"Content-Encoding": "gzip"})
    with pytest.raises(FetchTooLarge):
        fetcher.fetch_to_file(server.url("/photo.jpg"), io.BytesIO(), MIB)


@pytest.fixture
def localhost_cert(tmp_path):
    """A self-signed certificate for the name localhost (made with the openssl command)."""
    openssl = require_binary("openssl")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost"], check=True, capture_output=True, timeout=30)
    return cert, key


def test_tls_still_checks_the_certificate_against_the_host_name(localhost_cert):
    cert, key = localhost_cert
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    names = []
    context.sni_callback = lambda sock, name, ctx: names.append(name)
    with feed_server(ssl_context=context) as server, Fetcher(local_policy(server.port)) as fetcher:
        server.route("/feed.xml", FEED)
        with pytest.raises(DownloadFailed, match="certificate"):  # not signed by a trusted authority
            fetcher.fetch_bytes(server.url("/feed.xml", host="localhost"), 1000)
        fetcher._session.verify = str(cert)  # trust it, the way a public CA would be trusted
        assert fetcher.fetch_bytes(server.url("/feed.xml", host="localhost"), 1000).body == FEED
        with pytest.raises(DownloadFailed, match="certificate"):  # connected by address: name mismatch
            fetcher.fetch_bytes(server.url("/feed.xml"), 1000)
    assert names[:2] == ["localhost", "localhost"] and server.hits("/feed.xml") == 1


def test_environment_proxies_are_ignored(server, fetcher, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "")
    server.route("/feed.xml", FEED)
    assert fetcher.fetch_bytes(server.url("/feed.xml"), 10_000).body == FEED


def test_an_unreachable_server_is_a_retryable_failure():
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with Fetcher(local_policy(port)) as fetcher, pytest.raises(DownloadFailed) as caught:
        fetcher.fetch_bytes(f"http://127.0.0.1:{port}/", 1000)
    assert type(caught.value) is DownloadFailed and caught.value.retryable is True


def test_a_name_that_does_not_resolve_is_a_retryable_failure(server, monkeypatch):
    def no_such_name(host, port):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    monkeypatch.setattr(guard, "_resolve", no_such_name)
    with Fetcher(local_policy(server.port)) as fetcher, pytest.raises(DownloadFailed) as caught:
        fetcher.fetch_bytes(server.url("/", host="feeds.example"), 1000)
    assert caught.value.retryable is True and "feeds.example" in caught.value.message


# The SSRF guard, with private hosts not allowed (the default policy) --------------------------------------

def guarded_policy(*ports):
    return FetchPolicy(allowed_ports=frozenset(ports), connect_timeout_s=2.0, total_timeout_s=10.0)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "2130706433", "127.1"])
def test_loopback_is_refused_before_any_request(server, host):
    server.route("/", FEED)
    with Fetcher(guarded_policy(server.port)) as fetcher, pytest.raises(FetchRefused) as caught:
        fetcher.fetch_bytes(server.url("/", host=host), 1000)
    assert caught.value.retryable is False and server.requests == []


def test_a_port_outside_the_allowed_ones_is_refused(server):
    with Fetcher(local_policy(server.port + 1 if server.port < 65535 else 1)) as fetcher:
        with pytest.raises(FetchRefused, match="[Pp]ort"):
            fetcher.fetch_bytes(server.url("/"), 1000)
    assert server.requests == []


def fake_dns(monkeypatch, answers):
    """Names resolve through `answers` (name -> list of IPv4 texts, or a callable giving them); only
    127.0.0.1 counts as public, so it stands for "a public server" and 127.0.0.2 for "a private one"."""
    calls = []

    def resolve(host, port):
        calls.append(host)
        found = answers[host]() if callable(answers[host]) else answers[host]
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, (ip, port)) for ip in found]

    def check(ip_text, allow_private):
        if ip_text != "127.0.0.1":
            check_address(ip_text, allow_private)

    monkeypatch.setattr(guard, "_resolve", resolve)
    monkeypatch.setattr(guard, "check_address", check)
    return calls


@pytest.fixture
def private_server():
    with feed_server("127.0.0.2") as started:  # all of 127/8 is loopback on Linux
        yield started


def test_a_redirect_to_a_private_address_is_refused_at_connect(server, private_server, monkeypatch):
    fake_dns(monkeypatch, {"public.test": ["127.0.0.1"], "private.test": ["127.0.0.2"]})
    private_server.route("/admin", b"secret")
    server.route("/hop", redirect_to=private_server.url("/admin", host="private.test"))
    with Fetcher(guarded_policy(server.port, private_server.port)) as fetcher:
        with pytest.raises(FetchRefused, match="private.test"):
            fetcher.fetch_bytes(server.url("/hop", host="public.test"), 1000)
    assert server.hits("/hop") == 1 and private_server.requests == []


def test_a_name_with_any_private_address_is_refused(server, private_server, monkeypatch):
    fake_dns(monkeypatch, {"mixed.test": ["127.0.0.1", "127.0.0.2"]})
    with Fetcher(guarded_policy(server.port)) as fetcher, pytest.raises(FetchRefused):
        fetcher.fetch_bytes(server.url("/", host="mixed.test"), 1000)
    assert server.requests == []


def test_the_connection_goes_to_the_address_that_was_checked(server, private_server, monkeypatch):
    answers = iter([["127.0.0.1"], ["127.0.0.2"], ["127.0.0.2"]])  # a rebinding name: public, then private
    calls = fake_dns(monkeypatch, {"rebind.test": lambda: next(answers)})
    server.route("/feed.xml", FEED)
    private_server.route("/feed.xml", b"secret")
    with Fetcher(guarded_policy(server.port, private_server.port)) as fetcher:
        assert fetcher.fetch_bytes(server.url("/feed.xml", host="rebind.test"), 1000).body == FEED
        assert calls == ["rebind.test"]  # resolved once: no second lookup between the check and the connect
        with pytest.raises(FetchRefused):
            fetcher.fetch_bytes(private_server.url("/feed.xml", host="rebind.test"), 1000)
    assert server.hits("/feed.xml") == 1 and private_server.requests == []
