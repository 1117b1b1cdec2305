"""Password recovery as GoTrue does it: `POST /recover` mails a link, `POST /verify` trades the
link's token hash (or the mailed code) for a session, once; `GET /verify` (the default
template's link) does it by redirect, handing a PKCE client a code for `grant_type=pkce`.

From supabase/auth `internal/api/recover.go`, `mail.go` and `verify.go`: the mailed code is six
digits, the stored token is the SHA-224 of email and code (prefixed `pkce_` when the client
sent a PKCE code challenge, as supabase-js does in the PKCE flow), an unknown address still
answers 200 `{}` (no account enumeration), a second request within `max_frequency` is 429, and
verifying clears the token: a link used twice, expired, or for a user since deleted is 403
`otp_expired` "Email link is invalid or has expired"; a banned user's, 403 `user_banned`.
The session it issues is a sign-in like any other (the `amr` method is `otp`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from litestar import Response, Router, get, post
from litestar.di import Provide
from litestar.response import Redirect
from psycopg import AsyncConnection
from psycopg.rows import dict_row

from standins.supabase import users
from standins.supabase.auth import (
    EMAIL,
    AnyRequest,
    _body,
    _database_error,
    _json_response,
    _pool,
    _session_response,
)
from standins.supabase.config import StandInConfig
from standins.supabase.database import UNREACHABLE, transaction
from standins.supabase.errors import AuthError
from standins.supabase.gateway import CallerDep, ConfigDep, caller
from standins.supabase.mail import MailNotSent, send

PKCE_PREFIX = "pkce_"
EXPIRED = "Email link is invalid or has expired"
VERIFY_TYPES = ("signup", "invite", "magiclink", "recovery", "email_change", "email")


def token_hash(email: str, otp: str) -> str:
    """GoTrue's crypto.GenerateTokenHash."""
    return hashlib.sha224((email + otp).encode()).hexdigest()


def _check_pkce(body: dict[str, Any]) -> bool:
    """GoTrue's validatePKCEParams: both or neither; whether this is the PKCE flow."""
    challenge = body.get("code_challenge") or ""
    method = body.get("code_challenge_method") or ""
    if not challenge and not method:
        return False
    if not challenge or not method:
        raise AuthError(
            400,
            "validation_failed",
            "PKCE flow requires code_challenge_method and code_challenge",
        )
    if str(method).lower() not in ("s256", "plain"):
        raise AuthError(400, "validation_failed", f"code challenge method {method} not supported")
    if not isinstance(challenge, str) or not 43 <= len(challenge) <= 128:
        raise AuthError(
            400, "validation_failed", "code challenge has to be between 43 and 128 characters"
        )
    return True


def _redirect_to(request: AnyRequest, site_url: str, allowed: tuple[str, ...]) -> str:
    """GoTrue's GetReferrer: `redirect_to` when it is the site or an allowed URL, else the site."""
    wanted = request.query_params.get("redirect_to") or ""
    for base in (site_url, *allowed):
        if wanted and wanted.rstrip("/").startswith(base.rstrip("/")):
            return wanted
    return site_url


@post("/recover", status_code=200)
async def recover(request: AnyRequest, config: ConfigDep, gate: CallerDep) -> Response[bytes]:
    """Mail a password recovery link (and code) to the address, if it has an account."""
    body = await _body(request)
    email = str(body.get("email") or "").strip().lower()
    if not email:
        raise AuthError(400, "validation_failed", "Password recovery requires an email")
    if not EMAIL.match(email):
        raise AuthError(
            400, "validation_failed", "Unable to validate email address: invalid format"
        )
    pkce = _check_pkce(body)
    redirect_to = _redirect_to(request, config.site_url, config.additional_redirect_urls)
    try:
        async with transaction(_pool(request)) as conn:
            async with conn.cursor(row_factory=dict_row) as cur:
                await cur.execute(
                    "select id, email, recovery_sent_at from auth.users"
                    " where email = %s and is_sso_user = false and deleted_at is null"
                    " for update",
                    (email,),
                )
                user = await cur.fetchone()
            if user is None:
                return _json_response({})
            sent_at: datetime | None = user["recovery_sent_at"]
            wait = config.email_max_frequency_seconds
            if sent_at is not None and datetime.now(UTC) - sent_at < timedelta(seconds=wait):
                left = wait - int((datetime.now(UTC) - sent_at).total_seconds())
                raise AuthError(
                    429,
                    "over_email_send_rate_limit",
                    f"For security purposes, you can only request this after {left} seconds.",
                )
            otp = f"{secrets.randbelow(10**6):06d}"
            stored = (PKCE_PREFIX if pkce else "") + token_hash(email, otp)
            await conn.execute(
                "update auth.users set recovery_token = %s, recovery_sent_at = now(),"
                " updated_at = now() where id = %s",
                (stored, user["id"]),
            )
            if pkce:
                # generateFlowState: the challenge waits for the code GET /verify will issue
                await conn.execute(
                    "insert into auth.flow_state (id, user_id, auth_code, code_challenge_method,"
                    " code_challenge, provider_type, authentication_method, created_at,"
                    " updated_at) values (%s, %s, %s, %s, %s, 'recovery', 'recovery', now(),"
                    " now())",
                    (
                        uuid.uuid4(),
                        user["id"],
                        str(uuid.uuid4()),
                        str(body["code_challenge_method"]).lower(),
                        body["code_challenge"],
                    ),
                )
            if config.mail_outbox_url:
                verify_link = f"{config.issuer}/verify?" + urlencode(
                    {"token": stored, "type": "recovery", "redirect_to": redirect_to}
                )
                subject, body_html = config.recovery_template.render(
                    {
                        "SiteURL": config.site_url,
                        "ConfirmationURL": verify_link,
                        "Email": email,
                        "Token": otp,
                        "TokenHash": stored,
                        "RedirectTo": redirect_to,
                    }
                )
                try:
                    await send(config.mail_outbox_url, email, subject, body_html)
                except MailNotSent:
                    # the transaction rolls back: no token stored for a mail never sent
                    raise AuthError(
                        500, "unexpected_failure", "Error sending recovery email"
                    ) from None
    except UNREACHABLE:
        raise _database_error() from None
    return _json_response({})


