"""`sidecar prune`: buyers' details leave stripe_events once an event is old enough, through
either database adapter, and the command says how many."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import timedelta

import pytest
from psycopg.types.json import Jsonb

from sidecar.cli import prune_event_payloads
from sidecar.db import Database
from tests.sidecar.conftest import LESSON_JOINS, as_service_role, checkout_session, event, query


def stored_payload(database_url: str, event_id: str) -> object:
    return query(
        database_url, "select payload from public.stripe_events where id = %s", (event_id,)
    )[0][0]


def age(database_url: str, event_id: str, days: int) -> None:
    query(
        database_url,
        "update public.stripe_events set processed_at = now() - make_interval(days => %s)"
        " where id = %s",
        (days, event_id),
    )


async def store(database: Database, learner: uuid.UUID) -> str:
    """A paid session's event, with the buyer's name and email in it as Stripe sends them."""
    session = checkout_session(user_id=learner, lesson_id=LESSON_JOINS)
    evt = event("checkout.session.completed", session)
    outcome = await database.rpc("handle_stripe_event", {"p_event": evt})
    assert outcome in ("recorded", "already_owned")
    return str(evt["id"])


@pytest.mark.anyio
async def test_prune_clears_payloads_older_than_asked_and_keeps_the_rest(
    adapter: Database, database_url: str, learner: uuid.UUID
) -> None:
    old = await store(adapter, learner)
    recent = await store(adapter, learner)
    age(database_url, old, 31)
    age(database_url, recent, 29)

    cleared = await prune_event_payloads(adapter, timedelta(days=30))

    assert cleared >= 1
    assert stored_payload(database_url, old) is None
    assert stored_payload(database_url, recent) is not None
    assert query(
        database_url, "select outcome from public.stripe_events where id = %s", (old,)
    ) == [("recorded",)]
    await prune_event_payloads(adapter, timedelta(days=30))
    assert stored_payload(database_url, recent) is not None


def sidecar_env(database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "STRIPE_SECRET_KEY": "sk_test_prune",
        "STRIPE_WEBHOOK_SECRET": "whsec_prune",
        "STRIPE_API_BASE": "http://127.0.0.1:9",
        "SITE_URL": "http://shop.test:3000",
        "DATABASE_URL": as_service_role(database_url),
        "SUPABASE_JWT_SECRET": "unused-here",
    }


def test_prune_command_prints_how_many_it_cleared(database_url: str, learner: uuid.UUID) -> None:
    evt = event(
        "checkout.session.completed", checkout_session(user_id=learner, lesson_id=LESSON_JOINS)
    )
    query(database_url, "select public.handle_stripe_event(%s)", (Jsonb(evt),))
    age(database_url, str(evt["id"]), 8)

    result = subprocess.run(
        [sys.executable, "-m", "sidecar.cli", "prune", "--older-than", "7d"],
        env=sidecar_env(database_url),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("pruned ")
    assert "Stripe event payloads processed over 7 days, 0:00:00 ago" in result.stdout
    assert int(result.stdout.split()[1]) >= 1
    assert stored_payload(database_url, str(evt["id"])) is None


def test_prune_command_refuses_a_duration_it_cannot_read(database_url: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sidecar.cli", "prune", "--older-than", "a month"],
        env=sidecar_env(database_url),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--older-than" in result.stderr
