"""/api/search: albums and media by name, paginated like browse."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from blueprints._auth import optional_viewer
from blueprints._gallery import page_json
from services.gallery import browse

bp = Blueprint("search", __name__, url_prefix="/api/search")


@bp.get("")
@optional_viewer
def get_search():
    page, limit = browse.paging(request.args.get("page"), request.args.get("limit"))
    query = request.args.get("q", "")
    return jsonify(q=query, **page_json(browse.search(query, page, limit)))
