"""Password recovery through the stand-in, with supabase-py as an app uses it: the mail lands in
the outbox (Mailpit's API) from the project's own template, its token hash buys one session,
and the learner sets a new password; a link used twice, expired, for a banned or a deleted
user answers as GoTrue does."""

from __future__ import annotations

import base64
import hashlib
import html
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import psycopg
import pytest
from supabase_auth.errors import AuthApiError

from devstack import database
from standins.mail.app import create_app as create_outbox
from standins.serving import listening_socket, serving
from standins.supabase.__main__ import auth_settings
from standins.supabase.testing import StandIn, running_standin
from tests.standins.supabase.conftest import PASSWORD, client, sign_up

SITE = "http://shop.test"
CONFIG_TOML = database.ROOT / "supabase" / "config.toml"
NEW_PASSWORD = "a-brand-new-password"


@dataclass(frozen=True)
class Stack:
    api: StandIn
    outbox: str


@pytest.fixture(scope="module")
def stack(database_url: str) -> Iterator[Stack]:
    with serving(create_outbox(), listening_socket(), "mail outbox") as outbox:
        settings = auth_settings(CONFIG_TOML)
        with running_standin(
            database_url, site_url=SITE, mail_outbox_url=outbox, **settings
        ) as api:
            yield Stack(api, outbox)


def mails_to(outbox: str, email: str) -> list[dict[str, Any]]:
    listed = httpx.get(f"{outbox}/api/v1/messages", timeout=5).json()
    return [m for m in listed["messages"] if m["To"][0]["Address"] == email]


def reset_link(outbox: str, email: str) -> str:
    """The link of the newest mail to `email`, read as a test (or a developer) reads Mailpit."""
    (newest, *_) = mails_to(outbox, email)
    whole = httpx.get(f"{outbox}/api/v1/message/{newest['ID']}", timeout=5).json()
    match = re.search(r'href="([^"]+/api/auth/confirm[^"]+)"', whole["HTML"])
    assert match, whole["HTML"]
    return html.unescape(match.group(1))


def token_hash_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token_hash"][0]


def forget(stack: Stack, email: str) -> str:
    """Ask for a reset as the site does; the mailed link's token hash."""
    client(stack.api).auth.reset_password_for_email(
        email, {"redirect_to": f"{SITE}/reset-password"}
    )
    return token_hash_of(reset_link(stack.outbox, email))


def test_the_reset_mail_uses_the_projects_template_and_links_to_the_sites_confirm_route(
    stack: Stack,
) -> None:
    learner = sign_up(stack.api)
    client(stack.api).auth.reset_password_for_email(learner.email)
    (mail,) = mails_to(stack.outbox, learner.email)
    assert mail["Subject"] == "Reset your Lesson shop password"
    assert mail["From"]["Address"] == "admin@email.com"
    assert mail["Read"] is False
    link = reset_link(stack.outbox, learner.email)
    parts = urlsplit(link)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{SITE}/api/auth/confirm"
    query = parse_qs(parts.query)
    assert query["type"] == ["recovery"]
    assert query["next"] == ["/reset-password"]
    # supabase-py asks in the PKCE flow (a code challenge), so the hash carries GoTrue's prefix
    assert re.fullmatch(r"pkce_[0-9a-f]{56}", query["token_hash"][0]), "GoTrue's SHA-224 hash"
    assert mails_to(stack.outbox, learner.email)[0]["Read"] is True, "reading marks it read"


