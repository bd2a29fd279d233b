"""Shared by the gallery blueprints: the index for this app, who the viewer is, and item JSON.

URLs in items start at the app's script root, so they stay right under a sub-path prefix.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import current_app, g, request

from blueprints._auth import caller, request_auth_state
from blueprints._http import app_config, client_ip, secure_cookies
from blueprints._share_session import current_scope, current_share
from errors import NotFound, PathForbidden, ShareScope
from services import events
from services.gallery import visitors
from services.gallery.index import Indexer
from services.gallery.keys import version
from services.paths import GalleryPath, is_listed_path, media_kind, normalise, resolve

VISITOR_COOKIE = "visitor_id"
VISITOR_COOKIE_DAYS = 365


def indexer() -> Indexer:
    return Indexer(app_config().photos_dir, events.publish)


def gallery_path(raw: str) -> GalleryPath:
    """The checked path of `raw`; NotFound for what the gallery never lists (a temp file or folder), which
    would otherwise be synced into the index by the request itself. Under a share session, 403 SHARE_SCOPE
    outside its link: by name before the disk is asked, then by the real path (symlinks resolved)."""
    scope = current_scope()
    if scope is not None and not scope.named_inside(normalise(raw)):
        raise ShareScope()
    try:
        found = resolve(app_config().photos_dir, raw)
    except (NotFound, PathForbidden):
        if scope is not None and scope.leads_out(normalise(raw)):
            raise ShareScope() from None
        raise
    if not is_listed_path(found.rel):
        raise NotFound("Nothing the gallery shows is at this path.")
    if scope is not None and not scope.contains(found.real):
        raise ShareScope()
    return found


def indexed_media(raw: str) -> tuple[GalleryPath, Any]:
    """The checked path of a photo or video and its index row (a models.Media), or NotFound."""
    found = gallery_path(raw)
    media = indexer().media(found.rel) if media_kind(found.rel) and found.real.is_file() else None
    if media is None:
        raise NotFound("No photo or video is at this path.")
    return found, media


def viewer_id() -> str | None:
    """Whose viewing history this is: this browser's visitor cookie (so people sharing the one gallery
    password keep their own history), else the verified token's subject, else nobody yet."""
    if "visitor_id" not in g:
        g.visitor_id = _visitor_cookie()
    if current_share() is not None:  # no viewing history for share links
        return None
    if g.visitor_id:
        return "visitor:" + g.visitor_id
    role = caller().role
    return f"token:{role}" if role else None


def ensure_visitor_cookie(response) -> None:
    """Give this browser the visitor id new_visitor() issued (opaque, signed, httpOnly), if it had none."""
    if g.get("visitor_id") and not _visitor_cookie():
        response.set_cookie(VISITOR_COOKIE, g.visitor_id, max_age=VISITOR_COOKIE_DAYS * 86400,
                            path=request.script_root + "/", httponly=True, samesite="Lax", secure=secure_cookies())


def new_visitor() -> None:
    """Before recording a view: issue this browser an id if it sent none, so the view and the cookie agree;
    but only while its address is under services/gallery/visitors.py's quota (else it stays anonymous)."""
    if not g.get("visitor_id"):
        g.visitor_id = _visitor_cookie()
    if not g.visitor_id and visitors.may_issue(current_app.extensions["photonix_limiter"].storage, client_ip()):
        g.visitor_id = visitors.new_id(app_config().jwt_secret)


def _visitor_cookie() -> str | None:
    """The visitor id this browser sent, if this server issued it (a made-up one counts as none)."""
    return visitors.verified(app_config().jwt_secret, request.cookies.get(VISITOR_COOKIE, ""))


def cache_visibility() -> str:
    """`public` only when anyone may read the gallery; otherwise shared caches must not keep it."""
    return "public" if request_auth_state().anonymous_reads else "private"


def thumbnail_url(rel: str, mtime: float, endpoint: str = "thumbnail") -> str:
    return f"{request.script_root}/api/{endpoint}?path={quote(rel, safe='')}&v={version(mtime)}"


def album_json(folder: Any) -> dict[str, Any]:  # a row of browse.ALBUM_COLUMNS
    cover = folder.cover_path
    return {"type": "album", "name": folder.name, "path": folder.path,
            "mtime": folder.cover_mtime or folder.mtime or None,  # None: listed, not scanned yet
            "itemCount": folder.item_count, "coverUrl": thumbnail_url(cover, folder.cover_mtime) if cover else None,
            "coverWidth": folder.cover_width, "coverHeight": folder.cover_height,
            "coverPlaceholder": folder.cover_placeholder or None}


def media_json(media: Any) -> dict[str, Any]:  # a row of browse.MEDIA_COLUMNS
    return {"type": media.kind, "name": media.name, "path": media.path, "mtime": media.mtime, "size": media.size,
            "width": media.width, "height": media.height, "takenAt": media.taken_at, "duration": media.duration,
            "originalUrl": f"{request.script_root}/api/file/{quote(media.path)}",
            "thumbnailUrl": thumbnail_url(media.path, media.mtime),
            # Videos play in the lightbox; /api/preview still answers their frame, as a poster.
            "previewUrl": thumbnail_url(media.path, media.mtime, "preview") if media.kind == "photo" else None,
            "placeholder": media.placeholder or None}  # ThumbHash, base64; "" (could not be made) is None too


def page_json(page) -> dict[str, Any]:
    return {"items": [album_json(a) for a in page.albums] + [media_json(m) for m in page.media],
            "page": page.page, "limit": page.limit, "totalPages": page.total_pages,
            "totalResults": page.total_results}
