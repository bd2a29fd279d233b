"""The installable app in headless Chromium against a real gunicorn: the manifest, the service worker that keeps
only the shell (never /api), and the first view's modules all requested at once (issue 20: "PWA", "Static files")."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from services import events
from tests.browser.gallery import gallery_server, make_gallery, open_gallery, thumbnails_loaded
from tests.support.nginx import subpath_stack
from tests.support.servers import ROOT
from tests.support.waiting import until

pytestmark = [pytest.mark.browser, pytest.mark.integration]
STATIC = ROOT / "static"
WAIT_S = 10.0
READY = """() => navigator.serviceWorker.ready.then(async (registration) => {
  const worker = registration.active;
  if (worker.state !== 'activated') await new Promise((done) => worker.addEventListener('statechange', () =>
    worker.state === 'activated' && done()));
  return registration.scope;
})"""


@pytest.fixture
def server(env, tmp_path, photos_dir, db):
    make_gallery(photos_dir)
    with gallery_server(env, tmp_path) as running:
        yield running


def server_hits(server, request_line: str) -> int:
    """Requests the server answered, from gunicorn's access log (one line each, written as it answers)."""
    return server.log().count(f'"{request_line}')


def test_the_manifest_is_linked_and_the_service_worker_keeps_the_shell_but_never_the_api(server, page):
    open_gallery(page, server)
    page.wait_for_selector(".album-card")
    manifest = page.evaluate("""() => fetch(document.querySelector('link[rel=manifest]').href)
      .then(async (r) => ({ type: r.headers.get('content-type'), body: await r.json() }))""")
    assert manifest["type"] == "application/manifest+json"
    assert manifest["body"]["name"] == page.title() and manifest["body"]["display"] == "standalone"
    assert {icon["sizes"] for icon in manifest["body"]["icons"]} >= {"192x192", "512x512"}
    assert page.evaluate(READY) == server.url + "/"

    served: list = []
    page.on("response", lambda response: served.append(response))
    page.reload()
    page.wait_for_selector(".album-card")
    assert page.evaluate("() => navigator.serviceWorker.controller !== null")
    modules = [r for r in served if "/static/js/" in r.url]
    assert modules and all(r.from_service_worker for r in modules), [(r.url, r.from_service_worker) for r in modules]

    browsed = server_hits(server, "GET /api/browse/Holidays")
    served.clear()
    page.click('.album-card[data-path="Holidays"]')
    thumbnails_loaded(page)
    until(lambda: server_hits(server, "GET /api/browse/Holidays") > browsed, "the browse call reached the server",
          WAIT_S)
    api = [r for r in served if "/api/" in r.url]
    assert {urlsplit(r.url).path for r in api} >= {"/api/browse/Holidays", "/api/thumbnail"}
    assert not any(r.from_service_worker for r in api)
    page.evaluate("() => { window.heard = 0; "
                  "window.photonix.live.addEventListener('index-complete', () => window.heard++); }")
    page.wait_for_function("() => window.photonix.live.state === 'open'")
    events.publish("index-complete", {"added": 0, "removed": 0, "updated": 0})
    page.wait_for_function("() => window.heard === 1")  # the event stream still streams under the worker
    assert page.evaluate("() => fetch('api/auth/logout', { method: 'POST' }).then((r) => r.status)") == 204


def test_under_a_sub_path_the_worker_covers_only_the_sub_path(env, tmp_path, photos_dir, db, page):
    make_gallery(photos_dir)
    with subpath_stack(env, tmp_path) as (_, proxy):
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        page.goto(proxy.url + "/gallery/")
        page.wait_for_selector(".album-card")
        assert page.evaluate(READY) == proxy.url + "/gallery/"
        page.reload()
        page.wait_for_selector(".album-card")
        assert page.evaluate("() => navigator.serviceWorker.controller?.scriptURL") == proxy.url + "/gallery/sw.js"
        manifest = page.evaluate("() => fetch('manifest.webmanifest').then((r) => r.json())")
        assert manifest["start_url"] == manifest["scope"] == "./"
    assert [url for url in requested if url.startswith("http") and not url.startswith(proxy.url + "/gallery/")] == []


def test_the_first_views_modules_are_all_requested_before_the_app_starts(server, page):
    """Without modulepreload, the gallery's modules wait for app.js to run, ask /api/auth/status and import the
    view: a chain five requests deep before the first thumbnail. With it, the page asks for all of them at once."""
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    open_gallery(page, server)
    page.wait_for_selector(".album-card")
    requested = [urlsplit(url).path for url in urls]
    first_api = next(n for n, path in enumerate(requested) if path.startswith("/api/"))
    graph = {"/static/" + name for name in _import_closure(["js/app.js", "js/views/gallery.js"])}
    assert "/static/js/views/gallery.js" in graph and len(graph) > 8
    assert graph <= set(requested[:first_api]), sorted(graph - set(requested[:first_api]))
    page.goto(server.url + "/#/login")  # a view that is not preloaded: its imports go through the import map
    page.wait_for_selector(".login-page")
    modules = [url for url in urls if "/static/js/" in url]
    assert any("/static/js/views/login.js?v=" in url for url in modules)
    assert all(re.search(r"\?v=[0-9a-f]{12}$", url) for url in modules), modules  # the inline map was allowed


def _import_closure(entries: list[str]) -> set[str]:
    seen, queue = set(), list(entries)
    while queue:
        name = queue.pop()
        if name not in seen:
            seen.add(name)
            source = (STATIC / name).read_text()
            for spec in re.findall(r'^(?:import|export)\b[^;]*?\bfrom\s*"(\.{1,2}/[^"]+)"', source, re.MULTILINE):
                path = (STATIC / name).parent.joinpath(spec).resolve()
                queue.append(path.relative_to(STATIC.resolve()).as_posix())
    return seen