def test_the_link_signs_in_once_and_a_new_password_replaces_the_old(stack: Stack) -> None:
    learner = sign_up(stack.api)
    token_hash = forget(stack, learner.email)

    reader = client(stack.api)
    signed_in = reader.auth.verify_otp({"token_hash": token_hash, "type": "recovery"})
    assert signed_in.session is not None
    assert signed_in.user is not None
    assert signed_in.user.email == learner.email
    reader.auth.update_user({"password": NEW_PASSWORD})

    with pytest.raises(AuthApiError) as used:
        client(stack.api).auth.verify_otp({"token_hash": token_hash, "type": "recovery"})
    assert (used.value.status, used.value.code) == (403, "otp_expired")
    assert str(used.value) == "Email link is invalid or has expired"

    with pytest.raises(AuthApiError) as old:
        client(stack.api).auth.sign_in_with_password({"email": learner.email, "password": PASSWORD})
    assert old.value.code == "invalid_credentials"
    again = client(stack.api).auth.sign_in_with_password(
        {"email": learner.email, "password": NEW_PASSWORD}
    )
    assert again.session is not None


def test_the_mailed_code_works_instead_of_the_link(stack: Stack) -> None:
    learner = sign_up(stack.api)
    client(stack.api).auth.reset_password_for_email(learner.email)
    (newest, *_) = mails_to(stack.outbox, learner.email)
    whole = httpx.get(f"{stack.outbox}/api/v1/message/{newest['ID']}", timeout=5).json()
    # the project's template shows no code; GoTrue's {{ .Token }} is the six digits hashed
    assert "{{" not in whole["HTML"]
    with pytest.raises(AuthApiError) as wrong:
        client(stack.api).auth.verify_otp(
            {"email": learner.email, "token": "000000", "type": "recovery"}
        )
    assert wrong.value.code == "otp_expired"


def test_an_expired_link_is_refused(stack: Stack, database_url: str) -> None:
    learner = sign_up(stack.api)
    token_hash = forget(stack, learner.email)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "update auth.users set recovery_sent_at = now() - interval '61 minutes' where id = %s",
            (learner.id,),
        )
    with pytest.raises(AuthApiError) as expired:
        client(stack.api).auth.verify_otp({"token_hash": token_hash, "type": "recovery"})
    assert (expired.value.status, expired.value.code) == (403, "otp_expired")


def test_a_deleted_or_banned_learners_link_is_refused(stack: Stack, database_url: str) -> None:
    banned, deleted = sign_up(stack.api), sign_up(stack.api)
    banned_hash, deleted_hash = forget(stack, banned.email), forget(stack, deleted.email)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "update auth.users set banned_until = now() + interval '1 day' where id = %s",
            (banned.id,),
        )
        conn.execute("delete from auth.users where id = %s", (deleted.id,))
    with pytest.raises(AuthApiError) as refused:
        client(stack.api).auth.verify_otp({"token_hash": banned_hash, "type": "recovery"})
    assert (refused.value.status, refused.value.code) == (403, "user_banned")
    with pytest.raises(AuthApiError) as gone:
        client(stack.api).auth.verify_otp({"token_hash": deleted_hash, "type": "recovery"})
    assert (gone.value.status, gone.value.code) == (403, "otp_expired")


def test_an_unknown_address_is_answered_alike_and_mailed_nothing(stack: Stack) -> None:
    email = f"nobody-{uuid.uuid4().hex[:8]}@example.com"
    answer = httpx.post(
        f"{stack.api.url}/auth/v1/recover",
        headers={"apikey": stack.api.publishable_key},
        json={"email": email},
        timeout=5,
    )
    assert (answer.status_code, answer.json()) == (200, {})
    assert mails_to(stack.outbox, email) == []


def test_a_second_request_within_max_frequency_is_429(stack: Stack) -> None:
    learner = sign_up(stack.api)
    first = recover(stack, {"email": learner.email})
    assert first.status_code == 200
    second = recover(stack, {"email": learner.email})
    assert second.status_code == 429
    assert second.json()["error_code"] == "over_email_send_rate_limit"
    assert len(mails_to(stack.outbox, learner.email)) == 1


def recover(stack: Stack, body: dict[str, str]) -> httpx.Response:
    return httpx.post(
        f"{stack.api.url}/auth/v1/recover",
        headers={"apikey": stack.api.publishable_key},
        json=body,
        timeout=5,
    )


