"""/api/video: HLS renditions of the videos a browser cannot play as they are (same access rules as the originals,
share links included), their status counts and the batch that makes them."""

from __future__ import annotations

import re

from flask import Blueprint, Response, current_app, jsonify, request, send_file

from blueprints._auth import admin_required, optional_viewer
from blueprints._gallery import cache_visibility, indexed_media
from blueprints._share_session import shares_allowed
from blueprints.thumbnails import THUMB_MAX_AGE_S, UNVERSIONED_MAX_AGE_S
from errors import NotFound
from services import jobs
from services.video import batch
from services.video.playable import VideoFacts
from services.video.renditions import Renditions

bp = Blueprint("video", __name__, url_prefix="/api/video")
MIME = {".m3u8": "application/vnd.apple.mpegurl", ".ts": "video/mp2t"}
VERSION = re.compile(r"\d{1,20}")


@bp.get("/status")
@optional_viewer
def get_video_status():
    return jsonify(enabled=renditions().enabled, **batch.stats(renditions()))


@bp.post("/batch")
@admin_required
def post_video_batch():
    """Ask the background-job process to make every missing rendition now; progress comes as events."""
    jobs.request_run(batch.JOB_NAME)
    return jsonify(queued=renditions().enabled), 202


@bp.get("/<path:raw>/<name>")
@optional_viewer
@shares_allowed
def get_video_file(raw: str, name: str):
    """A complete rendition's playlist or segment. With ?v= (the item's hlsUrl carries it) the playlists pass it on
    to every address they list, and all of them are cached like versioned thumbnails."""
    found, media = indexed_media(raw)
    stat = found.real.stat()
    maker = renditions()
    facts = VideoFacts(found.rel, stat.st_size, media.codec, media.audio_codec)
    if media.kind != "video" or not maker.needs_rendition(facts):
        raise NotFound("This video plays as it is: it has no HLS rendition.")
    key = maker.key(found.rel, stat.st_mtime, stat.st_size)
    path = maker.file(key, name)
    if path is None:
        raise NotFound("This video's HLS rendition is not made (yet), or has no such file.")
    v = request.args.get("v", "")
    versioned = bool(VERSION.fullmatch(v))
    if name.endswith(".m3u8"):
        response = Response(_playlist(path.read_text(), v if versioned else None), mimetype=MIME[".m3u8"])
        response.set_etag(f"{key[:32]}-{name}-{v}")
    else:
        response = send_file(path, mimetype=MIME[".ts"], conditional=False, etag=False)
        response.set_etag(f"{key[:32]}-{name}")
    response.make_conditional(request)  # 304 for a matching If-None-Match; Range requests get the whole file
    max_age = THUMB_MAX_AGE_S if versioned else UNVERSIONED_MAX_AGE_S
    immutable = ", immutable" if versioned else ""
    response.headers["Cache-Control"] = f"{cache_visibility()}, max-age={max_age}{immutable}"
    return response


def renditions() -> Renditions:
    return current_app.extensions["photonix_videos"]


def _playlist(text: str, v: str | None) -> str:
    """The playlist as made, its relative addresses (the lines not starting with #) carrying ?v= when given."""
    if v is None:
        return text
    return "\n".join(f"{line}?v={v}" if line and not line.startswith("#") else line for line in text.split("\n"))
