"""API keys as Supabase's gateway knows them, and the time GoTrue stamps on tokens.

Two generations of API keys: opaque `sb_publishable_…` / `sb_secret_…` keys (projects
created today), compared exactly with the project's own; and the legacy `anon` /
`service_role` keys, long-lived HS256 JWTs signed with the project's JWT secret.
"""

from __future__ import annotations

import time

import jwt

# Roles PostgREST may switch to for a request; the gateway accepts API keys of the first and last.
API_ROLES = ("anon", "authenticated", "service_role")
API_KEY_ROLES = ("anon", "service_role")
OPAQUE_KEY_PREFIX = "sb_"


def api_key(secret: str, role: str, *, expires_at: int = 1983812996) -> str:
    """A legacy API key like the Supabase CLI's (iss supabase-demo, a role, a far exp)."""
    return jwt.encode({"iss": "supabase-demo", "role": role, "exp": expires_at}, secret, "HS256")


def is_opaque_key(value: str) -> bool:
    return value.startswith(OPAQUE_KEY_PREFIX)


def now() -> int:
    return int(time.time())
