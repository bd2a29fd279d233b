"""`photonix doctor` checks that need no server of ours: top-level module names another distribution also
installs, and a URL that reaches nginx's default site instead of Photonix."""

from __future__ import annotations

import http.server
import threading
from importlib.metadata import distributions

import pytest

from services import doctor

WELCOME = b"<html><head><title>Welcome to nginx!</title></head><body><h1>Welcome to nginx!</h1></body></html>"


def fake_distribution(site, name, top_level=None, record=()):
    info = site / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "RECORD").write_text("".join(f"{path},,\n" for path in (*record, f"{info.name}/METADATA")))
    if top_level is not None:
        (info / "top_level.txt").write_text("".join(f"{line}\n" for line in top_level))


def test_another_distribution_with_one_of_our_top_level_names_is_a_warning(tmp_path):
    fake_distribution(tmp_path, "fake", top_level=["config", "fake"])
    fake_distribution(tmp_path, "norecord", record=["services/__init__.py", "norecord/__init__.py", "cli.py"])
    fake_distribution(tmp_path, "harmless", top_level=["harmless"], record=["harmless/__init__.py"])
    found = doctor.check_top_level_names(distributions(path=[str(tmp_path)]))
    assert [(c.name, c.ok, c.warn) for c in found] == [("top-level names", True, True)] * 2
    assert "fake 1.0 also installs config" in found[0].detail
    assert "norecord 1.0 also installs cli, services" in found[1].detail
    assert "virtual environment of its own" in found[0].fix


def test_our_own_distribution_is_no_conflict():
    assert doctor.check_top_level_names(distributions()) == []


@pytest.fixture
def nginx_default_site():
    """A local HTTP server answering every GET with nginx's welcome page, as Debian's default site does."""

    class Welcome(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            self.send_response(200 if self.path in ("/", "/index.html") else 404)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(WELCOME)))
            self.end_headers()
            self.wfile.write(WELCOME)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Welcome)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_doctor_url_names_nginxs_default_site(nginx_default_site):
    [check] = doctor.check_url(nginx_default_site + "/")
    assert not check.ok and "nginx's default page" in check.detail
    assert "/etc/nginx/sites-enabled/default" in check.fix and "default_server" in check.fix
