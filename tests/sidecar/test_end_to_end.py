"""The whole flow over real sockets: sidecar under uvicorn, Stripe stand-in delivering webhooks.

The stand-in signs and delivers events exactly as Stripe does (retries, duplicates, shuffling),
so these tests prove the sidecar and SQL together, not a hand-made event.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import anyio
import anyio.to_thread
import httpx
import pytest
import stripe

from sidecar.app import open_database
from sidecar.db import OwnedDatabase
from sidecar.reconcile import reconcile, since_now
from sidecar.settings import Settings
from sidecar.stripe_client import make_stripe_client
from standins.stripe.testing import StandIn, running_standin
from tests.sidecar.conftest import (
    LESSON_JOINS,
    LESSON_RLS,
    LESSON_WEBHOOKS,
    WEBHOOK_SECRET,
    as_service_role,
    bearer,
    make_settings,
    new_learner,
    purchase_count,
    purchase_status,
    query,
    running_client,
    running_sidecar,
)
from tests.sidecar.proxy import CuttableProxy

Attempts = list[dict[str, Any]]
WEBHOOK_PATH = "/v1/webhooks/stripe"


@pytest.fixture
def standin() -> Iterator[StandIn]:
    """A stand-in of this test's own, retrying a little more patiently than the default."""
    with running_standin(retry_delays=(0.2, 0.4, 0.8, 1.6, 3.2)) as server:
        yield server


def sidecar_settings(database_url: str, standin: StandIn, /, **overrides: Any) -> Settings:
    return make_settings(
        database_url,
        stripe_api_base=standin.api_base,
        stripe_secret_key=standin.api_key,
        **overrides,
    )


