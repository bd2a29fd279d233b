"""Runtime settings kept in the `setting` table: gallery password, public access, auth epoch, title.

`auth_state()` is read on every request that needs it (one query), so a password change on one
node revokes tokens on every node at once. Writers bump AUTH_EPOCH whenever the password is set,
changed, enabled, disabled or reset.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from models import Setting, database

PASSWORD_ENABLED = "PASSWORD_ENABLED"  # noqa: S105 (setting names, not secrets)
PASSWORD_HASH = "PASSWORD_HASH"  # noqa: S105
ALLOW_PUBLIC_ACCESS = "ALLOW_PUBLIC_ACCESS"
AUTH_EPOCH = "AUTH_EPOCH"
SYSTEM_ID = "SYSTEM_ID"
SITE_TITLE = "SITE_TITLE"
DEFAULT_SITE_TITLE = "Photonix"
_AUTH_KEYS = (PASSWORD_ENABLED, PASSWORD_HASH, ALLOW_PUBLIC_ACCESS, AUTH_EPOCH, SYSTEM_ID, SITE_TITLE)


@dataclass(frozen=True)
class AuthState:
    password_enabled: bool
    password_hash: str | None
    public_access: bool
    epoch: int
    system_id: str
    site_title: str

    @property
    def anonymous_reads(self) -> bool:
        """Can the gallery be read with no credentials at all?"""
        return not self.password_enabled or self.public_access


def auth_state() -> AuthState:
    values = dict(Setting.select(Setting.key, Setting.value).where(Setting.key.in_(_AUTH_KEYS)).tuples())
    system_id = values.get(SYSTEM_ID) or _create_system_id()
    return AuthState(
        password_enabled=values.get(PASSWORD_ENABLED) == "1" and bool(values.get(PASSWORD_HASH)),
        password_hash=values.get(PASSWORD_HASH) or None,
        public_access=values.get(ALLOW_PUBLIC_ACCESS) == "1",
        epoch=int(values.get(AUTH_EPOCH) or 0),
        system_id=system_id,
        site_title=values.get(SITE_TITLE) or DEFAULT_SITE_TITLE,
    )


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
