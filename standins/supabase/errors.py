"""The three error shapes a Supabase project answers with, one per layer that can refuse.

- the API gateway (Kong): `{"message", "hint"}`, for a missing or unknown `apikey`;
- GoTrue: `{"code": <status>, "error_code", "msg"}`, or `{"code": <error_code>, "message"}`
  when the client asks for API version 2024-01-01 (supabase-js/-py do), echoed back in
  `X-Supabase-Api-Version` as GoTrue's HandleResponseError does;
- PostgREST: `{"code", "details", "hint", "message"}` with a SQLSTATE or a PGRST code.
"""

from __future__ import annotations

import json
from typing import Any

from litestar import Request, Response

API_VERSION_HEADER = "X-Supabase-Api-Version"
API_VERSION_2024_01_01 = "2024-01-01"


class GatewayError(Exception):
    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class AuthError(Exception):
    """A GoTrue HTTPError: status, stable error code, human message."""

    def __init__(self, status: int, error_code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message
        self.extra = extra


class RestError(Exception):
    """A PostgREST error body with its status."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: object = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, object] = {
            "code": code,
            "details": details,
            "hint": hint,
            "message": message,
        }


def _json(body: object, status: int, headers: dict[str, str] | None = None) -> Response[bytes]:
    return Response(
        content=json.dumps(body).encode(),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def gateway_error(_request: Request[Any, Any, Any], exc: GatewayError) -> Response[bytes]:
    return _json({"message": exc.message, "hint": exc.hint}, 401)


def auth_error(request: Request[Any, Any, Any], exc: AuthError) -> Response[bytes]:
    # Dates compare as strings; anything older or malformed gets the initial shape.
    if request.headers.get(API_VERSION_HEADER, "") >= API_VERSION_2024_01_01:
        body: dict[str, Any] = {"code": exc.error_code, "message": exc.message, **exc.extra}
        return _json(body, exc.status, {API_VERSION_HEADER: API_VERSION_2024_01_01})
    legacy = {"code": exc.status, "error_code": exc.error_code, "msg": exc.message, **exc.extra}
    return _json(legacy, exc.status)


def rest_error(_request: Request[Any, Any, Any], exc: RestError) -> Response[bytes]:
    # PostgREST's errors are JSON with a charset, like its results.
    headers = {}
    if exc.status == 401:
        # PostgREST names the problem for OAuth-aware clients too (RFC 6750).
        headers["WWW-Authenticate"] = (
            f'Bearer error="invalid_token", error_description="{exc.body["message"]}"'
        )
    response = _json(exc.body, exc.status, headers)
    response.media_type = "application/json; charset=utf-8"
    return response
