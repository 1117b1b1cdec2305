"""Early fraud warnings through the sidecar and the Stripe stand-in, over real sockets.

The stand-in makes the warnings (`POST /_standin/early_fraud_warnings`) and their events, and
answers the refunds the sidecar asks for as Stripe does (idempotency keys,
`charge_already_refunded`). Refunds are counted on the stand-in's own store, not on what the
sidecar believes it did.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio
import httpx
import pytest
import stripe

from sidecar.reconcile import reconcile
from standins.stripe import refunds
from standins.stripe.testing import StandIn, running_standin
from tests.sidecar.conftest import (
    LESSON_JOINS,
    WEBHOOK_SECRET,
    make_settings,
    purchase_status,
    query,
    running_sidecar,
    signed,
)
from tests.sidecar.test_end_to_end import (
    WEBHOOK_PATH,
    delivered,
    five_minutes_ago,
    open_checkout,
    payment_intent_of,
    reconcile_tools,
    sidecar_settings,
)


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with running_standin(retry_delays=(0.2, 0.4, 0.8, 1.6, 3.2)) as server:
        yield server


def refunds_at_stripe(standin: StandIn, payment_intent: str) -> list[dict[str, Any]]:
    """Every refund the stand-in holds for the payment intent (its store, not the sidecar's)."""
    ledger = standin.app.state.ledger
    return [r for r in ledger.refunds.values() if r["payment_intent"] == payment_intent]


def paid_purchase(base: str, standin: StandIn, database_url: str, learner: uuid.UUID) -> str:
    """A paid lesson, its webhook applied; its payment intent."""
    session = open_checkout(base, learner, LESSON_JOINS)
    assert standin.control.pay(session["id"]).status_code == 303
    standin.control.wait_for_deliveries(delivered("checkout.session.completed"))
    assert purchase_status(database_url, learner, LESSON_JOINS) == "paid"
    return payment_intent_of(database_url, session["id"])


def warning_event(standin: StandIn, warning_id: str) -> dict[str, Any]:
    """The radar.early_fraud_warning.created event the stand-in made for a warning."""
    events = standin.stripe_client().v1.events.list(
        params={"type": "radar.early_fraud_warning.created"}
    )
    found = [e for e in events.data if e.data.object.id == warning_id]
    assert len(found) == 1
    event: dict[str, Any] = found[0].to_dict(recursive=True)
    return event


def post_storm(bases: list[str], events: list[dict[str, Any]], copies: int) -> Counter[int]:
    """Each event `copies` times, all at once, spread over the sidecars: status code counts."""
    deliveries = [(bases[i % len(bases)], evt) for evt in events for i in range(copies)]

    def post(target: tuple[str, dict[str, Any]]) -> int:
        base, evt = target
        payload, headers = signed(json.loads(json.dumps(evt)))
        return httpx.post(
            base + WEBHOOK_PATH, content=payload, headers=headers, timeout=30
        ).status_code

    with ThreadPoolExecutor(max_workers=len(deliveries)) as pool:
        return Counter(pool.map(post, deliveries))


def test_an_actionable_warning_ends_access_and_refunds_the_payment_once(
    database_url: str, standin: StandIn, learner: uuid.UUID
) -> None:
    with running_sidecar(sidecar_settings(database_url, standin)) as base:
        standin.control.add_webhook_endpoint(base + WEBHOOK_PATH, secret=WEBHOOK_SECRET)
        payment_intent = paid_purchase(base, standin, database_url, learner)

        warning = standin.control.early_fraud_warning(payment_intent)
        standin.control.wait_for_deliveries(delivered("radar.early_fraud_warning.created"))
        assert purchase_status(database_url, learner, LESSON_JOINS) == "refunded"

        refunds = refunds_at_stripe(standin, payment_intent)
        assert len(refunds) == 1
        assert refunds[0]["amount"] == 1200
        assert refunds[0]["reason"] == "fraudulent"
        assert refunds[0]["metadata"] == {"early_fraud_warning": warning["id"]}
        # the refund's own events arrive and count it once
        standin.control.wait_for_deliveries(delivered("charge.refunded"))
        standin.control.wait_for_deliveries(delivered("refund.created"))
        record = query(
            database_url,
            "select amount_refunded, refund_reason from public.checkout_sessions"
            " where stripe_payment_intent_id = %s",
            (payment_intent,),
        )
        assert record == [(1200, "early_fraud_warning")]
        stored = query(
            database_url,
            "select refund_id, idempotency_key from public.early_fraud_warning_refunds"
            " where payment_intent_id = %s",
            (payment_intent,),
        )
        assert stored == [(refunds[0]["id"], f"efw-refund-{warning['id']}")]
        assert purchase_status(database_url, learner, LESSON_JOINS) == "refunded"
    assert all(a["ok"] for a in standin.control.deliveries())


def test_a_storm_of_duplicated_warnings_makes_exactly_one_refund(
    database_url: str,
    standin: StandIn,
    learner: uuid.UUID,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Two replicas; 20 copies of one warning's event and 20 of a second warning on the same
    charge, all at once, while the stand-in delivers each (duplicated) too: one refund call."""
    calls: list[dict[str, Any]] = []
    create_refund = refunds.create_refund

    def counted(ledger: Any, params: dict[str, Any], context: Any) -> Any:
        calls.append(params)  # every refund the stand-in ran (an idempotent replay runs none)
        return create_refund(ledger, params, context)

    monkeypatch.setattr(refunds, "create_refund", counted)
    settings = sidecar_settings(database_url, standin)
    with running_sidecar(settings) as first, running_sidecar(settings) as second:
        standin.control.add_webhook_endpoint(first + WEBHOOK_PATH, secret=WEBHOOK_SECRET)
        payment_intent = paid_purchase(first, standin, database_url, learner)
        standin.control.set_delivery(duplicate=True, shuffle=True)
        one = standin.control.early_fraud_warning(payment_intent)
        two = standin.control.early_fraud_warning(payment_intent)
        events = [warning_event(standin, one["id"]), warning_event(standin, two["id"])]

        answers = post_storm([first, second], events, copies=20)

        standin.control.wait_for_deliveries(delivered("radar.early_fraud_warning.created", 2))
        standin.control.wait_for_deliveries(delivered("charge.refunded"))
    assert answers == {200: 40}
    assert len(calls) == 1, calls
    made = refunds_at_stripe(standin, payment_intent)
    assert len(made) == 1
    assert purchase_status(database_url, learner, LESSON_JOINS) == "refunded"
    decided = query(
        database_url,
        "select action from public.early_fraud_warnings where payment_intent_id = %s",
        (payment_intent,),
    )
    assert decided == [("refund",), ("refund",)]
    with capsys.disabled():
        print(
            f"\nearly fraud warning storm: 2 warnings x 20 copies over 2 replicas"
            f" (+ the stand-in's own duplicated deliveries): {len(calls)} refund call,"
            f" {len(made)} refund at Stripe"
        )


def test_stripe_failing_answers_502_and_the_redelivery_refunds_once(
    database_url: str, standin: StandIn, learner: uuid.UUID
) -> None:
    """A replica that cannot reach Stripe answers 502 (Stripe redelivers); the redelivery,
    to a replica that can, asks with the same idempotency key and makes the one refund."""
    with running_sidecar(sidecar_settings(database_url, standin)) as healthy:
        standin.control.add_webhook_endpoint(healthy + WEBHOOK_PATH, secret=WEBHOOK_SECRET)
        payment_intent = paid_purchase(healthy, standin, database_url, learner)
    # no endpoint is listening any more: the warning is delivered by hand below, first to a
    # replica whose Stripe is unreachable (make_settings' default STRIPE_API_BASE)
    broken_settings = make_settings(database_url, stripe_secret_key=standin.api_key)
    warning = standin.control.early_fraud_warning(payment_intent)
    evt = warning_event(standin, warning["id"])
    with running_sidecar(broken_settings) as broken:
        payload, headers = signed(evt)
        response = httpx.post(broken + WEBHOOK_PATH, content=payload, headers=headers, timeout=30)
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "payment_provider_error"
    assert purchase_status(database_url, learner, LESSON_JOINS) == "refunded"  # access ended
    assert refunds_at_stripe(standin, payment_intent) == []
    with running_sidecar(sidecar_settings(database_url, standin)) as healthy:
        for _ in range(2):
            payload, headers = signed(evt)
            again = httpx.post(healthy + WEBHOOK_PATH, content=payload, headers=headers, timeout=30)
            assert again.status_code == 200
            assert again.json()["outcome"] == "duplicate"
    assert len(refunds_at_stripe(standin, payment_intent)) == 1
    attempts = query(
        database_url,
        "select attempts, refund_id is not null from public.early_fraud_warning_refunds"
        " where payment_intent_id = %s",
        (payment_intent,),
    )
    assert attempts == [(2, True)]


def test_a_second_refund_of_a_fully_refunded_charge_is_refused_as_stripe_does(
    standin: StandIn, database_url: str, learner: uuid.UUID
) -> None:
    with running_sidecar(sidecar_settings(database_url, standin)) as base:
        standin.control.add_webhook_endpoint(base + WEBHOOK_PATH, secret=WEBHOOK_SECRET)
        payment_intent = paid_purchase(base, standin, database_url, learner)
    client = standin.stripe_client()
    client.v1.refunds.create(params={"payment_intent": payment_intent})
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.refunds.create(params={"payment_intent": payment_intent, "reason": "fraudulent"})
    assert refused.value.code == "charge_already_refunded"
    assert refused.value.http_status == 400


def test_with_auto_refund_off_a_warning_is_listed_and_access_kept(
    database_url: str, standin: StandIn, learner: uuid.UUID
) -> None:
    settings = sidecar_settings(database_url, standin, efw_auto_refund=False)
    with running_sidecar(settings) as base:
        standin.control.add_webhook_endpoint(base + WEBHOOK_PATH, secret=WEBHOOK_SECRET)
        payment_intent = paid_purchase(base, standin, database_url, learner)
        warning = standin.control.early_fraud_warning(payment_intent)
        standin.control.wait_for_deliveries(delivered("radar.early_fraud_warning.created"))
    assert purchase_status(database_url, learner, LESSON_JOINS) == "paid"
    assert refunds_at_stripe(standin, payment_intent) == []
    listed = query(
        database_url,
        "select reason from public.payments_needing_attention where reference = %s",
        (warning["id"],),
    )
    assert listed == [("early_fraud_warning:auto_refund_off",)]


def test_a_refund_stripe_refuses_is_recorded_and_listed_not_retried(
    database_url: str, standin: StandIn, learner: uuid.UUID
) -> None:
    """The charge was disputed at Stripe after the warning was created but before the shop
    heard of either: Stripe refuses the refund (charge_disputed); the webhook answers 200."""
    with running_sidecar(sidecar_settings(database_url, standin)) as base:
        standin.control.add_webhook_endpoint(base + WEBHOOK_PATH, secret=WEBHOOK_SECRET)
        payment_intent = paid_purchase(base, standin, database_url, learner)
    warning = standin.control.early_fraud_warning(payment_intent)
    standin.control.dispute(payment_intent)
    evt = warning_event(standin, warning["id"])
    with running_sidecar(sidecar_settings(database_url, standin)) as base:
        payload, headers = signed(evt)
        response = httpx.post(base + WEBHOOK_PATH, content=payload, headers=headers, timeout=30)
        assert response.status_code == 200
        payload, headers = signed(evt)
        httpx.post(base + WEBHOOK_PATH, content=payload, headers=headers, timeout=30)
    assert refunds_at_stripe(standin, payment_intent) == []
    stored = query(
        database_url,
        "select refused_code, attempts from public.early_fraud_warning_refunds"
        " where payment_intent_id = %s",
        (payment_intent,),
    )
    assert stored == [("charge_disputed", 1)]
    listed = query(
        database_url,
        "select reason from public.payments_needing_attention where reference = %s",
        (warning["id"],),
    )
    assert listed == [("early_fraud_warning:refund_refused:charge_disputed",)]


def test_reconcile_acts_on_a_warning_whose_webhook_never_came(
    database_url: str, standin: StandIn, learner: uuid.UUID
) -> None:
    """The endpoint is down when the warning comes: reconcile applies it and asks for the
    refund, once; a second run finds nothing to do."""
    settings = sidecar_settings(database_url, standin)
    with running_sidecar(settings) as base:
        standin.control.add_webhook_endpoint(base + WEBHOOK_PATH, secret=WEBHOOK_SECRET)
        payment_intent = paid_purchase(base, standin, database_url, learner)
        standin.control.set_delivery(paused=True)
        warning = standin.control.early_fraud_warning(payment_intent)
    assert purchase_status(database_url, learner, LESSON_JOINS) == "paid"

    async def run() -> tuple[list[str], list[str]]:
        first: list[str] = []
        second: list[str] = []
        async with reconcile_tools(settings) as (stripe_client, database):
            await reconcile(stripe_client, database, five_minutes_ago(), first.append)
            await reconcile(stripe_client, database, five_minutes_ago(), second.append)
        return first, second

    first, second = anyio.run(run)
    made = refunds_at_stripe(standin, payment_intent)
    assert len(made) == 1
    assert any("(radar.early_fraud_warning.created): revoked" in line for line in first), first
    assert f"fixed: refund {made[0]['id']} asked for an early fraud warning" in first
    assert made[0]["metadata"] == {"early_fraud_warning": warning["id"]}
    assert purchase_status(database_url, learner, LESSON_JOINS) == "refunded"
    assert second == [], "a second run finds nothing left to do"


def test_a_warning_delivered_before_its_purchase_refunds_when_the_purchase_lands(
    database_url: str, standin: StandIn, learner: uuid.UUID
) -> None:
    """Deliveries reordered after an outage: the warning first (kept, `deferred`), then the
    completion, which grants nothing, answers `revoked` and has the refund asked for once."""
    with running_sidecar(sidecar_settings(database_url, standin)) as base:
        session = open_checkout(base, learner, LESSON_JOINS)
        assert standin.control.pay(session["id"]).status_code == 303
        completed = standin.stripe_client().v1.events.list(
            params={"type": "checkout.session.completed"}
        )
        completion = next(
            e.to_dict(recursive=True) for e in completed.data if e.data.object.id == session["id"]
        )
        payment_intent = completion["data"]["object"]["payment_intent"]
        warning = standin.control.early_fraud_warning(payment_intent)
        answers = []
        for evt in (warning_event(standin, warning["id"]), completion, completion):
            payload, headers = signed(evt)
            response = httpx.post(base + WEBHOOK_PATH, content=payload, headers=headers, timeout=30)
            assert response.status_code == 200
            answers.append(response.json()["outcome"])
    assert answers == ["deferred", "revoked", "duplicate"]
    assert purchase_status(database_url, learner, LESSON_JOINS) == "refunded"
    made = refunds_at_stripe(standin, payment_intent)
    assert len(made) == 1
    assert made[0]["metadata"] == {"early_fraud_warning": warning["id"]}
