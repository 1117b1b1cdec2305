"""Users, sessions and refresh tokens in GoTrue's own tables (auth.users, auth.identities,
auth.sessions, auth.refresh_tokens), written the way GoTrue writes them.

Every function takes a connection inside a transaction the caller opened, so a request's
reads and writes commit together. Passwords are bcrypt through pgcrypto (`crypt` with a `bf`
salt of cost 10 writes the same `$2a$10$…` hashes as GoTrue's bcrypt.DefaultCost).
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

INSTANCE_ID = uuid.UUID(int=0)
_TOKEN_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"  # noqa: S105  # not a secret

USER_SQL = """
select
  u.id, u.aud, u.role, u.email, u.email_confirmed_at, u.phone, u.phone_confirmed_at,
  u.confirmed_at, u.last_sign_in_at, u.raw_app_meta_data, u.raw_user_meta_data,
  u.banned_until, u.created_at, u.updated_at, u.is_anonymous, u.email_change,
  u.email_change_sent_at,
  coalesce(
    (
      select jsonb_agg(jsonb_build_object(
        'identity_id', i.id, 'id', i.provider_id, 'user_id', i.user_id,
        'identity_data', i.identity_data, 'provider', i.provider,
        'last_sign_in_at', i.last_sign_in_at, 'created_at', i.created_at,
        'updated_at', i.updated_at, 'email', i.email
      ) order by i.created_at)
      from auth.identities as i where i.user_id = u.id
    ),
    '[]'
  ) as identities
from auth.users as u
where u.id = %s
"""


def new_refresh_token() -> str:
    """GoTrue's refresh tokens: 12 random lower-case alphanumerics (crypto.SecureAlphanumeric)."""
    return "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(12))


def go_time(value: datetime | None) -> str | None:
    """RFC 3339 in UTC with a Z, as Go's encoding/json writes time.Time."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def user_json(row: dict[str, Any]) -> dict[str, Any]:
    """The user as GoTrue's models.User marshals it (omitempty fields left out when empty)."""
    body: dict[str, Any] = {
        "id": str(row["id"]),
        "aud": row["aud"] or "",
        "role": row["role"] or "",
        "email": row["email"] or "",
        "email_confirmed_at": go_time(row["email_confirmed_at"]),
        "phone": row["phone"] or "",
        "phone_confirmed_at": go_time(row["phone_confirmed_at"]),
        "confirmed_at": go_time(row["confirmed_at"]),
        "last_sign_in_at": go_time(row["last_sign_in_at"]),
        "app_metadata": row["raw_app_meta_data"] or {},
        "user_metadata": row["raw_user_meta_data"] or {},
        "identities": row["identities"],
        "new_email": row["email_change"] or None,
        "email_change_sent_at": go_time(row["email_change_sent_at"]),
        "banned_until": go_time(row["banned_until"]),
        "created_at": go_time(row["created_at"]),
        "updated_at": go_time(row["updated_at"]),
        "is_anonymous": bool(row["is_anonymous"]),
    }
    omit_empty = (
        "email_confirmed_at",
        "phone_confirmed_at",
        "confirmed_at",
        "last_sign_in_at",
        "new_email",
        "email_change_sent_at",
    )
    return {
        k: v for k, v in body.items() if v is not None or k not in (*omit_empty, "banned_until")
    }


async def find_user(conn: AsyncConnection[Any], user_id: uuid.UUID) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(USER_SQL, (user_id,))
        return await cur.fetchone()


async def email_taken(conn: AsyncConnection[Any], email: str) -> bool:
    cur = await conn.execute(
        "select 1 from auth.users where email = %s and is_sso_user = false", (email,)
    )
    return await cur.fetchone() is not None


