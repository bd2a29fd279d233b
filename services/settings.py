"""Runtime settings kept in the `setting` table: gallery password, public access, auth epoch, title, and the
owner's on/off settings (FLAGS: whether visitors see where photos were taken, never-expiring share links, album
downloads).

`auth_state()` is read on every request that needs it (one query), so a password change on one
node revokes tokens on every node at once. `change_settings()` validates an owner's change, bumps
AUTH_EPOCH whenever the password is set, changed, enabled or disabled, and publishes the events.
"""

from __future__ import annotations

import time
import unicodedata
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from errors import ValidationFailed
from models import Setting, database
from services import events
from services.auth.passwords import hash_password
from services.database import run_built

PASSWORD_ENABLED = "PASSWORD_ENABLED"  # noqa: S105 (setting names, not secrets)
PASSWORD_HASH = "PASSWORD_HASH"  # noqa: S105
ALLOW_PUBLIC_ACCESS = "ALLOW_PUBLIC_ACCESS"
AUTH_EPOCH = "AUTH_EPOCH"
SYSTEM_ID = "SYSTEM_ID"
SITE_TITLE = "SITE_TITLE"
SHOW_LOCATION = "SHOW_LOCATION"  # "1": visitors see where photos were taken (GPS); the admin always does
NEVER_EXPIRING_SHARES = "ALLOW_NEVER_EXPIRING_SHARES"  # "1": share links may be made with no expiry
ZIP_DOWNLOADS = "ALLOW_ZIP_DOWNLOADS"  # "0": viewers may not download albums as ZIP (the admin still may)
ALBUM_DELETE = "ALLOW_ALBUM_DELETE"  # "1": the admin may move albums to the trash (services/albums/trash.py)
TRASH_DAYS = "TRASH_DAYS"  # days an album stays in the trash before it is purged
DEFAULT_TRASH_DAYS, MAX_TRASH_DAYS = 30, 3650
LOGOUTS = "LOGOUTS"  # a fresh random value at each logout: services/auth/sessions.py reloads its set then
DEFAULT_SITE_TITLE = "Photonix"
# The owner's on/off settings: API name -> (setting key, value when never set).
FLAGS = {"showLocation": (SHOW_LOCATION, False), "allowNeverExpiringShares": (NEVER_EXPIRING_SHARES, False),
         "allowZipDownloads": (ZIP_DOWNLOADS, True), "allowAlbumDelete": (ALBUM_DELETE, False)}
_AUTH_KEYS = (PASSWORD_ENABLED, PASSWORD_HASH, ALLOW_PUBLIC_ACCESS, AUTH_EPOCH, SYSTEM_ID, SITE_TITLE, LOGOUTS,
              TRASH_DAYS, *(key for key, _ in FLAGS.values()))
MAX_SITE_TITLE_CHARS = 80
# What an owner may change, by the name the API uses.
CHANGEABLE = ("newPassword", "passwordEnabled", "publicAccess", "siteTitle", "trashDays", *FLAGS)
AUTH_CHANGES = ("password", "passwordEnabled", "publicAccess")


@dataclass(frozen=True)
class AuthState:
    password_enabled: bool
    password_hash: str | None
    public_access: bool
    epoch: int
    system_id: str
    site_title: str
    logouts: str = ""  # changes at every logout (services/auth/sessions.py)
    show_location: bool = False
    allow_never_expiring_shares: bool = False
    allow_zip_downloads: bool = True
    allow_album_delete: bool = False
    trash_days: int = DEFAULT_TRASH_DAYS

    @property
    def anonymous_reads(self) -> bool:
        """Can the gallery be read with no credentials at all?"""
        return not self.password_enabled or self.public_access


def auth_state() -> AuthState:
    values = dict(run_built(_auth_settings).fetchall())
    system_id = values.get(SYSTEM_ID) or _create_system_id()
    return AuthState(
        password_enabled=values.get(PASSWORD_ENABLED) == "1" and bool(values.get(PASSWORD_HASH)),
        password_hash=values.get(PASSWORD_HASH) or None,
        public_access=values.get(ALLOW_PUBLIC_ACCESS) == "1",
        epoch=int(values.get(AUTH_EPOCH) or 0),
        system_id=system_id,
        site_title=values.get(SITE_TITLE) or DEFAULT_SITE_TITLE,
        logouts=values.get(LOGOUTS) or "",
        trash_days=int(values.get(TRASH_DAYS) or DEFAULT_TRASH_DAYS),
        **{_field(name): _flag(values.get(key), default) for name, (key, default) in FLAGS.items()},
    )


