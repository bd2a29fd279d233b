"""create_app(config=None): wires config, logging, database, error handling and blueprints.

A recipe, not a program: no network, no threads, no migrations. Background jobs start from
`photonix serve` / gunicorn hooks (services/jobs.py), never from here.
"""

from __future__ import annotations

import logging

from flask import Flask
from flask_compress import Compress
from werkzeug.middleware.proxy_fix import ProxyFix

from blueprints import (
    ai,
    albums,
    auth,
    browse,
    downloads,
    errors,
    events,
    feeds,
    files,
    health,
    info,
    openapi,
    pages,
    search,
    settings,
    shares,
    thumbnails,
    timeline,
    video,
    zips,
)
from blueprints._auth import init_auth
from blueprints._guard import refuse_cross_site
from blueprints._http import GalleryPathConverter
from blueprints._request_headers import install as install_request_headers
from config import Config, load_config
from services import resources
from services.database import bind_database, close_connection, open_database
from services.gallery.thumbs import make_previewer, make_thumbnailer
from services.static_assets import StaticAssets
from services.streams import StreamSlots
from services.video.batch import make_renditions

MAX_BODY_BYTES = 16 * 1024 * 1024
# flask-compress: whole JSON/HTML answers of 1 KiB or more, brotli or gzip as the client prefers. Streamed answers
# never (the event stream must reach the client unbuffered; originals and downloads are streamed too), nor
# images; static files come precompressed from blueprints/pages.py.
COMPRESSION = {"COMPRESS_MIMETYPES": ["application/json", "text/html", "text/javascript", "application/manifest+json"],
               "COMPRESS_MIN_SIZE": 1024, "COMPRESS_STREAMS": False, "COMPRESS_ALGORITHM": ["br", "gzip"]}


def create_app(config: Config | None = None) -> Flask:
    config = config or load_config()
    # Absolute folders found through the package: the same files from a checkout, a wheel or any working directory.
    app = Flask(__name__, template_folder=str(resources.path("templates")), static_folder=None)
    # Set after Flask's own /static route would have been made: blueprints/pages.py serves static/ with versions.
    app.static_folder = str(resources.path("static"))
    # "/api/file//etc/passwd" is an absolute path for services/paths.py to refuse, not a redirect or a 404.
    app.url_map.merge_slashes = False
    app.url_map.converters["path"] = GalleryPathConverter
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY_BYTES, JSON_SORT_KEYS=False, **COMPRESSION)
    Compress(app)  # first registered, so its after_request runs last, on the final body
    app.extensions["photonix"] = config
    app.extensions["photonix_thumbnailer"] = make_thumbnailer(config)
    app.extensions["photonix_previewer"] = make_previewer(config)
    app.extensions["photonix_videos"] = make_renditions(config)
    app.extensions["photonix_streams"] = StreamSlots(config.sse_max_per_ip)
    app.extensions["photonix_static"] = StaticAssets(resources.path("static"))
    _configure_logging(config)
    bind_database(open_database(config.database_url))
    app.teardown_appcontext(lambda _exc: close_connection())
    install_request_headers(app)  # inside ProxyFix: sees the prefix it applied
    if config.trusted_proxies:
        hops = config.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_prefix=hops)
    errors.register(app)
    app.before_request(refuse_cross_site)  # before the rate limit, auth and lockout
    init_auth(app)
    for blueprint in (health.bp, auth.bp, settings.bp, browse.bp, files.bp, info.bp, search.bp, timeline.bp,
                      thumbnails.bp, events.bp, downloads.bp, zips.bp, feeds.bp, shares.bp, ai.bp, video.bp, albums.bp,
                      openapi.bp,
                      pages.bp):
        app.register_blueprint(blueprint)
    return app


def _configure_logging(config: Config) -> None:
    logger = logging.getLogger("photonix")
    logger.setLevel(logging.DEBUG if config.auth_debug else logging.INFO)
    if not logger.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
