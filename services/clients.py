"""Who a client is, for counting: the one key the lockout, the API rate limit, the event-stream cap and the
auth log lines use. No Flask: the caller passes the address it resolved (through the trusted proxies).

An IPv6 client is its network, not its address: anyone with an ordinary /64 holds 2^64 addresses, and would
otherwise get a fresh budget per address. Unparsable text never becomes a key (or a log line) as it came.
"""

from __future__ import annotations

import ipaddress

DEFAULT_IPV6_PREFIX = 64
INVALID = "invalid"  # any unparsable address: all of them share one key
UNKNOWN = "unknown"  # no address at all (e.g. a unix socket without a proxy)


def client_key(address: str | None, ipv6_prefix: int = DEFAULT_IPV6_PREFIX) -> str:
    """The client's key: an IPv4 address as itself; IPv6 that embeds an IPv4 client (mapped, 6to4,
    Teredo) as that IPv4; any other IPv6 address as its /`ipv6_prefix` network, e.g. "2001:db8:1:2::/64"
    (a /128 as the bare address); INVALID for unparsable text, UNKNOWN for none."""
    ip = _parse(address)
    if isinstance(ip, str):
        return ip
    if isinstance(ip, ipaddress.IPv4Address) or ipv6_prefix >= 128:
        return ip.compressed
    return ipaddress.IPv6Network((int(ip), ipv6_prefix), strict=False).compressed


def client_address(address: str | None) -> str:
    """The address in canonical text (embedded IPv4 unwrapped, no scope), not widened to a network: for
    showing what arrived (diagnosis). INVALID for unparsable text, UNKNOWN for none."""
    ip = _parse(address)
    if isinstance(ip, str):
        return ip
    return ip.compressed


def _parse(address: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | str:
    """The client's IP address, or the token (UNKNOWN, INVALID) that stands for it."""
    text = (address or "").strip()
    if not text:
        return UNKNOWN
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return INVALID
    if isinstance(ip, ipaddress.IPv4Address):
        return ip
    embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
    # The scope (fe80::1%eth0) names an interface of the proxy, not a different client.
    return embedded or ipaddress.IPv6Address(int(ip))
