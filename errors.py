"""The application's error hierarchy: every failure a client can see is an AppError.

Each class carries an HTTP status and an UPPER_SNAKE code. Services raise these; only
blueprints/errors.py turns them into a response body. No Flask import here.
"""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    status = 500
    code = "INTERNAL_ERROR"
    message = "Something went wrong on the server."

    def __init__(self, message: str | None = None, **extra: Any):
        self.message = message or self.message
        self.extra = extra
        super().__init__(self.message)


class BadRequest(AppError):
    status = 400
    code = "BAD_REQUEST"
    message = "The request could not be understood."


class InvalidJson(BadRequest):
    code = "INVALID_JSON"
    message = "The request body is not valid JSON."


class ValidationFailed(BadRequest):
    """A field has a bad value; `field` names it for the client."""

    code = "VALIDATION_ERROR"

    def __init__(self, field: str, message: str, **extra: Any):
        super().__init__(message, field=field, **extra)


class InvalidPath(BadRequest):
    code = "INVALID_PATH"
    message = "The path is not a valid gallery path."


class InvalidProxyHeader(BadRequest):
    """A trusted proxy forwarded a header the app refuses to use (e.g. an X-Forwarded-Prefix that is not a path)."""

    code = "INVALID_PROXY_HEADER"


class Unauthorized(AppError):
    status = 401
    code = "AUTH_REQUIRED"
    message = "Log in to view this gallery."


class Forbidden(AppError):
    status = 403
    code = "FORBIDDEN"
    message = "You are not allowed to do this."


class CrossSiteRequest(Forbidden):
    """A state-changing request sent by another site's page (Sec-Fetch-Site or Origin say so)."""

    code = "CROSS_SITE_REQUEST"
    message = "Changes are accepted only from this gallery's own pages, not from another site."


class PathForbidden(Forbidden):
    code = "PATH_FORBIDDEN"
    message = "This path leads outside the gallery."


class NotFound(AppError):
    status = 404
    code = "NOT_FOUND"
    message = "Nothing was found at this address."


class MethodNotAllowed(AppError):
    status = 405
    code = "METHOD_NOT_ALLOWED"
    message = "This address does not accept this method."


class PayloadTooLarge(AppError):
    status = 413
    code = "PAYLOAD_TOO_LARGE"
    message = "The request body is too large."


class UnsupportedMediaType(AppError):
    status = 415
    code = "UNSUPPORTED_MEDIA_TYPE"
    message = "Send the request body as application/json."


class TooManyRequests(AppError):
    status = 429
    code = "RATE_LIMITED"
    message = "Too many requests; slow down and try again shortly."


class TooManyStreams(TooManyRequests):
    """The client already has its PHOTONIX_SSE_MAX_PER_IP event streams open in this worker (not the rate limit)."""

    code = "TOO_MANY_STREAMS"
    message = "This address already has as many event streams open as allowed; close one first."


class ServiceUnavailable(AppError):
    status = 503
    code = "SERVICE_UNAVAILABLE"
    message = "The server cannot do this right now."


class DatabaseBusy(ServiceUnavailable):
    code = "DATABASE_BUSY"
    message = "The database is busy; try again in a moment."


class StorageFailed(ServiceUnavailable):
    """The server could not write to its own disk (full, read-only, gone): not the remote side's fault."""

    code = "STORAGE_FAILED"
    message = "The server could not write to its disk."


class TokenExpired(Unauthorized):
    code = "TOKEN_EXPIRED"
    message = "Your session has expired; log in again."


class TokenInvalid(Unauthorized):
    code = "TOKEN_INVALID"
    message = ("The token is malformed or its signature does not match; if the server's "
               "PHOTONIX_JWT_SECRET changed, log in again.")


class TokenRevoked(Unauthorized):
    code = "TOKEN_REVOKED"
    message = "This session was ended because the gallery password changed; log in again."


class CsrfFailed(Unauthorized):
    code = "CSRF_FAILED"
    message = "The X-CSRF-TOKEN header is missing or does not match the CSRF cookie."


class InvalidCredentials(Unauthorized):
    code = "INVALID_CREDENTIALS"
    message = "The password is not correct."


class AdminSecretInvalid(Unauthorized):
    code = "ADMIN_SECRET_INVALID"
    message = "The admin secret is not correct."


class AdminRequired(Forbidden):
    code = "ADMIN_REQUIRED"
    message = "This action needs the admin secret."


