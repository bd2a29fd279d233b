"""The browser front end's shell: `/` renders templates/index.html, which loads static/js/app.js.

Everything after that is the single-page app talking to /api; its routes live in the URL hash, so
the one page works unchanged under any sub-path prefix.
"""

from __future__ import annotations

from flask import Blueprint, make_response, render_template, request

from blueprints._auth import no_rate_limit, request_auth_state

bp = Blueprint("pages", __name__)
# Scripts, styles and fonts only from this server (no CDN: the gallery works on a LAN without internet);
# thumbnails arrive as blob: URLs, originals and videos from /api/file.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; script-src 'self'; "
    "style-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'self'"
)


@bp.get("/")
@no_rate_limit
def get_index():
    response = make_response(render_template("index.html", base=request.script_root + "/",
                                             site_title=request_auth_state().site_title))
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return response
