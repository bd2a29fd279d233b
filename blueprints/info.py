"""/api/info: one photo's or video's details (date taken, camera, exposure, location, duration, AI caption)."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from blueprints._auth import is_admin, optional_viewer, request_auth_state
from blueprints._gallery import indexed_media, video_json
from blueprints._share_session import shares_allowed
from errors import ValidationFailed
from services.ai import captions
from services.gallery.query import camera_name

bp = Blueprint("info", __name__, url_prefix="/api/info")


@bp.get("")
@optional_viewer
@shares_allowed
def get_info():
    raw = request.args.get("path")
    if not raw:
        raise ValidationFailed("path", "path must be a photo's or video's path.")
    found, media = indexed_media(raw)
    located = media.gps_lat is not None and media.gps_lon is not None
    show_location = request_auth_state().show_location or is_admin()
    camera = {"make": media.camera_make, "model": media.camera_model, "name": camera_name(
        media.camera_make, media.camera_model)} if media.camera_make or media.camera_model else None
    return jsonify(
        path=found.rel, name=media.name, type=media.kind, size=media.size, mtime=media.mtime, width=media.width,
        height=media.height, takenAt=media.taken_at, takenFrom=media.taken_from, camera=camera, lens=media.lens,
        focalLength=media.focal_length, fNumber=media.f_number, exposureTime=media.exposure_time, iso=media.iso,
        gps={"lat": media.gps_lat, "lon": media.gps_lon, "alt": media.gps_alt} if located and show_location else None,
        duration=media.duration, codec=media.codec, caption=captions.latest(media),
        **(video_json(media) if media.kind == "video" else {}))  # a shared single video streams as HLS too
