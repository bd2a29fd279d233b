"""Checks for `photonix doctor`: files, database and limiter storage, then the proxy path from a URL.

Each check says what it found and, when something is wrong, how to fix it. No Flask here.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import Distribution
from importlib.metadata import distributions as installed_distributions

import requests
from limits.storage import storage_from_string

from config import DEV_SECRET_FILE, Config
from models import ALL_MODELS, Folder
from services import database, resources
from services.auth import diagnosis, origins
from services.gallery import watcher

URL_TIMEOUT_S = (5, 15)  # connect, read
# The wheel installs these as top-level modules and packages (the layout is fixed, see pyproject.toml).
TOP_LEVEL_NAMES = ("app", "blueprints", "cli", "config", "errors", "models", "services", "wsgi")
NGINX_WELCOME = "Welcome to nginx!"
WATCHES_WARN_SHARE = 0.8  # the watch limit is per user, shared with every other program of that user


@dataclass(frozen=True)
class Check:
    """One finding. `ok` decides the exit status; `warn` marks an ok finding worth a second look."""

    name: str
    ok: bool
    detail: str
    fix: str = ""
    warn: bool = False


def check_installation(config: Config) -> list[Check]:
    return [*_mode(config), _files(), _photos(config), _data(config), _database(config), _limiter(config),
            check_watcher(config), *check_top_level_names()]


def check_watcher(config: Config) -> Check:
    """How changes are found: inotify (warned ahead when the indexed folders near the kernel's watch limit), or the
    periodic scan because watching is off or fell back (why, and how to raise the limit). Needs the database bound."""
    scan = f"the scan every {config.scan_interval_seconds} s and browsing find changes"
    if config.watch == "off":
        return Check("file watcher", True, f"off (PHOTONIX_WATCH=off): {scan}")
    try:
        state, folders = watcher.read_state(), Folder.select().count()
    except Exception as exc:  # any driver error; the database check says what to do
        return Check("file watcher", True, f"state unknown: {exc}".strip(), warn=True)
    finally:
        database.close_connection()
    if state is None:
        return Check("file watcher", True, "not started yet (the server process that runs background jobs starts it)")
    if state["mode"] == watcher.OFF:
        return Check("file watcher", True, f"off in the process that runs background jobs: {scan}")
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(state["since"]))
    if state["mode"] == watcher.FALLBACK:
        return Check("file watcher", True, f"polling-fallback since {since} ({state['reason']}: {state['detail']}): "
                     f"{scan}", watcher.fallback_fix(state["reason"], folders), warn=True)
    limit = watcher.max_user_watches()
    detail = f"inotify since {since}, {state['folders']} folders watched (fs.inotify.max_user_watches {limit})"
    if limit is not None and folders > limit * WATCHES_WARN_SHARE:
        return Check("file watcher", True, f"{detail}: {folders} folders are indexed, close to the limit",
                     watcher.raise_limit_hint(folders), warn=True)
    return Check("file watcher", True, detail)


def check_top_level_names(dists: Iterable[Distribution] | None = None) -> list[Check]:
    """A warning for each other installed distribution that also provides one of TOP_LEVEL_NAMES: whichever
    comes first on sys.path wins, so one of the two programs imports the other's `config` or `app`."""
    found = []
    for dist in installed_distributions() if dists is None else dists:
        name = dist.metadata["Name"] or "?"
        clashes = sorted(_top_level_of(dist) & set(TOP_LEVEL_NAMES))
        if clashes and name.lower() != "photonix":
            found.append(Check("top-level names", True, f"{name} {dist.version} also installs {', '.join(clashes)}",
                               "install Photonix in a virtual environment of its own (python3 -m venv, or pipx): "
                               "docs/install.md",
                               warn=True))
    return sorted(found, key=lambda check: check.detail)


def _top_level_of(dist: Distribution) -> set[str]:
    listed = dist.read_text("top_level.txt")
    if listed is not None:
        return {line.strip() for line in listed.splitlines() if line.strip()}
    names = set()
    for path in dist.files or ():
        first = path.parts[0] if path.parts else ""
        if len(path.parts) > 1 and not first.endswith((".dist-info", ".egg-info", ".data")) and first != "..":
            names.add(first)
        elif len(path.parts) == 1 and first.endswith(".py"):
            names.add(first.removesuffix(".py"))
    return names


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
        return [_not_photonix(url, endpoint, response, verify_tls)]
    found = diagnosis.hints(seen, url)
    summary = (f"{url} reaches Photonix: scheme {seen.scheme}, host {seen.host}, prefix {seen.prefix or '/'}, "
               f"client {seen.client_ip}")
    return [Check("url", True, summary)] + [Check(f"url: {h.code}", False, h.problem, h.fix) for h in found]


def _not_photonix(url: str, endpoint: str, response: requests.Response, verify_tls: bool) -> Check:
    """Something other than Photonix answered: name nginx's default site (Debian enables one) when it was that."""
    if _is_nginx_welcome(response) or _is_nginx_welcome(_get_quietly(url, verify_tls)):
        return Check("url", False, f"{url} answers with nginx's default page (\"{NGINX_WELCOME}\"), not Photonix",
                     "another server block wins: remove /etc/nginx/sites-enabled/default, or keep `listen 80 "
                     "default_server;` in Photonix's site (as nginx/photonix-http.conf does); then reload nginx")
    return Check("url", False, f"{endpoint} answered {response.status_code}, not Photonix's diagnosis",
                 "check that the URL (including any sub-path) reaches Photonix through the proxy")


def _get_quietly(url: str, verify_tls: bool) -> requests.Response | None:
    try:
        return requests.get(url, timeout=URL_TIMEOUT_S, verify=verify_tls, allow_redirects=False)
    except requests.RequestException:
        return None


def _is_nginx_welcome(response: requests.Response | None) -> bool:
    return response is not None and NGINX_WELCOME in response.text[:10_000]


def _files() -> Check:
    root = resources.root()
    return Check("files", True, f"nginx/ configs and deploy/ unit in {root}; nginx serves {root / 'static'}/")


def _mode(config: Config) -> list[Check]:
    if not config.dev:
        return []
    return [Check("mode", True, f"development (PHOTONIX_DEV=1): unless PHOTONIX_JWT_SECRET is set, the JWT secret "
                  f"is {config.data_dir / DEV_SECRET_FILE}, made by the first command that needed it", warn=True)]


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
