"""/api/browse: one album's page (checked against the disk first), and recently viewed albums."""

from __future__ import annotations

from flask import Blueprint, jsonify, make_response, request

from blueprints._auth import optional_viewer
from blueprints._gallery import (
    album_json,
    ensure_visitor_cookie,
    gallery_path,
    indexer,
    new_visitor,
    page_json,
    viewer_id,
)
from blueprints._http import app_config, json_body
from blueprints._share_session import current_share, scoped_crumbs, scoped_page, shares_allowed
from errors import NotFound, ValidationFailed
from services.gallery import browse
from services.gallery.keys import parent_of

bp = Blueprint("browse", __name__, url_prefix="/api/browse")


@bp.get("/viewed")
@optional_viewer
@shares_allowed
def get_viewed():
    if current_share() is not None:  # share links keep no viewing history
        return jsonify(items=[])
    _, limit = browse.paging(None, request.args.get("limit", 20))
    albums = browse.recently_viewed(viewer_id(), limit)
    return jsonify(items=[album_json(a) | {"viewedAt": a.viewed_at} for a in albums])


@bp.post("/viewed")
@optional_viewer
@shares_allowed
def post_viewed():
    raw = json_body().get("path")
    if not isinstance(raw, str):
        raise ValidationFailed("path", "path must be the album's path (\"\" for the root).")
    found = gallery_path(raw)
    if current_share() is not None:  # checked like any path, but never recorded
        return "", 204
    album = found.rel if found.real.is_dir() else parent_of(found.rel) or ""
    new_visitor()
    viewer = viewer_id()
    if viewer is not None:  # a cookie-less client over its address's quota of new visitors: not recorded
        browse.record_view(viewer, album)
    response = make_response("", 204)
    ensure_visitor_cookie(response)
    return response


@bp.get("", defaults={"raw": ""}, strict_slashes=False)  # "/api/browse/" too, as "trip/" is "trip"
@bp.get("/<path:raw>")
@optional_viewer
@shares_allowed
def get_browse(raw: str):
    found = gallery_path(raw)
    if not found.real.is_dir():
        raise NotFound("This is not an album.")
    indexer().refresh_folder(found.rel)
    page, limit = browse.paging(request.args.get("page"), request.args.get("limit"))
    sort = request.args.get("sort", "smart")
    result = scoped_page(browse.album_page(found.rel, viewer_id(), sort, page, limit, request.args.get("cursor"),
                                           app_config().jwt_secret))
    crumbs = [{"name": name, "path": path} for name, path in scoped_crumbs(browse.breadcrumbs(found.rel))]
    return jsonify(path=found.rel, breadcrumbs=crumbs, sort=sort, **page_json(result), nextCursor=result.next_cursor)
