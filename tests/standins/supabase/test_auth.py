"""/auth/v1 through the official supabase-py client: sessions, grants, rotation, logout, claims."""

from __future__ import annotations

import time
import uuid

import httpx
import jwt
import pytest
from supabase_auth.errors import AuthApiError, AuthWeakPasswordError

from standins.supabase.testing import StandIn
from tests.standins.supabase.conftest import PASSWORD, Learner, client, query, sign_up


def test_sign_up_returns_a_session_for_a_confirmed_user_with_a_bcrypt_password(
    api: StandIn, database_url: str
) -> None:
    email = f"New-Learner-{uuid.uuid4().hex[:8]}@Example.com"
    response = client(api).auth.sign_up(
        {"email": email, "password": PASSWORD, "options": {"data": {"name": "Ada"}}}
    )
    assert response.session is not None
    user = response.session.user
    assert user.email == email.lower()
    assert user.email_confirmed_at is not None
    assert user.app_metadata == {"provider": "email", "providers": ["email"]}
    assert user.user_metadata["name"] == "Ada"
    assert user.user_metadata["email_verified"] is True
    assert [i.provider for i in user.identities or []] == ["email"]
    assert response.session.token_type == "bearer"
    assert response.session.expires_in == 3600
    [(stored,)] = query(
        database_url, "select encrypted_password from auth.users where id = %s", (user.id,)
    )
    assert stored.startswith("$2a$10$")
    assert PASSWORD not in stored


def test_signing_up_an_address_twice_is_user_already_exists(learner: Learner, api: StandIn) -> None:
    with pytest.raises(AuthApiError) as error:
        client(api).auth.sign_up({"email": learner.email.upper(), "password": PASSWORD})
    assert (error.value.status, error.value.code) == (422, "user_already_exists")


def test_a_short_password_is_a_weak_password(api: StandIn) -> None:
    with pytest.raises(AuthWeakPasswordError) as error:
        client(api).auth.sign_up({"email": "short@example.com", "password": "12345"})
    assert (error.value.status, error.value.reasons) == (422, ["length"])


def test_password_grant_signs_in_with_the_right_password_only(
    learner: Learner, api: StandIn
) -> None:
    signed_in = client(api).auth.sign_in_with_password(
        {"email": learner.email, "password": PASSWORD}
    )
    assert signed_in.user is not None
    assert signed_in.user.id == str(learner.id)
    assert signed_in.user.last_sign_in_at is not None
    for email, password in ((learner.email, "wrong-password"), ("nobody@example.com", PASSWORD)):
        with pytest.raises(AuthApiError) as error:
            client(api).auth.sign_in_with_password({"email": email, "password": password})
        assert (error.value.status, error.value.code) == (400, "invalid_credentials")
        assert error.value.message == "Invalid login credentials"


def test_errors_take_gotrues_shape_for_the_api_version_asked(api: StandIn) -> None:
    url = f"{api.url}/auth/v1/token?grant_type=password"
    body = {"email": "nobody@example.com", "password": "wrong-password"}
    legacy = httpx.post(url, json=body, headers={"apikey": api.anon_key})
    assert legacy.status_code == 400
    assert legacy.json() == {
        "code": 400,
        "error_code": "invalid_credentials",
        "msg": "Invalid login credentials",
    }
    versioned = httpx.post(
        url, json=body, headers={"apikey": api.anon_key, "X-Supabase-Api-Version": "2024-01-01"}
    )
    assert versioned.json() == {
        "code": "invalid_credentials",
        "message": "Invalid login credentials",
    }
    assert versioned.headers["X-Supabase-Api-Version"] == "2024-01-01"


