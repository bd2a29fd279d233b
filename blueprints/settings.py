"""/api/settings: the public view of the runtime settings, and the owner's changes (admin only).

An admin credential also sees (and may change) `ai`, the AI captions' settings, through the same service as
/api/ai/settings (services/admin_settings.py, services/ai/settings.py); its apiKey is never returned."""

from __future__ import annotations

from flask import Blueprint, jsonify

from blueprints._auth import admin_required, holds_admin, optional_viewer, request_auth_state
from blueprints._http import app_config, json_body
from services import admin_settings, jobs, settings
from services.ai import settings as ai_settings
from services.gallery import index
from services.version import VERSION

bp = Blueprint("settings", __name__, url_prefix="/api/settings")


@bp.get("")
def get_settings():
    return _public_settings(request_auth_state(), with_ai=holds_admin())


@bp.route("", methods=["POST", "PUT"])
@admin_required
def post_settings():
    admin_settings.change(json_body(), app_config().jwt_secret)
    return _public_settings(settings.auth_state(), with_ai=True)


@bp.get("/status")
@optional_viewer
def get_status():
    return jsonify(index=index.index_status())


@bp.post("/sync/index")
@admin_required
def post_sync_index():
    """Ask the process that runs background jobs to scan now; progress arrives as index-* events."""
    jobs.request_run(index.JOB_NAME)
    return jsonify(queued=True), 202


def _public_settings(state: settings.AuthState, with_ai: bool = False):
    """Never a hash or a secret: only whether they exist. `ai` (the admin's) is never kept by a cache."""
    ai = ai_settings.load()
    response = jsonify(passwordEnabled=state.password_enabled, publicAccess=state.public_access,
                   hasPassword=state.password_hash is not None,
                   adminSecretConfigured=app_config().admin_secret is not None,
                   siteTitle=state.site_title, showLocation=state.show_location,
                   allowNeverExpiringShares=state.allow_never_expiring_shares,
                   allowZipDownloads=state.allow_zip_downloads, allowAlbumDelete=state.allow_album_delete,
                   trashDays=state.trash_days, aiCaptions=ai.ready, version=VERSION,
                   **({"ai": ai_settings.as_json(ai, app_config().jwt_secret)} if with_ai else {}))
    if with_ai:
        response.headers["Cache-Control"] = "private, no-store"
    return response