async def create_user(
    conn: AsyncConnection[Any], email: str, password: str, data: dict[str, Any]
) -> uuid.UUID:
    """An email user, confirmed at once (mailer_autoconfirm), with its email identity."""
    user_id = uuid.uuid4()
    identity = {
        "sub": str(user_id),
        "email": email,
        "email_verified": True,
        "phone_verified": False,
    }
    await conn.execute(
        """
        insert into auth.users (
          instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
          raw_app_meta_data, raw_user_meta_data, created_at, updated_at
        ) values (
          %s, %s, 'authenticated', 'authenticated', %s,
          extensions.crypt(%s, extensions.gen_salt('bf', 10)), now(), %s, %s, now(), now()
        )
        """,
        (
            INSTANCE_ID,
            user_id,
            email,
            password,
            Jsonb({"provider": "email", "providers": ["email"]}),
            # GoTrue merges the identity's claims into user_metadata after the sign-up data.
            Jsonb({**data, **identity}),
        ),
    )
    await conn.execute(
        """
        insert into auth.identities (
          provider_id, user_id, identity_data, provider, last_sign_in_at, created_at, updated_at
        ) values (%s, %s, %s, 'email', now(), now(), now())
        """,
        (str(user_id), user_id, Jsonb(identity)),
    )
    return user_id


@dataclass(frozen=True)
class PasswordCheck:
    user_id: uuid.UUID | None
    banned: bool = False


async def check_password(conn: AsyncConnection[Any], email: str, password: str) -> PasswordCheck:
    cur = await conn.execute(
        """
        select id, coalesce(banned_until > now(), false)
        from auth.users
        where email = %s and is_sso_user = false and deleted_at is null
          and encrypted_password is not null and encrypted_password <> ''
          and encrypted_password = extensions.crypt(%s, encrypted_password)
        """,
        (email, password),
    )
    row = await cur.fetchone()
    return PasswordCheck(row[0], bool(row[1])) if row else PasswordCheck(None)


@dataclass(frozen=True)
class Session:
    id: uuid.UUID
    refresh_token: str
    # When the user authenticated (amr timestamp): the session's creation, kept across refreshes.
    authenticated_at: datetime


async def start_session(conn: AsyncConnection[Any], user_id: uuid.UUID) -> Session:
    """A new session with its first refresh token; the sign-in is stamped on user and identity."""
    session_id = uuid.uuid4()
    token = new_refresh_token()
    cur = await conn.execute(
        "insert into auth.sessions (id, user_id, created_at, updated_at)"
        " values (%s, %s, now(), now()) returning created_at",
        (session_id, user_id),
    )
    row = await cur.fetchone()
    assert row is not None
    await conn.execute(
        """
        insert into auth.refresh_tokens (
          instance_id, token, user_id, revoked, created_at, updated_at, parent, session_id
        ) values (%s, %s, %s, false, now(), now(), null, %s)
        """,
        (INSTANCE_ID, token, str(user_id), session_id),
    )
    await conn.execute("update auth.users set last_sign_in_at = now() where id = %s", (user_id,))
    await conn.execute(
        "update auth.identities set last_sign_in_at = now() where user_id = %s", (user_id,)
    )
    return Session(session_id, token, row[0])


@dataclass(frozen=True)
class Refreshed:
    user_id: uuid.UUID
    session: Session


RefreshRefusal = Literal["not_found", "already_used", "banned"]


