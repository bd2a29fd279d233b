"""/api/ai: AI captions of photos (POST /caption, plain JSON or relayed as SSE) and their settings (admin).

Viewers may ask when the admin turned captions on, within a daily quota per client; the admin always may (once a
url and model are set), without a quota. The rules live in services/ai/.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from flask import Blueprint, Response, current_app, jsonify

from blueprints._auth import admin_required, holds_admin, optional_viewer
from blueprints._gallery import indexed_media
from blueprints._http import app_config, client_ip, json_body
from errors import AiNotConfigured, AppError, ValidationFailed
from services.ai import captions
from services.ai import settings as ai_settings
from services.database import close_connection

bp = Blueprint("ai", __name__, url_prefix="/api/ai")
CAPTION_FIELDS = ("path", "language", "stream")


@bp.get("/settings")
@admin_required
def get_ai_settings():
    return jsonify(ai_settings.as_json(ai_settings.load(), app_config().jwt_secret))


@bp.put("/settings")
@admin_required
def put_ai_settings():
    secret = app_config().jwt_secret
    return jsonify(ai_settings.as_json(ai_settings.change(json_body(), secret), secret))


@bp.post("/caption")
@optional_viewer
def post_caption():
    body = json_body()
    for name in body:
        if name not in CAPTION_FIELDS:
            raise ValidationFailed(str(name), f"Unknown field {name!r}; fields are {', '.join(CAPTION_FIELDS)}.")
    raw, wants_stream = body.get("path"), body.get("stream", False)
    if not isinstance(raw, str) or not raw:
        raise ValidationFailed("path", "path must be a photo's path.")
    if not isinstance(wants_stream, bool):
        raise ValidationFailed("stream", "stream must be true or false.")
    language = captions.checked_language(body.get("language"))
    admin = holds_admin()
    config = ai_settings.unsealed(ai_settings.ready() if not admin else _configured(), app_config().jwt_secret)
    found, media = indexed_media(raw)
    quota = captions.Quota(current_app.extensions["photonix_limiter"].storage)
    ip = client_ip()

    def charge() -> None:
        if not admin:
            quota.charge(ip, config.dailyLimitPerClient)

    previewer = current_app.extensions["photonix_previewer"]
    if not wants_stream:
        return jsonify(captions.describe(media, found.real, previewer, config, language, charge).as_json())
    answer = captions.describe_stream(media, found.real, previewer, config, language, charge)
    close_connection()  # the stream may last long: it must not hold this request's database connection
    response = Response(_relay(answer), mimetype="text/event-stream",
                        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    if isinstance(answer, captions.CaptionStream):
        response.call_on_close(answer.close)  # also when the client left before the first piece
    return response


def _relay(answer: captions.Described | captions.CaptionStream) -> Iterator[str]:
    """`delta {text}` events as the caption arrives, then `done {caption, model, cached}`, or `error {code,
    message, upstreamStatus}` when the AI server fails mid-way (the status line was sent already)."""
    try:
        if isinstance(answer, captions.Described):
            yield _event("delta", {"text": answer.caption})
            yield _event("done", answer.as_json())
            return
        text = []
        for piece in answer:
            text.append(piece)
            yield _event("delta", {"text": piece})
        yield _event("done", {"caption": "".join(text).strip(), "model": answer.model, "cached": False})
    except AppError as error:
        yield _event("error", {**error.extra, "code": error.code, "message": error.message})
    finally:
        close_connection()


def _event(name: str, data: dict) -> str:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _configured() -> ai_settings.AiSettings:
    """The admin may try captions while they are still off, once a url and model are set."""
    config = ai_settings.load()
    if not (config.url and config.model):
        raise AiNotConfigured("Set the AI url and model first: Settings → AI captions (or PUT /api/ai/settings).")
    return config
