"""Configuration: one frozen Config read from PHOTONIX_* environment variables.

This is the only module that reads the environment. Loading validates everything and raises one
ConfigError that lists every problem with a hint, so an owner fixes them all in one go.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from limits import parse_many

PREFIX = "PHOTONIX_"
DEV_SECRET_FILE = "dev-jwt-secret"  # noqa: S105 (a file name, not a secret)
MIN_JWT_SECRET_CHARS = 32
MIN_ADMIN_SECRET_CHARS = 12
_PLACEHOLDER_WORDS = ("change", "replace", "example", "placeholder", "your", "secret-key", "default")
_ACCEL_PREFIX = re.compile(r"^/((?!\.+/)[A-Za-z0-9._-]+/)+$")  # no "." or ".." segment
_SAFE_BIND = re.compile(r"^(unix:/\S+|\[?[0-9A-Za-z.:-]*\]?:\d{1,5})$")


@dataclass(frozen=True)
class Variable:
    """One PHOTONIX_* variable: its name (without prefix), default shown in docs, and meaning."""

    name: str
    default: str
    doc: str


VARIABLES: tuple[Variable, ...] = (
    Variable("PHOTOS_DIR", "./photos", "gallery root; every folder below it is an album"),
    Variable("DATA_DIR", "./data", "database, thumbnails, logs; created if missing"),
    Variable("JWT_SECRET", "(none)", "required, at least 32 characters, not a placeholder"),
    Variable("ADMIN_SECRET", "(none)", "enables admin actions; at least 12 characters"),
    Variable("PUBLIC_URL", "(none)", "public address, e.g. https://photos.example.com/gallery"),
    Variable("TRUSTED_PROXIES", "0", "proxy hops whose X-Forwarded-* headers are trusted (1 behind nginx)"),
    Variable("COOKIE_SECURE", "auto", "auto (Secure when the request is https), true or false"),
    Variable("DATABASE_URL", "sqlite:///<DATA_DIR>/photonix.db", "sqlite:///… or postgresql://…"),
    Variable("REDIS_URL", "(none)", "shared limiter storage; required for more than one worker or node"),
    Variable("WORKERS", "1", "gunicorn worker processes"),
    Variable("BIND", "127.0.0.1:12080", "address gunicorn listens on (host:port or unix:/path)"),
    Variable("ACCESS_TOKEN_MINUTES", "60", "lifetime of a viewer access token"),
    Variable("REFRESH_TOKEN_DAYS", "30", "lifetime of a refresh token"),
    Variable("ADMIN_TOKEN_MINUTES", "15", "lifetime of an admin token"),
    Variable("THUMB_WIDTH", "500", "thumbnail width in pixels"),
    Variable("PREVIEW_SIZE", "2048", "long edge of the lightbox's previews in pixels"),
    Variable("ACCEL_REDIRECT", "(none)", "nginx internal location for cached thumbnails, e.g. /_photonix/"),
    Variable("THUMB_THREADS", "<cores>", "native threads for image work"),
    Variable("VIDEO_DIRECT_MAX_MB", "200", "browser-playable videos up to this size are sent as they are, not as HLS"),
    Variable("VIDEO_THREADS", "1", "ffmpeg transcodes at once (niced) making HLS renditions"),
    Variable("SCAN_INTERVAL_SECONDS", "300", "interval of the incremental index scan"),
    Variable("WATCH", "auto", "auto (inotify file watcher when available) or off (the periodic scan only)"),
    Variable("AUTH_DEBUG", "0", "log every auth decision with its reason (never secrets)"),
    Variable("SSE_HEARTBEAT_SECONDS", "15", "interval of heartbeat comments on event streams"),
    Variable("SSE_MAX_PER_IP", "32", "concurrent event streams per client (IPv4 address or IPv6 network)"),
    Variable("IPV6_PREFIX", "64", "IPv6 clients are counted per network of this prefix length (32 to 128)"),
    Variable("MAX_IMAGE_PIXELS", "200000000", "images above this pixel count are refused undecoded"),
    Variable("DECODE_MEMORY_MB", "512", "memory for decoded pixels per process; decodes wait their turn"),
    Variable("DEV", "0", "development mode: generates and keeps a JWT secret in DATA_DIR"),
    Variable("RATE_LIMIT", "3000/minute", "requests per client, one budget shared by every API route"),
)


class ConfigError(Exception):
    """Raised with every configuration problem found; str() lists them one per line."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(f"  - {p}" for p in problems))

    def report(self) -> str:
        return f"Photonix cannot start: {len(self.problems)} configuration problem(s):\n{self}"