def open_checkout(base: str, learner: uuid.UUID, lesson: uuid.UUID) -> dict[str, Any]:
    response = httpx.post(
        f"{base}/v1/checkout/sessions", json={"lesson_id": str(lesson)}, headers=bearer(learner)
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def delivered(event_type: str, times: int = 1) -> Callable[[Attempts], bool]:
    def predicate(attempts: Attempts) -> bool:
        return sum(1 for a in attempts if a["event_type"] == event_type and a["ok"]) >= times

    return predicate


def payment_intent_of(database_url: str, session_id: str) -> str:
    rows = query(
        database_url,
        "select stripe_payment_intent_id from public.checkout_sessions where id = %s",
        (session_id,),
    )
    return str(rows[0][0])


def test_pay_then_refund(database_url: str, standin: StandIn, learner: uuid.UUID) -> None:
    with running_sidecar(sidecar_settings(database_url, standin)) as base:
        standin.control.add_webhook_endpoint(base + WEBHOOK_PATH, secret=WEBHOOK_SECRET)
        session = open_checkout(base, learner, LESSON_JOINS)
        assert standin.control.pay(session["id"]).status_code == 303
        standin.control.wait_for_deliveries(delivered("checkout.session.completed"))
        assert purchase_status(database_url, learner, LESSON_JOINS) == "paid"

        status = httpx.get(f"{base}/v1/checkout/sessions/{session['id']}", headers=bearer(learner))
        assert status.json()["owned"] is True

        stripe_client = standin.stripe_client()
        payment_intent = payment_intent_of(database_url, session["id"])
        stripe_client.v1.refunds.create({"payment_intent": payment_intent})
        standin.control.wait_for_deliveries(delivered("charge.refunded"))
        assert purchase_status(database_url, learner, LESSON_JOINS) == "refunded"

        # Refunded: the lesson can be bought again, and the repurchase revives the row. A
        # payment, its refund and a repurchase all within one second cannot be ordered from
        # Stripe's whole-second times (ARCHITECTURE.md); no learner is that fast, this test is.
        standin.control.advance_clock(1)
        again = open_checkout(base, learner, LESSON_JOINS)
        assert again["id"] != session["id"]
        standin.control.pay(again["id"])
        standin.control.wait_for_deliveries(delivered("checkout.session.completed", times=2))
        assert purchase_status(database_url, learner, LESSON_JOINS) == "paid"
        assert purchase_count(database_url, learner) == 1
    assert all(a["ok"] for a in standin.control.deliveries())


def test_pending_refund_that_fails_gives_access_back(
    database_url: str, standin: StandIn, learner: uuid.UUID
) -> None:
    """A card whose refunds start pending (Stripe's 4000 0000 0000 7726): the refund ends
    access at once, and its failure, days later for the bank, gives it back."""
    with running_sidecar(sidecar_settings(database_url, standin)) as base:
        standin.control.add_webhook_endpoint(base + WEBHOOK_PATH, secret=WEBHOOK_SECRET)
        session = open_checkout(base, learner, LESSON_JOINS)
        assert standin.control.pay(session["id"], card="4000000000007726").status_code == 303
        standin.control.wait_for_deliveries(delivered("checkout.session.completed"))
        refund = standin.stripe_client().v1.refunds.create(
            {"payment_intent": payment_intent_of(database_url, session["id"])}
        )
        assert refund.status == "pending"
        standin.control.wait_for_deliveries(delivered("refund.created"))
        assert purchase_status(database_url, learner, LESSON_JOINS) == "refunded"
        standin.control.settle_refund(refund.id, succeeded=False)
        standin.control.wait_for_deliveries(delivered("refund.failed"))
        assert purchase_status(database_url, learner, LESSON_JOINS) == "paid"
        record = query(
            database_url,
            "select amount_refunded, refunded_at from public.checkout_sessions where id = %s",
            (session["id"],),
        )
        assert record == [(0, None)]
        restored = query(
            database_url,
            "select type from public.stripe_events where payment_intent_id = %s"
            " and outcome = 'restored'",
            (payment_intent_of(database_url, session["id"]),),
        )
        assert len(restored) == 1


def test_invoice_page_reaches_the_purchase(
    database_url: str, standin: StandIn, learner: uuid.UUID
) -> None:
    """CHECKOUT_INVOICES: the session asks Stripe for an invoice, and invoice.paid puts its
    hosted page on the purchase."""
    settings = sidecar_settings(database_url, standin, checkout_invoices=True)
    with running_sidecar(settings) as base:
        standin.control.add_webhook_endpoint(base + WEBHOOK_PATH, secret=WEBHOOK_SECRET)
        session = open_checkout(base, learner, LESSON_RLS)
        stripe_client = standin.stripe_client()
        creation = stripe_client.v1.checkout.sessions.retrieve(session["id"]).invoice_creation
        assert creation is not None
        assert creation.enabled
        standin.control.pay(session["id"])
        standin.control.wait_for_deliveries(delivered("checkout.session.completed"))
        standin.control.wait_for_deliveries(delivered("invoice.paid"))
        invoice_id = stripe_client.v1.checkout.sessions.retrieve(session["id"]).invoice
        assert isinstance(invoice_id, str)
        invoice = stripe_client.v1.invoices.retrieve(invoice_id)
        assert invoice.status == "paid"
        stored = query(
            database_url,
            "select invoice_id, invoice_url from public.checkout_sessions where id = %s",
            (session["id"],),
        )
        assert stored == [(invoice.id, invoice.hosted_invoice_url)]
        assert httpx.get(str(invoice.hosted_invoice_url)).status_code == 200


def test_dispute_takes_access_away_and_a_won_dispute_gives_it_back(
    database_url: str, standin: StandIn, learner: uuid.UUID
) -> None:
    with running_sidecar(sidecar_settings(database_url, standin)) as base:
        standin.control.add_webhook_endpoint(base + WEBHOOK_PATH, secret=WEBHOOK_SECRET)
        session = open_checkout(base, learner, LESSON_JOINS)
        standin.control.pay(session["id"])
        standin.control.wait_for_deliveries(delivered("checkout.session.completed"))
        dispute = standin.control.dispute(payment_intent_of(database_url, session["id"]))
        standin.control.wait_for_deliveries(delivered("charge.dispute.created"))
        assert purchase_status(database_url, learner, LESSON_JOINS) == "disputed"
        standin.control.close_dispute(dispute["id"], won=True)
        standin.control.wait_for_deliveries(delivered("charge.dispute.closed"))
        assert purchase_status(database_url, learner, LESSON_JOINS) == "paid"


def test_delayed_payment_is_pending_until_it_succeeds(
    database_url: str, standin: StandIn, learner: uuid.UUID
) -> None:
    with running_sidecar(sidecar_settings(database_url, standin)) as base:
        standin.control.add_webhook_endpoint(base + WEBHOOK_PATH, secret=WEBHOOK_SECRET)
        session = open_checkout(base, learner, LESSON_RLS)
        standin.control.pay_delayed(session["id"])
        standin.control.wait_for_deliveries(delivered("checkout.session.completed"))
        assert purchase_status(database_url, learner, LESSON_RLS) is None
        standin.control.delayed_succeed(session["id"])
        standin.control.wait_for_deliveries(delivered("checkout.session.async_payment_succeeded"))
        assert purchase_status(database_url, learner, LESSON_RLS) == "paid"


def test_two_replicas_duplicated_shuffled_deliveries_one_purchase(
    database_url: str, standin: StandIn, learner: uuid.UUID
) -> None:
    settings = sidecar_settings(database_url, standin)
    with running_sidecar(settings) as first, running_sidecar(settings) as second:
        for base in (first, second):
            standin.control.add_webhook_endpoint(base + WEBHOOK_PATH, secret=WEBHOOK_SECRET)
        standin.control.set_delivery(duplicate=True, shuffle=True)
        session = open_checkout(first, learner, LESSON_JOINS)
        standin.control.pay(session["id"])
        standin.control.wait_for_deliveries(delivered("checkout.session.completed", times=4))
    assert purchase_count(database_url, learner) == 1
    assert purchase_status(database_url, learner, LESSON_JOINS) == "paid"
    outcomes = query(
        database_url,
        "select outcome from public.stripe_events where checkout_session_id = %s "
        "and type = 'checkout.session.completed'",
        (session["id"],),
    )
    assert outcomes == [("recorded",)]


def test_webhook_refused_while_the_database_is_down_is_recorded_on_retry(
    database_url: str, standin: StandIn, learner: uuid.UUID
) -> None:
    with CuttableProxy.in_front_of(database_url) as proxy:
        settings = sidecar_settings(
            database_url,
            standin,
            database_url=as_service_role(proxy.url_through(database_url)),
            database_pool_timeout=0.5,
        )
        with running_sidecar(settings) as base:
            standin.control.add_webhook_endpoint(base + WEBHOOK_PATH, secret=WEBHOOK_SECRET)
            session = open_checkout(base, learner, LESSON_JOINS)
            proxy.cut()
            standin.control.pay(session["id"])
            attempts = standin.control.wait_for_deliveries(
                lambda attempts: any(a["status"] == 503 for a in attempts)
            )
            refused = [a for a in attempts if a["status"] == 503]
            assert all(a["will_retry"] for a in refused)
            assert purchase_status(database_url, learner, LESSON_JOINS) is None
            proxy.restore()
            standin.control.wait_for_deliveries(delivered("checkout.session.completed"))
    assert purchase_status(database_url, learner, LESSON_JOINS) == "paid"


# --- reconcile ---------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_reconcile_records_paid_sessions_whose_webhooks_never_came(
    database_url: str, standin: StandIn, learner: uuid.UUID
) -> None:
    # No webhook endpoint at all: only reconcile can learn of the payment.
    settings = sidecar_settings(database_url, standin)
    async with running_client(settings) as client:
        created = await client.post(
            "/v1/checkout/sessions", json={"lesson_id": str(LESSON_JOINS)}, headers=bearer(learner)
        )
        unpaid = await client.post(
            "/v1/checkout/sessions", json={"lesson_id": str(LESSON_RLS)}, headers=bearer(learner)
        )
        session_id = created.json()["id"]
        await anyio.to_thread.run_sync(standin.control.pay, session_id)
        assert purchase_status(database_url, learner, LESSON_JOINS) is None

        lines: list[str] = []
        async with reconcile_tools(settings) as (stripe_client, database):
            first = await reconcile(stripe_client, database, five_minutes_ago(), lines.append)
        assert first.fixed == 1
        assert lines == [
            f"fixed {session_id}: purchase recorded (user {learner}, lesson {LESSON_JOINS})"
        ]
        assert purchase_status(database_url, learner, LESSON_JOINS) == "paid"
        assert unpaid.status_code == 201  # listed, but not paid: left alone

        again: list[str] = []
        async with reconcile_tools(settings) as (stripe_client, database):
            second = await reconcile(stripe_client, database, five_minutes_ago(), again.append)
        assert (second.fixed, again) == (0, [])
        assert second.paid >= 1
    assert purchase_count(database_url, learner) == 1


