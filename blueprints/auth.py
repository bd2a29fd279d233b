"""/api/auth: login, refresh, admin exchange, logout, status, and the proxy/cookie diagnosis.

Tokens come back in the body (for Bearer use) and as httpOnly cookies whose path follows the
proxy's X-Forwarded-Prefix and whose Secure flag follows PHOTONIX_COOKIE_SECURE.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict
from datetime import timedelta

import jwt
from flask import Blueprint, jsonify, make_response, request
from flask_jwt_extended import (
    create_access_token,
    create_refresh_token,
    decode_token,
    get_csrf_token,
    get_jwt,
    verify_jwt_in_request,
)
from flask_jwt_extended.exceptions import JWTExtendedException

from blueprints._auth import (
    ACCESS_COOKIE,
    ADMIN_COOKIE,
    REFRESH_COOKIE,
    Caller,
    caller,
    credential_source,
    decide,
    lockout,
    request_auth_state,
    token_problem,
)
from blueprints._http import app_config, client_ip, json_body, secure_cookies
from blueprints._share_session import ROLE_SHARE, SHARE_COOKIE, end_session, require_active
from errors import AppError, TokenRevoked, Unauthorized, ValidationFailed
from services.auth import access, diagnosis, origins, sessions
from services.auth.lockout import normalize_ip

bp = Blueprint("auth", __name__, url_prefix="/api/auth")
CSRF_COOKIES = {
    ACCESS_COOKIE: "csrf_access_token",
    REFRESH_COOKIE: "csrf_refresh_token",
    ADMIN_COOKIE: "csrf_admin_token",
}


@bp.post("/login")
def post_login():
    state = request_auth_state()
    password = json_body().get("password")
    decide("login", lambda: access.check_login(state, password, lockout(), client_ip()), via="password")
    claims = {"role": access.ROLE_VIEWER, "epoch": state.epoch, "sid": sessions.new_sid()}  # one session
    token = create_access_token(access.ROLE_VIEWER, additional_claims=claims)
    refresh = create_refresh_token(access.ROLE_VIEWER, additional_claims=claims)
    response = _token_response(token, access.ROLE_VIEWER, refreshToken=refresh)
    _set_cookie(response, ACCESS_COOKIE, token)
    _set_cookie(response, REFRESH_COOKIE, refresh)
    return response


@bp.post("/refresh")
def post_refresh():
    decide("refresh", _check_refresh_token)
    claims = {"role": access.ROLE_VIEWER, "epoch": request_auth_state().epoch}
    if get_jwt().get("sid"):  # the refresh token's session: logging out ends the tokens refreshed from it too
        claims["sid"] = get_jwt()["sid"]
    token = create_access_token(access.ROLE_VIEWER, additional_claims=claims)
    response = _token_response(token, access.ROLE_VIEWER)
    _set_cookie(response, ACCESS_COOKIE, token)
    return response


@bp.post("/admin")
def post_admin():
    config = app_config()
    secret = json_body().get("adminSecret")
    decide("admin exchange", lambda: access.check_admin_secret(secret, config.admin_secret, lockout(), client_ip()),
           via="admin-secret")
    claims = {"role": access.ROLE_ADMIN, "adm": access.admin_fingerprint(config.admin_secret, config.jwt_secret),
              "sid": sessions.new_sid()}
    token = create_access_token(access.ROLE_ADMIN, additional_claims=claims,
                                expires_delta=timedelta(minutes=config.admin_token_minutes))
    response = _token_response(token, access.ROLE_ADMIN)
    _set_cookie(response, ADMIN_COOKIE, token)
    return response


@bp.post("/logout")
def post_logout():
    """End the sessions of the tokens sent (Bearer and cookies, expired ones too; a share link's session too) on
    every worker and node, and clear every auth cookie; 204 also when no valid token came."""
    lifetime_s = timedelta(days=app_config().refresh_token_days).total_seconds()
    sessions.end_sessions(_sent_token_claims(), lifetime_s)
    response = make_response("", 204)
    for name in (ACCESS_COOKIE, REFRESH_COOKIE, ADMIN_COOKIE):
        for cookie in (name, CSRF_COOKIES[name]):
            response.delete_cookie(cookie, path=_cookie_path(cookie), secure=secure_cookies(), samesite="Lax")
    end_session(response)
    return response


@bp.get("/status")
def get_status():
    state, who = request_auth_state(), caller()
    if who.role == ROLE_SHARE:  # a share link's session counts only while its link does
        try:
            require_active(who.share_id)
        except AppError as ended:
            who = Caller(problem=ended)
    reason = who.problem.code if who.problem else None
    if reason is None and who.role is None and not state.anonymous_reads:
        reason = "AUTH_REQUIRED"
    return jsonify(passwordEnabled=state.password_enabled, publicAccess=state.public_access,
                   authenticated=who.role is not None, role=who.role, expiresAt=who.expires_at,
                   systemId=state.system_id, reason=reason)


@bp.get("/diagnose")
def get_diagnose():
    """What this request looked like on arrival, and what disagrees with PHOTONIX_PUBLIC_URL. No secrets."""
    seen = _observed()
    public_url = app_config().public_url
    found = diagnosis.hints(seen, public_url)
    return jsonify(**seen.to_json(), publicUrl=public_url, hints=[asdict(h) for h in found], ok=not found)


def _observed() -> diagnosis.Observed:
    config, who = app_config(), caller()
    original = request.environ.get("werkzeug.proxy_fix.orig", {})
    return diagnosis.Observed(
        scheme=request.scheme, host=request.host, prefix=request.script_root, client_ip=client_ip(),
        remote_addr=normalize_ip(original.get("REMOTE_ADDR", request.remote_addr)),
        trusted_proxies=config.trusted_proxies, cookie_secure=config.cookie_secure, secure_cookies=secure_cookies(),
        server_time=time.time(),
        proxy_headers={name: value[:200] for name in diagnosis.PROXY_HEADERS if (value := request.headers.get(name))},
        cookies=sorted(name for name in request.cookies if name in CSRF_COOKIES or name in CSRF_COOKIES.values()),
        jwt_state="valid" if who.role else who.problem.code if who.problem else "none",
        jwt_source=credential_source(), jwt_issued_at=_issued_at(), client_time=_client_time(),
        **_origin_fields(config.public_url),
    )


def _origin_fields(public_url: str | None) -> dict:
    """What the cross-site guard (blueprints/_guard.py) would make of a change sent from this page. A
    same-origin GET carries no Origin, so the page's Referer stands in (pages send it: Referrer-Policy
    same-origin)."""
    origin, source = request.headers.get("Origin"), "origin"
    if not origin:
        origin, source = origins.origin_of(request.headers.get("Referer", "")), "referer"
    origin, source = (origin[:200], source) if origin else (None, "none")
    fetch_site = request.headers.get("Sec-Fetch-Site", "")[:40] or None
    own = origins.server_origins(request.scheme, request.host, public_url)
    return {"origin": origin, "origin_source": source, "sec_fetch_site": fetch_site, "server_origins": own,
            "cross_site_refusal": origins.cross_site_reason(origin, fetch_site, own)}


def _issued_at() -> float | None:
    """The `iat` of the token sent, read without verifying it (only to spot clock skew)."""
    header = request.headers.get("Authorization", "")
    raw = header.removeprefix("Bearer ").strip() if header else request.cookies.get(ACCESS_COOKIE, "")
    try:
        issued = jwt.decode(raw, options={"verify_signature": False}).get("iat")
    except jwt.InvalidTokenError:
        return None
    return float(issued) if isinstance(issued, int | float) else None


def _client_time() -> float | None:
    sent = request.args.get("clientTime")
    if sent is None:
        return None
    try:
        seconds = float(sent)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds):
        raise ValidationFailed("clientTime", "clientTime must be seconds since 1970 (a number).")
    return seconds


def _sent_token_claims() -> list[dict]:
    """The verified claims of every token this request carries; a forged or malformed one is skipped."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    raws = [token.strip()] if scheme.lower() == "bearer" and token.strip() else []
    raws += [request.cookies[name] for name in (ACCESS_COOKIE, REFRESH_COOKIE, ADMIN_COOKIE, SHARE_COOKIE)
             if name in request.cookies]
    found = []
    for raw in raws:
        try:
            found.append(decode_token(raw, allow_expired=True))
        except (jwt.InvalidTokenError, JWTExtendedException):  # not a token of ours: nothing to end
            continue
    return found


