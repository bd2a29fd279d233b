"""/api/zip: an album, or a selection of photos, videos and albums, streamed as one ZIP (services/archive.py).

Allowed to whoever may read originals while the owner's allowZipDownloads is on (the admin always), and to a share
link's session when the link allows downloads, inside its scope only. The answer is built from the disk before
the first byte (every path checked, the album walked and every file stat()ed on the CPU pool, off the gevent
hub, so Content-Length is exact); its bytes are read only while the client takes them.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

from flask import Blueprint, Response, request
from zipstream import ZipStream

from blueprints._auth import is_admin, optional_viewer, request_auth_state
from blueprints._gallery import gallery_path
from blueprints._http import app_config, json_body
from blueprints._json import parse_object
from blueprints._share_session import current_scope, downloads_allowed, shares_allowed
from errors import AppError, NotFound, ValidationFailed
from services import archive, cpu
from services.paths import GalleryPath, media_kind

bp = Blueprint("zips", __name__, url_prefix="/api/zip")
FORM_TYPE = "application/x-www-form-urlencoded"
ASCII_FALLBACK = "album.zip"  # the plain filename= when a name has no ASCII letters or digits at all
PATHS_MESSAGE = f"paths must be a list of 1 to {archive.MAX_SELECTION:,} gallery paths."


@bp.get("", defaults={"raw": ""}, strict_slashes=False)  # "/api/zip/" too
@bp.get("/<path:raw>")
@optional_viewer
@shares_allowed
def get_zip(raw: str):
    downloads_allowed(is_admin(), request_auth_state().allow_zip_downloads)
    found = gallery_path(raw)  # for a share's session: 403 SHARE_SCOPE outside its link
    if not found.real.is_dir():
        raise NotFound("No album is at this path.")
    stream = cpu.run_cpu(archive.album_zip, app_config().photos_dir, found, _inside())
    return _zip_response(stream, archive.archive_name(found.rel, request_auth_state().site_title))


@bp.post("")
@optional_viewer
@shares_allowed
def post_zip():
    downloads_allowed(is_admin(), request_auth_state().allow_zip_downloads)
    chosen = [_chosen(raw) for raw in _paths()]
    stream = cpu.run_cpu(archive.selection_zip, app_config().photos_dir, chosen, _inside())
    return _zip_response(stream, archive.archive_name(archive.common_folder(chosen), request_auth_state().site_title))


def _inside() -> archive.Inside | None:
    """For a share's session: its scope, so that links leading out of the shared album are left out."""
    scope = current_scope()
    return scope.contains if scope is not None else None


def _paths() -> list[str]:
    """The `paths` of a JSON body, or of a browser's form post (the JSON array as text, parsed as strictly)."""
    if request.mimetype == FORM_TYPE:
        text = request.form.get("paths")
        if text is None:
            raise ValidationFailed("paths", PATHS_MESSAGE)
        body = parse_object(b'{"paths": ' + text.encode() + b"}")
    else:
        body = json_body()
    paths = body.get("paths")
    if not isinstance(paths, list) or not paths or not all(isinstance(path, str) for path in paths):
        raise ValidationFailed("paths", PATHS_MESSAGE)
    if len(paths) > archive.MAX_SELECTION:
        raise ValidationFailed("paths", PATHS_MESSAGE, maxItems=archive.MAX_SELECTION)
    return paths


def _chosen(raw: str) -> GalleryPath:
    """A checked path of an album, photo or video (400/403/404 as for any path, 403 SHARE_SCOPE outside a share's
    scope), the error naming the path."""
    try:
        found = gallery_path(raw)
        if not found.real.is_dir() and not (media_kind(found.rel) and found.real.is_file()):
            raise NotFound("No photo, video or album is at this path.")
    except AppError as error:
        error.extra.setdefault("path", raw)
        raise
    return found


def _zip_response(stream: ZipStream, name: str) -> Response:
    response = Response(archive.stream_bytes(stream), mimetype="application/zip", direct_passthrough=True)
    response.content_length = len(stream)
    response.headers.set("Content-Disposition", "attachment", **_filenames(name))
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Accel-Buffering"] = "no"  # nginx passes it on as it comes, never into a temp file
    return response


def _filenames(name: str) -> dict[str, str]:
    """RFC 6266 parameters, as werkzeug's send_file makes them: an ASCII filename and, for any other name, the
    UTF-8 filename* (RFC 8187) browsers prefer."""
    if name.isascii():
        return {"filename": name}
    stem = unicodedata.normalize("NFKD", name.removesuffix(".zip")).encode("ascii", "ignore").decode("ascii")
    simple = f"{stem.strip()}.zip" if any(char.isalnum() for char in stem) else ASCII_FALLBACK
    return {"filename": simple, "filename*": "UTF-8''" + quote(name, safe="!#$&+-.^_`|~")}
