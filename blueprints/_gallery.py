"""Shared by the gallery blueprints: the index for this app, who the viewer is, and item JSON.

URLs in items start at the app's script root, so they stay right under a sub-path prefix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
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
from services.video.playable import VideoFacts

VISITOR_COOKIE = "visitor_id"
VISITOR_COOKIE_DAYS = 365
# What quote() never changes (its always-safe characters, and "/" where "/" is safe): most gallery paths are only
# these, and matching them is several times faster than quoting them twice per item of a page of 200.
_QUOTED_AS_IS = re.compile(r"[A-Za-z0-9_.~/-]*")


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


@dataclass(frozen=True)
class ItemUrls:
    """The starts of one request's item URLs, made once a page (request.script_root is a lookup each time)."""

    file: str
    thumbnail: str
    preview: str
    video: str

    @classmethod
    def of_request(cls) -> ItemUrls:
        root = request.script_root
        return cls(f"{root}/api/file/", f"{root}/api/thumbnail?path=", f"{root}/api/preview?path=",
                   f"{root}/api/video/")

    def thumbnail_of(self, rel: str, mtime: float) -> str:
        return f"{self.thumbnail}{quoted(rel)[1]}&v={version(mtime)}"


def quoted(rel: str) -> tuple[str, str]:
    """(quote(rel), quote(rel, safe="")): `rel` in a URL's path, and as a query-string value."""
    if _QUOTED_AS_IS.fullmatch(rel):
        return rel, rel.replace("/", "%2F")
    return quote(rel), quote(rel, safe="")


def thumbnail_url(rel: str, mtime: float, endpoint: str = "thumbnail") -> str:
    return f"{request.script_root}/api/{endpoint}?path={quoted(rel)[1]}&v={version(mtime)}"


def album_json(folder: Any, urls: ItemUrls | None = None) -> dict[str, Any]:  # a row of browse.ALBUM_COLUMNS
    cover = folder.cover_path
    return {"type": "album", "name": folder.name, "path": folder.path,
            "mtime": folder.cover_mtime or folder.mtime or None,  # None: listed, not scanned yet
            "itemCount": folder.item_count,
            "coverUrl": (urls or ItemUrls.of_request()).thumbnail_of(cover, folder.cover_mtime) if cover else None,
            "coverWidth": folder.cover_width, "coverHeight": folder.cover_height,
            "coverPlaceholder": folder.cover_placeholder or None}


def media_json(media: Any, urls: ItemUrls | None = None) -> dict[str, Any]:  # a row of browse.MEDIA_COLUMNS
    urls = urls or ItemUrls.of_request()
    in_path, in_query = quoted(media.path)
    query = f"{in_query}&v={version(media.mtime)}"
    return {"type": media.kind, "name": media.name, "path": media.path, "mtime": media.mtime, "size": media.size,
            "width": media.width, "height": media.height, "takenAt": media.taken_at, "duration": media.duration,
            "originalUrl": urls.file + in_path, "thumbnailUrl": urls.thumbnail + query,
            # Videos play in the lightbox; /api/preview still answers their frame, as a poster.
            "previewUrl": urls.preview + query if media.kind == "photo" else None,
            "placeholder": media.placeholder or None,  # ThumbHash, base64; "" (could not be made) is None too
            **(video_json(media, urls) if media.kind == "video" else {})}


def video_json(media: Any, urls: ItemUrls | None = None) -> dict[str, Any]:
    """How the lightbox plays a video: `playable` direct|hls|pending|failed, and `hlsUrl` once its rendition is
    made (a row with path, size, mtime, codec and audio_codec)."""
    urls = urls or ItemUrls.of_request()
    in_path = quoted(media.path)[0]
    facts = VideoFacts(media.path, media.size, media.codec, media.audio_codec)
    playable, key = current_app.extensions["photonix_videos"].playable(facts, media.mtime)
    hls = f"{urls.video}{in_path}/master.m3u8?v={version(media.mtime)}" if key else None
    return {"playable": playable, "hlsUrl": hls}


def page_json(page) -> dict[str, Any]:
    urls = ItemUrls.of_request()
    return {"items": [album_json(a, urls) for a in page.albums] + [media_json(m, urls) for m in page.media],
            "page": page.page, "limit": page.limit, "totalPages": page.total_pages,
            "totalResults": page.total_results}