def _check_refresh_token() -> None:
    try:
        found = verify_jwt_in_request(refresh=True, optional=True)
    except Exception as exc:  # every library error becomes one of our codes
        raise token_problem(exc) from None
    if found is None:  # no refresh token in the header or the cookie at all
        raise Unauthorized()
    state = request_auth_state()
    if get_jwt().get("epoch") != state.epoch or not state.password_enabled:
        raise TokenRevoked()


def _token_response(token: str, role: str, **extra):
    expires_at = decode_token(token)["exp"]
    return jsonify(token=token, expiresAt=expires_at, role=role, **extra)


def _set_cookie(response, name: str, token: str) -> None:
    claims = decode_token(token)
    max_age = int(claims["exp"] - claims["iat"])
    common = {"max_age": max_age, "secure": secure_cookies(), "samesite": "Lax"}
    response.set_cookie(name, token, httponly=True, path=_cookie_path(name), **common)
    csrf = CSRF_COOKIES[name]
    response.set_cookie(csrf, get_csrf_token(token), httponly=False, path=_cookie_path(csrf), **common)


def _cookie_path(name: str) -> str:
    """Tokens go only where they are used; the readable CSRF cookies sit at the root so the page's
    scripts (served from the root) can read them and echo them in X-CSRF-TOKEN."""
    root = request.script_root
    return {REFRESH_COOKIE: f"{root}/api/auth", ADMIN_COOKIE: f"{root}/api"}.get(name, f"{root}/")
