"""What gunicorn loads: gevent's monkey-patching first, then the app."""

from gevent import monkey

monkey.patch_all()

from psycogreen.gevent import patch_psycopg  # noqa: E402  (must follow monkey-patching)

patch_psycopg()

from app import create_app  # noqa: E402

app = create_app()
