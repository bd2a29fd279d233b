"""AI captions' settings (`GET|PUT /api/ai/settings`, and `ai` in the admin's `/api/settings`): defaults, validation,
and the write-only API key.

Stored as one JSON setting, so every worker and node reads the same values and a change needs no restart.
`apiKey` is write-only: never returned (only `hasApiKey`) and never logged; it is stored sealed (AES-GCM under a key
derived from the JWT secret), so neither the database nor a SQL trace holds it in clear. The url must pass the download
center's address rules (services/downloads/addresses.py): a private or loopback host only with
`allowPrivateHosts`; the same rule is applied again at connect time by the guard (services/ai/client.py).
"""

from __future__ import annotations

import json
import socket
import unicodedata
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from errors import AiNotConfigured, FetchRefused, ValidationFailed
from services import events, sealing, settings
from services.downloads.addresses import DEFAULT_PORTS, check_address, check_url

SETTING_KEY = "AI_CONFIG"
DEFAULT_PROMPT = "Describe this photo in one or two sentences for a photo gallery caption."
MAX_URL_CHARS = 500
MAX_MODEL_CHARS = 200
MAX_PROMPT_CHARS = 2000
MAX_KEY_CHARS = 500
# name -> (lowest, highest)
_SEALED = sealing.Purpose(b"photonix ai", b"photonix ai api key", b"photonix ai api key")
RANGES: dict[str, tuple[int, int]] = {"dailyLimitPerClient": (1, 100_000), "timeoutSeconds": (5, 300)}


@dataclass(frozen=True)
class AiSettings:
    """Field names are the API's camelCase keys; `apiKey` is the sealed key as stored (`unsealed` opens it)."""

    enabled: bool = False
    url: str = ""
    model: str = ""
    apiKey: str = ""
    prompt: str = DEFAULT_PROMPT
    dailyLimitPerClient: int = 100
    allowPrivateHosts: bool = False
    timeoutSeconds: int = 60

    @property
    def ready(self) -> bool:
        return self.enabled and bool(self.url) and bool(self.model)


NAMES = tuple(AiSettings.__dataclass_fields__)


def load() -> AiSettings:
    """The stored settings over the defaults (a stored key that no longer exists is ignored)."""
    stored = json.loads(settings.read_setting(SETTING_KEY) or "{}")
    return replace(AiSettings(), **{k: v for k, v in stored.items() if k in NAMES})


def ready() -> AiSettings:
    """The settings when captions can be made, else AiNotConfigured (503)."""
    current = load()
    if not current.ready:
        raise AiNotConfigured("AI captions are off or have no url and model; the admin sets them in Settings → "
                              "AI captions (or PUT /api/ai/settings)." if not current.enabled else
                              "AI captions are on but have no url or model yet (Settings → AI captions).")
    return current


def as_json(current: AiSettings, secret: str) -> dict[str, Any]:
    """What the admin sees: everything but the key, which is only said to exist (and to open under this secret:
    after a change of PHOTONIX_JWT_SECRET it must be entered again)."""
    body = asdict(current)
    del body["apiKey"]
    return body | {"hasApiKey": bool(unsealed(current, secret).apiKey)}


def unsealed(current: AiSettings, secret: str) -> AiSettings:
    """The settings with the API key in clear, for the call itself ("" when none, or sealed under another secret)."""
    if not current.apiKey:
        return current
    return replace(current, apiKey=_SEALED.unseal(secret, current.apiKey) or "")


def change(changes: Mapping[str, object], secret: str) -> AiSettings:
    """Validate `changes` against the current settings and store the result; nothing is written on an error.
    Both PUT /api/ai/settings and PUT /api/settings `{ai: {...}}` (services/admin_settings.py) come here."""
    return store(checked(changes, secret))


