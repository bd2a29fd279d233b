"""The one place that decides who may do what: gallery reads, admin actions, password and secret checks.

Callers pass what they know (auth state, the caller's verified role, why a token was rejected);
these functions return or raise AppErrors. No Flask, no token parsing here.
"""

from __future__ import annotations

import hashlib
import hmac

from errors import (
    AdminRequired,
    AdminSecretInvalid,
    AdminSecretNotConfigured,
    AppError,
    InvalidCredentials,
    PasswordDisabled,
    SharePasswordInvalid,
    SharePasswordRequired,
    Unauthorized,
)
from services.auth.lockout import Lockout
from services.auth.passwords import verify_password
from services.settings import AuthState

ROLE_VIEWER = "viewer"
ROLE_ADMIN = "admin"


def check_gallery_read(state: AuthState, role: str | None, problem: AppError | None) -> None:
    """Allow a gallery read, or raise why not. A bad token never blocks a read that needs none."""
    if state.anonymous_reads or role in (ROLE_VIEWER, ROLE_ADMIN):
        return
    raise problem or Unauthorized()


def check_admin(role: str | None, problem: AppError | None, secret_configured: bool) -> None:
    """Allow an admin action for an admin-role caller, or raise the most useful refusal."""
    if role == ROLE_ADMIN:
        return
    if not secret_configured:
        raise AdminSecretNotConfigured()
    if role is None and problem is not None:
        raise problem
    raise AdminRequired()


def check_admin_secret(supplied: object, configured: str | None, lockout: Lockout, ip: str) -> None:
    """Compare a supplied admin secret in constant time, under the shared per-IP lockout (a place is
    reserved before the comparison)."""
    if configured is None:
        raise AdminSecretNotConfigured()
    attempt = lockout.reserve(ip)
    if not isinstance(supplied, str) or not _same_secret(supplied, configured):
        outcome = lockout.record_failure(attempt, "wrong admin secret")
        raise AdminSecretInvalid(remainingAttempts=outcome.remaining_attempts, nextLockSeconds=outcome.next_lock_s)
    lockout.record_success(attempt)


def check_login(state: AuthState, attempt: object, lockout: Lockout, ip: str) -> None:
    """Check a gallery password attempt under the lockout (a place is reserved before bcrypt runs); return
    only when it is right."""
    if not state.password_enabled:
        raise PasswordDisabled()
    reserved = lockout.reserve(ip)
    if not verify_password(attempt, state.password_hash):
        outcome = lockout.record_failure(reserved, "wrong gallery password")
        raise InvalidCredentials(remainingAttempts=outcome.remaining_attempts, nextLockSeconds=outcome.next_lock_s)
    lockout.record_success(reserved)


def check_share_password(password_hash: str | None, hint: str | None, attempt: object, lockout: Lockout,
                         ip: str) -> None:
    """Check a share link's password under the lockout (the caller passes one namespaced to the link); return
    when the link has none or it is right."""
    if password_hash is None:
        return
    if attempt is None or attempt == "":
        raise SharePasswordRequired(passwordHint=hint)
    reserved = lockout.reserve(ip)
    if not verify_password(attempt, password_hash):
        outcome = lockout.record_failure(reserved, "wrong share-link password")
        raise SharePasswordInvalid(remainingAttempts=outcome.remaining_attempts, nextLockSeconds=outcome.next_lock_s)
    lockout.record_success(reserved)


def admin_fingerprint(admin_secret: str, jwt_secret: str) -> str:
    """A short keyed digest of the admin secret put in admin tokens: rotating the secret revokes them."""
    return hmac.new(jwt_secret.encode(), admin_secret.encode(), hashlib.sha256).hexdigest()[:16]


def _same_secret(supplied: str, configured: str) -> bool:
    # Hash both sides first so the comparison time does not depend on the lengths.
    return hmac.compare_digest(hashlib.sha256(supplied.encode()).digest(), hashlib.sha256(configured.encode()).digest())
