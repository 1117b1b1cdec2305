"""storage-api's error answers: `{"statusCode", "code", "error", "message"}`.

`statusCode` (a string) is the error's own status; the HTTP status is 400 for every one of
them but 500s, as storage-api's error handler answers (`userStatusCode`), except where it sets
one itself (416 for a bad Range). Messages are storage-api's (internal/errors/codes.ts), and a
bad JWT's message is what jose says about it.
"""

from __future__ import annotations

import json
from typing import Any

import jwt
from litestar import Request, Response


class StorageError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        error: str | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.body = {
            "statusCode": str(status),
            "code": code,
            "error": error or code,
            "message": message,
        }
        self.http_status = http_status or (500 if status == 500 else 400)


def storage_error(_request: Request[Any, Any, Any], exc: StorageError) -> Response[bytes]:
    return Response(
        content=json.dumps(exc.body).encode(),
        status_code=exc.http_status,
        media_type="application/json; charset=utf-8",
    )


def no_such_key() -> StorageError:
    return StorageError(404, "NoSuchKey", "Object not found", error="not_found")


def no_such_bucket() -> StorageError:
    return StorageError(404, "NoSuchBucket", "Bucket not found", error="Bucket not found")


def invalid_key(key: str, reason: str | None = None) -> StorageError:
    # storage-api's path check appends why; mustBeValidKey names the key alone
    message = f"Invalid key: {key}" + (f" {reason}" if reason else "")
    return StorageError(400, "InvalidKey", message)


def access_denied(message: str) -> StorageError:
    return StorageError(403, "AccessDenied", message, error="Unauthorized")


def invalid_jwt(message: str) -> StorageError:
    return StorageError(400, "InvalidJWT", message)


def invalid_signature(message: str = "Invalid signature") -> StorageError:
    return StorageError(400, "InvalidSignature", message)


def invalid_parameter(name: str) -> StorageError:
    return StorageError(400, "InvalidParameter", f"Invalid Parameter {name}")


def invalid_range() -> StorageError:
    return StorageError(
        416, "InvalidRange", "invalid range provided", error="invalid_range", http_status=416
    )


def entity_too_large() -> StorageError:
    return StorageError(
        413,
        "EntityTooLarge",
        "The object exceeded the maximum allowed size",
        error="Payload too large",
    )


def key_already_exists() -> StorageError:
    return StorageError(409, "KeyAlreadyExists", "The resource already exists", error="Duplicate")


def invalid_mime_type(mime_type: str) -> StorageError:
    return StorageError(
        415, "InvalidMimeType", f"mime type {mime_type} is not supported", error="invalid_mime_type"
    )


def invalid_request(message: str) -> StorageError:
    """A request that fails the route's JSON schema (Fastify's validation error)."""
    return StorageError(400, "InvalidRequest", message, error="Error")


def not_found_route(method: str, url: str) -> StorageError:
    return StorageError(
        404, "InvalidRequest", f"Route {method}:{url} not found", error="Not Found", http_status=404
    )


def jwt_message(exc: jwt.PyJWTError) -> str:
    """What jose (storage-api's JWT library) says about the same fault."""
    if isinstance(exc, jwt.ExpiredSignatureError):
        return '"exp" claim timestamp check failed'
    if isinstance(exc, jwt.ImmatureSignatureError):
        return '"nbf" claim timestamp check failed'
    if isinstance(exc, jwt.InvalidSignatureError):
        return "signature verification failed"
    if isinstance(exc, jwt.InvalidAlgorithmError):
        return '"alg" (Algorithm) Header Parameter value not allowed'
    if isinstance(exc, jwt.DecodeError):
        return "Invalid Compact JWS"
    return str(exc) or "Invalid JWT"
