"""Share links in the database (issue 22): made, found by their token, changed, revoked, counted.

Every answer about a link's state is computed from the row at the time of the request, so a revocation or an
expiry takes effect at the next request on every worker and node. Passwords are bcrypt hashes (on the CPU
pool, services/auth/passwords.py). No Flask.
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from errors import NotFound, ShareExpired, ShareRevoked, ValidationFailed
from models import Share
from services.auth.passwords import hash_password
from services.shares import tokens

DEFAULT_DAYS = 30
MAX_DAYS = 3650
MAX_TEXT_CHARS = 200  # title and password hint
ACTIVE, EXPIRED, REVOKED = "active", "expired", "revoked"
CHANGEABLE = ("expiresInDays", "password", "passwordHint", "allowDownload", "title")


@dataclass(frozen=True)
class Made:
    share: Share
    token: str  # shown once to the admin (and again from the sealed copy in the list)


def create(secret: str, path: str, kind: str, fields: Mapping[str, object], allow_never: bool,
           now: float | None = None) -> Made:
    """A new link for `path` (an album or a photo, checked by the caller). `fields` are the API's: expiresInDays
    (default 30; null = never, only when `allow_never`), password, passwordHint, allowDownload, title."""
    now = time.time() if now is None else now
    values = _values(fields, allow_never, now, creating=True)
    token = tokens.new_token()
    share = Share.create(token_hash=tokens.lookup_hash(secret, token), token_sealed=tokens.seal(secret, token),
                         path=path, kind=kind, created_at=now, **values)
    return Made(share, token)


def find(secret: str, token: str) -> Share | None:
    """The link `token` opens, revoked or expired ones included (state() tells); None for anything else."""
    if not tokens.well_formed(token):
        return None
    wanted = tokens.lookup_hash(secret, token)
    share = Share.get_or_none(Share.token_hash == wanted)
    return share if share is not None and tokens.same_hash(share.token_hash, wanted) else None


def get(share_id: object) -> Share | None:
    return Share.get_or_none(Share.id == share_id) if isinstance(share_id, int) else None


def listed() -> list[Share]:
    """Every link, newest first (revoked and expired ones too)."""
    return list(Share.select().order_by(Share.created_at.desc(), Share.id.desc()))


def opened(secret: str, token: str) -> Share:
    """The active link `token` opens: 404 NOT_FOUND for none, 410 SHARE_REVOKED / SHARE_EXPIRED when it ended."""
    share = find(secret, token)
    if share is None:
        raise NotFound("No shared link has this address.")
    found = state(share)
    if found == REVOKED:
        raise ShareRevoked()
    if found == EXPIRED:
        raise ShareExpired()
    return share


def state(share: Share, now: float | None = None) -> str:
    now = time.time() if now is None else now
    if share.revoked_at is not None:
        return REVOKED
    if share.expires_at is not None and share.expires_at <= now:
        return EXPIRED
    return ACTIVE


def change(share_id: int, fields: Mapping[str, object], allow_never: bool, now: float | None = None) -> Share:
    """Apply the admin's PATCH to an existing link (the caller answers 404 for an unknown id first)."""
    now = time.time() if now is None else now
    unknown = [name for name in fields if name not in CHANGEABLE]
    if unknown or not fields:
        raise ValidationFailed(str(unknown[0]) if unknown else "body",
                               f"Send any of {', '.join(CHANGEABLE)}.")
    values = _values(fields, allow_never, now, creating=False)
    Share.update(**values).where(Share.id == share_id).execute()
    return Share.get_by_id(share_id)


def revoke(share_id: int, now: float | None = None) -> bool:
    """Revoke a link (it stays in the list, as revoked; revoking twice keeps the first time). False when there
    is no such link."""
    now = time.time() if now is None else now
    if Share.get_or_none(Share.id == share_id) is None:
        return False
    Share.update(revoked_at=now).where((Share.id == share_id) & Share.revoked_at.is_null()).execute()
    return True


def count_view(share_id: int, now: float | None = None) -> None:
    now = time.time() if now is None else now
    Share.update(views=Share.views + 1, last_viewed_at=now).where(Share.id == share_id).execute()


def token_of(secret: str, share: Share) -> str | None:
    """The link's token for the admin's list; None when it was sealed under another JWT secret."""
    return tokens.unseal(secret, share.token_sealed)


def _values(fields: Mapping[str, object], allow_never: bool, now: float, creating: bool) -> dict[str, object]:
    values: dict[str, object] = {}
    if creating or "expiresInDays" in fields:
        values["expires_at"] = _expiry(fields.get("expiresInDays", DEFAULT_DAYS if creating else None),
                                       "expiresInDays" in fields, allow_never, now)
    if "password" in fields:  # null or "" removes it
        password = fields["password"]
        values["password_hash"] = hash_password(password, "password") if password not in (None, "") else None
    for name, column in (("passwordHint", "password_hint"), ("title", "title")):
        if name in fields:
            values[column] = _text(fields[name], name, allow_none=name == "passwordHint")
    if "allowDownload" in fields or creating:
        allow = fields.get("allowDownload", False)
        if not isinstance(allow, bool):
            raise ValidationFailed("allowDownload", "allowDownload must be true or false.")
        values["allow_download"] = allow
    return values


def _expiry(days: object, given: bool, allow_never: bool, now: float) -> float | None:
    if days is None and given:
        if not allow_never:
            raise ValidationFailed("expiresInDays", "Links that never expire are off (the admin setting "
                                                    "allowNeverExpiringShares); give a number of days.")
        return None
    if days is None:
        days = DEFAULT_DAYS
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise ValidationFailed("expiresInDays", f"expiresInDays must be a whole number from 1 to {MAX_DAYS}.")
    return now + days * 86400


def _text(value: object, name: str, allow_none: bool) -> str | None:
    if value is None and allow_none:
        return None
    if not isinstance(value, str) or len(value) > MAX_TEXT_CHARS or any(
            unicodedata.category(c) in ("Cc", "Cf") for c in value):
        raise ValidationFailed(name, f"{name} must be text of at most {MAX_TEXT_CHARS} characters, no control "
                                     "characters.")
    return value.strip()