def change_settings(changes: Mapping[str, object], also_named: tuple[str, ...] = ()) -> list[str]:
    """Validate and apply an owner's change; return the names that changed (`password` for a new one).

    Raises ValidationFailed naming the field for unknown names and bad values; its list of the names a change may
    hold ends with `also_named` (those the caller takes out of `changes` and applies itself). Publishes
    `settings-changed {keys}` and, when access rules changed, `auth-changed {passwordEnabled, publicAccess}`.
    """
    _check_names(changes, (*CHANGEABLE, *also_named))
    state = auth_state()
    enable = _boolean(changes, "passwordEnabled")
    public = _boolean(changes, "publicAccess")
    title = _site_title(changes.get("siteTitle")) if "siteTitle" in changes else None
    if "newPassword" not in changes and enable and not state.password_hash:
        raise ValidationFailed("newPassword", "Set a password (newPassword) to turn password protection on.")
    writes, changed = {}, []
    if "newPassword" in changes:
        writes[PASSWORD_HASH] = hash_password(changes["newPassword"])
        changed.append("password")
        enable = True if enable is None else enable  # setting a password means wanting one
    if enable is not None and enable != state.password_enabled:
        writes[PASSWORD_ENABLED] = "1" if enable else "0"
        changed.append("passwordEnabled")
    if public is not None and public != state.public_access:
        writes[ALLOW_PUBLIC_ACCESS] = "1" if public else "0"
        changed.append("publicAccess")
    for name, (key, _) in FLAGS.items():
        flag = _boolean(changes, name)
        if flag is not None and flag != getattr(state, _field(name)):
            writes[key] = "1" if flag else "0"
            changed.append(name)
    if title is not None and title != state.site_title:
        writes[SITE_TITLE] = title
        changed.append("siteTitle")
    days = _trash_days(changes["trashDays"]) if "trashDays" in changes else None
    if days is not None and days != state.trash_days:
        writes[TRASH_DAYS] = str(days)
        changed.append("trashDays")
    if changed:
        write_settings(writes, bump_epoch="password" in changed or "passwordEnabled" in changed)
        _announce(changed)
    return changed


def read_setting(key: str) -> str | None:
    """One stored value (for keys outside the auth state, e.g. job status), or None."""
    row = Setting.get_or_none(Setting.key == key)
    return row.value if row else None


def write_settings(changes: dict[str, str], bump_epoch: bool) -> None:
    """Write `changes` (key -> text) and optionally bump the auth epoch, in one short transaction."""
    now = time.time()
    with database.atomic():
        for key, value in changes.items():
            _upsert(key, value, now)
        if bump_epoch:
            updated = (Setting.update(value=(Setting.value.cast("INTEGER") + 1).cast("TEXT"), updated_at=now)
                       .where(Setting.key == AUTH_EPOCH).execute())
            if not updated:
                _upsert(AUTH_EPOCH, "1", now)


def _upsert(key: str, value: str, now: float) -> None:
    (Setting.insert(key=key, value=value, updated_at=now)
     .on_conflict(conflict_target=[Setting.key], preserve=[Setting.value, Setting.updated_at])
     .execute())


def _create_system_id() -> str:
    """A stable id for this installation; the first writer wins when several race."""
    Setting.insert(key=SYSTEM_ID, value=uuid.uuid4().hex, updated_at=time.time()).on_conflict_ignore().execute()
    return Setting.get(Setting.key == SYSTEM_ID).value


def _check_names(changes: Mapping[str, object], names: tuple[str, ...]) -> None:
    for name in changes:
        if name not in CHANGEABLE:
            raise ValidationFailed(str(name), f"Unknown setting {name!r}; settings are {', '.join(names)}.")
    if not changes:
        raise ValidationFailed("body", f"Send at least one of {', '.join(names)}.")


def _boolean(changes: Mapping[str, object], name: str) -> bool | None:
    """The named boolean when sent (true or false only: null is refused too), None when it was not sent."""
    value = changes.get(name)
    if name in changes and not isinstance(value, bool):
        raise ValidationFailed(name, f"{name} must be true or false.")
    return value


def _auth_settings() -> Any:
    """The stored values of the auth state: read on every request (services.database.run_built builds it once)."""
    return Setting.select(Setting.key, Setting.value).where(Setting.key.in_(_AUTH_KEYS))


def _field(name: str) -> str:
    """AuthState's field for an API name: showLocation -> show_location."""
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


def _flag(stored: str | None, default: bool) -> bool:
    return default if stored is None else stored == "1"


def _site_title(value: object) -> str:
    if not isinstance(value, str):
        raise ValidationFailed("siteTitle", "siteTitle must be a string.")
    title = value.strip()
    if not title or len(title) > MAX_SITE_TITLE_CHARS:
        raise ValidationFailed("siteTitle", f"siteTitle needs 1 to {MAX_SITE_TITLE_CHARS} characters.")
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in title):
        raise ValidationFailed("siteTitle", "siteTitle may not contain control characters.")
    return title


def _trash_days(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TRASH_DAYS:
        raise ValidationFailed("trashDays", f"trashDays must be a whole number of days from 1 to {MAX_TRASH_DAYS}.")
    return value


def _announce(changed: list[str]) -> None:
    events.publish("settings-changed", {"keys": changed})
    if any(name in AUTH_CHANGES for name in changed):
        state = auth_state()
        events.publish("auth-changed", {"passwordEnabled": state.password_enabled, "publicAccess": state.public_access})