@dataclass(frozen=True)
class Config:
    photos_dir: Path
    data_dir: Path
    jwt_secret: str = field(repr=False)
    admin_secret: str | None = field(default=None, repr=False)
    public_url: str | None = None
    trusted_proxies: int = 0
    cookie_secure: str = "auto"
    database_url: str = ""
    redis_url: str | None = None
    workers: int = 1
    bind: str = "127.0.0.1:12080"
    access_token_minutes: int = 60
    refresh_token_days: int = 30
    admin_token_minutes: int = 15
    thumb_width: int = 500
    preview_size: int = 2048
    accel_redirect: str | None = None
    thumb_threads: int = 2
    scan_interval_seconds: int = 300
    watch: str = "auto"
    auth_debug: bool = False
    sse_heartbeat_seconds: int = 15
    sse_max_per_ip: int = 32
    ipv6_prefix: int = 64
    max_image_pixels: int = 200_000_000
    decode_memory_mb: int = 512
    video_direct_max_mb: int = 200
    video_threads: int = 1
    dev: bool = False
    rate_limit: str = "3000/minute"

    @property
    def limiter_storage_uri(self) -> str:
        return self.redis_url or "memory://"

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith(("postgres://", "postgresql://", "postgres+", "postgresql+"))


class _Reader:
    """Reads and converts variables, collecting problems instead of stopping at the first."""

    def __init__(self, env: Mapping[str, str]):
        self.env = env
        self.problems: list[str] = []

    def raw(self, name: str) -> str | None:
        value = self.env.get(PREFIX + name)
        return value.strip() if value is not None and value.strip() != "" else None

    def problem(self, name: str, message: str) -> None:
        self.problems.append(f"{PREFIX}{name}: {message}")

    def integer(self, name: str, default: int, lo: int, hi: int) -> int:
        return self._convert(name, default, int, f"a whole number from {lo} to {hi}", lo, hi)

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        self.problem(name, f"{value!r} is not a yes/no value — use 1 or 0")
        return default

    def choice(self, name: str, default: str, options: tuple[str, ...]) -> str:
        value = (self.raw(name) or default).lower()
        if value not in options:
            self.problem(name, f"{value!r} is not one of {', '.join(options)}")
            return default
        return value

    def _convert(self, name: str, default: Any, cast: Callable[[str], Any], what: str, lo: Any, hi: Any) -> Any:
        value = self.raw(name)
        if value is None:
            return default
        try:
            number = cast(value)
        except ValueError:
            self.problem(name, f"{value!r} is not {what}")
            return default
        if not lo <= number <= hi:
            self.problem(name, f"{value} is out of range — use {what}")
            return default
        return number


