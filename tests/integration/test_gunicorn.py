"""A real gunicorn with gevent workers, started the way production starts it."""

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.support.servers import Gunicorn
from tests.support.waiting import until

pytestmark = pytest.mark.integration


def test_gunicorn_gevent_answers_health(env, tmp_path):
    with Gunicorn(env, tmp_path / "gunicorn.log") as server:
        response = requests.get(server.url + "/health", timeout=5)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "ok"
        assert response.headers["X-Request-Id"]
        missing = requests.get(server.url + "/api/missing", timeout=5)
        assert missing.status_code == 404 and missing.json()["code"] == "NOT_FOUND"
    log = server.log()
    assert "Using worker: gevent" in log
    assert "Traceback" not in log


def test_photonix_serve_starts_and_stops_on_sigterm(env, tmp_path):
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen([str(Path(sys.executable).with_name("photonix")), "serve"], cwd=tmp_path,
                            env={**env, "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin",
                                 "PHOTONIX_BIND": "127.0.0.1:0"},  # the kernel's choice: no race with other workers
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        listening = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")
        until(lambda: proc.poll() is not None or listening.search((tmp_path / "serve.log").read_text()),
              "photonix serve never listened", timeout_s=30)
        port = int(listening.search((tmp_path / "serve.log").read_text()).group(1))
        assert requests.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        assert time.monotonic() - started < 15
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
    text = (tmp_path / "serve.log").read_text()
    assert "serving" in text and "Using worker: gevent" in text, text
    assert "Traceback" not in text
