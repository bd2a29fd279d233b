"""Install anywhere: the sdist and wheel built from this checkout, the wheel installed into a fresh virtual
environment outside it, and `photonix serve` run from / serving a gallery with the installed copy's
templates, static files and gunicorn settings (issue #19)."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from html.parser import HTMLParser
from io import BytesIO
from pathlib import Path

import pytest
import requests
from PIL import Image

from tests.conftest import JWT_SECRET
from tests.support import images
from tests.support.servers import ROOT, cannot_run, stop_process
from tests.support.waiting import until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SHIPPED_DIRS = {"templates", "static", "nginx", "deploy"}
_LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")
SERVER_START_S = 90.0  # a failsafe: a fresh venv compiles its .pyc files on the first start


def clean_env() -> dict[str, str]:
    """Nothing that points at the checkout or its venv: no PYTHONPATH, no VIRTUAL_ENV, a plain PATH."""
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    env |= {k: os.environ[k] for k in ("HOME", "TMPDIR", "PIP_INDEX_URL", "PIP_CACHE_DIR") if k in os.environ}
    return env


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> dict[str, Path]:
    """The sdist, and the wheel `python -m build` builds from that sdist (so the sdist is proven complete)."""
    if importlib.util.find_spec("build") is None:
        cannot_run("the `build` package is missing (pip install -e '.[dev]'): the wheel was not tested")
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)], cwd=out,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return {"wheel": next(out.glob("photonix-*.whl")), "sdist": next(out.glob("photonix-*.tar.gz"))}


@pytest.fixture(scope="module")
def venv(dist, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("venv") / "venv"
    assert ROOT not in path.parents
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True, env=clean_env(), cwd="/", timeout=120)
    # --no-compile: byte-compiling every installed package was a quarter of the install; the server compiles
    # what it imports on its first start (SERVER_START_S allows for it).
    result = subprocess.run([str(path / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-compile",
                             str(dist["wheel"])],
                            env=clean_env(), cwd="/", capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return path


def test_the_wheel_keeps_shipped_files_inside_our_package(dist):
    names = zipfile.ZipFile(dist["wheel"]).namelist()
    assert not {name.split("/")[0] for name in names} & SHIPPED_DIRS
    for needed in ("services/shipped/gunicorn.conf.py", "services/shipped/templates/index.html",
                   "services/shipped/static/js/app.js", "services/shipped/static/sw.js",
                   "services/shipped/static/img/icon-512.png", "services/shipped/nginx/photonix-http.conf",
                   "services/shipped/deploy/photonix.service", "blueprints/openapi.json", "wsgi.py"):
        assert needed in names, needed


def test_the_sdist_holds_what_the_wheel_is_built_from(dist):
    with tarfile.open(dist["sdist"]) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    for needed in ("setup.py", "pyproject.toml", "gunicorn.conf.py", "templates/index.html", "static/js/app.js",
                   "nginx/snippets/photonix-proxy.conf", "deploy/photonix.service", "blueprints/openapi.json"):
        assert needed in names, needed


def test_the_installed_modules_come_from_the_fresh_venv(venv):
    probe = "import app, services.resources as r; print(app.__file__); print(r.root())"
    result = subprocess.run([str(venv / "bin" / "python"), "-c", probe], env=clean_env(), cwd="/",
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    module, root = result.stdout.split()
    assert Path(module).is_relative_to(venv) and Path(root).is_relative_to(venv), result.stdout
    assert Path(root).name == "shipped" and (Path(root) / "static" / "js" / "app.js").is_file()


@pytest.fixture
def served(venv, tmp_path):
    """`<venv>/bin/photonix serve` run from / with one JPEG in an album; yields (url, master pid)."""
    images.jpeg(tmp_path / "photos" / "album" / "one.jpg")
    env = clean_env() | {"PHOTONIX_PHOTOS_DIR": str(tmp_path / "photos"), "PHOTONIX_DATA_DIR": str(tmp_path / "data"),
                         "PHOTONIX_JWT_SECRET": JWT_SECRET, "PHOTONIX_BIND": "127.0.0.1:0"}
    log_path = tmp_path / "serve.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([str(venv / "bin" / "photonix"), "serve"], cwd="/", env=env, stdout=log,
                                stderr=subprocess.STDOUT)
    try:
        def listening():
            assert proc.poll() is None, log_path.read_text()
            return _LISTENING.search(log_path.read_text())

        until(listening, "photonix serve never listened", SERVER_START_S)
        url = f"http://127.0.0.1:{listening().group(1)}"
        until(lambda: _answers(url + "/health"), "/health never answered", SERVER_START_S)
        yield url, proc.pid
    finally:
        stop_process(proc)
    assert "Traceback" not in log_path.read_text(), log_path.read_text()


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).status_code == 200
    except requests.RequestException:
        return False


class _Assets(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag == "script" and values.get("src"):
            self.found.append(values["src"])
        if tag == "link" and values.get("href"):
            self.found.append(values["href"])


def test_photonix_serve_from_root_serves_the_gallery_with_the_installed_files(served, venv):
    url, pid = served
    command = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    settings = Path(command[command.index("-c") + 1])
    assert Path(command[0]).is_relative_to(venv) and settings.is_relative_to(venv), command
    assert settings.name == "gunicorn.conf.py" and settings.parent.name == "shipped"
    assert os.readlink(f"/proc/{pid}/cwd") == "/"  # serve never changed its working directory
    assert requests.get(url + "/health", timeout=10).status_code == 200
    root = requests.get(url + "/api/browse", timeout=10).json()
    assert [(item["type"], item["name"]) for item in root["items"]] == [("album", "album")]
    album = requests.get(url + "/api/browse/album", timeout=10).json()
    thumbnail = _thumbnail(url + "/" + album["items"][0]["thumbnailUrl"].lstrip("/"))
    with Image.open(BytesIO(thumbnail.content)) as image:
        assert image.format == "WEBP" and image.width > 0
    page = requests.get(url + "/", timeout=10)
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    assets = _Assets()
    assets.feed(page.text)
    paths = [a.split("?")[0] for a in assets.found]  # static URLs carry their version: app.js?v=<hash>
    assert any(a.endswith(".js") for a in paths) and any(a.endswith(".css") for a in paths)
    for asset in assets.found:
        answer = requests.get(url + "/" + asset.lstrip("/"), timeout=10)
        assert answer.status_code == 200, asset


def _thumbnail(url: str) -> requests.Response:
    """The thumbnail; a 202 (the pool was busy) means it is being made: ask again until it is there."""
    answers: list[requests.Response] = []
    until(lambda: answers.append(requests.get(url, timeout=30)) or answers[-1].status_code != 202,
          "the thumbnail was never made", SERVER_START_S)
    assert answers[-1].status_code == 200 and answers[-1].headers["Content-Type"] == "image/webp", answers[-1].text
    return answers[-1]
