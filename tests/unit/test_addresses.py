"""The SSRF address policy: every spelling of a private address is refused, public ones pass."""

import ipaddress

import pytest

from errors import DownloadFailed, FetchRefused
from services.downloads.addresses import check_address, check_url, is_public

WEB_PORTS = frozenset({80, 443})

REFUSED = [
    # IPv4: unspecified, private, loopback, link-local and the cloud metadata address, CGNAT, multicast,
    # reserved, broadcast, documentation and benchmark ranges
    "0.0.0.0", "0.1.2.3", "10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1", "127.0.0.1",
    "127.255.255.254", "169.254.169.254", "169.254.0.1", "100.64.0.1", "100.127.255.255", "224.0.0.1",
    "239.255.255.250", "240.0.0.1", "255.255.255.255", "192.0.2.1", "198.51.100.7", "203.0.113.9",
    "198.18.0.1", "192.0.0.8", "192.88.99.1",
    # IPv6: loopback, unspecified, link-local, ULA, site-local, multicast, documentation, discard
    "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "fec0::1", "ff02::1", "ff0e::1", "2001:db8::1",
    "100::1",
    # IPv4 embedded in IPv6: mapped, compatible, NAT64 (well-known and local-use), 6to4; Teredo
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::127.0.0.1", "::8.8.8.8",
    "64:ff9b::7f00:1", "64:ff9b::a00:1", "64:ff9b:1:7f00:1::", "64:ff9b:1::7f00:1", "2002:7f00:1::",
    "2002:a9fe:a9fe::1", "2001::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2",
]
PUBLIC = [
    "8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111", "2a00:1450:4001:82b::200e",
    "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:0808:0808::", "2002:808:808::1",
]


@pytest.mark.parametrize("text", REFUSED)
def test_private_and_special_addresses_are_refused(text):
    assert not is_public(ipaddress.ip_address(text))
    with pytest.raises(FetchRefused) as caught:
        check_address(text, allow_private=False)
    assert isinstance(caught.value, DownloadFailed) and caught.value.retryable is False


@pytest.mark.parametrize("text", PUBLIC)
def test_public_addresses_pass(text):
    assert is_public(ipaddress.ip_address(text))
    check_address(text, allow_private=False)


@pytest.mark.parametrize("text", ["127.0.0.1", "10.0.0.1", "169.254.169.254", "::1", "fc00::1", "fe80::1",
                                  "::ffff:192.168.0.1", "100.64.0.1", "8.8.8.8"])
def test_allow_private_lets_local_addresses_through(text):
    check_address(text, allow_private=True)


@pytest.mark.parametrize("text", ["0.0.0.0", "::", "224.0.0.1", "ff02::1", "::ffff:0.0.0.0", "::ffff:224.0.0.1"])
def test_allow_private_still_refuses_unspecified_and_multicast(text):
    with pytest.raises(FetchRefused):
        check_address(text, allow_private=True)


@pytest.mark.parametrize("text", ["", "example.com", "127.1", "1.2.3.4.5", "[::1"])
def test_check_address_wants_a_literal_address(text):
    with pytest.raises(FetchRefused):
        check_address(text, allow_private=True)


@pytest.mark.parametrize("url", [
    "http://2130706433/", "http://0177.0.0.1/", "http://0x7f.1/", "http://0x7f000001/", "http://127.1/",
    "http://0x7f.0.0.1:80/feed", "http://017700000001/", "http://127.0.0.1./", "http://0/", "http://0xa9fea9fe/",
    "http://10.1/", "http://192.168.257/", "http://127.0.0.1/", "http://[::1]/", "http://[::ffff:7f00:1]/",
    "http://[fe80::1%25eth0]/", "https://169.254.169.254/latest/meta-data/",
])
def test_numeric_hosts_in_any_spelling_are_judged_as_the_address_they_mean(url):
    with pytest.raises(FetchRefused):
        check_url(url, WEB_PORTS)


@pytest.mark.parametrize("url", ["http://1.2.3.4.5/", "http://999.1.1.1/", "http://08.1.1.1/", "http://4294967296/",
                                 "http://example.123/"])
def test_malformed_numeric_hosts_are_refused_not_resolved(url):
    with pytest.raises(FetchRefused, match="IPv4"):
        check_url(url, WEB_PORTS)


@pytest.mark.parametrize("url, host", [
    ("http://134744072/feed", "8.8.8.8"), ("http://0x8.0x8.0x8.0x8/", "8.8.8.8"),
    ("http://010.010.010.010/", "8.8.8.8"),
    ("http://1.1/", "1.0.0.1"), ("http://[2606:4700:4700::1111]:443/", "2606:4700:4700::1111"),
])
def test_public_numeric_hosts_come_back_in_canonical_form(url, host):
    assert check_url(url, WEB_PORTS).hostname == host


def test_canonical_form_keeps_an_explicit_port_path_and_query():
    parts = check_url("https://134744072:443/a/b?c=d#e", WEB_PORTS)
    assert parts.geturl() == "https://8.8.8.8:443/a/b?c=d#e"


def test_numeric_literals_follow_allow_private():
    assert check_url("http://127.1/", WEB_PORTS, allow_private=True).hostname == "127.0.0.1"


@pytest.mark.parametrize("url", [
    "file:///etc/passwd", "ftp://example.com/feed.xml", "gopher://example.com:70/", "data:text/plain,hi",
    "javascript:alert(1)", "dict://example.com:11211/", "ws://example.com/", "example.com/feed.xml",
    "//example.com/feed.xml", "",
])
def test_only_http_and_https_are_fetched(url):
    with pytest.raises(FetchRefused):
        check_url(url, WEB_PORTS)


@pytest.mark.parametrize("url", [
    "http://user:pass@example.com/", "http://user@example.com/", "http://:@example.com/",
    "http://example.com@127.0.0.1/", "http://evil.example\\@example.com/", "http:///feed",
    "http://exa mple.com/", "http://example.com\r\nX-Injected: 1/", "http://example.com:99999/",
    "http://example.com:port/", "http://%31%32%37.0.0.1/",
])
def test_userinfo_missing_or_strange_hosts_are_refused(url):
    with pytest.raises(FetchRefused):
        check_url(url, WEB_PORTS)


def test_ports_must_be_allowed():
    with pytest.raises(FetchRefused, match="81"):
        check_url("http://example.com:81/", WEB_PORTS)
    assert check_url("http://example.com:81/", frozenset({81})).port == 81
    with pytest.raises(FetchRefused, match="80"):
        check_url("http://example.com/", frozenset({443}))
    assert check_url("https://example.com/", frozenset({443})).hostname == "example.com"


@pytest.mark.parametrize("url", [
    "http://example.com/feed.xml", "https://example.com:443/rss?x=1", "HTTPS://Example.COM/Feed",
    "https://bücher.example/feed", "http://xn--bcher-kva.example/", "https://example.com/a photo.jpg",
    "http://localhost/",  # a name: judged by the addresses it resolves to when the fetch connects
])
def test_ordinary_urls_pass(url):
    parts = check_url(url, WEB_PORTS)
    assert parts.scheme in ("http", "https") and parts.hostname