async def _spend_recovery_token(
    conn: AsyncConnection[Any], config: StandInConfig, given_hash: str, email: str, otp: str
) -> uuid.UUID:
    """GoTrue's verifyTokenHash (or verifyUserAndToken) and recoverVerify: the user whose
    recovery token this is, once; the token is spent."""
    async with conn.cursor(row_factory=dict_row) as cur:
        if given_hash:
            await cur.execute(
                "select id, recovery_sent_at, coalesce(banned_until > now(), false)"
                " as banned from auth.users where recovery_token = %s"
                " and deleted_at is null for update",
                (given_hash,),
            )
        else:
            hashed = token_hash(email, otp)
            await cur.execute(
                "select id, recovery_sent_at, coalesce(banned_until > now(), false)"
                " as banned from auth.users where email = %s and deleted_at is null"
                " and recovery_token in (%s, %s) for update",
                (email, hashed, PKCE_PREFIX + hashed),
            )
        found = await cur.fetchone()
    if found is None:
        raise AuthError(403, "otp_expired", EXPIRED)
    if found["banned"]:
        raise AuthError(403, "user_banned", "User is banned")
    sent_at: datetime | None = found["recovery_sent_at"]
    if sent_at is None or datetime.now(UTC) > sent_at + timedelta(
        seconds=config.otp_expiry_seconds
    ):
        raise AuthError(403, "otp_expired", EXPIRED)
    user_id: uuid.UUID = found["id"]
    # user.Recover: the token is spent; an unconfirmed address is confirmed by using it
    await conn.execute(
        "update auth.users set recovery_token = '',"
        " email_confirmed_at = coalesce(email_confirmed_at, now()), updated_at = now()"
        " where id = %s",
        (user_id,),
    )
    return user_id


@post("/verify", status_code=200)
async def verify(request: AnyRequest, config: ConfigDep, gate: CallerDep) -> Response[bytes]:
    """Trade a mailed recovery token hash (or the email and its code) for a session."""
    body = await _body(request)
    kind = body.get("type")
    given_hash = body.get("token_hash") or ""
    otp = body.get("token") or ""
    email = str(body.get("email") or "").strip().lower()
    if not kind:
        raise AuthError(400, "validation_failed", "Verify requires a verification type")
    if not given_hash and not otp:
        raise AuthError(400, "validation_failed", "Verify requires a token or a token hash")
    if given_hash and otp:
        raise AuthError(400, "validation_failed", "Verify requires either a token or a token hash")
    if otp and not email:
        raise AuthError(
            400, "validation_failed", "Only an email address or phone number should be provided"
        )
    if kind not in VERIFY_TYPES or not isinstance(given_hash, str) or not isinstance(otp, str):
        raise AuthError(400, "validation_failed", "Invalid email verification type")
    if kind not in ("recovery", "email_change"):
        # the stand-in mails nothing else, so no other kind of token can exist
        raise AuthError(403, "otp_expired", EXPIRED)
    try:
        async with transaction(_pool(request)) as conn:
            if kind == "email_change":
                from standins.supabase import email_change  # it imports this module

                changed = await email_change.verify(conn, config, given_hash, email, otp)
                if changed is None:
                    return _json_response({"msg": email_change.SINGLE_CONFIRMATION, "code": "200"})
                user_id = changed
            else:
                user_id = await _spend_recovery_token(conn, config, given_hash, email, otp)
            session = await users.start_session(conn, user_id)
            user = await users.find_user(conn, user_id)
    except UNREACHABLE:
        raise _database_error() from None
    assert user is not None
    return _json_response(_session_response(request, config, user, session, method="otp"))


OAUTH_ERRORS = {
    400: "invalid_request",
    401: "unauthorized_client",
    403: "access_denied",
    500: "server_error",
}


