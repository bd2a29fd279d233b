"""/api/file: originals, with ETag, Last-Modified and Range (video seeking); only media the gallery shows."""

from __future__ import annotations

from flask import Blueprint, send_file

from blueprints._auth import optional_viewer
from blueprints._gallery import cache_visibility, indexed_media
from blueprints._share_session import shares_allowed

bp = Blueprint("files", __name__, url_prefix="/api/file")
ORIGINAL_MAX_AGE_S = 3600


@bp.get("/<path:raw>")
@optional_viewer
@shares_allowed
def get_file(raw: str):
    found, media = indexed_media(raw)
    response = send_file(found.real, mimetype=media.mime, conditional=True, etag=True, max_age=ORIGINAL_MAX_AGE_S)
    response.headers["Cache-Control"] = f"{cache_visibility()}, max-age={ORIGINAL_MAX_AGE_S}"
    return response
