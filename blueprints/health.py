"""GET /health: 200 when the database, storage and limiter are usable, 503 naming the failing part."""

from flask import Blueprint, current_app, jsonify

from blueprints._auth import no_rate_limit
from blueprints._http import app_config
from services.health import check_health

bp = Blueprint("health", __name__)


@bp.get("/health")
@no_rate_limit
def get_health():
    config = app_config()
    limiter = current_app.extensions["photonix_limiter"].storage
    healthy, report = check_health(config.photos_dir, config.data_dir, limiter)
    # This process's open event streams: what an operator (and the leak tests) watch.
    response = jsonify(**report, streams=current_app.extensions["photonix_streams"].open_streams())
    response.status_code = 200 if healthy else 503
    response.headers["Cache-Control"] = "no-store"
    return response
