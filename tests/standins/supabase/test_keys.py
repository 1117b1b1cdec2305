"""API keys and signing keys as a Supabase project created today has them.

The gateway takes the publishable key as `anon` and the secret key as `service_role` (never
from a browser), and neither as a bearer token of its own; Auth signs learners' tokens with
an ES256 key published in the JWKS by `kid`, and a rotation keeps old tokens valid until
they expire. The legacy JWT keys and HS256 signing keep working.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

import httpx
import jwt
import pytest
from supabase_auth.errors import AuthApiError

from standins.supabase.signing import SigningKeys
from standins.supabase.testing import StandIn, running_standin
from tests.standins.supabase.conftest import PASSWORD, client, sign_up

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0"


def rest(api: StandIn, path: str, **headers: str) -> httpx.Response:
    return httpx.get(f"{api.url}/rest/v1/{path}", headers=headers)


def test_the_publishable_key_acts_as_anon(api: StandIn) -> None:
    lessons = rest(api, "lessons?select=slug&limit=1", apikey=api.publishable_key)
    assert lessons.status_code == 200
    assert lessons.json()
    # anon has no privilege on stripe_events: PostgREST's 401 for anon
    events = rest(api, "stripe_events?select=id", apikey=api.publishable_key)
    assert (events.status_code, events.json()["code"]) == (401, "42501")


def test_the_secret_key_acts_as_service_role(api: StandIn) -> None:
    events = rest(api, "stripe_events?select=id&limit=1", apikey=api.secret_key)
    assert events.status_code == 200


def test_a_browser_may_use_the_publishable_key_but_never_the_secret_key(api: StandIn) -> None:
    browser = {"User-Agent": BROWSER}
    public = rest(api, "lessons?select=slug", apikey=api.publishable_key, **browser)
    assert public.status_code == 200
    for path in ("stripe_events?select=id", "lessons?select=slug"):
        refused = rest(api, path, apikey=api.secret_key, **browser)
        assert refused.status_code == 401
        assert refused.json()["message"] == "Forbidden use of secret API key in browser"
    refused_auth = httpx.get(
        f"{api.url}/auth/v1/settings", headers={"apikey": api.secret_key, **browser}
    )
    assert refused_auth.status_code == 401


@pytest.mark.parametrize("key_name", ["publishable_key", "secret_key"])
def test_an_sb_key_as_bearer_alone_is_not_a_token(api: StandIn, key_name: str) -> None:
    key = getattr(api, key_name)
    alone = rest(api, "lessons?select=slug", Authorization=f"Bearer {key}")
    assert alone.status_code == 401
    assert alone.json()["message"] == "No API key found in request"


def test_an_sb_bearer_other_than_the_apikey_is_refused(api: StandIn) -> None:
    # a publishable key cannot borrow the secret key's role through Authorization
    mixed = rest(
        api,
        "stripe_events?select=id",
        apikey=api.publishable_key,
        Authorization=f"Bearer {api.secret_key}",
    )
    assert mixed.status_code == 401
    assert mixed.json()["message"] == "Invalid API key"


def test_an_sb_bearer_equal_to_the_apikey_acts_as_the_keys_role(api: StandIn) -> None:
    # supabase-js and supabase-py send the key in both headers while nobody is signed in
    as_anon = rest(
        api,
        "stripe_events?select=id",
        apikey=api.publishable_key,
        Authorization=f"Bearer {api.publishable_key}",
    )
    assert (as_anon.status_code, as_anon.json()["code"]) == (401, "42501")
    as_service = rest(
        api,
        "stripe_events?select=id&limit=1",
        apikey=api.secret_key,
        Authorization=f"Bearer {api.secret_key}",
    )
    assert as_service.status_code == 200


@pytest.mark.parametrize(
    "key",
    [
        "sb_publishable_someone_elses_key_00000000",
        "sb_secret_someone_elses_key_000000000000",
        "sb_",
        "sb_publishable_ACJWlzQHlZjBrEguHvfOxg_3BJgxAa",  # the demo key short of one character
    ],
)
def test_an_unknown_sb_key_is_refused(api: StandIn, key: str) -> None:
    for path in ("/rest/v1/lessons", "/auth/v1/settings"):
        refused = httpx.get(f"{api.url}{path}", headers={"apikey": key})
        assert refused.status_code == 401
        assert refused.json()["message"] == "Invalid API key"


def test_a_signed_in_learner_with_the_publishable_key_is_authenticated(api: StandIn) -> None:
    learner = sign_up(api)
    claims = rest(
        api,
        "rpc/lesson_catalog?select=slug,owned&limit=1",
        apikey=api.publishable_key,
        Authorization=f"Bearer {learner.access_token}",
    )
    assert claims.status_code == 200
    user = httpx.get(
        f"{api.url}/auth/v1/user",
        headers={"apikey": api.publishable_key, "Authorization": f"Bearer {learner.access_token}"},
    )
    assert user.json()["id"] == str(learner.id)


def test_the_legacy_jwt_keys_still_work(api: StandIn) -> None:
    assert rest(api, "lessons?select=slug", apikey=api.anon_key).status_code == 200
    assert rest(api, "stripe_events?select=id", apikey=api.anon_key).status_code == 401
    assert rest(api, "stripe_events?select=id", apikey=api.service_role_key).status_code == 200
    legacy = client(api, api.anon_key)
    assert legacy.table("lessons").select("slug").limit(1).execute().data


# --- signing keys ----------------------------------------------------------------------------


def test_the_jwks_publishes_the_es256_public_key_without_an_api_key(api: StandIn) -> None:
    response = httpx.get(api.jwks_url)
    assert response.status_code == 200
    [key] = [k for k in response.json()["keys"] if k["kid"] == current_kid(api)]
    assert (key["kty"], key["crv"], key["alg"], key["use"]) == ("EC", "P-256", "ES256", "sig")
    assert "d" not in key, "never the private half"
    learner = sign_up(api)
    header = jwt.get_unverified_header(learner.access_token)
    assert (header["alg"], header["kid"]) == ("ES256", key["kid"])


def current_kid(api: StandIn) -> str:
    token = sign_up(api).access_token
    kid: str = jwt.get_unverified_header(token)["kid"]
    return kid


def test_a_rotation_mid_session_keeps_the_learner_signed_in(database_url: str) -> None:
    with running_standin(database_url) as api:
        learner = sign_up(api)
        old_kid = jwt.get_unverified_header(learner.access_token)["kid"]
        new_kid = api.rotate_signing_key()
        assert new_kid != old_kid
        published = {k["kid"] for k in httpx.get(api.jwks_url).json()["keys"]}
        assert published == {old_kid, new_kid}, "the old key stays until its tokens expire"
        # the token signed before the rotation still works everywhere
        still = learner.client.auth.get_user(learner.access_token)
        assert still is not None
        assert still.user.id == str(learner.id)
        catalog = rest(
            api,
            "rpc/lesson_catalog?select=slug",
            apikey=api.publishable_key,
            Authorization=f"Bearer {learner.access_token}",
        )
        assert catalog.status_code == 200
        # and a refresh, or a new sign-in, carries the new kid
        refreshed = learner.client.auth.refresh_session(learner.refresh_token).session
        assert refreshed is not None
        assert jwt.get_unverified_header(refreshed.access_token)["kid"] == new_kid
        signed_in = client(api).auth.sign_in_with_password(
            {"email": learner.email, "password": PASSWORD}
        )
        assert signed_in.session is not None
        assert jwt.get_unverified_header(signed_in.session.access_token)["kid"] == new_kid


def test_a_standby_key_is_published_before_it_signs(database_url: str) -> None:
    with running_standin(database_url) as api:
        before = sign_up(api).access_token
        standby = api.add_standby_signing_key()
        published = {k["kid"] for k in httpx.get(api.jwks_url).json()["keys"]}
        assert standby in published
        assert jwt.get_unverified_header(sign_up(api).access_token)["kid"] != standby
        assert api.rotate_signing_key() == standby
        assert jwt.get_unverified_header(sign_up(api).access_token)["kid"] == standby
        assert jwt.get_unverified_header(before)["kid"] in {
            k["kid"] for k in httpx.get(api.jwks_url).json()["keys"]
        }


def test_a_token_of_a_rotated_out_key_past_its_expiry_is_refused(database_url: str) -> None:
    with running_standin(database_url, jwt_expiry_seconds=1) as api:
        learner = sign_up(api)
        old_kid = jwt.get_unverified_header(learner.access_token)["kid"]
        api.rotate_signing_key()
        time.sleep(2.2)
        published = {k["kid"] for k in httpx.get(api.jwks_url).json()["keys"]}
        assert old_kid not in published
        with pytest.raises(AuthApiError) as refused:
            client(api).auth.get_user(learner.access_token)
        assert (refused.value.status, refused.value.code) == (403, "bad_jwt")
        response = rest(
            api,
            "rpc/lesson_catalog",
            apikey=api.publishable_key,
            Authorization=f"Bearer {learner.access_token}",
        )
        assert response.status_code == 401


def test_hs256_signing_on_request_as_before(database_url: str) -> None:
    with running_standin(database_url, signing_algorithm="HS256") as api:
        learner = sign_up(api)
        assert "kid" not in jwt.get_unverified_header(learner.access_token)
        claims = jwt.decode(
            learner.access_token, api.jwt_secret, algorithms=["HS256"], audience="authenticated"
        )
        assert claims["sub"] == str(learner.id)
        user = learner.client.auth.get_user(learner.access_token)
        assert user is not None
        assert user.user.id == str(learner.id)
        assert httpx.get(api.jwks_url).json() == {"keys": []}, "a secret is never published"
        rotate = httpx.post(f"{api.url}/_standin/signing-keys/rotate")
        assert rotate.status_code == 409


def test_the_key_pairs_are_kept_in_their_file_for_the_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "devstack" / "signing_keys.json"
    first = SigningKeys(algorithm="ES256", legacy_secret="x" * 32, token_lifetime=3600, path=path)
    token = first.sign({"sub": str(uuid.uuid4()), "exp": int(time.time()) + 60})
    assert os.stat(path).st_mode & 0o777 == 0o600
    # a restart reads the same key: the token still verifies
    again = SigningKeys(algorithm="ES256", legacy_secret="x" * 32, token_lifetime=3600, path=path)
    assert again.verify(token)["sub"]
    assert again.current_kid == first.current_kid
    rotated = again.rotate()
    stored = json.loads(path.read_text())
    assert [k["kid"] for k in stored["keys"]] == [first.current_kid, rotated]
