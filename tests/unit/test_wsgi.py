"""wsgi.py patches before anything else imports threading-dependent state, so peewee's
connection state is per greenlet and psycopg2 yields to the hub."""

import json
import subprocess
import sys

from tests.support.servers import ROOT

PROBE = """
import json
import wsgi
import gevent.local, psycopg2.extensions
from models import database
state = database.obj._state
print(json.dumps({
    "greenlet_local": isinstance(state, gevent.local.local),
    "psycopg_wait_callback": psycopg2.extensions.get_wait_callback() is not None,
}))
"""


def test_wsgi_makes_connections_greenlet_local(env):
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env={**env, "PATH": "/usr/bin:/bin"},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "greenlet_local": True, "psycopg_wait_callback": True}


FILES_PROBE = """
import json
import wsgi
from services.database import init_db
init_db()
client = wsgi.app.test_client()
print(json.dumps([wsgi.app.template_folder, wsgi.app.static_folder, client.get("/").status_code,
                  client.get("/static/js/app.js").status_code]))
"""


def test_the_app_finds_its_templates_and_static_files_from_any_working_directory(env, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = subprocess.run([sys.executable, "-c", FILES_PROBE], cwd=elsewhere, capture_output=True, text=True,
                            env={**env, "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}, timeout=60)
    assert result.returncode == 0, result.stderr
    templates, static, page, script = json.loads(result.stdout.strip().splitlines()[-1])
    assert (templates, static) == (str(ROOT / "templates"), str(ROOT / "static"))
    assert (page, script) == (200, 200)
