"""Gallery password hashing and checking with bcrypt, always on the CPU pool's password lane.

Passwords are 8-72 bytes of UTF-8: bcrypt ignores bytes past 72, so longer ones are refused
rather than silently truncated. A malformed attempt costs one bcrypt check like a wrong one, so
the two look alike to a client.
"""

from __future__ import annotations

import functools

import bcrypt

from errors import ValidationFailed
from services.cpu import run_password

MIN_PASSWORD_BYTES = 8
MAX_PASSWORD_BYTES = 72
BCRYPT_ROUNDS = 12


def validate_new_password(password: object, field: str = "newPassword") -> bytes:
    """The password as bytes, or ValidationFailed naming `field`."""
    if not isinstance(password, str):
        raise ValidationFailed(field, "The password must be a string.")
    encoded = password.encode("utf-8")
    if len(encoded) < MIN_PASSWORD_BYTES:
        raise ValidationFailed(field, f"The password needs at least {MIN_PASSWORD_BYTES} characters.")
    if len(encoded) > MAX_PASSWORD_BYTES:
        raise ValidationFailed(field, f"The password may have at most {MAX_PASSWORD_BYTES} bytes.")
    return encoded


def hash_password(password: object, field: str = "newPassword") -> str:
    encoded = validate_new_password(password, field)
    return run_password(lambda: bcrypt.hashpw(encoded, bcrypt.gensalt(BCRYPT_ROUNDS)).decode())


def verify_password(attempt: object, password_hash: str | None) -> bool:
    """True only for the right password; anything malformed is simply not right."""
    usable = isinstance(attempt, str) and 0 < len(attempt.encode("utf-8")) <= MAX_PASSWORD_BYTES
    candidate = attempt.encode("utf-8") if usable else b"x"
    reference = (password_hash or _dummy_hash()).encode()
    try:
        matched = run_password(bcrypt.checkpw, candidate, reference)
    except ValueError:  # a corrupt stored hash: nobody gets in, and the log says why
        raise RuntimeError("the stored password hash is not a bcrypt hash") from None
    return matched and usable and password_hash is not None


@functools.cache
def _dummy_hash() -> str:
    """Checked against when there is no real hash, so such failures take as long as real ones."""
    return run_password(lambda: bcrypt.hashpw(b"photonix-no-password", bcrypt.gensalt(BCRYPT_ROUNDS)).decode())
