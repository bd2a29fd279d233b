"""Album management for the admin: DELETE /api/albums/<path> (to the trash, when allowAlbumDelete is on),
POST /api/albums/<path>/rename, and the trash: GET /api/trash, POST /api/trash/<id>/restore, DELETE /api/trash/<id>.
The work is services/albums/actions.py's; this only parses and answers.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from blueprints._auth import admin_required, request_auth_state
from blueprints._http import app_config, json_body
from errors import AlbumDeleteDisabled
from services import events
from services.albums import actions

bp = Blueprint("albums", __name__)


@bp.delete("/api/albums/<path:raw>")
@admin_required
def delete_album(raw: str):
    state = request_auth_state()
    if not state.allow_album_delete:
        raise AlbumDeleteDisabled()
    config = app_config()
    item = actions.delete_album(config.photos_dir, config.data_dir, raw, events.publish)
    return jsonify(item.as_json(state.trash_days))


@bp.post("/api/albums/<path:raw>/rename")
@admin_required
def rename_album(raw: str):
    body = json_body()
    caches = [current_app.extensions[f"photonix_{name}"] for name in ("thumbnailer", "previewer", "videos")]
    done = actions.rename_album(app_config().photos_dir, raw, body.get("name"), events.publish, caches)
    return jsonify(path=done.new, previousPath=done.old)


@bp.get("/api/trash")
@admin_required
def get_trash():
    days = request_auth_state().trash_days
    items = actions.list_items(app_config().data_dir)
    return jsonify(items=[item.as_json(days) for item in items], trashDays=days)


@bp.post("/api/trash/<item_id>/restore")
@admin_required
def restore_item(item_id: str):
    config = app_config()
    item = actions.restore(config.photos_dir, config.data_dir, item_id, events.publish)
    return jsonify(path=item.path, id=item.id)


@bp.delete("/api/trash/<item_id>")
@admin_required
def purge_item(item_id: str):
    actions.purge(app_config().data_dir, item_id)
    return "", 204
