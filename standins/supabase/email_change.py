"""A change of email address as GoTrue makes it (`PUT /user` with `email`, then `POST /verify`
with type `email_change`).

From supabase/auth `internal/api/user.go` (UserUpdate), `mail.go` (sendEmailChange),
`verify.go` (emailChangeVerify) and `internal/models/user.go` (ConfirmEmailChange): the new
address is kept in `email_change` with a token hash for it (SHA-224 of the new address and a
six-digit code, `pkce_`-prefixed for a PKCE client, which also gets a flow state); with secure
email change (config.toml's `double_confirm_changes`, on by default) the current address gets
a token of its own and a mail too. Verifying one of the two tokens while the other is still
out answers 200 `{"msg": "Confirmation link accepted. Please proceed to confirm link sent to
the other email", "code": "200"}` and spends that token; the last one makes the change (the
email identity follows) and signs the learner in. A used, unknown or expired token is 403
`otp_expired`; a second request within `max_frequency` is 429; an address another account
holds is 422 `email_exists`.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from standins.supabase.config import StandInConfig
from standins.supabase.errors import AuthError
from standins.supabase.mail import MailNotSent, send

PKCE_PREFIX = "pkce_"
EXPIRED = "Email link is invalid or has expired"
SINGLE_CONFIRMATION = (
    "Confirmation link accepted. Please proceed to confirm link sent to the other email"
)


async def request_change(
    conn: AsyncConnection[Any],
    config: StandInConfig,
    user: dict[str, Any],
    new_email: str,
    pkce: bool,
    code_challenge: tuple[str, str] | None,
    redirect_to: str,
) -> None:
    """Store the pending change and mail its link(s); GoTrue's sendEmailChange."""
    from standins.supabase.recovery import token_hash  # recovery imports this module

    user_id = uuid.UUID(str(user["id"]))
    cur = await conn.execute(
        "select 1 from auth.users where email = %s and is_sso_user = false and id <> %s",
        (new_email, user_id),
    )
    if await cur.fetchone() is not None:
        raise AuthError(
            422, "email_exists", "A user with this email address has already been registered"
        )
    sent_at: datetime | None = user.get("email_change_sent_at")
    wait = config.email_max_frequency_seconds
    if sent_at is not None and datetime.now(UTC) - sent_at < timedelta(seconds=wait):
        left = wait - int((datetime.now(UTC) - sent_at).total_seconds())
        raise AuthError(
            429,
            "over_email_send_rate_limit",
            f"For security purposes, you can only request this after {left} seconds.",
        )
    prefix = PKCE_PREFIX if pkce else ""
    current_email = str(user["email"] or "")
    otp_new = f"{secrets.randbelow(10**6):06d}"
    token_new = prefix + token_hash(new_email, otp_new)
    otp_current, token_current = "", ""
    if config.secure_email_change and current_email:
        otp_current = f"{secrets.randbelow(10**6):06d}"
        token_current = prefix + token_hash(current_email, otp_current)
    await conn.execute(
        "update auth.users set email_change = %s, email_change_token_new = %s,"
        " email_change_token_current = %s, email_change_confirm_status = 0,"
        " email_change_sent_at = now(), updated_at = now() where id = %s",
        (new_email, token_new, token_current, user_id),
    )
    if pkce and code_challenge is not None:
        method, challenge = code_challenge
        await conn.execute(
            "insert into auth.flow_state (id, user_id, auth_code, code_challenge_method,"
            " code_challenge, provider_type, authentication_method, created_at, updated_at)"
            " values (%s, %s, %s, %s, %s, 'email_change', 'email_change', now(), now())",
            (uuid.uuid4(), user_id, str(uuid.uuid4()), method, challenge),
        )
    if not config.mail_outbox_url:
        return
    mails = [(new_email, otp_new, token_new)]
    if token_current:
        mails.append((current_email, otp_current, token_current))
    for address, otp, stored in mails:
        link = f"{config.issuer}/verify?" + urlencode(
            {"token": stored, "type": "email_change", "redirect_to": redirect_to}
        )
        subject, body_html = config.email_change_template.render(
            {
                "SiteURL": config.site_url,
                "ConfirmationURL": link,
                "Email": current_email,
                "NewEmail": new_email,
                "Token": otp,
                "TokenHash": stored,
                "SendingTo": address,
                "RedirectTo": redirect_to,
            }
        )
        try:
            await send(config.mail_outbox_url, address, subject, body_html)
        except MailNotSent:
            # the transaction rolls back: no pending change for a mail never sent
            raise AuthError(500, "unexpected_failure", "Error sending email change email") from None


async def verify(
    conn: AsyncConnection[Any], config: StandInConfig, given_hash: str, email: str, otp: str
) -> uuid.UUID | None:
    """Spend one email change token: None while the other address's link is still out
    (single confirmation), else the user whose address has now changed."""
    from standins.supabase.recovery import token_hash  # recovery imports this module

    columns = (
        "id, email, email_change, email_change_token_new, email_change_token_current,"
        " email_change_confirm_status, email_change_sent_at,"
        " coalesce(banned_until > now(), false) as banned"
    )
    async with conn.cursor(row_factory=dict_row) as cur:
        if given_hash:
            await cur.execute(
                f"select {columns} from auth.users where deleted_at is null"  # noqa: S608
                " and (email_change_token_current = %(h)s or email_change_token_new = %(h)s)"
                " for update",
                {"h": given_hash},
            )
        else:
            hashed = token_hash(email, otp)
            await cur.execute(
                f"select {columns} from auth.users where deleted_at is null"  # noqa: S608
                " and ((email = %(e)s and email_change_token_current in (%(h)s, %(p)s))"
                " or (email_change = %(e)s and email_change_token_new in (%(h)s, %(p)s)))"
                " for update",
                {"e": email, "h": hashed, "p": PKCE_PREFIX + hashed},
            )
        found = await cur.fetchone()
    if found is None:
        raise AuthError(403, "otp_expired", EXPIRED)
    if found["banned"]:
        raise AuthError(403, "user_banned", "User is banned")
    sent_at: datetime | None = found["email_change_sent_at"]
    if sent_at is None or datetime.now(UTC) > sent_at + timedelta(
        seconds=config.otp_expiry_seconds
    ):
        raise AuthError(403, "otp_expired", EXPIRED)
    user_id: uuid.UUID = found["id"]
    spent = given_hash or next(
        t
        for t in (found["email_change_token_current"], found["email_change_token_new"])
        if t and t.removeprefix(PKCE_PREFIX) == token_hash(email, otp)
    )
    if (
        config.secure_email_change
        and found["email_change_confirm_status"] == 0
        and found["email"]
        and found["email_change_token_current"]
        and found["email_change_token_new"]
    ):
        column = (
            "email_change_token_current"
            if spent == found["email_change_token_current"]
            else "email_change_token_new"
        )
        await conn.execute(
            f"update auth.users set {column} = '', email_change_confirm_status = 1,"  # noqa: S608
            " updated_at = now() where id = %s",
            (user_id,),
        )
        return None
    new_email = found["email_change"]
    await conn.execute(
        "update auth.users set email = %s, email_change = '', email_change_token_new = '',"
        " email_change_token_current = '', email_change_confirm_status = 0,"
        " email_confirmed_at = coalesce(email_confirmed_at, now()), updated_at = now()"
        " where id = %s",
        (new_email, user_id),
    )
    await conn.execute(
        "update auth.identities set identity_data = identity_data || %s, updated_at = now()"
        " where user_id = %s and provider = 'email'",
        (Jsonb({"email": new_email, "email_verified": True}), user_id),
    )
    return user_id