def test_the_pkce_flow_prefixes_the_token_and_the_prefixed_hash_verifies(stack: Stack) -> None:
    learner = sign_up(stack.api)
    challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    answer = recover(
        stack,
        {"email": learner.email, "code_challenge": challenge, "code_challenge_method": "s256"},
    )
    assert answer.status_code == 200
    token_hash = token_hash_of(reset_link(stack.outbox, learner.email))
    assert token_hash.startswith("pkce_")
    session = client(stack.api).auth.verify_otp({"token_hash": token_hash, "type": "recovery"})
    assert session.user is not None
    assert session.user.email == learner.email
    lone = recover(stack, {"email": learner.email, "code_challenge": challenge})
    assert (lone.status_code, lone.json()["error_code"]) == (400, "validation_failed")


def test_the_outbox_lists_newest_first_and_reads_deletes_as_mailpit(stack: Stack) -> None:
    sent = [
        httpx.post(
            f"{stack.outbox}/api/v1/send",
            json={
                "From": {"Email": "shop@example.com"},
                "To": [{"Email": "reader@example.com", "Name": "Reader"}],
                "Subject": f"Mail {n}",
                "HTML": "<p>Hello <script>alert(1)</script></p>",
            },
            timeout=5,
        ).json()["ID"]
        for n in (1, 2)
    ]
    listed = httpx.get(f"{stack.outbox}/api/v1/messages", params={"limit": 2}, timeout=5).json()
    assert [m["ID"] for m in listed["messages"]] == sent[::-1]
    assert listed["count"] == 2
    assert listed["total"] >= 2
    page = httpx.get(f"{stack.outbox}/", timeout=5)
    assert "Mail 2" in page.text
    assert f"/view/{sent[1]}" in page.text
    view = httpx.get(f"{stack.outbox}/view/{sent[1]}", timeout=5).text
    assert "<script>" not in view, "a mail's markup never runs in the outbox's page"
    assert "sandbox" in view
    deleted = httpx.request(
        "DELETE", f"{stack.outbox}/api/v1/messages", json={"IDs": sent}, timeout=5
    )
    assert deleted.status_code == 200
    assert httpx.get(f"{stack.outbox}/api/v1/message/{sent[0]}", timeout=5).status_code == 404


def test_without_a_template_the_mail_is_gotrues_default(database_url: str) -> None:
    with (
        serving(create_outbox(), listening_socket(), "mail outbox") as outbox,
        running_standin(database_url, site_url=SITE, mail_outbox_url=outbox) as api,
    ):
        learner = sign_up(api)
        client(api).auth.reset_password_for_email(learner.email)
        (mail,) = mails_to(outbox, learner.email)
        assert mail["Subject"] == "Reset Your Password"
        whole = httpx.get(f"{outbox}/api/v1/message/{mail['ID']}", timeout=5).json()
        assert f"{api.url}/auth/v1/verify?token=" in html.unescape(whole["HTML"])
        code = re.search(r"enter the code: (\d{6})", whole["HTML"])
        assert code, whole["HTML"]
        signed_in = client(api).auth.verify_otp(
            {"email": learner.email, "token": code.group(1), "type": "recovery"}
        )
        assert signed_in.user is not None
        assert signed_in.user.email == learner.email


def test_the_project_config_names_a_template_that_exists() -> None:
    settings = auth_settings(CONFIG_TOML)
    assert "{{ .TokenHash }}" in settings["recovery_template"].content
    assert settings["otp_expiry_seconds"] == 3600
    assert Path(CONFIG_TOML.parent / "templates" / "recovery.html").exists()


