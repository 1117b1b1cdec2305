"""A promotion code that takes the whole price off: the Stripe stand-in completes the session
with `payment_status` `no_payment_required` and `amount_total` 0 (a 100%-off coupon), and the
purchase rules grant the lesson exactly once, however often the session reaches them (its
webhook redelivered, the learner's return page, reconcile); the learner's Purchases row says
what the frontend turns into "Free with code FREE" (frontend/tests/purchases.test.tsx)."""

from __future__ import annotations

import json
import uuid

import psycopg
import stripe
from psycopg.types.json import Jsonb

from sidecar.stripe_client import as_json
from standins.stripe.testing import StandIn
from tests.sidecar.conftest import LESSON_JOINS, as_service_role, query


def test_a_session_a_code_made_free_is_granted_once_and_says_free_with_its_code(
    database_url: str, standin: StandIn, learner: uuid.UUID
) -> None:
    client = standin.stripe_client()
    coupon = client.v1.coupons.create(params={"percent_off": 100, "duration": "once"})
    client.v1.promotion_codes.create(
        params={"promotion": {"type": "coupon", "coupon": coupon.id}, "code": "FREE"}
    )
    session = client.v1.checkout.sessions.create(
        {
            "mode": "payment",
            "allow_promotion_codes": True,
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
            "metadata": {"user_id": str(learner), "lesson_id": str(LESSON_JOINS)},
            "client_reference_id": str(learner),
            "success_url": "https://shop.test/ok",
            "cancel_url": "https://shop.test/no",
        }
    )
    assert standin.control.apply_code(session.id, "FREE").status_code == 200
    assert standin.control.pay(session.id).status_code == 303
    done = client.v1.checkout.sessions.retrieve(session.id)
    assert (done.payment_status, done.amount_total, done.payment_intent) == (
        "no_payment_required",
        0,
        None,
    )

    service = as_service_role(database_url)
    events: list[stripe.Event] = [
        event
        for event in client.v1.events.list(params={"limit": 100}).data
        if event.type.startswith("promotion_code.")
        or (event.type == "checkout.session.completed" and event.data.object["id"] == done.id)
    ]
    completed = [e for e in events if e.type == "checkout.session.completed"]
    assert len(completed) == 1
    outcomes = [
        query(service, "select public.handle_stripe_event(%s)", (Jsonb(as_json(e)),))[0][0]
        for e in reversed(events)  # oldest first, as Stripe delivered them
    ]
    assert outcomes[-1] == "recorded"
    # redelivered, read back on the return page, and by reconcile: nothing more
    again = query(service, "select public.handle_stripe_event(%s)", (Jsonb(as_json(completed[0])),))
    assert again == [("duplicate",)]
    synced = query(service, "select public.sync_checkout_session(%s)", (Jsonb(as_json(done)),))
    assert synced == [("duplicate",)]

    assert query(
        database_url,
        "select status, amount_total from public.purchased_lessons"
        " where user_id = %s and lesson_id = %s",
        (learner, LESSON_JOINS),
    ) == [("paid", 1200)]
    assert query(
        database_url,
        "select count(*) from public.checkout_sessions"
        " where user_id = %s and fulfilment = 'granted'",
        (learner,),
    ) == [(1,)]
    purchases = query_as_learner(database_url, learner)
    assert purchases == [(done.id, "paid", 0, 1200, "FREE")]


def query_as_learner(database_url: str, learner: uuid.UUID) -> list[tuple[object, ...]]:
    """The learner's Purchases rows as the frontend reads them (purchase_list() through RLS)."""
    with psycopg.connect(database_url, autocommit=False) as conn:
        conn.execute(
            "select set_config('request.jwt.claims', %s, true)",
            (json.dumps({"sub": str(learner), "role": "authenticated"}),),
        )
        conn.execute("set local role authenticated")
        return conn.execute(
            "select id, status::text, amount_total, amount_discount, promotion_code"
            " from public.purchase_list()"
        ).fetchall()
