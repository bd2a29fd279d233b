"""The front end's shell: one HTML page whose base URL follows the proxy's prefix, with a strict CSP."""

from __future__ import annotations

import re

from app import create_app
from config import load_config
from services import settings


def test_the_shell_loads_the_app_from_this_server_only(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert '<base href="/">' in html
    assert re.search(r'<script type="module" src="static/js/app\.js\?v=[0-9a-f]{12}"></script>', html)
    assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing from another host (no CDN)
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self' 'sha256-" in policy and "default-src 'self'" in policy and "unsafe" not in policy
    assert response.headers["Cache-Control"] == "no-cache"


def test_the_shell_under_a_proxy_prefix(env, db):
    app = create_app(load_config({**env, "PHOTONIX_TRUSTED_PROXIES": "1"}))
    response = app.test_client().get("/", headers={"X-Forwarded-Prefix": "/gallery"})
    assert '<base href="/gallery/">' in response.get_data(as_text=True)


def test_the_site_title_is_escaped(client):
    settings.write_settings({settings.SITE_TITLE: "<b>Tom & Jerry</b>"}, bump_epoch=False)
    html = client.get("/").get_data(as_text=True)
    assert "<title>&lt;b&gt;Tom &amp; Jerry&lt;/b&gt;</title>" in html


def test_every_module_the_page_imports_is_served(client):
    """A missing file would only show in a browser; walk the import graph from app.js here."""
    seen, queue = set(), ["static/js/app.js"]
    while queue:
        path = queue.pop()
        if path in seen:
            continue
        seen.add(path)
        response = client.get("/" + path)
        assert response.status_code == 200, path
        source = response.get_data(as_text=True)
        base = path.rsplit("/", 1)[0]
        for spec in re.findall(r'"(\.{1,2}/[^"]+\.js)"', source):  # static imports and the lazy views
            queue.append(_join(base, spec))
    assert {"static/js/views/gallery.js", "static/js/views/downloads.js", "static/js/lightbox.js"} <= seen


def _join(base: str, relative: str) -> str:
    parts = base.split("/")
    for piece in relative.split("/"):
        if piece == "..":
            parts.pop()
        elif piece != ".":
            parts.append(piece)
    return "/".join(parts)
