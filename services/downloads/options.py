"""The download center's config (`GET|PUT /api/download/config`): defaults, ranges and validation.

Stored as one JSON setting so every worker and node reads the same values; a change never needs a
restart. Unknown keys and values out of range are refused naming the field; nothing is written then.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from errors import ValidationFailed
from services import settings

SETTING_KEY = "DOWNLOAD_CONFIG"
MB = 1024 * 1024
MIN_INTERVAL_MINUTES = 5
MAX_INTERVAL_MINUTES = 7 * 24 * 60


@dataclass(frozen=True)
class DownloadOptions:
    """Field names are the API's camelCase keys: one spelling from JSON to code."""

    allowPrivateHosts: bool = False
    allowedPorts: tuple[int, ...] = (80, 443)
    maxConcurrentFeeds: int = 2
    maxConcurrentDownloads: int = 4
    perHostConcurrency: int = 2
    connectTimeoutSeconds: float = 10.0
    feedTimeoutSeconds: float = 60.0
    imageTimeoutSeconds: float = 60.0
    maxRedirects: int = 5
    maxFeedBytes: int = 10 * MB
    maxImageBytes: int = 50 * MB
    minImageBytes: int = 1024
    minImageWidth: int = 64
    minImageHeight: int = 64
    defaultIntervalMinutes: int = 60
    maxAttempts: int = 5
    retryBackoffSeconds: float = 60.0


# name -> (lowest, highest) for numbers; what a self-hoster may reasonably set.
RANGES: dict[str, tuple[float, float]] = {
    "maxConcurrentFeeds": (1, 8),
    "maxConcurrentDownloads": (1, 32),
    "perHostConcurrency": (1, 16),
    "connectTimeoutSeconds": (1, 60),
    "feedTimeoutSeconds": (5, 600),
    "imageTimeoutSeconds": (5, 600),
    "maxRedirects": (0, 10),
    "maxFeedBytes": (64 * 1024, 100 * MB),
    "maxImageBytes": (64 * 1024, 500 * MB),
    "minImageBytes": (0, 10 * MB),
    "minImageWidth": (0, 10_000),
    "minImageHeight": (0, 10_000),
    "defaultIntervalMinutes": (MIN_INTERVAL_MINUTES, MAX_INTERVAL_MINUTES),
    "maxAttempts": (1, 20),
    "retryBackoffSeconds": (1, 86_400),
}
_TYPES = {f.name: f.type for f in fields(DownloadOptions)}


def load() -> DownloadOptions:
    """The stored options over the defaults (a stored key that no longer exists is ignored)."""
    stored = json.loads(settings.read_setting(SETTING_KEY) or "{}")
    known = {k: v for k, v in stored.items() if k in _TYPES}
    if "allowedPorts" in known:
        known["allowedPorts"] = tuple(known["allowedPorts"])
    return replace(DownloadOptions(), **known)


def as_json(options: DownloadOptions) -> dict[str, Any]:
    body = asdict(options)
    body["allowedPorts"] = list(options.allowedPorts)
    return body


def change(changes: Mapping[str, object]) -> DownloadOptions:
    """Validate `changes` against the current options and store the result; returns it."""
    if not changes:
        raise ValidationFailed("body", "Send at least one config value to change.")
    values = {name: _checked(name, value) for name, value in changes.items()}
    updated = replace(load(), **values)
    settings.write_settings({SETTING_KEY: json.dumps(as_json(updated))}, bump_epoch=False)
    return updated


def _checked(name: str, value: object) -> object:
    kind = _TYPES.get(name)
    if kind is None:
        raise ValidationFailed(str(name), f"Unknown config key {name!r}; keys are {', '.join(_TYPES)}.")
    if kind == "bool":
        if not isinstance(value, bool):
            raise ValidationFailed(name, f"{name} must be true or false.")
        return value
    if name == "allowedPorts":
        return _ports(value)
    if (isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
            or (kind == "int" and value != int(value))):  # NaN and inf from a caller other than the API
        raise ValidationFailed(name, f"{name} must be a{'n integer' if kind == 'int' else ' number'}.")
    low, high = RANGES[name]
    if not low <= value <= high:
        raise ValidationFailed(name, f"{name} must be between {low:g} and {high:g}.")
    return int(value) if kind == "int" else float(value)


def _ports(value: object) -> tuple[int, ...]:
    if not isinstance(value, list) or not value or len(value) > 32:
        raise ValidationFailed("allowedPorts", "allowedPorts must be a list of 1 to 32 port numbers.")
    if any(isinstance(p, bool) or not isinstance(p, int) or not 1 <= p <= 65535 for p in value):
        raise ValidationFailed("allowedPorts", "Each port in allowedPorts must be an integer from 1 to 65535.")
    return tuple(sorted(set(value)))
