"""`/auth/v1`: the part of GoTrue this project calls, over GoTrue's own tables.

Sign-up (confirmed at once, as with mailer_autoconfirm), the password and refresh-token
grants, reading and updating the signed-in user, logout, settings and health; password
recovery is in `recovery.py`. Bodies and
errors are GoTrue's; the rules (reuse interval, family revocation, session checks) follow
supabase/auth's handlers.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any, cast

import jwt
from litestar import Request, Response, Router, get, post, put
from litestar.di import Provide
from psycopg import AsyncConnection

from standins.supabase import tokens, users
from standins.supabase.config import StandInConfig
from standins.supabase.database import UNREACHABLE, transaction
from standins.supabase.errors import AuthError
from standins.supabase.gateway import CallerDep, ConfigDep, caller, signing_keys
from standins.supabase.signing import SigningKeys

# GoTrue's own check (internal/api/mail.go): something@something.tld, no spaces.
EMAIL = re.compile(r"^[^\s@]+@[^\s@]+\.[^\s@]+$")
AnyRequest = Request[Any, Any, Any]


def _json_response(body: object, status: int = 200) -> Response[bytes]:
    return Response(
        content=json.dumps(body).encode(), status_code=status, media_type="application/json"
    )


async def _body(request: AnyRequest) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw) if raw.strip() else {}
    except ValueError as exc:
        raise AuthError(400, "bad_json", f"Could not parse request body as JSON: {exc}") from None
    if not isinstance(body, dict):
        raise AuthError(400, "bad_json", "Could not parse request body as JSON")
    if _holds_nul(body):
        # Postgres cannot store a NUL character; refused here rather than as a database error
        raise AuthError(400, "validation_failed", "Request body must not contain NUL characters")
    return body


def _holds_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False


def _pool(request: AnyRequest) -> Any:
    return request.app.state.pool


def _session_response(
    request: AnyRequest,
    config: StandInConfig,
    user: dict[str, Any],
    session: users.Session,
    method: str = "password",
) -> dict[str, Any]:
    """GoTrue's AccessTokenResponse, with an access token carrying GoTrue's claims (`method`:
    how the session began, `password` or `otp` for a mailed link)."""
    body = users.user_json(user)
    issued = tokens.now()
    expires_at = issued + config.jwt_expiry_seconds
    claims = {
        "iss": config.issuer,
        "sub": body["id"],
        "aud": body["aud"],
        "exp": expires_at,
        "iat": issued,
        "email": body["email"],
        "phone": body["phone"],
        "app_metadata": body["app_metadata"],
        "user_metadata": body["user_metadata"],
        "role": body["role"],
        "aal": "aal1",
        "amr": [{"method": method, "timestamp": int(session.authenticated_at.timestamp())}],
        "session_id": str(session.id),
        "is_anonymous": body["is_anonymous"],
    }
    return {
        "access_token": signing_keys(request).sign(claims),
        "token_type": "bearer",
        "expires_in": config.jwt_expiry_seconds,
        "expires_at": expires_at,
        "refresh_token": session.refresh_token,
        "user": body,
    }


async def _signed_in_user(
    conn: AsyncConnection[Any], keys: SigningKeys, token: str
) -> tuple[dict[str, Any], uuid.UUID | None]:
    """GoTrue's requireAuthentication: a valid JWT naming an existing user and session."""
    try:
        claims = keys.verify(token)
    except jwt.ExpiredSignatureError:
        raise AuthError(
            403,
            "bad_jwt",
            "invalid JWT: unable to parse or verify signature, "
            "token has invalid claims: token is expired",
        ) from None
    except jwt.PyJWTError as exc:
        raise AuthError(
            403, "bad_jwt", f"invalid JWT: unable to parse or verify signature, {exc}"
        ) from None
    if not claims.get("sub"):
        raise AuthError(403, "bad_jwt", "invalid claim: missing sub claim")
    try:
        user_id = uuid.UUID(str(claims["sub"]))
    except ValueError:
        raise AuthError(400, "bad_jwt", "invalid claim: sub claim must be a UUID") from None
    user = await users.find_user(conn, user_id)
    if user is None:
        raise AuthError(403, "user_not_found", "User from sub claim in JWT does not exist")
    session_id: uuid.UUID | None = None
    if claims.get("session_id") and claims["session_id"] != str(uuid.UUID(int=0)):
        try:
            session_id = uuid.UUID(str(claims["session_id"]))
        except ValueError:
            raise AuthError(
                403, "bad_jwt", "invalid claim: session_id claim must be a UUID"
            ) from None
        if not await users.session_exists(conn, session_id):
            raise AuthError(
                403, "session_not_found", "Session from session_id claim in JWT does not exist"
            )
    return user, session_id


