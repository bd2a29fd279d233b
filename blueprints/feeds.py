"""/api/feed: the Atom feed of an album's newest photos and videos (services/atom.py) for whoever may read the
album, a share session inside its link's scope too. /api/share/<token>/feed and /preview: a password-less
link's feed and the previews it encloses, without any session or login, so a feed reader needs only the link.

Every URL in a feed is absolute: PHOTONIX_PUBLIC_URL when set, else the address the request came to (through
the trusted proxies, with the app's script root).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, current_app, request

from blueprints._auth import optional_viewer, request_auth_state
from blueprints._gallery import cache_visibility, gallery_path
from blueprints._http import app_config, public_base
from blueprints._share_session import act_as, current_scope, shares_allowed, within
from blueprints.shares import TOKEN_IN_PATH
from blueprints.thumbnails import _image_response
from errors import NotFound, SharePasswordRequired
from services import atom
from services.gallery.keys import name_of, version
from services.paths import GalleryPath
from services.shares import store

bp = Blueprint("feeds", __name__)
ATOM_CONTENT_TYPE = atom.ATOM_MIMETYPE + "; charset=utf-8"
# Stored, but asked again every time: the ETag makes that a 304, and a revoked link stops at once.
REVALIDATE = "no-cache"


@bp.get("/api/feed", defaults={"raw": ""}, strict_slashes=False)  # the root, "/api/feed/" too
@bp.get("/api/feed/<path:raw>")
@optional_viewer
@shares_allowed
def get_feed(raw: str):
    found = gallery_path(raw)
    if not found.real.is_dir():
        raise NotFound("This is not an album.")
    scope, base = current_scope(), public_base()
    identity = f"album:{found.rel}" + (f"\0share-session:{scope.rel}" if scope is not None else "")
    links = atom.Links(feed=f"{base}/api/feed/{quote(found.rel)}" if found.rel else f"{base}/api/feed",
                       album=lambda rel: f"{base}/#/browse/{quote(rel)}" if rel else f"{base}/#/",
                       preview=lambda rel, mtime: _preview_url(f"{base}/api/preview", rel, mtime))
    limits = within()
    feed = _feed(identity, name_of(found.rel), found, limits.media if limits else None, links)
    return _feed_response(feed, "private" if scope is not None else cache_visibility())


@bp.get(f"/api/share/{TOKEN_IN_PATH}/feed")
def get_share_feed(token: str):
    """No session: the token is the credential, for links without a password only."""
    share = _open_link(token)
    act_as(share)
    scope, base = current_scope(), public_base()
    link = f"{base}/api/share/{quote(token)}"
    links = atom.Links(feed=f"{link}/feed", album=lambda _rel: f"{base}/s/{quote(token)}",
                       preview=lambda rel, mtime: _preview_url(f"{link}/preview", rel, mtime))
    album = GalleryPath(share.path if scope.is_album else share.path.rpartition("/")[0], scope.real)
    feed = _feed(f"share:{share.id}", share.title or name_of(share.path), album, within().media, links)
    return _feed_response(feed, "private")


@bp.get(f"/api/share/{TOKEN_IN_PATH}/preview")
def get_share_preview(token: str):
    """A share feed's enclosure: /api/preview's image for a path inside the link, without a session."""
    act_as(_open_link(token))  # every path is then checked against the link's scope (blueprints/_gallery.py)
    return _image_response(current_app.extensions["photonix_previewer"], visibility="private")


def _open_link(token: str) -> Any:
    """The link (a models.Share) `token` opens without a session: 404 unknown, 410 ended, 401 when it has a
    password."""
    share = store.opened(app_config().jwt_secret, token)
    if share.password_hash:
        raise SharePasswordRequired("This shared link has a password: its feed is not available.",
                                    passwordHint=share.password_hint)
    return share


def _feed(identity: str, name: str, album: GalleryPath, condition, links: atom.Links) -> atom.Feed:
    """`condition`: what the feed's rows must also meet (a share's scope), or None."""
    state = request_auth_state()
    try:
        fallback = album.real.stat().st_mtime
    except OSError:  # gone since it was resolved: the feed's date when it has no entries only
        fallback = 0.0
    return atom.Feed(system_id=state.system_id, identity=identity,
                     title=f"{state.site_title} – {name}" if name else state.site_title, album=album.rel,
                     links=links, rows=atom.newest(album.rel, condition), fallback_updated=fallback)


def _feed_response(feed: atom.Feed, visibility: str) -> Response:
    """The feed, or 304 when the client's copy (If-None-Match, If-Modified-Since) is current: rendered only
    when it is sent."""
    response = Response(content_type=ATOM_CONTENT_TYPE)
    response.set_etag(feed.etag)
    response.last_modified = feed.last_modified
    response.headers["Cache-Control"] = f"{visibility}, {REVALIDATE}"
    response.make_conditional(request)
    if response.status_code == 200:
        response.set_data(feed.render())
    return response


def _preview_url(endpoint: str, rel: str, mtime: float) -> str:
    return f"{endpoint}?path={quote(rel, safe='')}&v={version(mtime)}"
