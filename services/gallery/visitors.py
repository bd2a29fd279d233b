"""Anonymous visitor ids for the viewing history: unforgeable, and issued sparingly per client address.

An id is 16 random hex digits plus 16 of their HMAC under the server's secret, so a client cannot make up
new ones; a new id is issued at most NEW_VISITORS times per client address (an IPv6 /64 counts as one) in
the limiter storage, so a client that refuses cookies cannot add a history row per request. Never imports Flask.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from limits import parse
from limits.storage import Storage
from limits.strategies import FixedWindowRateLimiter

NEW_VISITORS = parse("5 per hour")  # per client address: a household's new browsers, not a script's requests
KEY_PREFIX = "photonix-visitors"
_RANDOM_HEX = 16
_ID = re.compile(r"[0-9a-f]{32}")


def new_id(secret: str) -> str:
    """A fresh visitor id (32 lowercase hex digits) that `verified()` will accept."""
    random_part = secrets.token_hex(_RANDOM_HEX // 2)
    return random_part + _mac(secret, random_part)


def verified(secret: str, value: str) -> str | None:
    """`value` when it is an id this server issued (under this secret), else None."""
    if not _ID.fullmatch(value):
        return None
    random_part, mac = value[:_RANDOM_HEX], value[_RANDOM_HEX:]
    return value if hmac.compare_digest(mac, _mac(secret, random_part)) else None


def may_issue(storage: Storage, client_key: str) -> bool:
    """Count one new visitor for `client_key` (services/clients.py: an IPv6 /64 is one client); False once it
    had NEW_VISITORS in the window, or when the storage cannot count (then no view is recorded: the history is
    a convenience, never worth an unbounded table)."""
    try:
        return FixedWindowRateLimiter(storage).hit(NEW_VISITORS, KEY_PREFIX, client_key)
    except Exception:  # a lost Redis raises its own errors: fail closed, quietly
        return False


def _mac(secret: str, random_part: str) -> str:
    digest = hmac.new(secret.encode(), b"photonix-visitor:" + random_part.encode(), hashlib.sha256).hexdigest()
    return digest[: 32 - _RANDOM_HEX]
