"""Who may hold /api/events open, and for how long: gallery readers, the admin (`?audience=admin`), or a share
link's session (its own path's events only). Split from blueprints/_auth.py, whose checks it reuses."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from flask import request

from blueprints._auth import LOGGED_OUT, Caller, admin_caller, admin_required, caller, optional_viewer
from blueprints._share_session import current_scope, current_share, shares_allowed
from errors import ShareExpired, ShareRevoked, TokenRevoked, ValidationFailed
from services import events
from services.auth import access, sessions
from services.database import close_connection
from services.settings import auth_state
from services.shares import store

STREAM_AUDIENCES = ("everyone", "admin")  # ?audience= of /api/events


@dataclass(frozen=True)
class StreamRules:
    """What a stream checks while it is open: when it must end, what to check again, and which events it gets."""

    expires_at: float | None  # end with auth-expired then (a token's or a share link's end)
    still_allowed: Callable[[], None]  # raises when the credential no longer grants the stream
    wanted: Callable[[events.Event], bool] | None = None  # None: every event the audience receives
    check_each_beat: bool = False  # run still_allowed at every heartbeat too (a share link can be revoked)
    expired_code: str = "TOKEN_EXPIRED"  # what auth-expired says at expires_at


def stream_reader(view):
    """/api/events: gallery readers, or with `?audience=admin` an admin credential (the admin cookie's
    path /api covers /api/events; an EventSource cannot send headers). The view reads stream_audience()."""
    gallery, admin = optional_viewer(shares_allowed(view)), admin_required(view)

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        return (admin if stream_audience() == "admin" else gallery)(*args, **kwargs)

    return wrapper


def stream_audience() -> str:
    audience = request.args.get("audience") or "everyone"
    if audience not in STREAM_AUDIENCES:
        raise ValidationFailed("audience", f"audience must be one of {', '.join(STREAM_AUDIENCES)}.")
    return audience


def stream_rules(anonymous_reads: bool) -> StreamRules:
    """The rules for the stream this request opens (after the decorator allowed it)."""
    share = current_share()
    if share is not None:
        scope = current_scope()
        session_ends = caller().expires_at
        link_first = share.expires_at is not None and (session_ends is None or share.expires_at < session_ends)
        return StreamRules(share.expires_at if link_first else session_ends, _share_guard(share.id, caller().sid),
                           lambda event: _about(scope, event), check_each_beat=True,
                           expired_code=ShareExpired.code if link_first else "TOKEN_EXPIRED")
    who, admin_stream = _stream_caller(), stream_audience() == "admin"
    # A token's expiry ends the stream only where reading needs the token; admin events need it in every mode.
    expires_at = who.expires_at if admin_stream or not anonymous_reads else None
    return StreamRules(expires_at, _guard(who, admin_stream))


def _stream_caller() -> Caller:
    """The credential a stream was opened with: the admin one for an admin stream."""
    return admin_caller() if stream_audience() == "admin" else caller()


def _guard(who: Caller, admin_stream: bool) -> Callable[[], None]:
    """A check to run again later (e.g. after an auth-changed event) that raises when the credential seen at
    connect no longer grants what the stream was opened for (a logged-out session never does). Reads the state
    fresh and gives the connection back; needs no request context."""

    def check() -> None:
        try:
            state = auth_state()
            logged_out = sessions.is_revoked(who.sid, state.logouts)
        finally:
            close_connection()
        if logged_out:
            raise TokenRevoked(LOGGED_OUT)
        if admin_stream:
            return
        current = who.role == access.ROLE_ADMIN or (who.epoch == state.epoch and state.password_enabled)
        access.check_gallery_read(state, who.role if current else None, TokenRevoked() if who.role else None)

    return check


def _share_guard(share_id: int, sid: str | None) -> Callable[[], None]:
    """As _guard, for a share link's stream: the link must still be active and the session not logged out."""

    def check() -> None:
        try:
            share = store.get(share_id)
            logged_out = sessions.is_revoked(sid, auth_state().logouts)
        finally:
            close_connection()
        if logged_out:
            raise TokenRevoked(LOGGED_OUT)
        found = store.state(share) if share is not None else store.REVOKED
        if found == store.REVOKED:
            raise ShareRevoked(session=True)
        if found == store.EXPIRED:
            raise ShareExpired(session=True)

    return check


def _about(scope, event: events.Event) -> bool:
    """Whether an event is about a path inside the share's scope (events without a path are not)."""
    path = event.data.get("path") if isinstance(event.data, dict) else None
    return isinstance(path, str) and scope.contains_rel(path)

