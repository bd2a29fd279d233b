"""/api/auth: login, refresh, admin exchange, logout, status.

Tokens come back in the body (for Bearer use) and as httpOnly cookies whose path follows the
proxy's X-Forwarded-Prefix and whose Secure flag follows PHOTONIX_COOKIE_SECURE.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, jsonify, make_response, request
from flask_jwt_extended import (
    create_access_token,
    create_refresh_token,
    decode_token,
    get_csrf_token,
    get_jwt,
    verify_jwt_in_request,
)

from blueprints._auth import (
    ACCESS_COOKIE,
    ADMIN_COOKIE,
    REFRESH_COOKIE,
    caller,
    lockout,
    request_auth_state,
    token_problem,
)
from blueprints._http import app_config, client_ip, json_body
from errors import TokenRevoked
from services.auth import access

bp = Blueprint("auth", __name__, url_prefix="/api/auth")
CSRF_COOKIES = {
    ACCESS_COOKIE: "csrf_access_token",
    REFRESH_COOKIE: "csrf_refresh_token",
    ADMIN_COOKIE: "csrf_admin_token",
}


@bp.post("/login")
def post_login():
    state = request_auth_state()
    access.check_login(state, json_body().get("password"), lockout(), client_ip())
    claims = {"role": access.ROLE_VIEWER, "epoch": state.epoch}
    token = create_access_token(access.ROLE_VIEWER, additional_claims=claims)
    refresh = create_refresh_token(access.ROLE_VIEWER, additional_claims=claims)
    response = _token_response(token, access.ROLE_VIEWER, refreshToken=refresh)
    _set_cookie(response, ACCESS_COOKIE, token)
    _set_cookie(response, REFRESH_COOKIE, refresh)
    return response


@bp.post("/refresh")
def post_refresh():
    try:
        verify_jwt_in_request(refresh=True)
    except Exception as exc:  # every library error becomes one of our codes
        raise token_problem(exc) from None
    state = request_auth_state()
    if get_jwt().get("epoch") != state.epoch or not state.password_enabled:
        raise TokenRevoked()
    token = create_access_token(access.ROLE_VIEWER, additional_claims={"role": access.ROLE_VIEWER,
                                                                       "epoch": state.epoch})
    response = _token_response(token, access.ROLE_VIEWER)
    _set_cookie(response, ACCESS_COOKIE, token)
    return response


@bp.post("/admin")
def post_admin():
    config = app_config()
    access.check_admin_secret(json_body().get("adminSecret"), config.admin_secret, lockout(), client_ip())
    claims = {"role": access.ROLE_ADMIN, "adm": access.admin_fingerprint(config.admin_secret, config.jwt_secret)}
    token = create_access_token(access.ROLE_ADMIN, additional_claims=claims,
                                expires_delta=timedelta(minutes=config.admin_token_minutes))
    response = _token_response(token, access.ROLE_ADMIN)
    _set_cookie(response, ADMIN_COOKIE, token)
    return response


@bp.post("/logout")
def post_logout():
    response = make_response("", 204)
    for name in (ACCESS_COOKIE, REFRESH_COOKIE, ADMIN_COOKIE):
        for cookie in (name, CSRF_COOKIES[name]):
            response.delete_cookie(cookie, path=_cookie_path(name), secure=_secure(), samesite="Lax")
    return response


@bp.get("/status")
def get_status():
    state, who = request_auth_state(), caller()
    reason = who.problem.code if who.problem else None
    if reason is None and who.role is None and not state.anonymous_reads:
        reason = "AUTH_REQUIRED"
    return jsonify(passwordEnabled=state.password_enabled, publicAccess=state.public_access,
                   authenticated=who.role is not None, role=who.role, expiresAt=who.expires_at,
                   systemId=state.system_id, reason=reason)


def _token_response(token: str, role: str, **extra):
    expires_at = decode_token(token)["exp"]
    return jsonify(token=token, expiresAt=expires_at, role=role, **extra)


def _set_cookie(response, name: str, token: str) -> None:
    claims = decode_token(token)
    max_age = int(claims["exp"] - claims["iat"])
    common = {"max_age": max_age, "path": _cookie_path(name), "secure": _secure(), "samesite": "Lax"}
    response.set_cookie(name, token, httponly=True, **common)
    response.set_cookie(CSRF_COOKIES[name], get_csrf_token(token), httponly=False, **common)


def _cookie_path(name: str) -> str:
    root = request.script_root
    return {REFRESH_COOKIE: f"{root}/api/auth", ADMIN_COOKIE: f"{root}/api"}.get(name, f"{root}/")


def _secure() -> bool:
    setting = app_config().cookie_secure
    return request.scheme == "https" if setting == "auto" else setting == "true"
