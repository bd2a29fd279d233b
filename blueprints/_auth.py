"""Who is calling: flask-jwt-extended token checks, auth cookies, and the decorators blueprints use.

`caller()` verifies whatever token was sent (Bearer header or cookie, HS256 only, CSRF for
cookie-authenticated unsafe methods) and records why it was rejected instead of raising; the
decorators hand that to services/auth/access.py, which decides, and `decide()` logs each decision
when PHOTONIX_AUTH_DEBUG is on. Order: @bp.route outermost, then one of @optional_viewer /
@viewer_required / @admin_required (and @no_rate_limit for long-lived streams, @shares_allowed for the
views a share link's session may call: blueprints/_share_session.py).

Which credential counts: a Bearer header decides; without one, the viewer cookie, and a share link's cookie
only when neither the viewer cookie nor the admin cookie is valid (a share never narrows what its browser's
own login may see).
"""

from __future__ import annotations

import functools
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import jwt
from flask import Flask, current_app, g, request
from flask_jwt_extended import JWTManager, decode_token, get_jwt, verify_jwt_in_request
from flask_jwt_extended.exceptions import CSRFError, JWTExtendedException, NoAuthorizationError, RevokedTokenError
from flask_limiter import HeaderNames, Limiter

from blueprints._http import app_config, client_ip
from blueprints._share_session import ROLE_SHARE, SHARE_COOKIE, SHARES_ALLOWED, require_active
from errors import AppError, CsrfFailed, ShareScope, TokenExpired, TokenInvalid, TokenRevoked, Unauthorized
from services.auth import access, sessions
from services.auth.lockout import Lockout
from services.logtext import escape
from services.settings import AuthState, auth_state
from services.shares.tokens import redact

ACCESS_COOKIE = "auth_token"
REFRESH_COOKIE = "refresh_token"
ADMIN_COOKIE = "admin_token"
CSRF_HEADER = "X-CSRF-TOKEN"
UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
RATE_LIMIT_RETRY_HEADER = "X-RateLimit-Retry-After"
LOGGED_OUT = "This session was logged out."
LIMITER_REDIS_OPTIONS = {"socket_timeout": 2, "socket_connect_timeout": 2}  # a lost Redis answers 503 in time
log = logging.getLogger("photonix.auth")
NOT_BEARER = "The Authorization header is not 'Bearer <token>' (the only scheme accepted)."


@dataclass(frozen=True)
class Caller:
    role: str | None = None
    expires_at: int | None = None
    problem: AppError | None = None
    epoch: int | None = None  # a viewer token's AUTH_EPOCH
    sid: str | None = None  # the token's session (services/auth/sessions.py)
    share_id: int | None = None  # a share link's session: the link (blueprints/_share_session.py)


def init_auth(app: Flask) -> None:
    """flask-jwt-extended for tokens, flask-limiter for the per-IP API limit and the lockout storage."""
    config = app.extensions["photonix"]
    # With the storage down, the API rate limit falls back to per-process memory (the site stays up);
    # the lockout uses the same storage directly and fails closed instead (services/auth/lockout.py).
    # application_limits: one budget per client across every route (default_limits would give each route its own).
    limiter = Limiter(
        client_ip, app=app, application_limits=[config.rate_limit], storage_uri=config.limiter_storage_uri,
        headers_enabled=True, key_prefix="photonix-rate", swallow_errors=True, in_memory_fallback_enabled=True,
        storage_options=LIMITER_REDIS_OPTIONS if config.redis_url else {},
        # The limiter would put its window's reset time in Retry-After on every response, overriding the
        # thumbnail 202's own; it goes to its own header, and blueprints/errors.py copies it onto a 429.
        header_name_mapping={HeaderNames.RETRY_AFTER: RATE_LIMIT_RETRY_HEADER},
    )
    limiter.request_filter(_exempt_from_rate_limit)
    app.extensions["photonix_limiter"] = limiter
    app.config.update(
        JWT_SECRET_KEY=config.jwt_secret,
        JWT_ALGORITHM="HS256",
        JWT_DECODE_ALGORITHMS=["HS256"],
        JWT_TOKEN_LOCATION=["headers", "cookies"],
        JWT_ACCESS_COOKIE_NAME=ACCESS_COOKIE,
        JWT_REFRESH_COOKIE_NAME=REFRESH_COOKIE,
        JWT_COOKIE_CSRF_PROTECT=True,
        JWT_CSRF_CHECK_FORM=True,  # a form post (an album download straight to disk) sends it as csrf_token
        JWT_CSRF_IN_COOKIES=True,
        JWT_ACCESS_CSRF_HEADER_NAME=CSRF_HEADER,
        JWT_REFRESH_CSRF_HEADER_NAME=CSRF_HEADER,
        JWT_ACCESS_TOKEN_EXPIRES=timedelta(minutes=config.access_token_minutes),
        JWT_REFRESH_TOKEN_EXPIRES=timedelta(days=config.refresh_token_days),
        JWT_ERROR_MESSAGE_KEY="message",
    )
    # The library's revocation hook: verify_jwt_in_request raises RevokedTokenError, which token_problem maps.
    JWTManager(app).token_in_blocklist_loader(lambda _header, claims: _logged_out(claims))


