"""Short secrets kept in the database encrypted: AES-GCM under a key derived (HKDF-SHA256) from the JWT secret for
one purpose, stored as URL-safe base64 of nonce + ciphertext + tag. A text sealed under another secret or for
another purpose, or altered, does not open. Share-link tokens (services/shares/tokens.py) and the AI API key
(services/ai/settings.py) use it. No Flask, no database.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

NONCE_BYTES = 12


@dataclass(frozen=True)
class Purpose:
    salt: bytes  # HKDF salt
    info: bytes  # HKDF info: the key's purpose
    context: bytes  # AES-GCM associated data: what the sealed text is

    def seal(self, secret: str, text: str) -> str:
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = AESGCM(self._key(secret)).encrypt(nonce, text.encode("utf-8"), self.context)
        return base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def unseal(self, secret: str, sealed: str) -> str | None:
        """The text back, or None when it was sealed under another secret or purpose, or altered."""
        try:
            raw = base64.urlsafe_b64decode(sealed.encode("ascii"))
            return AESGCM(self._key(secret)).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], self.context).decode()
        except (InvalidTag, ValueError, binascii.Error, UnicodeError):
            return None

    def _key(self, secret: str) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=self.salt, info=self.info).derive(
            secret.encode("utf-8"))