def load_config(env: Mapping[str, str] | None = None) -> Config:
    """Build the Config from `env` (default: the process environment) or raise ConfigError."""
    r = _Reader(os.environ if env is None else env)
    photos_dir = _photos_dir(r)
    data_dir = _data_dir(r)
    _check_data_outside_photos(r, photos_dir, data_dir)
    dev = r.flag("DEV")
    values: dict[str, Any] = {
        "photos_dir": photos_dir,
        "data_dir": data_dir,
        "dev": dev,
        "jwt_secret": _jwt_secret(r, data_dir, dev),
        "admin_secret": _admin_secret(r),
        "public_url": _public_url(r),
        "trusted_proxies": r.integer("TRUSTED_PROXIES", 0, 0, 10),
        "cookie_secure": r.choice("COOKIE_SECURE", "auto", ("auto", "true", "false")),
        "database_url": _database_url(r, data_dir),
        "redis_url": _redis_url(r),
        "workers": r.integer("WORKERS", 1, 1, 64),
        "bind": _bind(r),
        "access_token_minutes": r.integer("ACCESS_TOKEN_MINUTES", 60, 1, 60 * 24 * 30),
        "refresh_token_days": r.integer("REFRESH_TOKEN_DAYS", 30, 1, 365),
        "admin_token_minutes": r.integer("ADMIN_TOKEN_MINUTES", 15, 1, 24 * 60),
        "thumb_width": r.integer("THUMB_WIDTH", 500, 32, 4096),
        "preview_size": r.integer("PREVIEW_SIZE", 2048, 512, 8192),
        "accel_redirect": _accel_redirect(r),
        "thumb_threads": r.integer("THUMB_THREADS", os.cpu_count() or 2, 1, 256),
        "scan_interval_seconds": r.integer("SCAN_INTERVAL_SECONDS", 300, 1, 7 * 24 * 3600),
        "watch": r.choice("WATCH", "auto", ("auto", "off")),
        "auth_debug": r.flag("AUTH_DEBUG"),
        "sse_heartbeat_seconds": r.integer("SSE_HEARTBEAT_SECONDS", 15, 1, 3600),
        "sse_max_per_ip": r.integer("SSE_MAX_PER_IP", 32, 1, 100_000),
        "ipv6_prefix": r.integer("IPV6_PREFIX", 64, 32, 128),
        "max_image_pixels": r.integer("MAX_IMAGE_PIXELS", 200_000_000, 1_000_000, 10_000_000_000),
        "decode_memory_mb": r.integer("DECODE_MEMORY_MB", 512, 16, 1_048_576),
        "video_direct_max_mb": r.integer("VIDEO_DIRECT_MAX_MB", 200, 1, 1_048_576),
        "video_threads": r.integer("VIDEO_THREADS", 1, 1, 16),
        "rate_limit": _rate_limit(r),
    }
    if values["workers"] > 1 and values["redis_url"] is None:
        r.problem(
            "WORKERS",
            f"{values['workers']} workers need shared limiter storage, or lockout counters are per process — "
            "set PHOTONIX_REDIS_URL=redis://127.0.0.1:6379/0 or use PHOTONIX_WORKERS=1",
        )
    if r.problems:
        raise ConfigError(r.problems)
    return Config(**values)


