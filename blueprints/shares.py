"""Share links: the admin's /api/shares (make, list, change, revoke), the public page /s/<token>, and opening a
link (POST /api/share/<token>/open → a share session, blueprints/_share_session.py).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, make_response, render_template, request

from blueprints._auth import admin_required, decide, lockout, request_auth_state
from blueprints._gallery import gallery_path, indexed_media
from blueprints._http import MAX_ROW_ID, app_config, client_ip, json_body, public_base
from blueprints._share_session import end_session, set_session_cookie, start_session
from blueprints.pages import shell_response
from errors import NotFound, ShareEnded, ValidationFailed
from services.auth import access
from services.shares import store

bp = Blueprint("shares", __name__)
TOKEN_IN_PATH = "<string(length=32):token>"  # noqa: S105 (a route part: tokens.new_token() makes 32 characters)
GONE_WORDS = {  # the page a visitor sees for a link that no longer opens, in both languages
    store.EXPIRED: ("This link has expired", "此链接已过期"),
    store.REVOKED: ("This link was revoked", "此链接已被撤销"),
    None: ("There is no shared link at this address", "此地址没有共享链接"),
}


@bp.url_value_preprocessor
def _known_size_ids(_endpoint, values):
    if values and values.get("share_id", 0) > MAX_ROW_ID:  # the database could not even compare it
        raise NotFound("There is no shared link with this id.")


@bp.post("/api/shares")
@admin_required
def post_share():
    body = json_body()
    path, kind = _shared_path(body.get("path"))
    fields = {name: value for name, value in body.items() if name != "path"}
    unknown = [name for name in fields if name not in store.CHANGEABLE]
    if unknown:
        raise ValidationFailed(unknown[0], f"Send path and any of {', '.join(store.CHANGEABLE)}.")
    made = store.create(app_config().jwt_secret, path, kind, fields, request_auth_state().allow_never_expiring_shares)
    return _no_store(jsonify(_share_json(made.share, made.token))), 201


@bp.get("/api/shares")
@admin_required
def get_shares():
    secret = app_config().jwt_secret
    return _no_store(jsonify(items=[_share_json(share, store.token_of(secret, share)) for share in store.listed()]))


@bp.patch("/api/shares/<int:share_id>")
@admin_required
def patch_share(share_id: int):
    body = json_body()
    _existing(share_id)
    share = store.change(share_id, body, request_auth_state().allow_never_expiring_shares)
    return _no_store(jsonify(_share_json(share, store.token_of(app_config().jwt_secret, share))))


@bp.delete("/api/shares/<int:share_id>")
@admin_required
def delete_share(share_id: int):
    if not store.revoke(share_id):
        raise NotFound("There is no shared link with this id.")
    return "", 204


@bp.get(f"/s/{TOKEN_IN_PATH}")
def get_share_page(token: str):
    """The gallery page in share mode; 410 for a link that ended, 404 for none."""
    share = store.find(app_config().jwt_secret, token)
    state = store.state(share) if share is not None else None
    if state == store.ACTIVE:
        return shell_response(share_mode=True)
    return _gone_page(state)


@bp.get("/s/<path:anything>")
def get_unknown_share_page(anything: str):
    return _gone_page(None)


@bp.post(f"/api/share/{TOKEN_IN_PATH}/open")
def post_open(token: str):
    """Open a link (its password, if it has one, under a lockout per link and client) and start its session."""
    attempt = json_body().get("password") if request.content_length or request.is_json else None
    share = store.opened(app_config().jwt_secret, token)
    decide("share open", lambda: access.check_share_password(
        share.password_hash, share.password_hint, attempt, lockout(f"share/{share.id}"), client_ip()),
           via="share-password")
    store.count_view(share.id)
    session = start_session(share)
    response = jsonify(path=share.path, kind=share.kind, title=share.title, expiresAt=share.expires_at,
                       allowDownload=share.allow_download, hasPassword=share.password_hash is not None,
                       passwordHint=share.password_hint, **session)
    set_session_cookie(response, session["accessToken"])
    return _no_store(response)


@bp.delete("/api/share/session")
def delete_session():
    """Leave share mode: the browser forgets the link's session cookie."""
    response = make_response("", 204)
    end_session(response)
    return response


def _shared_path(raw: object) -> tuple[str, str]:
    """The checked path of a new link and what it shares: an album, or one photo or video the gallery lists."""
    if not isinstance(raw, str):
        raise ValidationFailed("path", "path must be the album's or the photo's path (\"\" for the whole gallery).")
    found = gallery_path(raw)
    if found.real.is_dir():
        return found.rel, "album"
    _, media = indexed_media(raw)
    return found.rel, media.kind


def _existing(share_id: int) -> store.Share:
    share = store.get(share_id)
    if share is None:
        raise NotFound("There is no shared link with this id.")
    return share


def _share_json(share: store.Share, token: str | None) -> dict[str, Any]:
    state = store.state(share)
    return {"id": share.id, "url": f"{public_base()}/s/{token}" if token else None, "token": token,
            "path": share.path, "kind": share.kind, "title": share.title, "expiresAt": share.expires_at,
            "hasPassword": share.password_hash is not None, "passwordHint": share.password_hint,
            "allowDownload": share.allow_download, "createdAt": share.created_at, "views": share.views,
            "lastViewedAt": share.last_viewed_at, "expired": state == store.EXPIRED,
            "revoked": state == store.REVOKED, "revokedAt": share.revoked_at}


def _no_store(response):
    """Answers that carry tokens are kept by no cache."""
    response.headers["Cache-Control"] = "no-store"
    return response


def _gone_page(state: str | None):
    english, chinese = GONE_WORDS[state]
    status = ShareEnded.status if state is not None else NotFound.status
    response = make_response(render_template("share_gone.html", english=english, chinese=chinese,
                                             base=request.script_root + "/"), status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Content-Security-Policy"] = "default-src 'self'; base-uri 'self'; frame-ancestors 'self'"
    return response
