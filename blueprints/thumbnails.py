"""/api/thumbnail: WebP thumbnails made on demand (or a placeholder), their stats and the batch job;
/api/preview: the lightbox's larger image, by the same rules; /api/login-bg: the login page's background.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, redirect, request, send_file

from blueprints._auth import admin_required, optional_viewer, request_auth_state
from blueprints._gallery import cache_visibility, gallery_path, indexed_media, thumbnail_url
from blueprints._http import app_config
from blueprints._share_session import shares_allowed
from errors import ValidationFailed
from services import jobs
from services.gallery import browse, thumbs
from services.thumbnails import Result, Thumbnailer, placeholder_svg

bp = Blueprint("thumbnails", __name__)
THUMB_MAX_AGE_S = 365 * 86400  # the URL carries the source's version
UNVERSIONED_MAX_AGE_S = 60
RETRY_AFTER_S = 2
LOGIN_BG_CHOICES = 50


@bp.get("/api/thumbnail")
@optional_viewer
@shares_allowed
def get_thumbnail():
    return _image_response(thumbnailer())


@bp.get("/api/preview")
@optional_viewer
@shares_allowed
def get_preview():
    """The lightbox's image: a thumbnail's rules and headers, fitting PREVIEW_SIZE on its long edge."""
    return _image_response(current_app.extensions["photonix_previewer"])


@bp.get("/api/thumbnail/stats")
@optional_viewer
def get_thumbnail_stats():
    return jsonify(thumbs.stats(thumbnailer(), current_app.extensions["photonix"].photos_dir))


@bp.post("/api/thumbnail/batch")
@admin_required
def post_thumbnail_batch():
    """Ask the background-job process to make every missing thumbnail; progress comes as events."""
    jobs.request_run(thumbs.JOB_NAME)
    return jsonify(queued=True), 202


@bp.get("/api/login-bg")
def get_login_bg():
    """A recent photo when anyone may see the gallery anyway; the built-in picture otherwise."""
    if request_auth_state().anonymous_reads:
        pick = browse.random_recent_photo(LOGIN_BG_CHOICES)
        if pick is not None:
            response = redirect(thumbnail_url(pick.path, pick.mtime), 302)
            response.headers["Cache-Control"] = "no-store"
            return response
    response = current_app.send_static_file("img/login-bg.svg")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


def thumbnailer() -> Thumbnailer:
    return current_app.extensions["photonix_thumbnailer"]


def _image_response(maker: Thumbnailer, visibility: str | None = None) -> Response:
    """The image for ?path=; `visibility` overrides cache_visibility() (a share link's previews are private)."""
    raw = request.args.get("path")
    if raw is None:
        raise ValidationFailed("path", "path names the photo or video.")
    # Made (or failed) before: answered from file checks alone, without the index (thumbs.cached says why that
    # is safe); otherwise through the index, which also decides whether the gallery lists the file at all.
    result = thumbs.cached(maker, gallery_path(raw))
    if result is None:
        found, media = indexed_media(raw)
        result = maker.get(thumbs.source_for(found.real, media))
    return _thumbnail_response(result, maker, visibility or cache_visibility())


def _made_response(result: Result, maker: Thumbnailer) -> Response:
    """The made WebP, sent from its file (the server's file wrapper); with ACCEL_REDIRECT an empty answer naming
    it for nginx, which sends it with its own sendfile."""
    prefix = app_config().accel_redirect
    if prefix is None:
        return send_file(result.path, mimetype="image/webp", conditional=True, etag=result.etag)
    response = Response(mimetype="image/webp")
    response.set_etag(result.etag)
    response.make_conditional(request)
    if response.status_code == 200:  # never on a 304: nginx would turn it into the whole file
        response.headers["X-Accel-Redirect"] = prefix + maker.relative(result.path)
    return response


def _thumbnail_response(result: Result, maker: Thumbnailer, visibility: str) -> Response:
    if result.status == "ok":
        response = _made_response(result, maker)
        max_age = THUMB_MAX_AGE_S if request.args.get("v") else UNVERSIONED_MAX_AGE_S
        response.headers["Cache-Control"] = f"{visibility}, max-age={max_age}" + (
            ", immutable" if request.args.get("v") else "")
    else:
        kind = {"processing": "processing", "failed": "failed"}.get(result.status, "video")
        status = {"processing": 202, "failed": 404}.get(result.status, 200)
        response = Response(placeholder_svg(kind), status=status, mimetype="image/svg+xml")
        response.headers["Cache-Control"] = "no-store" if result.status == "processing" else \
            f"{visibility}, max-age={UNVERSIONED_MAX_AGE_S}"
        if result.status == "processing":
            response.headers["Retry-After"] = str(RETRY_AFTER_S)
    response.headers["X-Thumb-Status"] = "ready" if result.status == "ok" else result.status
    return response