def test_access_token_carries_gotrues_claims(
    learner: Learner, api: StandIn, database_url: str
) -> None:
    # ES256 under the project's current signing key, found in its JWKS by kid
    signing_key = jwt.PyJWKClient(api.jwks_url).get_signing_key_from_jwt(learner.access_token)
    assert jwt.get_unverified_header(learner.access_token)["alg"] == "ES256"
    claims = jwt.decode(
        learner.access_token, signing_key, algorithms=["ES256"], audience="authenticated"
    )
    assert set(claims) == {
        "iss", "sub", "aud", "exp", "iat", "email", "phone", "app_metadata", "user_metadata",
        "role", "aal", "amr", "session_id", "is_anonymous",
    }  # fmt: skip
    assert claims["iss"] == f"{api.url}/auth/v1"
    assert claims["sub"] == str(learner.id)
    assert (claims["role"], claims["aal"], claims["email"]) == (
        "authenticated",
        "aal1",
        learner.email,
    )
    assert claims["exp"] - claims["iat"] == 3600
    assert abs(claims["iat"] - time.time()) < 60
    assert claims["amr"][0]["method"] == "password"
    assert claims["is_anonymous"] is False
    assert query(
        database_url, "select user_id from auth.sessions where id = %s", (claims["session_id"],)
    ) == [(learner.id,)]


def test_refresh_rotates_and_a_token_reused_after_the_interval_revokes_the_family(
    learner: Learner, api: StandIn, database_url: str
) -> None:
    auth = client(api).auth
    first = learner.refresh_token
    second = auth.refresh_session(first).session
    assert second is not None
    assert second.refresh_token != first
    # The client that lost the answer to its refresh gets the same active token back.
    again = auth.refresh_session(first).session
    assert again is not None
    assert again.refresh_token == second.refresh_token
    third = auth.refresh_session(second.refresh_token).session
    assert third is not None
    # Past GoTrue's reuse interval (10 s) the first token is a stolen one.
    query(
        database_url,
        "update auth.refresh_tokens set updated_at = now() - interval '11 seconds'"
        " where token = %s",
        (first,),
    )
    with pytest.raises(AuthApiError) as error:
        auth.refresh_session(first)
    assert (error.value.status, str(error.value.code)) == (400, "refresh_token_already_used")
    assert query(
        database_url,
        "select count(*) from auth.refresh_tokens where token = %s and revoked",
        (third.refresh_token,),
    ) == [(1,)], "the detected reuse revoked the token family, committed despite the error"


def test_unknown_refresh_token_is_refused(api: StandIn) -> None:
    with pytest.raises(AuthApiError) as error:
        client(api).auth.refresh_session("nosuchtoken0")
    assert (error.value.status, str(error.value.code)) == (400, "refresh_token_not_found")


def test_user_is_read_and_updated_with_the_access_token(learner: Learner, api: StandIn) -> None:
    found = learner.client.auth.get_user(learner.access_token)
    assert found is not None
    assert found.user.email == learner.email
    learner.client.auth.set_session(learner.access_token, learner.refresh_token)
    updated = learner.client.auth.update_user({"data": {"display_name": "Grace"}})
    assert updated.user.user_metadata["display_name"] == "Grace"
    assert updated.user.user_metadata["email"] == learner.email, "other keys are kept"


def test_logout_revokes_the_sessions_refresh_tokens(learner: Learner, api: StandIn) -> None:
    learner.client.auth.set_session(learner.access_token, learner.refresh_token)
    learner.client.auth.sign_out()
    with pytest.raises(AuthApiError) as refused:
        client(api).auth.refresh_session(learner.refresh_token)
    assert str(refused.value.code) == "refresh_token_not_found"
    with pytest.raises(AuthApiError) as gone:
        client(api).auth.get_user(learner.access_token)
    assert (gone.value.status, gone.value.code) == (403, "session_not_found")


def test_a_token_signed_with_another_secret_is_gotrues_bad_jwt(api: StandIn) -> None:
    learner = sign_up(api)
    claims = jwt.decode(learner.access_token, options={"verify_signature": False})
    forged = jwt.encode(claims, "another-secret-another-secret-0123456789", algorithm="HS256")
    with pytest.raises(AuthApiError) as error:
        client(api).auth.get_user(forged)
    assert (error.value.status, error.value.code) == (403, "bad_jwt")


