"""The SSRF address policy: which URLs and IP addresses the download center may fetch from.

Pure functions, no I/O and no DNS: fetch.py applies `check_address` to every address a name resolves to.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import SplitResult, urlsplit

import idna

from errors import FetchRefused

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

SCHEMES = frozenset({"http", "https"})
DEFAULT_PORTS = {"http": 80, "https": 443}

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network

# Refused whatever the Python version's `is_global` says (its tables changed in 3.11/3.12/3.13 patch releases).
_REFUSED_V4 = tuple(_V4(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15",
    "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
))
_REFUSED_V6 = tuple(_V6(n) for n in (
    "::/96",            # unspecified, loopback and the deprecated IPv4-compatible ::a.b.c.d
    "100::/64",         # discard-only
    "2001::/32",        # Teredo: the far end is an arbitrary IPv4 host
    "2001:db8::/32", "3fff::/20",  # documentation
    "5f00::/16",        # SRv6 segment identifiers
    "fc00::/7",         # unique local
    "fe80::/10",        # link-local
    "fec0::/10",        # site-local (deprecated, still routed on some networks)
    "ff00::/8",         # multicast
))
# Prefixes that carry an IPv4 address: the IPv6 address is only as public as the IPv4 one it reaches.
_NAT64_WELL_KNOWN = _V6("64:ff9b::/96")
_NAT64_LOCAL = _V6("64:ff9b:1::/48")  # RFC 8215: the operator picks the embedding, so judge every one
_NAT64_LOCAL_PREFIX_LENGTHS = (48, 56, 64, 96)
_SIXTOFOUR = _V6("2002::/16")

_NUMERIC_LABEL = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)", re.IGNORECASE)
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
_FORBIDDEN_NETLOC_CHARS = re.compile(r"[\s\\]")


def is_public(ip: IPAddress) -> bool:
    """True when `ip` is a globally routable unicast address that no private network can own.

    IPv4-mapped, NAT64 and 6to4 IPv6 addresses are judged by the IPv4 address they embed.
    """
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id or any(ip in net for net in _REFUSED_V6):
            return False
        embedded = _embedded_ipv4(ip)
        if embedded:
            return all(is_public(v4) for v4 in embedded)
    elif any(ip in net for net in _REFUSED_V4):
        return False
    return ip.is_global and not (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast
                                 or ip.is_reserved or ip.is_unspecified or _is_site_local(ip))


def check_address(ip_text: str, allow_private: bool) -> None:
    """Raise FetchRefused unless the literal address `ip_text` may be connected to.

    With `allow_private` every address is allowed except unspecified (0.0.0.0, ::) and multicast ones.
    """
    try:
        ip = ipaddress.ip_address(ip_text)
    except ValueError:
        raise FetchRefused(f"{ip_text!r} is not an IP address.") from None
    if allow_private:
        mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
        if any(t.is_unspecified or t.is_multicast for t in (ip, mapped) if t is not None):
            raise FetchRefused(f"The address {ip} is unspecified or multicast; nothing is fetched from it.")
    elif not is_public(ip):
        raise FetchRefused(f"The address {ip} is private, local or reserved: not allowed unless the "
                           "download config's allowPrivateHosts is on (for feeds on your own network).")


def check_url(url: str, allowed_ports: frozenset[int], *, allow_private: bool = False) -> SplitResult:
    """The URL split, after refusing (FetchRefused) anything but http(s) to a host on an allowed port.

    No user:password@, no control characters, no spaces or backslashes around the host. A numeric host
    in any inet_aton spelling (2130706433, 0177.0.0.1, 0x7f.1, 127.1) is judged, like any IP literal, as
    the address it means (under `allow_private`) and comes back in canonical form, so it never reaches
    DNS as a name; so does a non-ASCII host once IDNA-mapped (full-width "１２７.０.０.１" is 127.0.0.1).
    Host names are not resolved here: fetch.py checks what they resolve to.
    """
    if _CONTROL_CHARS.search(url):
        raise FetchRefused("The URL contains control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise FetchRefused("The URL is malformed (bad host or port).") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise FetchRefused(f"Only http and https URLs are fetched{f', not {scheme}:' if scheme else ''}.")
    if _FORBIDDEN_NETLOC_CHARS.search(parts.netloc):
        raise FetchRefused("The URL's host part contains spaces or backslashes.")
    if "@" in parts.netloc:
        raise FetchRefused("URLs with a user name or password (user:pass@host) are not fetched.")
    host = _ascii_host(parts.hostname)
    if not host or "%" in host:
        raise FetchRefused("The URL has no valid host.")
    port = DEFAULT_PORTS[scheme] if port is None else port
    if port not in allowed_ports:
        raise FetchRefused(f"Port {port} is not allowed (allowedPorts in the download config: "
                           f"{', '.join(map(str, sorted(allowed_ports)))}).")
    literal = _ip_literal(host)
    if literal is None:
        return parts._replace(scheme=scheme) if host == parts.hostname else \
            parts._replace(scheme=scheme, netloc=_netloc(host, parts.port))
    check_address(str(literal), allow_private)
    return parts._replace(scheme=scheme, netloc=_netloc(f"[{literal}]" if literal.version == 6 else str(literal),
                                                        parts.port))


def _ascii_host(host: str | None) -> str | None:
    """A non-ASCII host as the ASCII name every client sends (IDNA with UTS #46 mapping, as requests does):
    full-width digits and dots become an IP address (judged as one), other names their xn-- form."""
    if not host or host.isascii():
        return host
    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except UnicodeError:  # idna.IDNAError and its kinds
        raise FetchRefused("The URL's host is not a valid internationalised domain name.") from None


def _netloc(host: str, port: int | None) -> str:
    return host if port is None else f"{host}:{port}"


def _ip_literal(host: str) -> IPAddress | None:
    """The address a URL host spells, None for a name; FetchRefused for a malformed number.

    As in the WHATWG URL standard, a host whose last label is a number is an IPv4 address.
    """
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    name = host[:-1] if host.endswith(".") else host
    if not _NUMERIC_LABEL.fullmatch(name.rsplit(".", 1)[-1]):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(name))
    except OSError:
        raise FetchRefused(f"The host {host!r} looks like an IPv4 address but is not a valid one.") from None


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv4-mapped, NAT64 or 6to4 address leads to (empty for other addresses)."""
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    if ip.sixtofour is not None:
        return [ip.sixtofour]
    if ip in _NAT64_WELL_KNOWN:
        return [_rfc6052_ipv4(ip, 96)]
    if ip in _NAT64_LOCAL:
        return [_rfc6052_ipv4(ip, n) for n in _NAT64_LOCAL_PREFIX_LENGTHS]
    return []


def _rfc6052_ipv4(ip: ipaddress.IPv6Address, prefix_len: int) -> ipaddress.IPv4Address:
    """The IPv4 address embedded after a NAT64 prefix of `prefix_len` bits (RFC 6052 section 2.2)."""
    packed = ip.packed
    if prefix_len == 96:
        return ipaddress.IPv4Address(packed[12:16])
    start = prefix_len // 8
    octets = (packed[start:8] + packed[9:])[:4]  # bits 64-71 (the "u" octet) never carry address bits
    return ipaddress.IPv4Address(octets)


def _is_site_local(ip: IPAddress) -> bool:
    return isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local