def test_the_default_links_pkce_code_is_exchanged_once_for_a_session(database_url: str) -> None:
    with (
        serving(create_outbox(), listening_socket(), "mail outbox") as outbox,
        running_standin(database_url, site_url=SITE, mail_outbox_url=outbox) as api,
    ):
        learner = sign_up(api)
        asker = client(api)  # keeps the PKCE code verifier, as the browser's client does
        asker.auth.reset_password_for_email(
            learner.email, {"redirect_to": f"{SITE}/reset-password"}
        )
        (mail,) = mails_to(outbox, learner.email)
        whole = httpx.get(f"{outbox}/api/v1/message/{mail['ID']}", timeout=5).json()
        match = re.search(r'href="([^"]+/auth/v1/verify[^"]+)"', whole["HTML"])
        assert match, whole["HTML"]
        link = html.unescape(match.group(1))
        assert parse_qs(urlsplit(link).query)["token"][0].startswith("pkce_")

        landed = httpx.get(link, headers={"apikey": api.publishable_key}, timeout=5)
        assert landed.status_code == 303
        location = urlsplit(landed.headers["location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == f"{SITE}/reset-password"
        code = parse_qs(location.query)["code"][0]

        session = asker.auth.exchange_code_for_session({"auth_code": code})
        assert session.user is not None
        assert session.user.email == learner.email
        # the code is spent (and the client dropped its verifier): asked again, no flow state
        again = httpx.post(
            f"{api.url}/auth/v1/token?grant_type=pkce",
            headers={"apikey": api.publishable_key},
            json={"auth_code": code, "code_verifier": "v" * 43},
            timeout=5,
        )
        assert (again.status_code, again.json()["error_code"]) == (404, "flow_state_not_found")

        used = httpx.get(link, headers={"apikey": api.publishable_key}, timeout=5)
        refused = parse_qs(urlsplit(used.headers["location"]).query)
        assert refused["error"] == ["access_denied"]
        assert refused["error_code"] == ["otp_expired"]
        assert refused["error_description"] == ["Email link is invalid or has expired"]


def test_a_wrong_code_verifier_is_refused(stack: Stack) -> None:
    learner = sign_up(stack.api)
    verifier = "a-code-verifier-that-is-long-enough-to-be-valid-0123456789"
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    )
    asked = recover(
        stack,
        {"email": learner.email, "code_challenge": challenge, "code_challenge_method": "s256"},
    )
    assert asked.status_code == 200
    stored = token_hash_of(reset_link(stack.outbox, learner.email))
    landed = httpx.get(
        f"{stack.api.url}/auth/v1/verify",
        params={"token": stored, "type": "recovery", "redirect_to": f"{SITE}/reset-password"},
        headers={"apikey": stack.api.publishable_key},
        timeout=5,
    )
    code = parse_qs(urlsplit(landed.headers["location"]).query)["code"][0]
    exchange = f"{stack.api.url}/auth/v1/token?grant_type=pkce"
    headers = {"apikey": stack.api.publishable_key}
    wrong = httpx.post(
        exchange, headers=headers, json={"auth_code": code, "code_verifier": "x" * 43}, timeout=5
    )
    assert (wrong.status_code, wrong.json()["error_code"]) == (400, "bad_code_verifier")
    right = httpx.post(
        exchange, headers=headers, json={"auth_code": code, "code_verifier": verifier}, timeout=5
    )
    assert right.status_code == 200
    assert right.json()["user"]["email"] == learner.email


def test_the_implicit_flows_link_carries_the_session_in_the_fragment(stack: Stack) -> None:
    learner = sign_up(stack.api)
    assert recover(stack, {"email": learner.email}).status_code == 200
    stored = token_hash_of(reset_link(stack.outbox, learner.email))
    assert not stored.startswith("pkce_")
    landed = httpx.get(
        f"{stack.api.url}/auth/v1/verify",
        params={"token": stored, "type": "recovery", "redirect_to": "https://elsewhere.example"},
        headers={"apikey": stack.api.publishable_key},
        timeout=5,
    )
    location = urlsplit(landed.headers["location"])
    assert f"{location.scheme}://{location.netloc}" == SITE, "an unlisted redirect_to: the site"
    fragment = parse_qs(location.fragment)
    assert fragment["type"] == ["recovery"]
    assert fragment["token_type"] == ["bearer"]
    assert client(stack.api).auth.get_user(fragment["access_token"][0]) is not None
