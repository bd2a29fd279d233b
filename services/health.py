"""Health checks: database answering, photos readable, data dir writable, limiter storage reachable."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from limits.storage import Storage

from services import database
from services.version import VERSION

log = logging.getLogger("photonix.health")


def check_health(photos_dir: Path, data_dir: Path, limiter: Storage) -> tuple[bool, dict[str, str]]:
    """(healthy, report). The report names each part "ok" or what is wrong with it."""
    report = {
        "database": _check_database(),
        "storage": _check_storage(photos_dir, data_dir),
        "limiter": _check_limiter(limiter),
    }
    healthy = all(value == "ok" for value in report.values())
    return healthy, {"status": "ok" if healthy else "unhealthy", **report, "version": VERSION}


def _check_database() -> str:
    try:
        database.ping()
    except Exception as exc:  # any driver error means "not usable", whatever its class
        log.warning("health: database check failed: %s", exc)
        return "unavailable"
    finally:
        database.close_connection()
    return "ok"


def _check_storage(photos_dir: Path, data_dir: Path) -> str:
    try:
        with os.scandir(photos_dir) as entries:
            next(entries, None)
    except OSError as exc:
        log.warning("health: photos folder %s unreadable: %s", photos_dir, exc)
        return "photos folder unreadable"
    try:
        with tempfile.TemporaryFile(dir=data_dir, prefix=".health-"):
            pass
    except OSError as exc:
        log.warning("health: data folder %s not writable: %s", data_dir, exc)
        return "data folder not writable"
    return "ok"


def _check_limiter(storage: Storage) -> str:
    """Logins need it (the lockout fails closed without it), so an unreachable Redis is unhealthy."""
    try:
        reachable = storage.check()
    except Exception as exc:  # redis client errors vary by version
        log.warning("health: limiter storage check failed: %s", exc)
        reachable = False
    return "ok" if reachable else "unavailable"