def _database_error() -> AuthError:
    return AuthError(500, "unexpected_failure", "Database error: the database cannot be reached")


@post("/signup", status_code=200)
async def signup(request: AnyRequest, config: ConfigDep, gate: CallerDep) -> Response[bytes]:
    """Create an email user, confirmed at once, and sign them in."""
    body = await _body(request)
    email = str(body.get("email") or "").strip().lower()
    password = body.get("password")
    data = body.get("data") or {}
    if not email:
        raise AuthError(400, "validation_failed", "To signup, please provide your email")
    if not EMAIL.match(email):
        raise AuthError(
            400, "validation_failed", "Unable to validate email address: invalid format"
        )
    if not isinstance(password, str) or not password:
        raise AuthError(400, "validation_failed", "Signup requires a valid password")
    if len(password) < config.password_min_length:
        raise AuthError(
            422,
            "weak_password",
            f"Password should be at least {config.password_min_length} characters.",
            weak_password={"reasons": ["length"]},
        )
    if not isinstance(data, dict):
        raise AuthError(400, "validation_failed", "data must be a JSON object")
    try:
        async with transaction(_pool(request)) as conn:
            # One sign-up per address at a time, so two racing requests cannot both pass.
            await conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (email,))
            if await users.email_taken(conn, email):
                raise AuthError(422, "user_already_exists", "User already registered")
            user_id = await users.create_user(conn, email, password, data)
            session = await users.start_session(conn, user_id)
            user = await users.find_user(conn, user_id)
    except UNREACHABLE:
        raise _database_error() from None
    assert user is not None
    return _json_response(_session_response(request, config, user, session))


@post("/token", status_code=200)
async def token(request: AnyRequest, config: ConfigDep, gate: CallerDep) -> Response[bytes]:
    """The password, refresh_token and pkce grants."""
    grant_type = request.query_params.get("grant_type")
    body = await _body(request)
    try:
        if grant_type == "password":
            return _json_response(await _password_grant(request, config, body))
        if grant_type == "refresh_token":
            return _json_response(await _refresh_grant(request, config, body))
        if grant_type == "pkce":
            from standins.supabase.recovery import pkce_grant  # recovery imports this module

            return _json_response(await pkce_grant(request, config, body))
    except UNREACHABLE:
        raise _database_error() from None
    raise AuthError(400, "validation_failed", "unsupported_grant_type")


async def _password_grant(
    request: AnyRequest, config: StandInConfig, body: dict[str, Any]
) -> dict[str, Any]:
    email = str(body.get("email") or "").strip().lower()
    password = body.get("password")
    if not isinstance(password, str) or not email:
        raise AuthError(400, "invalid_credentials", "Invalid login credentials")
    async with transaction(_pool(request)) as conn:
        found = await users.check_password(conn, email, password)
        if found.user_id is None:
            raise AuthError(400, "invalid_credentials", "Invalid login credentials")
        if found.banned:
            raise AuthError(400, "user_banned", "User is banned")
        session = await users.start_session(conn, found.user_id)
        user = await users.find_user(conn, found.user_id)
    assert user is not None
    return _session_response(request, config, user, session)


async def _refresh_grant(
    request: AnyRequest, config: StandInConfig, body: dict[str, Any]
) -> dict[str, Any]:
    refresh_token = body.get("refresh_token")
    if not isinstance(refresh_token, str) or not refresh_token:
        raise AuthError(400, "validation_failed", "refresh_token required")
    async with transaction(_pool(request)) as conn:
        outcome = await users.refresh(conn, refresh_token, config.refresh_token_reuse_interval)
        user = (
            await users.find_user(conn, outcome.user_id)
            if isinstance(outcome, users.Refreshed)
            else None
        )
    # Raised after the commit: a detected reuse must keep its family revocation.
    if outcome == "not_found":
        raise AuthError(
            400, "refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found"
        )
    if outcome == "already_used":
        raise AuthError(400, "refresh_token_already_used", "Invalid Refresh Token: Already Used")
    if outcome == "banned":
        raise AuthError(400, "user_banned", "Invalid Refresh Token: User Banned")
    assert isinstance(outcome, users.Refreshed)
    assert user is not None
    return _session_response(request, config, user, outcome.session)


@get("/user")
async def get_user(request: AnyRequest, config: ConfigDep, gate: CallerDep) -> Response[bytes]:
    """The signed-in user."""
    try:
        async with transaction(_pool(request)) as conn:
            user, _ = await _signed_in_user(conn, signing_keys(request), gate.token)
    except UNREACHABLE:
        raise _database_error() from None
    return _json_response(users.user_json(user))


