"""The sidecar configured as a Supabase project created today is: no JWT secret, so learners'
ES256 tokens from the Supabase stand-in are verified through the JWKS found from SUPABASE_URL,
across a rotation of the project's signing key in the middle of a learner's session."""

from __future__ import annotations

from collections.abc import Iterator

import jwt
import pytest

from sidecar.settings import Settings
from standins.stripe.testing import StandIn
from standins.supabase.testing import StandIn as SupabaseStandIn
from standins.supabase.testing import running_standin as running_supabase
from tests.sidecar.conftest import (
    LESSON_JOINS,
    SITE_URL,
    WEBHOOK_SECRET,
    as_service_role,
    query,
    running_client,
)
from tests.standins.supabase.conftest import client, sign_up

pytestmark = pytest.mark.anyio


@pytest.fixture
def project(database_url: str) -> Iterator[SupabaseStandIn]:
    """A stand-in of its own: the test rotates its signing key."""
    with running_supabase(database_url) as api:
        yield api


def jwks_settings(database_url: str, api: SupabaseStandIn, stripe: StandIn) -> Settings:
    return Settings.from_env(
        {
            "STRIPE_SECRET_KEY": stripe.api_key,
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "STRIPE_API_BASE": stripe.api_base,
            "SITE_URL": SITE_URL,
            "DATABASE_URL": as_service_role(database_url),
            "SUPABASE_URL": api.url,
            # no SUPABASE_JWT_SECRET: the JWKS is the only way to check a token
        }
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_an_es256_token_from_supabase_is_verified_through_the_jwks(
    database_url: str, project: SupabaseStandIn, standin: StandIn
) -> None:
    settings = jwks_settings(database_url, project, standin)
    assert settings.supabase_jwks_url == f"{project.url}/auth/v1/.well-known/jwks.json"
    learner = sign_up(project)
    assert jwt.get_unverified_header(learner.access_token)["alg"] == "ES256"
    async with running_client(settings) as sidecar:
        created = await sidecar.post(
            "/v1/checkout/sessions",
            json={"lesson_id": str(LESSON_JOINS)},
            headers=bearer(learner.access_token),
        )
        # an HS256 token, even one signed with the stand-in's legacy secret, is not accepted:
        # the sidecar holds no secret
        legacy = jwt.encode(
            {
                **jwt.decode(learner.access_token, options={"verify_signature": False}),
                "sub": str(learner.id),
            },
            project.jwt_secret,
            algorithm="HS256",
        )
        refused = await sidecar.post(
            "/v1/checkout/sessions",
            json={"lesson_id": str(LESSON_JOINS)},
            headers=bearer(legacy),
        )
    assert created.status_code == 201, created.text
    assert refused.status_code == 401


async def test_a_signing_key_rotation_mid_session_keeps_the_learner_able_to_buy(
    database_url: str, project: SupabaseStandIn, standin: StandIn
) -> None:
    learner = sign_up(project)
    old_kid = jwt.get_unverified_header(learner.access_token)["kid"]
    # Supabase's procedure: a standby key is published first, so verifiers' cached key sets
    # hold it (here: the sidecar starts after it) before it signs anything
    standby = project.add_standby_signing_key()
    async with running_client(jwks_settings(database_url, project, standin)) as sidecar:
        first = await sidecar.post(
            "/v1/checkout/sessions",
            json={"lesson_id": str(LESSON_JOINS)},
            headers=bearer(learner.access_token),
        )
        assert first.status_code == 201, first.text
        assert project.rotate_signing_key() == standby
        # the token issued before the rotation still verifies
        session_id = first.json()["id"]
        read = await sidecar.get(
            f"/v1/checkout/sessions/{session_id}", headers=bearer(learner.access_token)
        )
        assert read.status_code == 200, read.text
        # the learner's next token carries the new kid and verifies too
        refreshed = learner.client.auth.refresh_session(learner.refresh_token).session
        assert refreshed is not None
        assert jwt.get_unverified_header(refreshed.access_token)["kid"] == standby != old_kid
        again = await sidecar.post(
            "/v1/checkout/sessions",
            json={"lesson_id": str(LESSON_JOINS)},
            headers=bearer(refreshed.access_token),
        )
        assert again.status_code == 200, again.text
        assert again.json()["id"] == session_id, "the open session is handed back"


async def test_a_banned_learner_with_an_unexpired_token_cannot_buy(
    database_url: str, project: SupabaseStandIn, standin: StandIn
) -> None:
    learner = sign_up(project)
    query(
        database_url,
        "update auth.users set banned_until = now() + interval '1 day' where id = %s",
        (learner.id,),
    )
    async with running_client(jwks_settings(database_url, project, standin)) as sidecar:
        response = await sidecar.post(
            "/v1/checkout/sessions",
            json={"lesson_id": str(LESSON_JOINS)},
            headers=bearer(learner.access_token),
        )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "account_disabled"
    # and Auth refuses the ban at the next refresh, as GoTrue does
    with pytest.raises(Exception, match="Banned"):
        client(project).auth.refresh_session(learner.refresh_token)
