"""JWTs as Supabase uses them: HS256 with the project's secret, for API keys and sessions."""

from __future__ import annotations

import time
from typing import Any

import jwt

ALGORITHM = "HS256"
# Roles PostgREST may switch to for a request; the gateway accepts API keys of the first and last.
API_ROLES = ("anon", "authenticated", "service_role")
API_KEY_ROLES = ("anon", "service_role")


def api_key(secret: str, role: str, *, expires_at: int = 1983812996) -> str:
    """An API key like the Supabase CLI's local keys (iss supabase-demo, a role, a far exp)."""
    return jwt.encode({"iss": "supabase-demo", "role": role, "exp": expires_at}, secret, ALGORITHM)


def decode(token: str, secret: str) -> dict[str, Any]:
    """The verified claims; raises jwt.PyJWTError. Audience is not checked: API keys have none,
    and neither PostgREST (no jwt-aud set on Supabase) nor GoTrue checks it."""
    claims: dict[str, Any] = jwt.decode(
        token, secret, algorithms=[ALGORITHM], options={"verify_aud": False}
    )
    return claims


def access_token(claims: dict[str, Any], secret: str) -> str:
    return jwt.encode(claims, secret, ALGORITHM, headers={"typ": "JWT"})


def now() -> int:
    return int(time.time())
