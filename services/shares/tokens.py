"""Share-link tokens (issue 22): made, looked up and kept without ever being stored in plain text.

A token is 192 random bits in URL-safe base64. The database keeps two things of it: a lookup hash (HMAC-SHA256
with a key derived from the JWT secret, so a copy of the database alone cannot test guesses) to find its link,
and the token sealed with AES-GCM under another derived key, only so that the admin's list can show the link
again. Both keys come from the JWT secret through HKDF with their own purpose: changing that secret makes
every existing link unusable (they must be made again). No Flask, no database.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from services import sealing

TOKEN_BYTES = 24  # 192 bits (the issue asks for at least 128)
_TOKEN = re.compile(r"[A-Za-z0-9_-]{32}")  # what new_token() makes: anything else is refused before any work
_SEALED = sealing.Purpose(b"photonix shares", b"photonix share seal", b"photonix share token")
# Where a token travels in a URL (/s/<token>, /api/share/<token>/…): logs keep the place, not the token.
_IN_URL = re.compile(r"(/s/|/api/share/)[A-Za-z0-9_-]{32}(?![A-Za-z0-9_-])")
REDACTED = "[token]"


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def well_formed(token: str) -> bool:
    """Whether `token` could have been made by new_token() (a cheap check before hashing or a lookup)."""
    return isinstance(token, str) and _TOKEN.fullmatch(token) is not None


def redact(text: str) -> str:
    """`text` (a URL, a request line, a Referer) with every share token in it replaced by REDACTED."""
    return _IN_URL.sub(lambda found: found.group(1) + REDACTED, text)


def lookup_hash(secret: str, token: str) -> str:
    """The keyed hash the database finds a link by (hex)."""
    return hmac.new(_key(secret, b"lookup"), token.encode("ascii"), hashlib.sha256).hexdigest()


def same_hash(stored: str, computed: str) -> bool:
    """Constant-time comparison of two lookup hashes (the database found the row by one; this confirms it)."""
    return hmac.compare_digest(stored.encode("ascii"), computed.encode("ascii"))


def seal(secret: str, token: str) -> str:
    """The token encrypted for the admin's list (services/sealing.py)."""
    return _SEALED.seal(secret, token)


def unseal(secret: str, sealed: str) -> str | None:
    """The token back, or None when it was sealed under another secret or the text was altered."""
    return _SEALED.unseal(secret, sealed)


def _key(secret: str, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"photonix shares",
                info=b"photonix share " + purpose).derive(secret.encode("utf-8"))