def test_reconcile_applies_a_refund_whose_webhook_never_came(
    database_url: str, standin: StandIn, learner: uuid.UUID
) -> None:
    settings = sidecar_settings(database_url, standin)
    with running_sidecar(settings) as base:
        standin.control.add_webhook_endpoint(base + WEBHOOK_PATH, secret=WEBHOOK_SECRET)
        session = open_checkout(base, learner, LESSON_JOINS)
        standin.control.pay(session["id"])
        standin.control.wait_for_deliveries(delivered("checkout.session.completed"))
        standin.control.set_delivery(paused=True)  # the endpoint is down from here on
        payment_intent = payment_intent_of(database_url, session["id"])
        standin.stripe_client().v1.refunds.create({"payment_intent": payment_intent})
    assert purchase_status(database_url, learner, LESSON_JOINS) == "paid"

    async def run() -> tuple[list[str], list[str]]:
        first: list[str] = []
        second: list[str] = []
        async with reconcile_tools(settings) as (stripe_client, database):
            await reconcile(stripe_client, database, five_minutes_ago(), first.append)
            await reconcile(stripe_client, database, five_minutes_ago(), second.append)
        return first, second

    first, second = anyio.run(run)
    refunds = [line for line in first if "(charge.refunded): revoked" in line]
    assert len(refunds) == 1, first
    assert purchase_status(database_url, learner, LESSON_JOINS) == "refunded"
    assert second == [], "a second run finds nothing left to do"


