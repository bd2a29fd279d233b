"""The browser front end's shell: `/` renders templates/index.html, which loads static/js/app.js; the static
files themselves with their versions, the web app manifest and the service worker.

Everything after that is the single-page app talking to /api; its routes live in the URL hash, so the one page
works unchanged under any sub-path prefix. Every URL written here is relative to the page's <base>.
"""

from __future__ import annotations

import base64
import hashlib
import json

from flask import Blueprint, Response, current_app, make_response, render_template, request

from blueprints._auth import no_rate_limit, request_auth_state
from errors import NotFound
from services.static_assets import SERVICE_WORKER, StaticAssets

bp = Blueprint("pages", __name__)
# Scripts, styles and fonts only from this server (no CDN: the gallery works on a LAN without internet);
# thumbnails arrive as blob: URLs, originals and videos from /api/file. The one inline script, the import map,
# is allowed by its hash ({import_map}); the service worker and the manifest come from 'self' too.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; script-src 'self' {import_map}; "
    "style-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'self'"
)
VERSIONED = "public, max-age=31536000, immutable"  # a ?v= that matches the content never changes
UNVERSIONED = "no-cache"  # stored, but revalidated (ETag) on every use
THEME_COLOR = "#1f6feb"  # static/img/icon.svg's blue
BACKGROUND_COLOR = "#f6f7f9"  # static/css/app.css --bg (light)
SHORT_NAME_CHARS = 12  # what a home screen shows under an icon


def static_assets() -> StaticAssets:
    return current_app.extensions["photonix_static"]


@bp.app_template_global()
def asset_url(name: str) -> str:
    """`{{ asset_url("css/app.css") }}` in a template: the file's versioned, page-relative URL."""
    return static_assets().url(name)


@bp.get("/")
@no_rate_limit
def get_index():
    return shell_response()


def shell_response(share_mode: bool = False):
    """The page: the gallery, or with `share_mode` a share link's view of it (blueprints/shares.py)."""
    assets = static_assets()
    assets.refresh()  # a file replaced on disk gets its new version in the page at once
    import_map = assets.import_map()
    response = make_response(render_template(
        "index.html", base=request.script_root + "/", site_title=request_auth_state().site_title,
        import_map=import_map, preload=assets.preload(), theme_color=THEME_COLOR, share_mode=share_mode))
    digest = base64.b64encode(hashlib.sha256(import_map.encode()).digest()).decode()
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.format(import_map=f"'sha256-{digest}'")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


@bp.get("/static/<path:filename>")
@no_rate_limit
def get_static(filename: str):
    """A file under static/, compressed when the client accepts it; cached for a year when `v` is its version."""
    asset = static_assets().get(filename)
    if asset is None:
        raise NotFound()
    encoding = request.accept_encodings.best_match(asset.encodings())
    response = Response(asset.body(encoding), mimetype=asset.mimetype)
    if encoding:
        response.headers["Content-Encoding"] = encoding
    response.vary.add("Accept-Encoding")
    response.set_etag(f"{asset.version}-{encoding or 'identity'}")
    response.headers["Cache-Control"] = VERSIONED if request.args.get("v") == asset.version else UNVERSIONED
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response.make_conditional(request)


@bp.get("/" + SERVICE_WORKER)
@no_rate_limit
def get_service_worker():
    """static/sw.js at the app's root, so its scope covers the page; the shell it keeps is prepended, so the
    script's bytes (what browsers compare to find an update) change whenever any static file does."""
    assets = static_assets()
    assets.refresh()
    source = assets.get(SERVICE_WORKER)
    if source is None:
        raise NotFound()
    shell = json.dumps({"version": assets.set_version(), "urls": assets.shell()}, separators=(",", ":"))
    body = f"self.PHOTONIX_SHELL = {shell};\n".encode() + source.data
    response = Response(body, mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/manifest.webmanifest")
@no_rate_limit
def get_manifest():
    """The web app manifest: named after the site title; every URL relative to this one, so any prefix works."""
    title = request_auth_state().site_title
    assets = static_assets()
    manifest = {
        "name": title, "short_name": title if len(title) <= SHORT_NAME_CHARS else title[:SHORT_NAME_CHARS - 1] + "…",
        "start_url": "./", "scope": "./", "id": "./", "display": "standalone",
        "theme_color": THEME_COLOR, "background_color": BACKGROUND_COLOR,
        "icons": [
            {"src": assets.url("img/icon-192.png"), "sizes": "192x192", "type": "image/png"},
            {"src": assets.url("img/icon-512.png"), "sizes": "512x512", "type": "image/png"},
            {"src": assets.url("img/icon.svg"), "sizes": "any", "type": "image/svg+xml"},
        ],
    }
    response = Response(json.dumps(manifest, ensure_ascii=False), mimetype="application/manifest+json")
    response.headers["Cache-Control"] = "no-cache"
    return response