def checked(changes: Mapping[str, object], secret: str) -> AiSettings:
    """The settings `changes` would make, validated (ValidationFailed naming the field), not yet stored.

    `apiKey`: a string sets it (sealed under `secret`), "" or null removes it. The url is checked with the
    resulting allowPrivateHosts."""
    if not isinstance(changes, Mapping) or not changes:
        raise ValidationFailed("body", f"Send at least one of {', '.join(NAMES)}.")
    values = {name: _checked(name, value) for name, value in changes.items()}
    if values.get("apiKey"):
        values["apiKey"] = _SEALED.seal(secret, str(values["apiKey"]))
    updated = replace(load(), **values)
    if updated.url and ("url" in values or "allowPrivateHosts" in values):
        check_base_url(updated.url, updated.allowPrivateHosts)
    if updated.enabled and not (updated.url and updated.model):
        raise ValidationFailed("enabled", "Set url and model before turning AI captions on.")
    return updated


def store(updated: AiSettings) -> AiSettings:
    """Write settings made by `checked` and tell the clients (`settings-changed {keys: ["ai"]}`: `aiCaptions`)."""
    settings.write_settings({SETTING_KEY: json.dumps(asdict(updated))}, bump_epoch=False)
    events.publish("settings-changed", {"keys": ["ai"]})
    return updated


def check_base_url(url: str, allow_private: bool) -> None:
    """ValidationFailed unless `url` is an http(s) base whose host (as written, and every address it resolves to
    now) is public, or any host but unspecified/multicast with `allow_private`. The guard checks again at connect
    time, so a name that resolves elsewhere later is still refused then."""
    try:
        parts = check_url(url, frozenset({_port_of(url)}), allow_private=allow_private)
        if parts.query or parts.fragment:
            raise ValidationFailed("url", "url is a base address: no query or fragment.")
        for address in _addresses(parts.hostname or "", parts.port or DEFAULT_PORTS[parts.scheme]):
            check_address(address, allow_private)
    except FetchRefused as exc:
        hint = "" if allow_private else " (an AI server on this machine or your network needs allowPrivateHosts)"
        raise ValidationFailed("url", f"url is not allowed: {exc.message}{hint}") from None


def _port_of(url: str) -> int:
    """The url's port (its scheme's default when none): any one port is allowed, the one the admin wrote."""
    try:
        parts = urlsplit(url)
        return parts.port or DEFAULT_PORTS.get(parts.scheme.lower(), 0)
    except ValueError:
        raise ValidationFailed("url", "url is malformed (bad host or port).") from None


def _addresses(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to now; none when it does not resolve (the call will then fail, and the
    guard judges whatever it resolves to then)."""
    try:
        return [info[4][0] for info in socket.getaddrinfo(host.strip("[]"), port, proto=socket.IPPROTO_TCP)]
    except (OSError, UnicodeError):
        return []


def _checked(name: str, value: object) -> object:
    if name not in NAMES:
        raise ValidationFailed(str(name), f"Unknown AI setting {name!r}; settings are {', '.join(NAMES)}.")
    if name in ("enabled", "allowPrivateHosts"):
        if not isinstance(value, bool):
            raise ValidationFailed(name, f"{name} must be true or false.")
        return value
    if name in RANGES:
        low, high = RANGES[name]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValidationFailed(name, f"{name} must be an integer from {low} to {high}.")
        return value
    if name == "apiKey" and value is None:
        return ""
    limit = {"url": MAX_URL_CHARS, "model": MAX_MODEL_CHARS, "prompt": MAX_PROMPT_CHARS, "apiKey": MAX_KEY_CHARS}[name]
    if not isinstance(value, str) or len(value) > limit:
        raise ValidationFailed(name, f"{name} must be a string of at most {limit} characters.")
    text = value.strip()
    if name == "prompt" and not text:
        raise ValidationFailed(name, "prompt may not be empty.")
    allowed_controls = "\n\t" if name == "prompt" else ""
    if any(unicodedata.category(ch) in ("Cc", "Cf") and ch not in allowed_controls for ch in text):
        raise ValidationFailed(name, f"{name} may not contain control characters.")
    return text