@pytest.mark.anyio
async def test_reconcile_reads_every_page(database_url: str, standin: StandIn) -> None:
    settings = sidecar_settings(database_url, standin)
    learners = [new_learner(database_url) for _ in range(3)]
    async with running_client(settings) as client:
        for learner in learners:
            created = await client.post(
                "/v1/checkout/sessions",
                json={"lesson_id": str(LESSON_WEBHOOKS)},
                headers=bearer(learner),
            )
            await anyio.to_thread.run_sync(standin.control.pay, created.json()["id"])
    lines: list[str] = []
    async with reconcile_tools(settings) as (stripe_client, database):
        report = await reconcile(
            stripe_client, database, five_minutes_ago(), lines.append, page_size=1
        )
    assert report.fixed == 3
    assert len(lines) == 3
    for learner in learners:
        assert purchase_status(database_url, learner, LESSON_WEBHOOKS) == "paid"


def five_minutes_ago() -> datetime:
    return since_now(timedelta(minutes=5))


@asynccontextmanager
async def reconcile_tools(
    settings: Settings,
) -> AsyncIterator[tuple[stripe.StripeClient, OwnedDatabase]]:
    """What `sidecar reconcile` builds from settings: a Stripe client and an open database."""
    database = open_database(settings)
    http_client = stripe.HTTPXClient()
    await database.open()
    try:
        yield make_stripe_client(settings, http_client), database
    finally:
        await database.close()
        await http_client.close_async()  # type: ignore[no-untyped-call]


