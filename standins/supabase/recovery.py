"""Password recovery as GoTrue does it: `POST /recover` mails a link, `POST /verify` trades the
link's token hash (or the mailed code) for a session, once.

From supabase/auth `internal/api/recover.go`, `mail.go` and `verify.go`: the mailed code is six
digits, the stored token is the SHA-224 of email and code (prefixed `pkce_` when the client
sent a PKCE code challenge, as supabase-js does in the PKCE flow), an unknown address still
answers 200 `{}` (no account enumeration), a second request within `max_frequency` is 429, and
verifying clears the token: a link used twice, expired, or for a user since deleted is 403
`otp_expired` "Email link is invalid or has expired"; a banned user's, 403 `user_banned`.
The session it issues is a sign-in like any other (the `amr` method is `otp`).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from litestar import Response, Router, post
from litestar.di import Provide
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
    if kind != "recovery":
        # the stand-in mails nothing else, so no other kind of token can exist
        raise AuthError(403, "otp_expired", EXPIRED)
    try:
        async with transaction(_pool(request)) as conn:
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
            session = await users.start_session(conn, user_id)
            user = await users.find_user(conn, user_id)
    except UNREACHABLE:
        raise _database_error() from None
    assert user is not None
    return _json_response(_session_response(request, config, user, session, method="otp"))


# under /auth/v1 beside auth.ROUTER, behind the same API-key gate
ROUTER = Router(
    path="/auth/v1",
    route_handlers=[recover, verify],
    dependencies={"gate": Provide(caller, sync_to_thread=False)},
)
