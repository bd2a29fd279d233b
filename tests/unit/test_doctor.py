"""`photonix doctor` checks that need no server of ours: top-level module names another distribution also
installs, and a URL that reaches nginx's default site instead of Photonix."""

from __future__ import annotations

import http.server
import os
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


@pytest.fixture
def watcher_state(db):
    """save(mode, reason, detail, folders): the state a leading server's watcher would have saved."""
    from services.gallery import watcher

    return watcher._save_state


def test_doctor_names_the_watchers_mode_inotify_or_off(env, config, watcher_state):
    from config import load_config

    assert doctor.check_watcher(config).detail.startswith("not started yet")
    watcher_state("inotify", "", "", 12)
    check = doctor.check_watcher(config)
    assert (check.ok, check.warn) == (True, False)
    assert check.detail.startswith("inotify since ") and "12 folders watched" in check.detail
    off = doctor.check_watcher(load_config({**env, "PHOTONIX_WATCH": "off"}))
    assert off.detail.startswith("off (PHOTONIX_WATCH=off)") and "scan every 300 s" in off.detail
    watcher_state("off", "PHOTONIX_WATCH=off", "", 0)  # what a leading process configured so has saved
    assert doctor.check_watcher(config).detail.startswith("off in the process that runs background jobs")


def test_doctor_warns_ahead_when_the_indexed_folders_near_the_watch_limit(config, watcher_state, monkeypatch):
    from models import Folder
    from services.gallery import watcher

    watcher_state("inotify", "", "", 9)
    for n in range(9):
        Folder.create(path_hash=f"h{n}", path=f"f{n}", parent_hash=None, name=f"f{n}", sort_key=f"f{n}",
                      name_folded=f"f{n}")
    monkeypatch.setattr(watcher, "max_user_watches", lambda: 10)
    check = doctor.check_watcher(config)
    assert check.warn and "9 folders are indexed, close to the limit" in check.detail
    assert "fs.inotify.max_user_watches=524288" in check.fix


def test_doctor_prints_the_fallback_its_reason_and_how_to_raise_the_limit(env, config, watcher_state):
    from click.testing import CliRunner

    from cli import main
    from services.gallery import watcher

    watcher_state("polling-fallback", "watches", "cannot watch /photos/x: inotify watch limit reached", 0)
    unset = {name: None for name in os.environ if name.startswith("PHOTONIX_")}
    output = CliRunner().invoke(main, ["doctor"], env={**unset, **env}).output
    line = next(line for line in output.splitlines() if "file watcher" in line)
    assert line.startswith("warn  file watcher: polling-fallback since ") and "inotify watch limit reached" in line
    fix = output.splitlines()[output.splitlines().index(line) + 1]
    assert "sudo sysctl fs.inotify.max_user_watches=" in fix and watcher.SYSCTL_FILE in fix