def test_reconcile_command_prints_fixes_and_a_summary(
    database_url: str, standin: StandIn, learner: uuid.UUID
) -> None:
    settings = sidecar_settings(database_url, standin)
    with running_sidecar(settings) as base:
        session = open_checkout(base, learner, LESSON_JOINS)
    standin.control.pay(session["id"])
    env = {
        **os.environ,
        "STRIPE_SECRET_KEY": standin.api_key,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_API_BASE": standin.api_base,
        "SITE_URL": "http://shop.test:3000",
        "DATABASE_URL": settings.database_url or "",
        "SUPABASE_JWT_SECRET": "unused-here",
    }
    command = [sys.executable, "-m", "sidecar.cli", "reconcile", "--since", "1h"]
    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    assert f"fixed {session['id']}: purchase recorded" in first.stdout
    assert "1 fixed" in first.stdout
    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert second.returncode == 0, second.stderr
    assert "fixed cs_" not in second.stdout
    assert " 0 fixed" in second.stdout
    assert purchase_status(database_url, learner, LESSON_JOINS) == "paid"


def test_reconcile_exits_1_when_a_paid_session_needs_attention(
    database_url: str, standin: StandIn, learner: uuid.UUID
) -> None:
    # A session made outside the sidecar, for one of our lessons at the wrong price, and paid.
    tampered = standin.stripe_client().v1.checkout.sessions.create(
        {
            "mode": "payment",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": "usd",
                        "unit_amount": 1,
                        "product_data": {"name": "Joins without fear"},
                    },
                }
            ],
            "metadata": {"user_id": str(learner), "lesson_id": str(LESSON_JOINS)},
            "client_reference_id": str(learner),
            "success_url": "https://shop.test/ok",
            "cancel_url": "https://shop.test/no",
        }
    )
    standin.control.pay(tampered.id)
    settings = sidecar_settings(database_url, standin)
    env = {
        **os.environ,
        "STRIPE_SECRET_KEY": standin.api_key,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_API_BASE": standin.api_base,
        "SITE_URL": "http://shop.test:3000",
        "DATABASE_URL": settings.database_url or "",
        "SUPABASE_JWT_SECRET": "unused-here",
    }
    result = subprocess.run(
        [sys.executable, "-m", "sidecar.cli", "reconcile", "--since", "1h"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"attention {tampered.id}: paid but rejected:amount_mismatch" in result.stdout
    assert purchase_status(database_url, learner, LESSON_JOINS) is None


def test_reconcile_keeps_a_paid_session_with_unreadable_metadata_for_the_attention_list(
    database_url: str, standin: StandIn
) -> None:
    # Paid on Stripe, but its metadata names nobody the shop can read: nothing can be recorded,
    # and the session must not stay a line in reconcile's output only.
    unreadable = standin.stripe_client().v1.checkout.sessions.create(
        {
            "mode": "payment",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": "usd",
                        "unit_amount": 1200,
                        "product_data": {"name": "Joins without fear"},
                    },
                }
            ],
            "metadata": {"user_id": "learner-42", "lesson_id": str(LESSON_JOINS)},
            "client_reference_id": "learner-42",
            "success_url": "https://shop.test/ok",
            "cancel_url": "https://shop.test/no",
        }
    )
    standin.control.pay(unreadable.id)
    paid_with = standin.stripe_client().v1.checkout.sessions.retrieve(unreadable.id).payment_intent
    settings = sidecar_settings(database_url, standin)
    env = {
        **os.environ,
        "STRIPE_SECRET_KEY": standin.api_key,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_API_BASE": standin.api_base,
        "SITE_URL": "http://shop.test:3000",
        "DATABASE_URL": settings.database_url or "",
        "SUPABASE_JWT_SECRET": "unused-here",
    }

    def sidecar(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "sidecar.cli", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    first = sidecar("reconcile", "--since", "1h")
    assert first.returncode == 1, first.stdout + first.stderr
    assert f"attention {unreadable.id}: paid but rejected:bad_metadata" in first.stdout
    assert sidecar("reconcile", "--since", "1h").returncode == 1

    # kept, and listed exactly once: under the session, or under its checkout.session.completed
    # event when reconcile's replay of Stripe's events stored that event too (the event's item
    # takes precedence, as a webhook's would)
    assert query(
        database_url,
        "select reason, payment_intent_id, amount_total from public.unmatched_checkout_sessions"
        " where id = %s",
        (unreadable.id,),
    ) == [("bad_metadata", paid_with, 1200)]
    events = {
        row[0]
        for row in query(
            database_url,
            "select id from public.stripe_events where checkout_session_id = %s",
            (unreadable.id,),
        )
    }
    listed = [
        item
        for item in json.loads(sidecar("attention", "--json").stdout)
        if item["reference"] == unreadable.id or item["reference"] in events
    ]
    assert len(listed) == 1, listed
    assert listed[0]["id"] in {f"unmatched_session:{unreadable.id}"} | {
        f"stripe_event:{evt}" for evt in events
    }
    assert "metadata names no learner or lesson the shop can read" in listed[0]["what"]
    assert listed[0]["suggested_action"]


def test_cli_names_a_missing_variable_and_exits_2() -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("STRIPE_", "SITE_", "DATABASE_", "SUPABASE_"))
    }
    env["PWD"] = "/"  # no .env to read
    result = subprocess.run(
        [sys.executable, "-m", "sidecar.cli", "reconcile"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",  # no .env there to fill the gap
    )
    assert result.returncode == 2
    assert "STRIPE_SECRET_KEY is not set" in result.stderr


def test_a_learner_pays_with_a_promotion_code(
    database_url: str, standin: StandIn, learner: uuid.UUID
) -> None:
    settings = sidecar_settings(database_url, standin, checkout_promotion_codes=True)
    with running_sidecar(settings) as base:
        standin.control.add_webhook_endpoint(base + WEBHOOK_PATH, secret=WEBHOOK_SECRET)
        stripe_client = standin.stripe_client()
        coupon = stripe_client.v1.coupons.create({"percent_off": 25, "duration": "once"})
        code = stripe_client.v1.promotion_codes.create(
            {"promotion": {"type": "coupon", "coupon": coupon.id}, "code": "KNOTS25"}
        )
        standin.control.wait_for_deliveries(delivered("promotion_code.created"))

        session = open_checkout(base, learner, LESSON_JOINS)
        opened = stripe_client.v1.checkout.sessions.retrieve(session["id"])
        assert opened.allow_promotion_codes is True
        assert standin.control.apply_code(session["id"], "KNOTS25").status_code == 200
        assert standin.control.pay(session["id"]).status_code == 303
        standin.control.wait_for_deliveries(delivered("checkout.session.completed"))

        assert purchase_status(database_url, learner, LESSON_JOINS) == "paid"
        rows = query(
            database_url,
            "select amount_total, amount_discount, amount_paid, promotion_code_id, coupon_id "
            "from public.checkout_sessions where id = %s",
            (session["id"],),
        )
        assert rows == [(1200, 300, 900, code.id, coupon.id)]
        # purchase_list() reads auth.uid() from the request's claims, as PostgREST sets them
        with_learner = query(
            database_url,
            "select set_config('request.jwt.claims', %s, false), "
            "(select row(p.amount_total, p.amount_discount, p.promotion_code)::text "
            " from public.purchase_list() as p where p.id = %s)",
            (f'{{"sub": "{learner}", "role": "authenticated"}}', session["id"]),
        )
        assert with_learner[0][1] == "(900,300,KNOTS25)"
    assert all(a["ok"] for a in standin.control.deliveries())