def _with(
    url: str, *, query: dict[str, str] | None = None, fragment: dict[str, str] | None = None
) -> str:
    parts = urlsplit(url)
    merged = {**dict(parse_qsl(parts.query)), **(query or {})}
    return urlunsplit(
        (parts.scheme, parts.netloc, parts.path, urlencode(merged), urlencode(fragment or {}))
    )


@get("/verify", status_code=303)
async def verify_link(request: AnyRequest, config: ConfigDep, gate: CallerDep) -> Redirect:
    """The default template's link (`{{ .ConfirmationURL }}`): spends the token, then redirects
    to `redirect_to` with the session in the fragment (implicit flow) or `?code=` to exchange
    (PKCE: a `pkce_` token); a refusal redirects there with `error`, `error_code` and
    `error_description` (in the query too for PKCE), as GoTrue's verifyGet."""
    token = request.query_params.get("token") or ""
    kind = request.query_params.get("type") or ""
    redirect_to = _redirect_to(request, config.site_url, config.additional_redirect_urls)
    pkce = token.startswith(PKCE_PREFIX)
    if not kind:
        raise AuthError(400, "validation_failed", "Verify requires a verification type")
    if not token:
        raise AuthError(400, "validation_failed", "Verify requires a token or a token hash")
    try:
        async with transaction(_pool(request)) as conn:
            if kind != "recovery":
                raise AuthError(403, "otp_expired", EXPIRED)
            user_id = await _spend_recovery_token(conn, config, token, "", "")
            if pkce:
                cur = await conn.execute(
                    "update auth.flow_state set auth_code_issued_at = now(), updated_at = now()"
                    " where id = (select id from auth.flow_state where user_id = %s and"
                    " authentication_method = 'recovery' order by created_at desc limit 1)"
                    " returning auth_code",
                    (user_id,),
                )
                row = await cur.fetchone()
                if row is None:
                    raise AuthError(
                        422, "flow_state_not_found", "No valid flow state found for user."
                    )
                return Redirect(_with(redirect_to, query={"code": row[0]}), status_code=303)
            session = await users.start_session(conn, user_id)
            user = await users.find_user(conn, user_id)
    except UNREACHABLE:
        raise _database_error() from None
    except AuthError as refused:
        error = {
            **({"error": OAUTH_ERRORS[refused.status]} if refused.status in OAUTH_ERRORS else {}),
            "error_code": refused.error_code,
            "error_description": refused.message,
        }
        return Redirect(
            _with(redirect_to, query=error if pkce else None, fragment={**error, "sb": ""}),
            status_code=303,
        )
    assert user is not None
    body = _session_response(request, config, user, session, method="otp")
    fragment = {
        key: str(body[key])
        for key in ("access_token", "expires_at", "expires_in", "refresh_token", "token_type")
    }
    return Redirect(_with(redirect_to, fragment={**fragment, "type": "recovery"}), status_code=303)


async def pkce_grant(
    request: AnyRequest, config: StandInConfig, body: dict[str, Any]
) -> dict[str, Any]:
    """`POST /token?grant_type=pkce` {auth_code, code_verifier}: GoTrue's PKCE handler."""
    auth_code = body.get("auth_code") or ""
    verifier = body.get("code_verifier") or ""
    if (
        not isinstance(auth_code, str)
        or not isinstance(verifier, str)
        or not auth_code
        or not verifier
    ):
        raise AuthError(
            400,
            "validation_failed",
            "invalid request: both auth code and code verifier should be non-empty",
        )
    async with transaction(_pool(request)) as conn:
        async with conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(
                "select id, user_id, code_challenge, code_challenge_method::text as method,"
                " created_at from auth.flow_state where auth_code = %s for update",
                (auth_code,),
            )
            flow = await cur.fetchone()
        if flow is None or flow["user_id"] is None:
            raise AuthError(
                404, "flow_state_not_found", "invalid flow state, no valid flow state found"
            )
        if datetime.now(UTC) > flow["created_at"] + timedelta(
            seconds=config.flow_state_expiry_seconds
        ):
            raise AuthError(422, "flow_state_expired", "invalid flow state, flow state has expired")
        if flow["method"] == "s256":
            digest = hashlib.sha256(verifier.encode()).digest()
            computed = base64.urlsafe_b64encode(digest).decode().rstrip("=")
        else:
            computed = verifier
        if not hmac.compare_digest(computed, flow["code_challenge"]):
            raise AuthError(
                400,
                "bad_code_verifier",
                "code challenge does not match previously saved code verifier",
            )
        await conn.execute("delete from auth.flow_state where id = %s", (flow["id"],))
        session = await users.start_session(conn, flow["user_id"])
        user = await users.find_user(conn, flow["user_id"])
    assert user is not None
    return _session_response(request, config, user, session, method="otp")


# under /auth/v1 beside auth.ROUTER, behind the same API-key gate
ROUTER = Router(
    path="/auth/v1",
    route_handlers=[recover, verify, verify_link],
    dependencies={"gate": Provide(caller, sync_to_thread=False)},
)
