"""Logged-out sessions. Every token of one login (its access and refresh token, and the access tokens
refreshed from it) carries the same random `sid` claim; an admin token has its own. Logout records the
sid in the `revoked_session` table until the last token of that session would have expired, and gives the
LOGOUTS setting a new value in the same transaction. Every request already reads the auth settings
(services/settings.auth_state, one query), so a token check compares that value with the one this
process loaded its set of revoked sids under, and reads the table again only after a logout somewhere:
seen at once by every worker and node, at no extra query per request. No Flask here.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterable, Mapping

from models import RevokedSession
from services import settings
from services.auth.access import ROLE_ADMIN
from services.database import write_transaction

SID_BYTES = 16


def new_sid() -> str:
    """A fresh session id for the tokens of one login or admin exchange."""
    return secrets.token_urlsafe(SID_BYTES)


def is_revoked(sid: object, logouts: str) -> bool:
    """Was this session logged out (and could its tokens still be alive)? `logouts` is the LOGOUTS value of
    the auth state this request read. A token without a sid (issued before sessions had one) never is."""
    if not isinstance(sid, str) or not sid:
        return False
    return sid in _revoked_sids(logouts)


_loaded: tuple[str, frozenset[str]] | None = None  # (the LOGOUTS value, the live revoked sids read after it)
_loading = threading.Lock()


def _revoked_sids(logouts: str) -> frozenset[str]:
    """The live revoked sids, read again only when LOGOUTS changed. They are read after `logouts` was, so the
    set holds at least every logout that value stands for."""
    global _loaded
    loaded = _loaded
    if loaded is not None and loaded[0] == logouts:
        return loaded[1]
    with _loading:
        rows = RevokedSession.select(RevokedSession.sid).where(RevokedSession.expires_at > time.time()).tuples()
        _loaded = (logouts, frozenset(sid for (sid,) in rows))
        return _loaded[1]


def end_sessions(claims: Iterable[Mapping[str, object]], viewer_lifetime_s: float,
                 now: float | None = None) -> set[str]:
    """Log out the sessions of these verified (possibly expired) token claims; return their sids.

    A viewer session is kept revoked until now + `viewer_lifetime_s` (the refresh token lifetime): no
    token of it issued up to now lives longer, whichever of its tokens was sent. An admin token is its
    session's only token, so its own expiry is enough.
    """
    now = time.time() if now is None else now
    until: dict[str, float] = {}
    for each in claims:
        sid, expiry = each.get("sid"), each.get("exp")
        if not isinstance(sid, str) or not sid:
            continue
        longest = float(expiry) if isinstance(expiry, int | float) else now
        if each.get("role") != ROLE_ADMIN:
            longest = max(longest, now + viewer_lifetime_s)
        until[sid] = max(until.get(sid, longest), longest)
    for sid, expires_at in until.items():
        revoke(sid, expires_at, now)
    return set(until)


def revoke(sid: str, expires_at: float, now: float | None = None) -> None:
    """Record `sid` as logged out until `expires_at` (revoked twice, the later expiry stays); rows past
    their expiry are purged in the same short transaction (an indexed range delete)."""
    now = time.time() if now is None else now
    with write_transaction():
        RevokedSession.delete().where(RevokedSession.expires_at < now).execute()
        if expires_at <= now:
            return
        existing = RevokedSession.get_or_none(RevokedSession.sid == sid)
        if existing is None:
            RevokedSession.insert(sid=sid, expires_at=expires_at).on_conflict_ignore().execute()
        elif existing.expires_at < expires_at:
            RevokedSession.update(expires_at=expires_at).where(RevokedSession.sid == sid).execute()
        settings.write_settings({settings.LOGOUTS: secrets.token_hex(8)}, bump_epoch=False)
