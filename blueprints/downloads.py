"""/api/download: the download center's API, admin only in every mode.

Runs happen in the process holding the jobs lease: `run` and `download` ask for one and answer 202;
progress, completions and errors arrive as download-* events. Preview fetches the live feed here.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from blueprints._auth import admin_required
from blueprints._http import MAX_ROW_ID, app_config, json_body
from errors import NotFound, ValidationFailed
from services import settings
from services.downloads import entries, history, logs, opml, options, scheduler, tasks
from services.gallery import browse

bp = Blueprint("downloads", __name__, url_prefix="/api/download")


@bp.url_value_preprocessor
def _known_size_ids(_endpoint, values):
    if values and values.get("task_id", 0) > MAX_ROW_ID:
        raise NotFound("No download task has this id.")
TASK = "/tasks/<int:task_id>"
MAX_OPML_BYTES = 2 * 1024 * 1024


@bp.get("/status")
@admin_required
def get_status():
    return jsonify(history.status())


@bp.get("/tasks")
@admin_required
def get_tasks():
    running = set(scheduler.running_tasks())
    return jsonify(items=[tasks.as_json(f, f.id in running) for f in tasks.all_tasks()])


@bp.post("/tasks")
@admin_required
def post_task():
    feed = tasks.create(json_body(), app_config().photos_dir)
    if feed.enabled:
        scheduler.request_run(feed.id)
    return jsonify(tasks.as_json(feed)), 201


@bp.get(TASK)
@admin_required
def get_task(task_id: int):
    return jsonify(tasks.as_json(tasks.get(task_id), task_id in scheduler.running_tasks()))


@bp.patch(TASK)
@admin_required
def patch_task(task_id: int):
    return jsonify(tasks.as_json(tasks.change(task_id, json_body(), app_config().photos_dir)))


@bp.delete(TASK)
@admin_required
def delete_task(task_id: int):
    tasks.delete(task_id)
    return "", 204


@bp.post(TASK + "/<any(start, resume, pause):action>")
@admin_required
def post_task_state(task_id: int, action: str):
    return jsonify(tasks.as_json(tasks.set_enabled(task_id, action != "pause")))


@bp.post(TASK + "/run")
@admin_required
def post_task_run(task_id: int):
    scheduler.request_run(task_id)
    return jsonify(queued=True, taskId=task_id), 202


@bp.get(TASK + "/preview")
@admin_required
def get_task_preview(task_id: int):
    return jsonify(entries.preview(task_id))


@bp.post(TASK + "/download")
@admin_required
def post_task_download(task_id: int):
    queued = entries.pick(task_id, json_body().get("entries"))
    scheduler.request_pick()
    return jsonify(queued=queued, taskId=task_id), 202


@bp.get(TASK + "/logs")
@admin_required
def get_task_logs(task_id: int):
    tasks.get(task_id)
    return jsonify(items=logs.page(feed_id=task_id, **_log_filters()))


@bp.get("/logs")
@admin_required
def get_logs():
    return jsonify(items=logs.page(**_log_filters()))


@bp.delete("/logs")
@admin_required
def delete_logs():
    return jsonify(removed=logs.clear())


@bp.get("/history")
@admin_required
def get_history():
    page, limit = browse.paging(request.args.get("page"), request.args.get("limit"))
    task_id = _row_id("taskId", "taskId must be a task's number.")
    return jsonify(history.page(page, limit, task_id, request.args.get("status")))


@bp.get("/config")
@admin_required
def get_config():
    return jsonify(options.as_json(options.load()))


@bp.put("/config")
@admin_required
def put_config():
    return jsonify(options.as_json(options.change(json_body())))


@bp.get("/opml")
@admin_required
def get_opml():
    body = opml.export(f"{settings.auth_state().site_title} feeds")
    return Response(body, mimetype="text/x-opml", headers={
        "Content-Disposition": 'attachment; filename="photonix-feeds.opml"', "Cache-Control": "no-store"})


@bp.post("/opml")
@admin_required
def post_opml():
    """The file as a multipart upload (`file`, with `mode`) or as the raw request body (`?mode=`)."""
    upload = request.files.get("file")
    body = upload.read(MAX_OPML_BYTES + 1) if upload is not None else request.get_data()
    if not body:
        raise ValidationFailed("file", "Send the OPML file (multipart field `file`, or as the request body).")
    if len(body) > MAX_OPML_BYTES:
        raise ValidationFailed("file", f"The OPML file is larger than {MAX_OPML_BYTES // 1024} KiB.")
    mode = request.form.get("mode") or request.args.get("mode") or "merge"
    return jsonify(opml.import_(body, mode, app_config().photos_dir))


def _log_filters() -> dict:
    level = request.args.get("level")
    if level is not None and level not in logs.LEVELS:
        raise ValidationFailed("level", f"level must be one of {', '.join(logs.LEVELS)}.")
    before = _row_id("before", "before must be a log line id.")
    _, limit = browse.paging(None, request.args.get("limit", 100))
    return {"level": level, "before": before, "limit": limit}


def _row_id(name: str, message: str) -> int | None:
    """An optional id in the query string: ASCII digits that fit a database integer, else 400."""
    raw = request.args.get(name)
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_ROW_ID:
        raise ValidationFailed(name, message)
    return int(raw)
