"""`/auth/v1/admin`: the part of GoTrue's admin API this project calls, deleting a user
(supabase-js `auth.admin.deleteUser(id)`, from a server with the secret key; supabase-js reads
the user first with `GET /admin/users/{id}`, so that is here too).

From supabase/auth `internal/api/admin.go` (adminUserGet, adminUserDelete, loadUser) and
`auth.go` (requireAdminCredentials, requireAdmin): the bearer token must be a valid JWT whose
role is one of GoTrue's admin roles (`service_role`, `supabase_admin`), else 403 `not_admin`
"User not allowed" (or 403 `bad_jwt` for a token that does not verify); an id that is not a
UUID is 404 `validation_failed`, an unknown one 404 `user_not_found` "User not found". A hard
delete removes the auth.users row (sessions, refresh tokens and identities go with it; the
project's own foreign keys decide what else does) and answers 200 `{}`.
`{"should_soft_delete": true}` keeps the row with `deleted_at` set and the email, phone,
password, tokens and metadata cleared, and signs the user out everywhere.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

import jwt
from litestar import Response, Router, delete, get
from litestar.di import Provide
from litestar.params import FromPath

from standins.supabase import users
from standins.supabase.auth import AnyRequest, _database_error, _json_response, _pool
from standins.supabase.database import UNREACHABLE, transaction
from standins.supabase.errors import AuthError
from standins.supabase.gateway import CallerDep, caller, signing_keys

ADMIN_ROLES = ("service_role", "supabase_admin")


def _require_admin(request: AnyRequest, token: str) -> None:
    try:
        claims = signing_keys(request).verify(token)
    except jwt.PyJWTError as exc:
        raise AuthError(
            403, "bad_jwt", f"invalid JWT: unable to parse or verify signature, {exc}"
        ) from None
    if claims.get("role") not in ADMIN_ROLES:
        raise AuthError(403, "not_admin", "User not allowed")


def _obfuscated(user_id: uuid.UUID, value: str) -> str:
    # GoTrue's obfuscateValue: a hash that no longer reads as the address
    return hashlib.sha256(f"{user_id}{value}".encode()).hexdigest() if value else ""


def _user_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise AuthError(404, "validation_failed", "user_id must be an UUID") from None


@get("/admin/users/{user_id:str}")
async def get_user(request: AnyRequest, user_id: FromPath[str], gate: CallerDep) -> Response[bytes]:
    """A user, as GoTrue's adminUserGet answers; service role only."""
    _require_admin(request, gate.token)
    target = _user_id(user_id)
    try:
        async with transaction(_pool(request)) as conn:
            user = await users.find_user(conn, target)
    except UNREACHABLE:
        raise _database_error() from None
    if user is None:
        raise AuthError(404, "user_not_found", "User not found")
    return _json_response(users.user_json(user))


@delete("/admin/users/{user_id:str}", status_code=200)
async def delete_user(
    request: AnyRequest, user_id: FromPath[str], gate: CallerDep
) -> Response[bytes]:
    """Delete a user (or soft-delete with `should_soft_delete`); service role only."""
    _require_admin(request, gate.token)
    target = _user_id(user_id)
    raw = await request.body()
    soft = False
    if raw.strip():
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise AuthError(
                400, "bad_json", f"Could not parse request body as JSON: {exc}"
            ) from None
        if not isinstance(body, dict):
            raise AuthError(400, "bad_json", "Could not parse request body as JSON")
        soft = body.get("should_soft_delete") is True
    try:
        async with transaction(_pool(request)) as conn:
            cur = await conn.execute(
                "select email, phone, email_change, deleted_at from auth.users"
                " where id = %s for update",
                (target,),
            )
            found: tuple[Any, ...] | None = await cur.fetchone()
            if found is None:
                raise AuthError(404, "user_not_found", "User not found")
            email, phone, email_change, deleted_at = found
            await conn.execute("delete from auth.refresh_tokens where user_id = %s", (str(target),))
            await conn.execute("delete from auth.flow_state where user_id = %s", (target,))
            if not soft:
                await conn.execute("delete from auth.users where id = %s", (target,))
            elif deleted_at is None:
                await conn.execute(
                    "update auth.users set email = %s, phone = nullif(%s, ''),"
                    " email_change = %s, encrypted_password = null, confirmation_token = '',"
                    " recovery_token = '', email_change_token_current = '',"
                    " email_change_token_new = '', phone_change_token = '',"
                    " raw_user_meta_data = '{}', deleted_at = now() where id = %s",
                    (
                        _obfuscated(target, email or ""),
                        _obfuscated(target, phone or ""),
                        _obfuscated(target, email_change or ""),
                        target,
                    ),
                )
                await conn.execute("delete from auth.sessions where user_id = %s", (target,))
    except UNREACHABLE:
        raise _database_error() from None
    return _json_response({})


# under /auth/v1 beside auth.ROUTER, behind the same API-key gate
ROUTER = Router(
    path="/auth/v1",
    route_handlers=[get_user, delete_user],
    dependencies={"gate": Provide(caller, sync_to_thread=False)},
)
