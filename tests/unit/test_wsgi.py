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
