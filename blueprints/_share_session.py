"""A share link's session: the request's link (checked on every request), its scope, and the session cookie.

blueprints/_auth.py finds the share credential (a Bearer accessToken, or the `share_session` cookie when no
viewer or admin credential came) and calls `require_active()`; views are marked `@shares_allowed` (a share may
call no other view). Every path a view serves is checked against the scope by blueprints/_gallery.gallery_path();
lists over the index narrow their rows with `within()` and `scoped_page()`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from flask import g, request
from flask_jwt_extended import create_access_token, decode_token, get_csrf_token

from blueprints._http import app_config, secure_cookies
from errors import DownloadsDisabled, NotFound, ShareExpired, ShareRevoked
from services.auth.sessions import new_sid
from services.gallery.browse import Page
from services.shares import store
from services.shares.scope import Scope

SHARE_COOKIE = "share_session"
ROLE_SHARE = "share"
SESSION_MAX_S = 12 * 3600  # the password is asked again at the latest after this
SHARES_ALLOWED = "photonix_shares_allowed"


def shares_allowed(view):
    """Mark a view a share session may call (it checks the scope of every path it serves)."""
    setattr(view, SHARES_ALLOWED, True)
    return view


def require_active(share_id: object) -> store.Share:
    """The session's link, read now (revocation and expiry hold at the next request on every node); 401
    SHARE_REVOKED / SHARE_EXPIRED when it ended."""
    share = g.get("share") or store.get(share_id)
    if share is None:
        raise ShareRevoked("This shared link no longer exists.", session=True)
    state = store.state(share)
    if state == store.REVOKED:
        raise ShareRevoked(session=True)
    if state == store.EXPIRED:
        raise ShareExpired(session=True)
    g.share = share  # only an active link scopes the rest of the request
    return share


def act_as(share: store.Share) -> None:
    """Serve this request as a session of `share` would be served (a request that carries the link's token
    itself, such as a feed reader's): every path is then checked against its scope."""
    g.share = share


def current_share() -> store.Share | None:
    """The request's share link when a share credential made it (checked active), else None."""
    return g.get("share")


def current_scope() -> Scope | None:
    """What the request's share may see, or None when the request is not a share's."""
    share = current_share()
    if share is None:
        return None
    if "share_scope" not in g:  # resolved on disk once per request
        root = app_config().photos_dir
        try:
            real = (root / share.path if share.path else root).resolve(strict=True)
        except (OSError, RuntimeError, ValueError):
            raise NotFound("What this link shares is no longer in the gallery.") from None
        g.share_scope = Scope(share.path, share.kind, real, root)
    return g.share_scope


@dataclass(frozen=True)
class Within:
    """Conditions on index rows for a share session's queries: the scope's rows, without the folders reached
    through a symlink that leads out of it."""

    folders: Any
    media: Any
    rows_filtered: bool  # the scope is not simply an album's whole subtree (one photo, or links leading out)


def within() -> Within | None:
    """The request's share scope as conditions on the index, or None when the request is not a share's."""
    scope = current_scope()
    if scope is None:
        return None
    if "share_within" not in g:
        linked_out = scope.linked_out()
        g.share_within = Within(scope.folder_condition(linked_out), scope.media_condition(linked_out),
                                rows_filtered=not scope.is_album or bool(linked_out))
    return g.share_within


def scoped_page(page: Page) -> Page:
    """A page of index rows as a share session may see it: items outside the scope on disk left out (a file
    symlink leading out of it), and album covers that lie outside it blanked. Unchanged for everyone else."""
    scope = current_scope()
    if scope is None:
        return page
    albums = [album if album.cover_path is None or scope.contains_rel(album.cover_path) else
              album._replace(cover_path=None, cover_mtime=None, cover_width=None, cover_height=None,
                             cover_placeholder=None) for album in scope.keeps(page.albums)]
    return replace(page, albums=albums, media=scope.keeps(page.media))


def scoped_crumbs(crumbs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Breadcrumbs from the share's own album down (the albums above it are not the visitor's to see)."""
    scope = current_scope()
    if scope is None:
        return crumbs
    return [(name, path) for name, path in crumbs if scope.named_inside(path)]


def downloads_allowed(admin: bool, zip_downloads_on: bool) -> None:
    """403 DOWNLOADS_DISABLED when this caller may not download albums: a share needs its link's allowDownload;
    others need the allowZipDownloads setting, unless they are the admin."""
    share = current_share()
    if share is not None:
        if not share.allow_download:
            raise DownloadsDisabled("This shared link does not allow downloads.")
        return
    if not zip_downloads_on and not admin:
        raise DownloadsDisabled()


def start_session(share: store.Share) -> dict[str, object]:
    """A new session of this link (at most SESSION_MAX_S, never after the link's expiry): the answer's fields,
    the token for scripts (accessToken) among them."""
    now = time.time()
    ends = now + SESSION_MAX_S if share.expires_at is None else min(now + SESSION_MAX_S, share.expires_at)
    token = create_access_token(ROLE_SHARE, expires_delta=timedelta(seconds=max(1, int(ends - now))),
                                additional_claims={"role": ROLE_SHARE, "shr": share.id, "sid": new_sid()})
    return {"accessToken": token, "csrfToken": get_csrf_token(token), "sessionExpiresAt": decode_token(token)["exp"]}


def set_session_cookie(response, token: str) -> None:
    """The session's httpOnly cookie for the API. No max_age: it ends with the browser, so the password is asked
    again on the next visit."""
    response.set_cookie(SHARE_COOKIE, token, httponly=True, path=cookie_path(), secure=secure_cookies(),
                        samesite="Lax")


def end_session(response) -> None:
    response.delete_cookie(SHARE_COOKIE, path=cookie_path(), secure=secure_cookies(), samesite="Lax")


def cookie_path() -> str:
    return f"{request.script_root}/api"
