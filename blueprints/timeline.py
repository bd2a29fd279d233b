"""/api/timeline (the months of an album's subtree, and one month's media) and /api/memories ("on this day")."""

from __future__ import annotations

import contextlib
import re
from datetime import date

from flask import Blueprint, jsonify, request

from blueprints._auth import optional_viewer
from blueprints._gallery import gallery_path, indexer, media_json, page_json
from errors import NotFound, ValidationFailed
from services.gallery import browse, timeline

bp = Blueprint("timeline", __name__)
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")


@bp.get("/api/timeline")
@optional_viewer
def get_months():
    rel = _album()
    return jsonify(path=rel, months=[{"year": y, "month": m, "count": n} for y, m, n in timeline.months(rel)])


@bp.get("/api/timeline/<string:month>")
@optional_viewer
def get_month(month: str):
    found = _MONTH.fullmatch(month)
    if not found or not 1 <= int(found.group(2)) <= 12 or int(found.group(1)) < 1:
        raise ValidationFailed("month", "month must look like 2024-07 (a year and a month from 01 to 12).")
    year, number = int(found.group(1)), int(found.group(2))
    rel = _album()
    page, limit = browse.paging(request.args.get("page"), request.args.get("limit"))
    result = timeline.month_page(rel, year, number, page, limit)
    return jsonify(path=rel, year=year, month=number, **page_json(result))


@bp.get("/api/memories")
@optional_viewer
def get_memories():
    today = _date(request.args.get("date"))
    years = timeline.memories(today)
    return jsonify(date=today.isoformat(), years=[
        {"year": y.year, "yearsAgo": today.year - y.year, "items": [media_json(m) for m in y.media]} for y in years])


def _album() -> str:
    """The checked album of ?path= (the root by default); its folder is synced first, as browse does."""
    found = gallery_path(request.args.get("path", ""))
    if not found.real.is_dir():
        raise NotFound("This is not an album.")
    indexer().refresh_folder(found.rel)
    return found.rel


def _date(raw: str | None) -> date:
    """?date= as the visitor's own today (their time zone, not the server's); the server's date when absent."""
    if raw is None:
        return date.today()  # noqa: DTZ011 (the server's local date, as the index's dates are local)
    found = _DATE.fullmatch(raw)
    if found:
        with contextlib.suppress(ValueError):  # 2024-02-30 and the like
            return date(*map(int, found.groups()))
    raise ValidationFailed("date", f"date must be a day like 2024-07-14, not {raw[:40]!r}.")