def caller() -> Caller:
    """The verified caller of this request (cached); a rejected token leaves its reason in `problem`."""
    if "caller" not in g:
        g.caller = _verify_caller()
    return g.caller


def is_admin() -> bool:
    """Whether this request carries a valid admin token (Bearer header or the admin cookie); on reads that
    show the admin more (a photo's location), not a gate: X-Admin-Secret is not tried here."""
    return admin_caller().role == access.ROLE_ADMIN


def holds_admin() -> bool:
    """Whether this request carries an admin credential, on a route that is not admin-only (it shows the admin
    more): an admin token, or a correct X-Admin-Secret, which is checked under the lockout as admin_required does
    (a wrong one raises, so the header is never a free oracle)."""
    secret = request.headers.get("X-Admin-Secret")
    if secret is None:
        return is_admin()
    decide("admin", lambda: access.check_admin_secret(secret, app_config().admin_secret, lockout(), client_ip()),
           via="admin-secret")
    return True


def lockout(namespace: str = "") -> Lockout:
    """The lockout on the limiter's storage: shared by every worker and node when it is Redis."""
    return Lockout(current_app.extensions["photonix_limiter"].storage, namespace=namespace)


def decide(kind: str, check: Callable[[], None], via: str | None = None) -> None:
    """Run an access check; with PHOTONIX_AUTH_DEBUG, log its outcome and reason code (never a secret)."""
    try:
        check()
    except AppError as error:
        _log_decision(kind, error.code, via)
        raise
    _log_decision(kind, "ALLOWED", via)


def credential_source() -> str:
    """Where the caller's credential came from, for logs and diagnosis: headers, cookies or none."""
    if request.headers.get("Authorization"):
        return "headers"
    return "cookies" if ACCESS_COOKIE in request.cookies or ADMIN_COOKIE in request.cookies else "none"


def optional_viewer(view):
    """Gallery reads: allowed as the auth mode says; a stale token never breaks a public read."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        who = caller()
        if who.role == ROLE_SHARE:
            decide("share read", lambda: _check_share(who, view))
        else:
            decide("gallery read", lambda: access.check_gallery_read(request_auth_state(), who.role, who.problem))
        return view(*args, **kwargs)

    return wrapper


def viewer_required(view):
    """A valid viewer or admin token, whatever the mode."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        who = caller()
        decide("viewer", lambda: _require_role(who))
        return view(*args, **kwargs)

    return wrapper


def no_rate_limit(view):
    """Exempt a view from the global per-IP rate limit (health checks, long-lived event streams)."""
    view.photonix_no_rate_limit = True
    return view


