"""Checks for `photonix doctor`: files, database and limiter storage, then the proxy path from a URL.

Each check says what it found and, when something is wrong, how to fix it. No Flask here.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass

import requests
from limits.storage import storage_from_string

from config import Config
from models import ALL_MODELS
from services import database
from services.auth import diagnosis, origins

URL_TIMEOUT_S = (5, 15)  # connect, read


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def check_installation(config: Config) -> list[Check]:
    return [_photos(config), _data(config), _database(config), _limiter(config)]


def check_url(url: str, verify_tls: bool = True) -> list[Check]:
    """Call GET /api/auth/diagnose through `url` (the real proxy) and report what disagrees with it.

    Plain `requests` on purpose: the owner's own server is usually on a private address, which the
    download center's guarded client would rightly refuse.
    """
    endpoint = url.rstrip("/") + "/api/auth/diagnose"
    # Sent as a browser on `url` would send it, so the server says whether it would refuse its logins.
    origin = origins.origin_of(url)
    try:
        response = requests.get(endpoint, params={"clientTime": f"{time.time():.3f}"}, timeout=URL_TIMEOUT_S,
                                headers={"Origin": origin} if origin else {}, verify=verify_tls, allow_redirects=False)
    except requests.exceptions.SSLError as exc:
        return [Check("url", False, f"{url}: TLS failed: {exc}",
                      "install a certificate the system trusts (e.g. certbot), or pass --insecure to look past it")]
    except requests.RequestException as exc:
        return [Check("url", False, f"{url}: unreachable: {exc}", "check the URL, DNS, firewall and that nginx runs")]
    try:
        seen = diagnosis.Observed.from_json(response.json()) if response.status_code == 200 else None
    except (ValueError, TypeError):
        seen = None
    if seen is None:
        return [Check("url", False, f"{endpoint} answered {response.status_code}, not Photonix's diagnosis",
                      "check that the URL (including any sub-path) reaches Photonix through the proxy")]
    found = diagnosis.hints(seen, url)
    summary = (f"{url} reaches Photonix: scheme {seen.scheme}, host {seen.host}, prefix {seen.prefix or '/'}, "
               f"client {seen.client_ip}")
    return [Check("url", True, summary)] + [Check(f"url: {h.code}", False, h.problem, h.fix) for h in found]


def _photos(config: Config) -> Check:
    try:
        with os.scandir(config.photos_dir) as entries:
            count = sum(1 for _ in entries)
    except OSError as exc:
        return Check("photos folder", False, f"{config.photos_dir}: {exc.strerror}",
                     "make the folder readable by the user that runs Photonix")
    return Check("photos folder", True, f"{config.photos_dir} ({count} entries at the top)")


def _data(config: Config) -> Check:
    try:
        with tempfile.TemporaryFile(dir=config.data_dir, prefix=".doctor-"):
            pass
    except OSError as exc:
        return Check("data folder", False, f"{config.data_dir}: {exc.strerror}",
                     "make the folder writable by the user that runs Photonix")
    return Check("data folder", True, f"{config.data_dir} is writable")


def _database(config: Config) -> Check:
    name = "postgresql" if config.is_postgres else "sqlite"
    try:
        database.bind_database(database.open_database(config.database_url))
        database.ping()
        missing = [m._meta.table_name for m in ALL_MODELS if not m.table_exists()]
    except Exception as exc:  # any driver error: report it, whatever its class
        fix = "check PHOTONIX_DATABASE_URL and that the database server runs"
        return Check("database", False, f"{name}: {exc}".strip(), fix)
    finally:
        database.close_connection()
    if missing:
        return Check("database", False, f"{name}: tables missing: {', '.join(missing)}", "run: photonix init-db")
    return Check("database", True, f"{name}: reachable, schema present")


def _limiter(config: Config) -> Check:
    if config.redis_url is None:
        return Check("limiter storage", True, f"memory:// (fine for {config.workers} worker on one node)")
    try:
        reachable = storage_from_string(config.redis_url).check()
    except Exception as exc:  # redis client errors vary by version
        reachable, reason = False, str(exc)
    else:
        reason = "no answer to PING"
    if not reachable:
        return Check("limiter storage", False, f"redis: {reason}", "start Redis or fix PHOTONIX_REDIS_URL")
    return Check("limiter storage", True, f"redis reachable, shared by {config.workers} worker(s)")
