"""The sidecar's errors and the one place that turns them into JSON.

Every error leaves as `{"error": {"code": "<stable_code>", "message": "<human>"}}`. Codes are
part of the HTTP contract (the frontend switches on them); messages are for people. Nothing
from an exception object (a driver message, a Stripe error body) is ever put in a response.
"""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec
import psycopg
import structlog
from litestar import MediaType, Request, Response
from litestar.exceptions import (
    HTTPException,
    MethodNotAllowedException,
    NotFoundException,
    SerializationException,
    ValidationException,
)
from litestar.openapi.datastructures import ResponseSpec
from litestar.status_codes import (
    HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    HTTP_500_INTERNAL_SERVER_ERROR,
)
from postgrest.exceptions import APIError

log = structlog.get_logger("sidecar.errors")


class ErrorDetail(msgspec.Struct, frozen=True):
    code: str
    message: str


class ErrorBody(msgspec.Struct, frozen=True):
    error: ErrorDetail


class SidecarError(Exception):
    """Base of the sidecar's own errors: each class knows its status, code and message."""

    status_code: ClassVar[int] = HTTP_500_INTERNAL_SERVER_ERROR
    code: ClassVar[str] = "internal_error"
    message: ClassVar[str] = "Something went wrong on our side."
    # Every code this class is raised with (documented in OpenAPI); `code` is the default.
    codes: ClassVar[tuple[str, ...]] = ()

    def __init__(self, message: str | None = None, *, code: str | None = None) -> None:
        self.detail = ErrorDetail(code=code or self.code, message=message or self.message)
        super().__init__(self.detail.message)


class NotAuthenticated(SidecarError):
    status_code = 401
    code = "invalid_token"
    codes = ("missing_token", "invalid_token", "token_expired")
    message = "A valid Supabase access token is required."


class SignUpRequired(SidecarError):
    status_code = 403
    code = "sign_up_required"
    message = "Create an account to buy lessons: a guest (anonymous) sign-in cannot make purchases."


class AccountDisabled(SidecarError):
    """A banned or deleted learner whose access token has not expired yet."""

    status_code = 403
    code = "account_disabled"
    message = "This account cannot make purchases: it has been suspended or deleted."


class RequestTimeout(SidecarError):
    status_code = 408
    code = "request_timeout"
    message = "The request was not received in time."


class NotFound(SidecarError):
    status_code = 404
    code = "not_found"
    codes = ("unknown_lesson", "checkout_session_not_found")
    message = "Not found."


class AlreadyOwned(SidecarError):
    status_code = 409
    code = "already_owned"
    message = "You already own this lesson."


class FreeLesson(SidecarError):
    status_code = 422
    code = "free_lesson"
    message = "This lesson is free; there is nothing to pay."


class InvalidBody(SidecarError):
    status_code = 422
    code = "invalid_body"
    message = 'The body must be JSON like {"lesson_id": "<lesson uuid>"}.'


class BadRequest(SidecarError):
    status_code = 400
    code = "bad_request"
    message = "The request could not be understood."


class BadSignature(SidecarError):
    status_code = 400
    code = "bad_signature"
    codes = ("missing_signature", "bad_signature", "invalid_payload")
    message = "The Stripe-Signature header does not match this payload."


class PayloadTooLarge(SidecarError):
    status_code = 413
    code = "payload_too_large"
    message = "The request body is too large."


class PaymentProviderError(SidecarError):
    status_code = 502
    code = "payment_provider_error"
    message = "The payment provider could not be reached or refused the request."


class ServiceUnavailable(SidecarError):
    status_code = 503
    code = "service_unavailable"
    codes = ("jwks_unavailable",)
    message = "A service the sidecar depends on is unavailable; try again shortly."


class DatabaseUnavailable(ServiceUnavailable):
    code = "database_unavailable"
    codes = ("database_unavailable",)
    message = "The database cannot be reached right now; try again shortly."


def error_response(
    status_code: int, detail: ErrorDetail, headers: dict[str, str] | None = None
) -> Response[ErrorBody]:
    return Response(
        ErrorBody(error=detail),
        status_code=status_code,
        media_type=MediaType.JSON,
        headers=headers,
    )


def log_sidecar_error(exc: SidecarError) -> None:
    if exc.status_code >= 500:
        log.warning("request_failed", code=exc.detail.code, status=exc.status_code)


def handle_sidecar_error(_: Request[Any, Any, Any], exc: SidecarError) -> Response[ErrorBody]:
    log_sidecar_error(exc)
    # A client too slow to send its body is not read any further: the server closes.
    headers = {"connection": "close"} if isinstance(exc, RequestTimeout) else None
    return error_response(exc.status_code, exc.detail, headers=headers)


def handle_http_exception(
    request: Request[Any, Any, Any], exc: HTTPException
) -> Response[ErrorBody]:
    """Litestar's own errors (routing, body validation, size limit) in the sidecar's shape."""
    if isinstance(exc, ValidationException) or isinstance(exc.__cause__, SerializationException):
        # Not JSON, a missing or malformed lesson_id, an unknown field: the body is wrong.
        return handle_sidecar_error(request, InvalidBody())
    if exc.status_code == HTTP_413_REQUEST_ENTITY_TOO_LARGE:
        return handle_sidecar_error(request, PayloadTooLarge())
    if isinstance(exc, NotFoundException):
        detail = ErrorDetail(code="not_found", message="No such route.")
    elif isinstance(exc, MethodNotAllowedException):
        detail = ErrorDetail(code="method_not_allowed", message="Method not allowed on this route.")
    elif exc.status_code >= 500:
        return handle_unexpected(request, exc)
    else:
        detail = BadRequest().detail
    return error_response(exc.status_code, detail, headers=exc.headers)


def handle_unexpected(_: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    log_unexpected(exc)
    return error_response(HTTP_500_INTERNAL_SERVER_ERROR, SidecarError().detail)


def log_unexpected(exc: Exception) -> None:
    """What an unexpected error leaves in the log (never a database error's message)."""
    sqlstate = _sqlstate(exc)
    if sqlstate is not None:
        # A database error's message, detail and CONTEXT quote the data it choked on (a
        # buyer's name, a fragment of a payload): log what failed, never those.
        log.error("unhandled_database_error", exc_type=type(exc).__name__, sqlstate=sqlstate)
    else:
        log.error("unhandled_exception", exc_type=type(exc).__name__, exc_info=exc)


def _sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a psycopg or PostgREST error, '?' for one without; None for the rest."""
    if isinstance(exc, psycopg.Error):
        return exc.sqlstate or "?"
    if isinstance(exc, APIError):
        return str(exc.code or "?")
    return None


EXCEPTION_HANDLERS = {
    SidecarError: handle_sidecar_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}


def error_responses(*errors: type[SidecarError]) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the errors a handler can answer with (one per status code)."""
    by_status: dict[int, list[str]] = {}
    for error in errors:
        by_status.setdefault(error.status_code, []).extend(error.codes or (error.code,))
    return {
        status: ResponseSpec(
            data_container=ErrorBody,
            description="Error; error.code is one of: " + ", ".join(codes),
            generate_examples=False,
        )
        for status, codes in by_status.items()
    }
