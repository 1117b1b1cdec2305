"""The account page's calls through the stand-in, with supabase-py as a server uses it: deleting
a user with the secret key (`auth.admin.delete_user`, GoTrue's `DELETE /admin/users/{id}`),
changing the email through the links mailed to both addresses (secure email change, the
CLI's default), and changing the password (the learner's other sessions end)."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import psycopg
import pytest
from supabase_auth.errors import AuthApiError

from standins.mail.app import create_app as create_outbox
from standins.serving import listening_socket, serving
from standins.supabase.__main__ import auth_settings
from standins.supabase.testing import running_standin
from tests.standins.supabase.conftest import PASSWORD, client, sign_up
from tests.standins.supabase.test_recovery import CONFIG_TOML, SITE, Stack, mails_to

NEW_PASSWORD = "another-long-password"


@pytest.fixture(scope="module")
def stack(database_url: str) -> Iterator[Stack]:
    with serving(create_outbox(), listening_socket(), "mail outbox") as outbox:
        settings = auth_settings(CONFIG_TOML)
        with running_standin(
            database_url, site_url=SITE, mail_outbox_url=outbox, **settings
        ) as api:
            yield Stack(api, outbox)


def admin(stack: Stack) -> Any:
    return client(stack.api, stack.api.secret_key).auth.admin


def delete_raw(stack: Stack, user_id: str, key: str, token: str | None = None) -> httpx.Response:
    headers = {"apikey": key, **({"authorization": f"Bearer {token}"} if token else {})}
    return httpx.delete(
        f"{stack.api.url}/auth/v1/admin/users/{user_id}", headers=headers, timeout=5
    )


def a_payment_of(database_url: str, user_id: uuid.UUID) -> str:
    session_id = f"cs_test_{uuid.uuid4().hex}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "insert into public.checkout_sessions (id, user_id, lesson_id, amount_total, currency,"
            " status, payment_status, paid_at, stripe_payment_intent_id, expires_at)"
            " select %s, %s, id, price_cents, currency, 'complete', 'paid', now(), 'pi_del_py',"
            " now() + interval '1 day' from public.lessons where slug = 'joins-without-fear'",
            (session_id, user_id),
        )
    return session_id


# deleting a user -----------------------------------------------------------------------------


def test_the_secret_key_deletes_a_user_who_can_no_longer_sign_in_and_whose_payment_stays(
    stack: Stack, database_url: str
) -> None:
    learner = sign_up(stack.api)
    payment = a_payment_of(database_url, learner.id)
    found = admin(stack).get_user_by_id(str(learner.id))
    assert found.user.email == learner.email

    assert admin(stack).delete_user(str(learner.id)) is None

    with pytest.raises(AuthApiError) as signed_in:
        client(stack.api).auth.sign_in_with_password({"email": learner.email, "password": PASSWORD})
    assert signed_in.value.code == "invalid_credentials"
    with pytest.raises(AuthApiError) as refreshed:
        client(stack.api).auth.refresh_session(learner.refresh_token)
    assert str(refreshed.value.code) == "refresh_token_not_found"
    with pytest.raises(AuthApiError) as token:
        client(stack.api).auth.get_user(learner.access_token)
    assert (token.value.status, token.value.code) == (403, "user_not_found")
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert conn.execute(
            "select count(*) from auth.sessions where user_id = %s", (learner.id,)
        ).fetchone() == (0,)
        kept = conn.execute(
            "select user_id, amount_total, stripe_payment_intent_id"
            " from public.checkout_sessions where id = %s",
            (payment,),
        ).fetchone()
    assert kept == (None, 1200, "pi_del_py"), "the payment stays for the books, naming nobody"

    with pytest.raises(AuthApiError) as again:
        admin(stack).delete_user(str(learner.id))
    assert (again.value.status, again.value.code) == (404, "user_not_found")
    assert str(again.value) == "User not found"


def test_refusals_answer_as_gotrue(stack: Stack) -> None:
    learner = sign_up(stack.api)
    not_uuid = delete_raw(stack, "not-a-uuid", stack.api.secret_key)
    assert (not_uuid.status_code, not_uuid.json()["error_code"]) == (404, "validation_failed")
    assert not_uuid.json()["msg"] == "user_id must be an UUID"

    # the publishable key, and a learner's own token, are not admins
    as_anon = delete_raw(stack, str(learner.id), stack.api.publishable_key)
    assert (as_anon.status_code, as_anon.json()["error_code"]) == (403, "not_admin")
    assert as_anon.json()["msg"] == "User not allowed"
    as_self = delete_raw(stack, str(learner.id), stack.api.publishable_key, learner.access_token)
    assert (as_self.status_code, as_self.json()["error_code"]) == (403, "not_admin")
    read = httpx.get(
        f"{stack.api.url}/auth/v1/admin/users/{learner.id}",
        headers={"apikey": stack.api.publishable_key},
        timeout=5,
    )
    assert (read.status_code, read.json()["error_code"]) == (403, "not_admin")
    with pytest.raises(AuthApiError) as from_client:
        client(stack.api).auth.admin.delete_user(str(learner.id))
    assert from_client.value.code == "not_admin"
    forged = delete_raw(
        stack, str(learner.id), stack.api.publishable_key, learner.access_token[:-4] + "AAAA"
    )
    assert (forged.status_code, forged.json()["error_code"]) == (403, "bad_jwt")
    # and the learner is still there
    again = client(stack.api).auth.sign_in_with_password(
        {"email": learner.email, "password": PASSWORD}
    )
    assert again.user is not None
    assert again.user.id == str(learner.id)


def test_a_soft_delete_keeps_the_row_without_the_address(stack: Stack, database_url: str) -> None:
    learner = sign_up(stack.api)
    admin(stack).delete_user(str(learner.id), should_soft_delete=True)
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "select email, deleted_at is not null, encrypted_password"
            " from auth.users where id = %s",
            (learner.id,),
        ).fetchone()
    assert row is not None
    assert row[0] != learner.email
    assert row[1] is True
    assert row[2] is None
    with pytest.raises(AuthApiError):
        client(stack.api).auth.sign_in_with_password({"email": learner.email, "password": PASSWORD})


# changing the email ----------------------------------------------------------------------------


def confirm_link(outbox: str, email: str) -> str:
    (newest, *_) = mails_to(outbox, email)
    whole = httpx.get(f"{outbox}/api/v1/message/{newest['ID']}", timeout=5).json()
    assert newest["Subject"] == "Confirm your new Lesson shop email"
    match = re.search(r'href="([^"]+/api/auth/confirm[^"]+)"', whole["HTML"])
    assert match, whole["HTML"]
    return html.unescape(match.group(1))


def verify_raw(stack: Stack, token_hash: str) -> httpx.Response:
    return httpx.post(
        f"{stack.api.url}/auth/v1/verify",
        headers={"apikey": stack.api.publishable_key},
        json={"type": "email_change", "token_hash": token_hash},
        timeout=5,
    )


def test_a_new_email_is_confirmed_from_both_addresses_then_signs_in(stack: Stack) -> None:
    learner = sign_up(stack.api)
    new_email = f"moved-{uuid.uuid4().hex[:8]}@example.com"
    answer = learner.client.auth.update_user({"email": new_email})
    assert answer.user.email == learner.email, "nothing changes before the links are opened"
    assert answer.user.new_email == new_email

    to_new, to_current = (
        confirm_link(stack.outbox, new_email),
        confirm_link(stack.outbox, learner.email),
    )
    query = parse_qs(urlsplit(to_new).query)
    assert query["type"] == ["email_change"]
    assert query["next"] == ["/account"]
    new_hash = query["token_hash"][0]
    current_hash = parse_qs(urlsplit(to_current).query)["token_hash"][0]
    assert re.fullmatch(r"pkce_[0-9a-f]{56}", new_hash)
    assert new_hash != current_hash

    # the first link: accepted, nothing changed yet, no session (GoTrue's single confirmation)
    first = verify_raw(stack, current_hash)
    assert first.status_code == 200
    assert first.json() == {
        "msg": "Confirmation link accepted. Please proceed to confirm link sent to the other email",
        "code": "200",
    }
    assert verify_raw(stack, current_hash).json()["error_code"] == "otp_expired", (
        "each link works once"
    )
    still = client(stack.api).auth.sign_in_with_password(
        {"email": learner.email, "password": PASSWORD}
    )
    assert still.user is not None

    # the second: the address changes and the learner is signed in with it
    done = client(stack.api).auth.verify_otp({"token_hash": new_hash, "type": "email_change"})
    assert done.session is not None
    assert done.user is not None
    assert done.user.email == new_email
    assert done.user.new_email is None
    assert [i.identity_data["email"] for i in done.user.identities or []] == [new_email]
    with pytest.raises(AuthApiError) as old:
        client(stack.api).auth.sign_in_with_password({"email": learner.email, "password": PASSWORD})
    assert old.value.code == "invalid_credentials"
    moved = client(stack.api).auth.sign_in_with_password({"email": new_email, "password": PASSWORD})
    assert moved.user is not None
    assert moved.user.id == str(learner.id)
    with pytest.raises(AuthApiError) as reused:
        client(stack.api).auth.verify_otp({"token_hash": new_hash, "type": "email_change"})
    assert (reused.value.status, reused.value.code) == (403, "otp_expired")


def test_an_address_another_account_holds_is_refused_and_nothing_is_mailed(stack: Stack) -> None:
    learner, other = sign_up(stack.api), sign_up(stack.api)
    before = len(mails_to(stack.outbox, other.email))
    with pytest.raises(AuthApiError) as taken:
        learner.client.auth.update_user({"email": other.email})
    assert (taken.value.status, taken.value.code) == (422, "email_exists")
    assert len(mails_to(stack.outbox, other.email)) == before
    with pytest.raises(AuthApiError) as bad:
        learner.client.auth.update_user({"email": "not an address"})
    assert (bad.value.status, bad.value.code) == (400, "validation_failed")


# changing the password ----------------------------------------------------------------------


def test_a_new_password_works_and_ends_the_learners_other_sessions(stack: Stack) -> None:
    learner = sign_up(stack.api)
    elsewhere = client(stack.api)
    other = elsewhere.auth.sign_in_with_password({"email": learner.email, "password": PASSWORD})
    assert other.session is not None

    learner.client.auth.update_user({"password": NEW_PASSWORD})

    with pytest.raises(AuthApiError) as ended:
        client(stack.api).auth.refresh_session(other.session.refresh_token)
    assert str(ended.value.code) == "refresh_token_not_found"
    kept = client(stack.api).auth.refresh_session(learner.refresh_token)
    assert kept.session is not None, "the session that changed it stays signed in"
    with pytest.raises(AuthApiError):
        client(stack.api).auth.sign_in_with_password({"email": learner.email, "password": PASSWORD})
    assert (
        client(stack.api)
        .auth.sign_in_with_password({"email": learner.email, "password": NEW_PASSWORD})
        .user
    )
