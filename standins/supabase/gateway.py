"""The API gateway's part: every request shows a project API key before GoTrue or PostgREST
sees it, and `Authorization` defaults to that key (Supabase's gateway adds it when absent)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jwt
from litestar import Request
from litestar.di import NamedDependency

from standins.supabase import tokens
from standins.supabase.config import StandInConfig
from standins.supabase.errors import GatewayError


@dataclass(frozen=True)
class Caller:
    api_key_role: str
    # The bearer token to act as: the user's access token, or the API key itself.
    token: str


def bearer_token(request: Request[Any, Any, Any]) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def caller(request: Request[Any, Any, Any], config: NamedDependency[StandInConfig]) -> Caller:
    key = request.headers.get("apikey") or request.query_params.get("apikey")
    if not key:
        raise GatewayError(
            "No API key found in request",
            "No `apikey` request header or url param was found.",
        )
    try:
        role = tokens.decode(key, config.jwt_secret).get("role")
    except jwt.PyJWTError:
        role = None
    if role not in tokens.API_KEY_ROLES:
        raise GatewayError(
            "Invalid API key", "Double check your Supabase `anon` or `service_role` API key."
        )
    return Caller(api_key_role=str(role), token=bearer_token(request) or key)


ConfigDep = NamedDependency[StandInConfig]
CallerDep = NamedDependency[Caller]  # the gateway's verdict, injected into every API handler
