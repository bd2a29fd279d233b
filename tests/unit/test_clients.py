"""The one client key (lockout, rate limit, stream cap, log lines): an IPv6 network counts as one client."""

import pytest

from config import ConfigError, load_config
from services.clients import INVALID, UNKNOWN, client_address, client_key


@pytest.mark.parametrize("address, key", [
    ("203.0.113.5", "203.0.113.5"),
    (" 203.0.113.5 ", "203.0.113.5"),
    ("::ffff:203.0.113.5", "203.0.113.5"),  # IPv4-mapped: the IPv4 client it is
    ("2002:cb00:7105::1", "203.0.113.5"),  # 6to4: the IPv4 host owns the whole 2002:cb00:7105::/48
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "192.0.2.45"),  # Teredo: its client's IPv4, not the server's /64
    ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
    ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
    ("2001:0DB8:0001:0002:0000:0000:0000:0007", "2001:db8:1:2::/64"),
    ("::1", "::/64"),
    ("fe80::1%eth0", "fe80::/64"),
])
def test_ipv4_is_the_address_and_ipv6_is_its_64(address, key):
    assert client_key(address) == key


def test_every_address_of_one_64_is_one_client_and_the_next_64_another():
    keys = {client_key(f"2001:db8:1:2::{n:x}") for n in range(1, 200)}
    assert keys == {"2001:db8:1:2::/64"}
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")


@pytest.mark.parametrize("prefix, key", [
    (48, "2001:db8:1::/48"), (56, "2001:db8:1:200::/56"), (128, "2001:db8:1:2ab::7"), (32, "2001:db8::/32"),
])
def test_a_configured_prefix(prefix, key):
    assert client_key("2001:db8:1:2ab::7", prefix) == key
    assert client_key("203.0.113.5", prefix) == "203.0.113.5"  # IPv4 is never widened


@pytest.mark.parametrize("garbage", [
    "not an address", "203.0.113.5, 198.51.100.1", "203.0.113.256", "2001:db8::/64", "1.2.3.4\nFAKE LOG LINE",
    "x" * 10_000, "2001:db8::1%", "[2001:db8::1]",
])
def test_unparsable_input_is_one_fixed_token_never_the_raw_text(garbage):
    assert client_key(garbage) == INVALID == "invalid"
    assert client_address(garbage) == INVALID


@pytest.mark.parametrize("missing", [None, "", "   "])
def test_no_address_at_all_is_unknown(missing):
    assert client_key(missing) == UNKNOWN == "unknown"


def test_client_address_normalizes_without_widening():
    assert client_address("::ffff:203.0.113.5") == "203.0.113.5"
    assert client_address("2001:0db8::0001") == "2001:db8::1"


def test_the_prefix_is_configured_and_validated(env):
    assert load_config(env).ipv6_prefix == 64
    assert load_config({**env, "PHOTONIX_IPV6_PREFIX": "56"}).ipv6_prefix == 56
    for bad in ("16", "129", "64.5", "/64"):
        with pytest.raises(ConfigError, match="PHOTONIX_IPV6_PREFIX"):
            load_config({**env, "PHOTONIX_IPV6_PREFIX": bad})
