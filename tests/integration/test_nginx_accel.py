"""Made thumbnails and previews sent by a real nginx with the shipped configs (PHOTONIX_ACCEL_REDIRECT): gunicorn
answers an empty body naming the cached file, nginx sends its bytes with the app's headers; the app still decides
who may see them, and clients cannot ask for the internal location themselves."""

from __future__ import annotations

import pytest
import requests

from services import settings
from services.auth.passwords import hash_password
from tests.support import images
from tests.support.nginx import NGINX_DIR, SUBPATH_CONF, Nginx
from tests.support.servers import Gunicorn
from tests.support.waiting import until

pytestmark = pytest.mark.integration
PREFIX = "/_photonix/"
SHIPPED_DATA_DIR = "/var/lib/photonix/"  # PHOTONIX_DATA_DIR in deploy/photonix.env.example
PASSWORD = "accel password"
TIMEOUT = (5, 30)


@pytest.fixture
def stack(env, tmp_path, db, photos_dir):
    images.jpeg(photos_dir / "trip" / "a.jpg", (1200, 800))
    env = {**env, "PHOTONIX_TRUSTED_PROXIES": "1", "PHOTONIX_ACCEL_REDIRECT": PREFIX}
    data_dir = env["PHOTONIX_DATA_DIR"].rstrip("/") + "/"
    with Gunicorn(env, tmp_path / "gunicorn.log") as app, \
            Nginx(NGINX_DIR / "photonix-http.conf", app.port, tmp_path / "http",
                  replacements={SHIPPED_DATA_DIR: data_dir}) as http, \
            Nginx(SUBPATH_CONF, app.port, tmp_path / "subpath", replacements={SHIPPED_DATA_DIR: data_dir}) as subpath:
        yield app, http, subpath


def test_nginx_sends_what_the_app_names(stack, env):
    app, http, subpath = stack
    item = _browse_until(app.url + "/api/browse/trip")
    for url in (item["thumbnailUrl"], item["previewUrl"]):
        direct = requests.get(app.url + url, timeout=TIMEOUT)  # gunicorn alone: makes it, names it, sends nothing
        assert (direct.status_code, direct.content) == (200, b""), direct.text[:300]
        target = direct.headers["X-Accel-Redirect"]
        made = (env["PHOTONIX_DATA_DIR"] + "/" + target.removeprefix(PREFIX))
        with open(made, "rb") as file:
            webp = file.read()
        assert webp[:4] == b"RIFF" and webp[8:12] == b"WEBP"
        for sent in (requests.get(http.url + url, timeout=TIMEOUT),
                     requests.get(subpath.url + "/gallery" + url, timeout=TIMEOUT)):
            assert (sent.status_code, sent.headers["Content-Type"]) == (200, "image/webp"), sent.text[:300]
            assert sent.content == webp and "X-Accel-Redirect" not in sent.headers
            for header in ("Cache-Control", "ETag", "X-Thumb-Status"):
                assert sent.headers[header] == direct.headers[header], header
        again = requests.get(http.url + url, headers={"If-None-Match": direct.headers["ETag"]}, timeout=TIMEOUT)
        assert again.status_code == 304 and again.content == b""
        assert requests.get(http.url + target, timeout=TIMEOUT).status_code == 404  # internal: not for clients


def test_a_private_gallery_still_needs_a_token(stack):
    app, http, _ = stack
    item = _browse_until(app.url + "/api/browse/trip")
    assert requests.get(http.url + item["thumbnailUrl"], timeout=TIMEOUT).status_code == 200  # made while open
    settings.write_settings({settings.PASSWORD_HASH: hash_password(PASSWORD), settings.PASSWORD_ENABLED: "1"},
                            bump_epoch=True)
    refused = requests.get(http.url + item["thumbnailUrl"], timeout=TIMEOUT)
    assert refused.status_code == 401 and refused.json()["code"] == "AUTH_REQUIRED"
    assert "X-Accel-Redirect" not in refused.headers
    session = requests.Session()
    login = session.post(http.url + "/api/auth/login", json={"password": PASSWORD}, timeout=TIMEOUT)
    assert login.status_code == 200, login.text
    allowed = session.get(http.url + item["thumbnailUrl"], timeout=TIMEOUT)
    assert allowed.status_code == 200 and allowed.content[:4] == b"RIFF"
    assert allowed.headers["Cache-Control"].startswith("private, ")


def _browse_until(url: str) -> dict:
    """The first item of the album once the server lists it (its first scan may still be running)."""
    answers = []
    until(lambda: answers.append(requests.get(url, timeout=TIMEOUT)) or (
        answers[-1].status_code == 200 and answers[-1].json()["items"]), f"{url} never listed the photo")
    return answers[-1].json()["items"][0]