def admin_required(view):
    """An admin token, admin cookie, or a correct X-Admin-Secret header (which counts toward lockout)."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        config = app_config()
        secret = request.headers.get("X-Admin-Secret")
        if secret is not None:
            decide("admin", lambda: access.check_admin_secret(secret, config.admin_secret, lockout(), client_ip()),
                   via="admin-secret")
        else:
            who = admin_caller()
            decide("admin", lambda: access.check_admin(who.role, who.problem, config.admin_secret is not None))
        return view(*args, **kwargs)

    return wrapper


def request_auth_state() -> AuthState:
    if "auth_state" not in g:
        g.auth_state = auth_state()
    return g.auth_state


def _require_role(who: Caller) -> None:
    if who.role == ROLE_SHARE:
        require_active(who.share_id)
        raise ShareScope("A shared link's session can only view what it shares.")
    if who.role is None:
        raise who.problem or Unauthorized()


def _check_share(who: Caller, view) -> None:
    require_active(who.share_id)
    if not getattr(view, SHARES_ALLOWED, False):
        raise ShareScope("A shared link's session can only view what it shares.")


def _log_decision(kind: str, outcome: str, via: str | None) -> None:
    if app_config().auth_debug:
        who = caller()
        log.debug("auth decision: %s %s %s -> %s (role=%s, credential=%s, ip=%s)", kind, request.method,
                  escape(redact(request.path)), outcome, who.role, via or credential_source(), client_ip())


def _exempt_from_rate_limit() -> bool:
    view = current_app.view_functions.get(request.endpoint or "")
    return bool(getattr(view, "photonix_no_rate_limit", False))


def _verify_caller() -> Caller:
    try:
        if verify_jwt_in_request(optional=True) is None:
            who = Caller(problem=_unused_authorization())
        else:
            who = _caller_from_claims(get_jwt())
    except Exception as exc:  # every library error becomes one of our codes
        who = Caller(problem=token_problem(exc))
    if who.role is None and SHARE_COOKIE in request.cookies and not request.headers.get("Authorization"):
        if _cookie_caller(ADMIN_COOKIE).role != access.ROLE_ADMIN:
            return _cookie_caller(SHARE_COOKIE)
    return who


def admin_caller() -> Caller:
    """An admin credential from the Bearer header (via caller()) or from the admin cookie."""
    who = caller()
    if who.role == access.ROLE_ADMIN or ADMIN_COOKIE not in request.cookies:
        return who
    return _cookie_caller(ADMIN_COOKIE)


def _cookie_caller(name: str) -> Caller:
    """The caller a token cookie other than the viewer's (which the library reads) makes, or its problem."""
    if name not in request.cookies:
        return Caller()
    try:
        claims = decode_token(request.cookies[name])
    except Exception as exc:  # as above: map to our codes
        return Caller(problem=token_problem(exc))
    # decode_token skips the CSRF check for an empty header value, so compare here, always.
    sent = (request.headers.get(CSRF_HEADER) or request.form.get("csrf_token", "")).encode()
    expected = str(claims.get("csrf", "")).encode()
    if request.method in UNSAFE_METHODS and not hmac.compare_digest(sent, expected):
        return Caller(problem=CsrfFailed())
    if _logged_out(claims):  # decode_token skips the blocklist hook
        return Caller(problem=TokenRevoked(LOGGED_OUT))
    return _caller_from_claims(claims)


def _caller_from_claims(claims: dict) -> Caller:
    role, config = claims.get("role"), app_config()
    if claims.get("type") != "access" or role not in (access.ROLE_VIEWER, access.ROLE_ADMIN, ROLE_SHARE):
        return Caller(problem=TokenInvalid("This token cannot be used here."))
    if role == ROLE_SHARE:  # the link's state is checked when the share reads (require_active)
        return Caller(role=role, expires_at=claims.get("exp"), sid=claims.get("sid"), share_id=claims.get("shr"))
    if role == access.ROLE_ADMIN:
        expected = access.admin_fingerprint(config.admin_secret, config.jwt_secret) if config.admin_secret else None
        if claims.get("adm") != expected:
            return Caller(problem=TokenRevoked("The admin secret changed since this admin token was issued."))
    elif claims.get("epoch") != request_auth_state().epoch or not request_auth_state().password_enabled:
        return Caller(problem=TokenRevoked())
    return Caller(role=role, expires_at=claims.get("exp"), epoch=claims.get("epoch"), sid=claims.get("sid"))


def _logged_out(claims: dict) -> bool:
    return sessions.is_revoked(claims.get("sid"), request_auth_state().logouts)


def _unused_authorization() -> AppError | None:
    """An Authorization header that held no token (another scheme) is a mistake worth naming, not silence.
    `bearer` in any case was already made `Bearer` (blueprints/_request_headers.py). `Basic` is left
    alone: it is usually a proxy's own password (nginx auth_basic) passed through, not a mistake."""
    scheme = request.headers.get("Authorization", "").partition(" ")[0].lower()
    return TokenInvalid(NOT_BEARER) if scheme and scheme != "basic" else None


def token_problem(exc: Exception) -> AppError:
    if isinstance(exc, jwt.ExpiredSignatureError):
        return TokenExpired()
    if isinstance(exc, CSRFError):
        return CsrfFailed()
    if isinstance(exc, RevokedTokenError):
        return TokenRevoked(LOGGED_OUT)
    if isinstance(exc, NoAuthorizationError):
        return TokenInvalid(NOT_BEARER)
    if isinstance(exc, (jwt.InvalidTokenError, JWTExtendedException)):
        return TokenInvalid()
    raise exc
