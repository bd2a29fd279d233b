"""/api/search: albums and media by name, with filters (year:, camera:, …), paginated like browse."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from blueprints._auth import optional_viewer
from blueprints._gallery import page_json
from blueprints._share_session import scoped_page, shares_allowed, within
from services.gallery import browse, query

bp = Blueprint("search", __name__, url_prefix="/api/search")


@bp.get("")
@optional_viewer
@shares_allowed
def get_search():
    """Under a share session, only what lies inside its link."""
    page, limit = browse.paging(request.args.get("page"), request.args.get("limit"))
    raw = request.args.get("q", "")
    limits = within()
    parsed, result = browse.search(raw, page, limit, *((limits.folders, limits.media) if limits else ()))
    return jsonify(q=raw, text=parsed.text, filters=[{"name": n, "value": v} for n, v in parsed.filters],
                   totalIsLowerBound=result.total_is_lower_bound, **page_json(scoped_page(result)))


@bp.get("/filters")
@optional_viewer
def get_filters():
    """The filters the search box understands, and the values that exist (for suggestions)."""
    return jsonify(filters=[{"name": name, "example": example} for name, example in query.FILTERS.items()],
                   **query.suggestions())