class LoginLocked(TooManyRequests):
    code = "LOGIN_LOCKED"
    message = "Too many failed attempts from your address; wait before trying again."

    def __init__(self, retry_after_s: int):
        super().__init__(retryAfterSeconds=retry_after_s)
        self.retry_after_s = retry_after_s


class PasswordDisabled(BadRequest):
    code = "PASSWORD_DISABLED"
    message = "This gallery has no password; no login is needed."


class AdminSecretNotConfigured(ServiceUnavailable):
    code = "ADMIN_SECRET_NOT_CONFIGURED"
    message = "Admin actions are disabled: set PHOTONIX_ADMIN_SECRET on the server and restart it."


class LimiterUnavailable(ServiceUnavailable):
    code = "LIMITER_UNAVAILABLE"
    message = "The login protection store is not reachable; logins are refused until it is back."


class DownloadFailed(AppError):
    """Something outside the server (a feed or image host) failed; `retryable` says whether trying
    again later may help. The download center records these; the API answers 502 when one reaches it."""

    status = 502
    code = "FETCH_FAILED"
    message = "The remote server could not be reached or answered with an error."
    retryable = True

    def __init__(self, message: str | None = None, *, retryable: bool | None = None, **extra: Any):
        super().__init__(message, **extra)
        if retryable is not None:
            self.retryable = retryable


class FetchRefused(DownloadFailed):
    """The SSRF guard refused a URL or the address it resolved to (never retried)."""

    code = "FETCH_REFUSED"
    message = "This address is not allowed: only public http/https hosts on allowed ports may be fetched."
    retryable = False


class FetchTimeout(DownloadFailed):
    code = "FETCH_TIMEOUT"
    message = "The remote server was too slow to answer."


class FetchTooLarge(DownloadFailed):
    code = "FETCH_TOO_LARGE"
    message = "The remote response is larger than the configured limit."
    retryable = False


class FeedInvalid(DownloadFailed):
    code = "FEED_INVALID"
    message = "The feed could not be read as RSS or Atom."
    retryable = False


class ImageRejected(DownloadFailed):
    """A downloaded file is not an image the gallery accepts (`reason` says why); nothing was saved."""

    code = "IMAGE_REJECTED"
    message = "The downloaded file is not an acceptable image."
    retryable = False


class Conflict(AppError):
    status = 409
    code = "CONFLICT"
    message = "This would conflict with something that already exists."


class ShareScope(Forbidden):
    code = "SHARE_SCOPE"
    message = "This shared link does not include this path."


class ShareEnded(AppError):
    """A link that can no longer be used: 410 when it is opened, 401 when a session of it is used."""

    status = 410

    def __init__(self, message: str | None = None, session: bool = False, **extra: Any):
        super().__init__(message, **extra)
        if session:
            self.status = 401


class ShareExpired(ShareEnded):
    code = "SHARE_EXPIRED"
    message = "This shared link has expired."


class ShareRevoked(ShareEnded):
    code = "SHARE_REVOKED"
    message = "This shared link was revoked by the gallery's owner."


class SharePasswordRequired(Unauthorized):
    code = "SHARE_PASSWORD_REQUIRED"
    message = "This shared link needs its password."


class SharePasswordInvalid(Unauthorized):
    code = "SHARE_PASSWORD_INVALID"
    message = "The password for this shared link is not correct."


class DownloadsDisabled(Forbidden):
    code = "DOWNLOADS_DISABLED"
    message = "Downloading albums is turned off here."


class AlbumDeleteDisabled(Forbidden):
    code = "ALBUM_DELETE_DISABLED"
    message = "Deleting albums is turned off; the owner can turn on allowAlbumDelete in the settings."


class AiNotConfigured(ServiceUnavailable):
    """AI captions are off, or on without a url and model (services/ai/settings.py)."""

    code = "AI_NOT_CONFIGURED"
    message = "AI captions are not set up on this server."


class AiUnavailable(AppError):
    """The AI server failed: unreachable, refused by the address guard, too slow, too large, or an error
    status (`upstreamStatus`, null when there was no answer)."""

    status = 502
    code = "AI_UNAVAILABLE"
    message = "The AI server could not describe this photo."


class AiQuota(TooManyRequests):
    code = "AI_QUOTA"
    message = "This address has used its AI captions for today."

    def __init__(self, limit: int, retry_after_s: int):
        super().__init__(limit=limit, retryAfterSeconds=retry_after_s)
        self.retry_after_s = retry_after_s


class NotAPhoto(BadRequest):
    code = "NOT_A_PHOTO"
    message = "Only photos can be described."
