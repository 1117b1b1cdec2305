"""The sidecar configured with SUPABASE_URL + SUPABASE_SECRET_KEY only: webhooks reach SQL
through supabase-py and the Supabase stand-in's PostgREST, end to end, with an sb_secret_ key
(and with a legacy service_role JWT key)."""

from __future__ import annotations

import uuid

import pytest

from standins.supabase.testing import StandIn as SupabaseStandIn
from tests.sidecar.conftest import (
    LESSON_WEBHOOKS,
    checkout_session,
    deliver,
    event,
    purchase_count,
    purchase_status,
    running_client,
    stored_event,
    supabase_settings,
)

pytestmark = pytest.mark.anyio


async def test_a_paid_checkout_is_recorded_once_through_postgrest(
    database_url: str, supabase_api: SupabaseStandIn, learner: uuid.UUID
) -> None:
    session = checkout_session(user_id=learner, lesson_id=LESSON_WEBHOOKS, amount_total=1900)
    completed = event("checkout.session.completed", session)
    async with running_client(supabase_settings(database_url, supabase_api)) as client:
        first = await deliver(client, completed)
        again = await deliver(client, completed)
        ready = await client.get("/readyz")
    assert (first.status_code, first.json()) == (200, {"received": True, "outcome": "recorded"})
    assert again.json()["outcome"] == "duplicate"
    assert ready.status_code == 200
    assert purchase_status(database_url, learner, LESSON_WEBHOOKS) == "paid"
    assert purchase_count(database_url, learner) == 1
    assert stored_event(database_url, completed["id"]) == ("recorded", None)


async def test_postgrest_down_answers_503_so_stripe_retries(
    database_url: str, learner: uuid.UUID
) -> None:
    nowhere = SupabaseStandIn(
        url="http://127.0.0.1:9",
        jwt_secret="",
        publishable_key="",
        secret_key="sb_secret_nowhere",
        anon_key="",
        service_role_key="",
    )
    session = checkout_session(user_id=learner, lesson_id=LESSON_WEBHOOKS, amount_total=1900)
    completed = event("checkout.session.completed", session)
    async with running_client(supabase_settings(database_url, nowhere)) as client:
        response = await deliver(client, completed)
    assert response.status_code == 503
    assert stored_event(database_url, completed["id"]) is None


async def test_a_legacy_service_role_key_still_reaches_sql(
    database_url: str, supabase_api: SupabaseStandIn, learner: uuid.UUID
) -> None:
    session = checkout_session(user_id=learner, lesson_id=LESSON_WEBHOOKS, amount_total=1900)
    completed = event("checkout.session.completed", session)
    legacy = supabase_settings(
        database_url, supabase_api, supabase_secret_key=supabase_api.service_role_key
    )
    async with running_client(legacy) as client:
        response = await deliver(client, completed)
    assert (response.status_code, response.json()["outcome"]) == (200, "recorded")