def environment_for(config: Config, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """`env` (default: the process environment) for a process that loads the configuration again, such as
    gunicorn after `photonix serve`: with the folders and the database as the absolute values `config`
    resolved, so that process finds the same ones whatever its working directory."""
    return {**(os.environ if env is None else env), PREFIX + "PHOTOS_DIR": str(config.photos_dir),
            PREFIX + "DATA_DIR": str(config.data_dir), PREFIX + "DATABASE_URL": config.database_url}


def _photos_dir(r: _Reader) -> Path:
    path = Path(r.raw("PHOTOS_DIR") or "./photos").expanduser().resolve()
    if not path.is_dir():
        r.problem("PHOTOS_DIR", f"{path} is not a folder — create it or point PHOTONIX_PHOTOS_DIR at your photos")
    elif not os.access(path, os.R_OK | os.X_OK):
        r.problem("PHOTOS_DIR", f"{path} is not readable by this user — fix its permissions")
    return path


def _data_dir(r: _Reader) -> Path:
    path = Path(r.raw("DATA_DIR") or "./data").expanduser().resolve()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        r.problem("DATA_DIR", f"cannot create {path} ({exc.strerror}) — create it or choose another folder")
        return path
    if not os.access(path, os.W_OK | os.X_OK):
        r.problem("DATA_DIR", f"{path} is not writable by this user — fix its permissions")
    return path


def _check_data_outside_photos(r: _Reader, photos_dir: Path, data_dir: Path) -> None:
    """Thumbnails and the database must not show up as photos: the data dir may sit inside the photos
    dir only below a hidden folder (which the gallery never lists)."""
    if data_dir == photos_dir or photos_dir in data_dir.parents:
        inside = data_dir.relative_to(photos_dir).parts
        if not any(part.startswith(".") for part in inside):
            r.problem("DATA_DIR", f"{data_dir} is inside PHOTONIX_PHOTOS_DIR — move it out (or into a hidden "
                      "folder such as .photonix)")


def _jwt_secret(r: _Reader, data_dir: Path, dev: bool) -> str:
    value = r.raw("JWT_SECRET")
    if value is None and dev:
        return _dev_secret(r, data_dir)
    hint = 'generate one with: python3 -c "import secrets; print(secrets.token_urlsafe(48))"'
    if value is None:
        r.problem("JWT_SECRET", f"is not set — {hint} (or PHOTONIX_DEV=1 for a local trial)")
        return ""
    if len(value) < MIN_JWT_SECRET_CHARS:
        r.problem("JWT_SECRET", f"has {len(value)} characters, needs at least {MIN_JWT_SECRET_CHARS} — {hint}")
    elif _looks_like_placeholder(value):
        r.problem("JWT_SECRET", f"looks like a placeholder from an example — {hint}")
    return value


def _looks_like_placeholder(value: str) -> bool:
    lowered = value.lower()
    return any(word in lowered for word in _PLACEHOLDER_WORDS) or len(set(value)) < 8


def _dev_secret(r: _Reader, data_dir: Path) -> str:
    path = data_dir / DEV_SECRET_FILE
    try:
        if path.exists():
            return path.read_text().strip()
        value = secrets.token_urlsafe(48)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(value + "\n")
        return value
    except OSError as exc:
        r.problem("DEV", f"cannot keep a development JWT secret in {path} ({exc.strerror})")
        return ""


def _admin_secret(r: _Reader) -> str | None:
    value = r.raw("ADMIN_SECRET")
    if value is not None and len(value) < MIN_ADMIN_SECRET_CHARS:
        r.problem("ADMIN_SECRET", f"has {len(value)} characters, needs at least {MIN_ADMIN_SECRET_CHARS}")
    elif value is not None and _looks_like_placeholder(value):
        r.problem("ADMIN_SECRET", "looks like a placeholder from an example — generate one with "
                                  "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'")
    return value


def _public_url(r: _Reader) -> str | None:
    value = r.raw("PUBLIC_URL")
    if value is None:
        return None
    if not re.match(r"^https?://[^/?#\s]+(/[^?#\s]*)?$", value):
        r.problem("PUBLIC_URL", f"{value!r} is not an http(s) address like https://photos.example.com/gallery")
        return None
    return value.rstrip("/")


def _database_url(r: _Reader, data_dir: Path) -> str:
    value = r.raw("DATABASE_URL") or f"sqlite:///{data_dir / 'photonix.db'}"
    scheme = value.split("://", 1)[0].lower()
    if scheme not in ("sqlite", "postgres", "postgresql", "postgres+pool", "postgresql+pool"):
        r.problem("DATABASE_URL", f"scheme {scheme!r} is not supported — use sqlite:///path or postgresql://…")
    path = value[len("sqlite:///"):] if value.startswith("sqlite:///") else ""
    if path and path != ":memory:" and not path.startswith("/"):  # relative to where the command started
        value = f"sqlite:///{Path(path).expanduser().resolve()}"
    return value


def _redis_url(r: _Reader) -> str | None:
    value = r.raw("REDIS_URL")
    if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
        r.problem("REDIS_URL", f"{value!r} is not a redis:// address")
        return None
    return value


def _bind(r: _Reader) -> str:
    value = r.raw("BIND") or "127.0.0.1:12080"
    if not _SAFE_BIND.match(value):
        r.problem("BIND", f"{value!r} is not host:port or unix:/path")
    return value


def _accel_redirect(r: _Reader) -> str | None:
    """A location prefix such as /_photonix/: nginx maps it to DATA_DIR (the app appends thumbs/… or previews/…)."""
    value = r.raw("ACCEL_REDIRECT")
    if value is not None and not _ACCEL_PREFIX.match(value):
        r.problem("ACCEL_REDIRECT", f"{value!r} is not a location prefix like /_photonix/ (letters, digits, "
                                    "- _ . between slashes, starting and ending with /)")
        return None
    return value


def _rate_limit(r: _Reader) -> str:
    value = r.raw("RATE_LIMIT") or "3000/minute"
    try:
        parse_many(value)
    except ValueError:
        r.problem("RATE_LIMIT", f"{value!r} is not a rate such as 3000/minute")
        return "3000/minute"
    return value