async def refresh(
    conn: AsyncConnection[Any], token: str, reuse_interval: float
) -> Refreshed | RefreshRefusal:
    """GoTrue's refresh-token grant: rotate the token, or refuse it.

    A revoked token is still honoured when it is the parent of the session's active token
    (the client lost the answer to its last refresh: it gets that active token again) or
    within the reuse interval (a new child is swapped in). Past the interval, reuse means a
    stolen token: the whole family is revoked, which the caller commits before refusing.
    A banned user is refused before anything rotates; a deleted user's tokens are gone
    (GoTrue logs a deleted user out), so they are not found, as the password grant finds
    no such user.
    """
    cur = await conn.execute(
        """
        select t.id, t.user_id, t.revoked, t.updated_at, t.session_id, s.created_at,
          t.updated_at + make_interval(secs => %s) < now(),
          coalesce(u.banned_until > now(), false)
        from auth.refresh_tokens as t
        join auth.sessions as s on s.id = t.session_id
        join auth.users as u on u.id = s.user_id and u.deleted_at is null
        where t.token = %s
        for update of t, s
        """,
        (reuse_interval, token),
    )
    row = await cur.fetchone()
    if row is None:
        return "not_found"
    token_id, user_id, revoked, _updated, session_id, session_created, reuse_expired, banned = row
    if banned:
        return "banned"
    user = uuid.UUID(str(user_id))
    if revoked:
        cur = await conn.execute(
            "select token, parent from auth.refresh_tokens"
            " where session_id = %s and not revoked order by id desc limit 1",
            (session_id,),
        )
        active = await cur.fetchone()
        if active is not None and active[1] == token:
            return Refreshed(user, Session(session_id, active[0], session_created))
        if reuse_expired:
            await conn.execute(
                "update auth.refresh_tokens set revoked = true, updated_at = now()"
                " where session_id = %s and not revoked",
                (session_id,),
            )
            return "already_used"
    new_token = new_refresh_token()
    await conn.execute(
        "update auth.refresh_tokens set revoked = true, updated_at = now() where id = %s",
        (token_id,),
    )
    await conn.execute(
        """
        insert into auth.refresh_tokens (
          instance_id, token, user_id, revoked, created_at, updated_at, parent, session_id
        ) values (%s, %s, %s, false, now(), now(), %s, %s)
        """,
        (INSTANCE_ID, new_token, str(user), token, session_id),
    )
    await conn.execute(
        "update auth.sessions set refreshed_at = now() at time zone 'utc', updated_at = now()"
        " where id = %s",
        (session_id,),
    )
    return Refreshed(user, Session(session_id, new_token, session_created))


async def session_exists(conn: AsyncConnection[Any], session_id: uuid.UUID) -> bool:
    cur = await conn.execute("select 1 from auth.sessions where id = %s", (session_id,))
    return await cur.fetchone() is not None


LogoutScope = Literal["global", "local", "others"]


async def logout(
    conn: AsyncConnection[Any], user_id: uuid.UUID, session_id: uuid.UUID | None, scope: LogoutScope
) -> None:
    """Delete sessions and their refresh tokens: every one of the user's (global), this one
    (local) or all but this one (others), as GoTrue's models.Logout* do."""
    await conn.execute(
        """
        with gone as (
          delete from auth.sessions
          where user_id = %(user)s
            and (
              %(scope)s = 'global' or %(session)s::uuid is null
              or (%(scope)s = 'local' and id = %(session)s)
              or (%(scope)s = 'others' and id <> %(session)s)
            )
          returning id
        )
        delete from auth.refresh_tokens where session_id in (select id from gone)
        """,
        {"user": user_id, "session": session_id, "scope": scope},
    )


async def update_user(
    conn: AsyncConnection[Any],
    user_id: uuid.UUID,
    data: dict[str, Any] | None,
    password: str | None,
) -> None:
    """PUT /user: metadata keys merged (a null removes one), a new password hashed."""
    if data is not None:
        await conn.execute(
            """
            update auth.users
            set raw_user_meta_data = (coalesce(raw_user_meta_data, '{}') - %s::text[]) || %s,
                updated_at = now()
            where id = %s
            """,
            (
                [key for key, value in data.items() if value is None],
                Jsonb({key: value for key, value in data.items() if value is not None}),
                user_id,
            ),
        )
    if password is not None:
        await conn.execute(
            "update auth.users set encrypted_password ="
            " extensions.crypt(%s, extensions.gen_salt('bf', 10)), updated_at = now()"
            " where id = %s",
            (password, user_id),
        )


async def same_password(conn: AsyncConnection[Any], user_id: uuid.UUID, password: str) -> bool:
    cur = await conn.execute(
        "select encrypted_password = extensions.crypt(%s, encrypted_password)"
        " from auth.users where id = %s",
        (password, user_id),
    )
    row = await cur.fetchone()
    return bool(row and row[0])
