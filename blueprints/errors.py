"""The one place that builds error bodies: {code, message, requestId} plus an error's extra fields.

Also gives every request an id (a client's X-Request-Id is kept only if it is a short safe token)
and echoes it on every response.
"""

from __future__ import annotations

import logging
import re
import uuid

from flask import Flask, g, jsonify, request
from werkzeug.exceptions import HTTPException

import errors
from services.database import busy_error
from services.logtext import escape
from services.shares.tokens import redact

log = logging.getLogger("photonix.http")
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_HTTP_ERRORS: dict[int, type[errors.AppError]] = {
    400: errors.BadRequest,
    401: errors.Unauthorized,
    403: errors.Forbidden,
    404: errors.NotFound,
    405: errors.MethodNotAllowed,
    413: errors.PayloadTooLarge,
    415: errors.UnsupportedMediaType,
    429: errors.TooManyRequests,
}


def request_id() -> str:
    if "request_id" not in g:
        sent = request.headers.get("X-Request-Id", "")
        g.request_id = sent if _SAFE_REQUEST_ID.match(sent) else uuid.uuid4().hex
    return g.request_id


def error_response(error: errors.AppError):
    body = {**error.extra, "code": error.code, "message": error.message, "requestId": request_id()}
    response = jsonify(body)
    response.status_code = error.status
    retry_after_s = getattr(error, "retry_after_s", None)
    if retry_after_s is not None:
        g.retry_after_s = retry_after_s  # re-applied last: the rate limiter sets its own Retry-After
    return response


def register(app: Flask) -> None:
    app.before_request(_assign_request_id)
    app.after_request(_send_request_id)
    app.register_error_handler(errors.AppError, error_response)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)


def _assign_request_id() -> None:
    request_id()


def _send_request_id(response):
    response.headers["X-Request-Id"] = request_id()
    response.headers["X-Content-Type-Options"] = "nosniff"  # originals are served as their real type only
    if "retry_after_s" in g:
        response.headers["Retry-After"] = str(g.retry_after_s)
    elif response.status_code == 429 and "X-RateLimit-Retry-After" in response.headers:
        response.headers["Retry-After"] = response.headers["X-RateLimit-Retry-After"]
    return response


def _http_error(exc: HTTPException):
    error_class = _HTTP_ERRORS.get(exc.code or 500)
    if error_class is None:
        error = errors.AppError(exc.description)
        error.status, error.code = exc.code or 500, (exc.name or "error").upper().replace(" ", "_")
    else:
        error = error_class()
    response = error_response(error)
    if exc.code == 405 and exc.valid_methods:
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


def _unexpected(exc: Exception):
    busy = busy_error(exc)
    if busy is not None:
        log.warning("request %s: %s", request_id(), exc)
        return error_response(busy)
    log.exception("request %s %s %s failed", request_id(), escape(request.method), escape(redact(request.path)))
    return error_response(errors.AppError())
