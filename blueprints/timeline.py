"""/api/timeline (the months of an album's subtree, and one month's media) and /api/memories ("on this day").

Under a share session: the link's album (or its one photo) when no path is asked for, only what lies inside it.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import replace
from datetime import date

from flask import Blueprint, jsonify, request

from blueprints._auth import optional_viewer
from blueprints._gallery import gallery_path, indexer, media_json, page_json
from blueprints._share_session import current_scope, scoped_page, shares_allowed, within
from errors import NotFound, ValidationFailed
from services.gallery import browse, timeline
from services.gallery.keys import parent_of

bp = Blueprint("timeline", __name__)
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")


@bp.get("/api/timeline")
@optional_viewer
@shares_allowed
def get_months():
    rel, limits = _album(), within()
    if limits is None or not limits.rows_filtered:
        months = timeline.months(rel)  # kept in advance by the index
    else:
        months = timeline.months_where(timeline.below(rel) & limits.media)
    return jsonify(path=rel, months=[{"year": y, "month": m, "count": n} for y, m, n in months])


@bp.get("/api/timeline/<string:month>")
@optional_viewer
@shares_allowed
def get_month(month: str):
    found = _MONTH.fullmatch(month)
    if not found or not 1 <= int(found.group(2)) <= 12 or int(found.group(1)) < 1:
        raise ValidationFailed("month", "month must look like 2024-07 (a year and a month from 01 to 12).")
    year, number = int(found.group(1)), int(found.group(2))
    rel = _album()
    page, limit = browse.paging(request.args.get("page"), request.args.get("limit"))
    limits = within()
    result = timeline.month_page(rel, year, number, page, limit, limits.media if limits else None)
    return jsonify(path=rel, year=year, month=number, **page_json(scoped_page(result)))


@bp.get("/api/memories")
@optional_viewer
@shares_allowed
def get_memories():
    today = _date(request.args.get("date"))
    limits, scope = within(), current_scope()
    years = timeline.memories(today, limits.media if limits else None)
    if scope is not None:  # a file symlink leading out of the link is listed under it, but not the share's
        years = [kept for kept in (replace(y, media=scope.keeps(y.media)) for y in years) if kept.media]
    return jsonify(date=today.isoformat(), years=[
        {"year": y.year, "yearsAgo": today.year - y.year, "items": [media_json(m) for m in y.media]} for y in years])


def _album() -> str:
    """The checked album of ?path= (the root by default; a share's own album, or for a photo share the photo's
    album, whose rows within() narrows to the photo); its folder is synced first, as browse does."""
    raw, scope = request.args.get("path", ""), current_scope()
    if scope is not None and raw == "":
        if not scope.is_album:
            return parent_of(scope.rel) or ""
        raw = scope.rel
    found = gallery_path(raw)
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