@pytest.mark.parametrize("path", ["/auth/v1/health", "/auth/v1/user", "/rest/v1/lessons"])
def test_the_gateway_refuses_requests_without_a_project_api_key(api: StandIn, path: str) -> None:
    missing = httpx.get(f"{api.url}{path}")
    assert missing.status_code == 401
    assert missing.json()["message"] == "No API key found in request"
    user_token_as_key = sign_up(api).access_token
    foreign = jwt.encode({"role": "anon"}, "another-secret-another-secret-0123456789")
    for key in (foreign, user_token_as_key, "not-a-jwt"):
        refused = httpx.get(f"{api.url}{path}", headers={"apikey": key})
        assert refused.status_code == 401
        assert refused.json()["message"] == "Invalid API key"


def test_settings_and_health(api: StandIn) -> None:
    headers = {"apikey": api.anon_key}
    settings = httpx.get(f"{api.url}/auth/v1/settings", headers=headers).json()
    assert settings["mailer_autoconfirm"] is True
    assert settings["external"]["email"] is True
    assert httpx.get(f"{api.url}/auth/v1/health", headers=headers).json()["name"] == "GoTrue"


def refuse_refresh(api: StandIn, refresh_token: str) -> AuthApiError:
    with pytest.raises(AuthApiError) as error:
        client(api).auth.refresh_session(refresh_token)
    return error.value


def test_a_banned_user_is_refused_by_both_grants_and_nothing_rotates(
    api: StandIn, database_url: str
) -> None:
    banned = sign_up(api)
    query(
        database_url,
        "update auth.users set banned_until = now() + interval '1 day' where id = %s",
        (banned.id,),
    )
    tokens_before = query(
        database_url,
        "select token, revoked from auth.refresh_tokens where user_id = %s order by id",
        (str(banned.id),),
    )
    refused = refuse_refresh(api, banned.refresh_token)
    assert (refused.status, refused.code) == (400, "user_banned")
    assert refused.message == "Invalid Refresh Token: User Banned"
    with pytest.raises(AuthApiError) as password:
        client(api).auth.sign_in_with_password({"email": banned.email, "password": PASSWORD})
    assert (password.value.status, password.value.code) == (400, "user_banned")
    assert (
        query(
            database_url,
            "select token, revoked from auth.refresh_tokens where user_id = %s order by id",
            (str(banned.id),),
        )
        == tokens_before
    ), "a refused refresh rotates nothing"

    # A ban that has run out no longer refuses.
    query(
        database_url,
        "update auth.users set banned_until = now() - interval '1 second' where id = %s",
        (banned.id,),
    )
    assert client(api).auth.refresh_session(banned.refresh_token).session is not None


def test_a_deleted_user_is_refused_by_both_grants(api: StandIn, database_url: str) -> None:
    soft, hard = sign_up(api), sign_up(api)
    query(database_url, "update auth.users set deleted_at = now() where id = %s", (soft.id,))
    query(database_url, "delete from auth.users where id = %s", (hard.id,))
    for gone in (soft, hard):
        refused = refuse_refresh(api, gone.refresh_token)
        assert (refused.status, refused.code) == (400, "refresh_token_not_found")
        with pytest.raises(AuthApiError) as password:
            client(api).auth.sign_in_with_password({"email": gone.email, "password": PASSWORD})
        assert (password.value.status, password.value.code) == (400, "invalid_credentials")


def test_a_nul_character_in_an_auth_body_is_refused_400(api: StandIn) -> None:
    for path, body in (
        ("/auth/v1/signup", {"email": "nul\x00@example.com", "password": PASSWORD}),
        ("/auth/v1/token?grant_type=password", {"email": "a@example.com", "password": "x\x00"}),
        ("/auth/v1/token?grant_type=refresh_token", {"refresh_token": "\x00"}),
    ):
        response = httpx.post(f"{api.url}{path}", json=body, headers={"apikey": api.anon_key})
        assert response.status_code == 400, path
        assert response.json()["error_code"] == "validation_failed"
