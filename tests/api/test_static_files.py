"""Static files with content versions, the import map and modulepreload list in the page, compressed answers,
the web app manifest and the service worker script (issue 20: "Static files", "Compressed answers", "PWA")."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import re

import brotli
import pytest
from PIL import Image

from services import settings
from services.gallery.index import Indexer
from services.static_assets import StaticAssets
from tests.support import images
from tests.support.servers import ROOT

STATIC = ROOT / "static"
YEAR_IMMUTABLE = "public, max-age=31536000, immutable"
IMPORT_MAP = re.compile(r'<script type="importmap">(.*?)</script>', re.DOTALL)


def version_of(name: str) -> str:
    return hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]


def page(client) -> str:
    return client.get("/").get_data(as_text=True)


def test_the_page_versions_every_static_url_and_every_module_import(client):
    response = client.get("/")
    html = response.get_data(as_text=True)
    for name in ("css/app.css", "img/icon.svg", "js/app.js"):
        assert f'"static/{name}?v={version_of(name)}"' in html, name
    [text] = IMPORT_MAP.findall(html)
    imports = json.loads(text)["imports"]
    modules = sorted(p.relative_to(STATIC).as_posix() for p in STATIC.rglob("*.js") if p.name != "sw.js")
    assert sorted(imports) == [f"./static/{name}" for name in modules]
    for name in modules:  # a relative import ("./views/x.js") resolves to the plain URL, which maps to this one
        assert imports[f"./static/{name}"] == f"./static/{name}?v={version_of(name)}"
    # The one inline script is allowed by its hash, nothing else inline.
    digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
    assert f"script-src 'self' 'sha256-{digest}';" in response.headers["Content-Security-Policy"]
    assert len(re.findall(r"<script(?![^>]*\bsrc=)", html)) == 1


def test_the_first_views_whole_module_graph_is_preloaded(client):
    html = page(client)
    preloaded = re.findall(r'<link rel="modulepreload" href="([^"]+)">', html)
    graph = _import_closure(["js/app.js", "js/views/gallery.js"])
    assert {"js/api.js", "js/thumbs.js", "js/views/cards.js", "js/views/info-panel.js", "js/dates.js"} <= graph
    assert set(preloaded) >= {f"static/{name}?v={version_of(name)}" for name in graph}
    assert html.index('rel="modulepreload"') > html.index('type="importmap"')  # the map must come first


def test_a_versioned_file_is_kept_a_year_and_anything_else_revalidated(client):
    good = client.get(f"/static/js/app.js?v={version_of('js/app.js')}")
    assert good.status_code == 200 and good.data == (STATIC / "js" / "app.js").read_bytes()
    assert good.headers["Cache-Control"] == YEAR_IMMUTABLE
    assert "javascript" in good.headers["Content-Type"]
    for url in ("/static/js/app.js", "/static/js/app.js?v=0123456789ab"):  # none, or another content's version
        assert client.get(url).headers["Cache-Control"] == "no-cache", url
    again = client.get("/static/js/app.js", headers={"If-None-Match": good.headers["ETag"]})
    assert again.status_code == 304


@pytest.mark.parametrize("coding, decode", [("gzip", gzip.decompress), ("br", brotli.decompress)])
def test_static_text_is_compressed_when_the_client_accepts_it(client, coding, decode):
    for name in ("js/app.js", "css/app.css"):
        response = client.get(f"/static/{name}?v={version_of(name)}", headers={"Accept-Encoding": coding})
        assert response.headers["Content-Encoding"] == coding
        assert "Accept-Encoding" in response.headers["Vary"]
        assert decode(response.data) == (STATIC / name).read_bytes()
        assert response.headers["Cache-Control"] == YEAR_IMMUTABLE
    plain = client.get("/static/js/app.js", headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers and plain.data == (STATIC / "js" / "app.js").read_bytes()
    preferred = client.get("/static/js/app.js", headers={"Accept-Encoding": "gzip, deflate, br, zstd"})
    assert preferred.headers["Content-Encoding"] == "br"
    png = client.get("/static/img/icon-512.png", headers={"Accept-Encoding": coding})
    assert "Content-Encoding" not in png.headers  # already compressed


@pytest.mark.parametrize("url", ["/static/nope.js", "/static/../app.py", "/static/%2e%2e/app.py",
                                 "/static//etc/passwd"])
def test_only_files_under_static_are_served(client, url):
    response = client.get(url)
    assert response.status_code == 404 and response.get_json()["code"] == "NOT_FOUND"


def test_a_file_replaced_on_disk_gets_a_new_version(tmp_path):
    (tmp_path / "js").mkdir()
    module = tmp_path / "js" / "app.js"
    module.write_text('import { a } from "./a.js";\n')
    (tmp_path / "js" / "a.js").write_text("export const a = 1;\n")
    assets = StaticAssets(tmp_path)
    first = assets.url("js/a.js")
    (tmp_path / "js" / "a.js").write_text("export const a = 22;\n")  # another size: a new stamp at any mtime
    assert assets.get("js/a.js").data == b"export const a = 22;\n"
    assert assets.url("js/a.js") != first
    (tmp_path / "js" / "b.js").write_text("export const b = 1;\n")
    assets.refresh()
    assert '"./static/js/b.js":"./static/js/b.js?v=' in assets.import_map()


def test_the_import_graph_follows_multi_line_and_side_effect_imports(tmp_path):
    (tmp_path / "js" / "views").mkdir(parents=True)
    (tmp_path / "js" / "app.js").write_text('import {\n  one,\n  two,\n} from "./views/one.js";\nimport "./side.js";\n'
                                            '// not an import: from "./comment.js"\nconst later = "./views/lazy.js";\n')
    (tmp_path / "js" / "views" / "one.js").write_text('export { two } from "../two.js";\nexport const one = 1;\n')
    for name in ("side.js", "two.js", "comment.js", "views/lazy.js"):
        (tmp_path / "js" / name).write_text("export {};\n")
    graph = StaticAssets(tmp_path).module_graph(["js/app.js"])
    assert graph == ["js/app.js", "js/views/one.js", "js/side.js", "js/two.js"]


# Compressed JSON answers (flask-compress).

def test_a_page_of_200_items_is_compressed_and_decodes_to_the_same_json(client, photos_dir, config):
    for n in range(200):
        images.jpeg(photos_dir / "big" / f"photo {n:03}.jpg", size=(8, 6))
    Indexer(config.photos_dir).scan()
    plain = client.get("/api/browse/big?limit=200", headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200 and len(plain.get_json()["items"]) == 200
    assert "Content-Encoding" not in plain.headers
    for coding, decode in (("gzip", gzip.decompress), ("br", brotli.decompress)):
        packed = client.get("/api/browse/big?limit=200", headers={"Accept-Encoding": coding})
        assert packed.headers["Content-Encoding"] == coding and "Accept-Encoding" in packed.headers["Vary"]
        assert len(packed.data) * 5 < len(plain.data)
        assert json.loads(decode(packed.data)) == plain.get_json()


def test_small_answers_images_and_the_event_stream_are_not_compressed(client, photos_dir, config):
    accept = {"Accept-Encoding": "gzip, br"}
    small = client.get("/api/auth/status", headers=accept)
    assert small.status_code == 200 and len(small.data) < 1024 and "Content-Encoding" not in small.headers
    images.jpeg(photos_dir / "a.jpg", size=(64, 48))
    Indexer(config.photos_dir).scan()
    [item] = client.get("/api/browse").get_json()["items"]
    for url in (item["originalUrl"], item["thumbnailUrl"]):
        response = client.get(url, headers=accept)
        assert response.status_code in (200, 202) and "Content-Encoding" not in response.headers, url
    stream = client.get("/api/events", headers=accept, buffered=False)
    try:
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        assert "Content-Encoding" not in stream.headers
        assert next(iter(stream.response)).startswith(b"retry:")  # plain text, sent at once
    finally:
        stream.close()


# The web app manifest and the service worker.

def test_the_manifest_names_the_site_and_points_inside_the_app(client):
    settings.write_settings({settings.SITE_TITLE: "Family Photos 2026"}, bump_epoch=False)
    html = page(client)
    assert '<link rel="manifest" href="manifest.webmanifest">' in html and '<meta name="theme-color"' in html
    response = client.get("/manifest.webmanifest")
    assert response.status_code == 200 and response.mimetype == "application/manifest+json"
    manifest = json.loads(response.data)
    assert manifest["name"] == "Family Photos 2026" and 0 < len(manifest["short_name"]) <= 12
    assert (manifest["start_url"], manifest["scope"], manifest["display"]) == ("./", "./", "standalone")
    assert re.fullmatch(r"#[0-9a-f]{6}", manifest["theme_color"])
    sizes = {}
    for icon in manifest["icons"]:
        assert not icon["src"].startswith(("/", "http")), icon  # relative: right under any prefix
        served = client.get("/" + icon["src"])
        assert served.status_code == 200 and served.headers["Cache-Control"] == YEAR_IMMUTABLE
        if icon["type"] == "image/png":
            sizes[icon["sizes"]] = Image.open(io.BytesIO(served.data)).size
    assert sizes == {"192x192": (192, 192), "512x512": (512, 512)}


def test_the_service_worker_is_served_at_the_root_with_the_shell_it_keeps(client):
    response = client.get("/sw.js")
    assert response.status_code == 200 and "javascript" in response.headers["Content-Type"]
    assert response.headers["Cache-Control"] == "no-cache"
    text = response.get_data(as_text=True)
    first, rest = text.split("\n", 1)
    shell = json.loads(first.removeprefix("self.PHOTONIX_SHELL = ").removesuffix(";"))
    assert rest == (STATIC / "sw.js").read_text()
    assert shell["urls"][0] == "./"
    assert f"static/js/app.js?v={version_of('js/app.js')}" in shell["urls"]
    assert all(url == "./" or re.fullmatch(r"static/[^?]+\?v=[0-9a-f]{12}", url) for url in shell["urls"])
    assert not any("api/" in url or "sw.js" in url for url in shell["urls"])
    for url in shell["urls"]:
        assert client.get("/" + url.removeprefix("./")).status_code == 200, url
    assert '<script type="module" src="static/js/pwa.js?v=' in page(client)


def _import_closure(entries: list[str]) -> set[str]:
    """Static imports followed from `entries` by reading the files (independently of services/static_assets)."""
    seen, queue = set(), list(entries)
    while queue:
        name = queue.pop()
        if name in seen:
            continue
        seen.add(name)
        source = (STATIC / name).read_text()
        for spec in re.findall(r'^(?:import|export)\b[^;]*?\bfrom\s*"(\.{1,2}/[^"]+)"', source, re.MULTILINE):
            queue.append((STATIC / name).parent.joinpath(spec).resolve().relative_to(STATIC.resolve()).as_posix())
    return seen