@put("/user")
async def update_user(request: AnyRequest, config: ConfigDep, gate: CallerDep) -> Response[bytes]:
    """Update the signed-in user's metadata or password, or ask to change their email (mailed
    links confirm it: email_change.py); a phone change needs SMS, which the stand-in has not."""
    from standins.supabase import email_change  # it imports recovery, which imports this module
    from standins.supabase.recovery import _check_pkce, _redirect_to

    body = await _body(request)
    if body.get("phone"):
        raise AuthError(422, "validation_failed", "The devstack stand-in does not change phone")
    new_email = str(body.get("email") or "").strip().lower()
    if new_email and not EMAIL.match(new_email):
        raise AuthError(
            400, "validation_failed", "Unable to validate email address: invalid format"
        )
    pkce = _check_pkce(body) if new_email else False
    challenge = (
        (str(body["code_challenge_method"]).lower(), str(body["code_challenge"])) if pkce else None
    )
    data = body.get("data")
    password = body.get("password")
    if data is not None and not isinstance(data, dict):
        raise AuthError(400, "validation_failed", "data must be a JSON object")
    if password is not None and (
        not isinstance(password, str) or len(password) < config.password_min_length
    ):
        raise AuthError(
            422,
            "weak_password",
            f"Password should be at least {config.password_min_length} characters.",
            weak_password={"reasons": ["length"]},
        )
    try:
        async with transaction(_pool(request)) as conn:
            user, session_id = await _signed_in_user(conn, signing_keys(request), gate.token)
            user_id = uuid.UUID(str(user["id"]))
            if password is not None and await users.same_password(conn, user_id, password):
                raise AuthError(
                    422, "same_password", "New password should be different from the old password."
                )
            await users.update_user(conn, user_id, data, password)
            if password is not None:
                # UpdatePassword: whoever held the old password is signed out everywhere else
                await users.logout(conn, user_id, session_id, "others" if session_id else "global")
            if new_email and new_email != user["email"]:
                redirect_to = _redirect_to(
                    request, config.site_url, config.additional_redirect_urls
                )
                await email_change.request_change(
                    conn, config, user, new_email, pkce, challenge, redirect_to
                )
            updated = await users.find_user(conn, user_id)
    except UNREACHABLE:
        raise _database_error() from None
    assert updated is not None
    return _json_response(users.user_json(updated))


@post("/logout", status_code=204)
async def logout(request: AnyRequest, config: ConfigDep, gate: CallerDep) -> None:
    """Revoke the session (scope local), every session (global, the default) or the others."""
    scope = request.query_params.get("scope") or "global"
    if scope not in ("global", "local", "others"):
        raise AuthError(400, "validation_failed", f'Unsupported logout scope "{scope}"')
    try:
        async with transaction(_pool(request)) as conn:
            user, session_id = await _signed_in_user(conn, signing_keys(request), gate.token)
            await users.logout(
                conn, uuid.UUID(str(user["id"])), session_id, cast(users.LogoutScope, scope)
            )
    except UNREACHABLE:
        raise _database_error() from None


@get("/settings")
async def settings(config: ConfigDep, gate: CallerDep) -> dict[str, Any]:
    """GoTrue's public settings: email sign-up on and confirmed at once; nothing else."""
    providers = ("anonymous_users", "apple", "azure", "github", "google", "phone", "saml")
    return {
        "external": {"email": True, **dict.fromkeys(providers, False)},
        "disable_signup": False,
        "mailer_autoconfirm": True,
        "phone_autoconfirm": False,
        "sms_provider": "",
        "saml_enabled": False,
    }


@get("/health")
async def health(gate: CallerDep) -> dict[str, str]:
    """GoTrue's health answer."""
    return {
        "version": "devstack",
        "name": "GoTrue",
        "description": "GoTrue is a user registration and authentication API",
    }


@get("/.well-known/jwks.json")
async def jwks(request: AnyRequest) -> Response[bytes]:
    """The project's public signing keys; no API key needed, as on Supabase."""
    response = _json_response(signing_keys(request).jwks())
    # GoTrue lets clients cache the set for ten minutes.
    response.headers["Cache-Control"] = "public, max-age=600"
    return response


ROUTER = Router(
    path="/auth/v1",
    route_handlers=[signup, token, get_user, update_user, logout, settings, health, jwks],
    dependencies={"gate": Provide(caller, sync_to_thread=False)},
)
