"""Refunds that start pending, then succeed or fail, with refund.* events as Stripe sends them."""

from __future__ import annotations

from typing import Any

import httpx
import stripe

from standins.stripe.testing import StandIn
from tests.standins.stripe.conftest import Receiver, create_session

REFUND_PENDING_CARD = "4000 0000 0000 7726"  # Stripe's test card whose refunds start pending


def paid_charge_id(client: stripe.StripeClient, standin: StandIn, card: str | None = None) -> str:
    session = create_session(client)
    standin.control.pay(session.id, card=card)
    paid = client.v1.checkout.sessions.retrieve(session.id, params={"expand": ["payment_intent"]})
    return str(paid["payment_intent"]["latest_charge"])


def events_after(standin: StandIn, receiver: Receiver, count: int) -> list[dict[str, Any]]:
    """The events delivered after a card payment's four, once `count` more arrived."""
    standin.control.wait_for_deliveries(lambda a: sum(1 for x in a if x["ok"]) >= 4 + count)
    return receiver.events()[4:]


def test_refund_of_a_card_that_refunds_at_once_succeeds_with_both_events(
    client: stripe.StripeClient, standin: StandIn, receiver: Receiver
) -> None:
    charge_id = paid_charge_id(client, standin)
    refund = client.v1.refunds.create(params={"charge": charge_id})
    assert refund.status == "succeeded"
    assert "pending_reason" not in refund
    events = events_after(standin, receiver, 2)
    assert [e["type"] for e in events] == ["charge.refunded", "refund.created"]
    assert events[0]["data"]["object"]["amount_refunded"] == 1999
    assert events[0]["data"]["object"]["refunded"] is True


def test_pending_refund_succeeds_later_and_only_then_refunds_the_charge(
    client: stripe.StripeClient, standin: StandIn, receiver: Receiver
) -> None:
    charge_id = paid_charge_id(client, standin, REFUND_PENDING_CARD)
    refund = client.v1.refunds.create(params={"charge": charge_id})
    assert (refund.status, refund["pending_reason"]) == ("pending", "processing")
    created = events_after(standin, receiver, 1)
    assert [e["type"] for e in created] == ["refund.created"]
    assert created[0]["data"]["object"]["status"] == "pending"

    with_pending = client.v1.checkout.sessions.list(
        params={"expand": ["data.payment_intent.latest_charge"]}
    ).data[0]["payment_intent"]["latest_charge"]
    assert (with_pending["amount_refunded"], with_pending["refunded"]) == (0, False)
    assert [r["status"] for r in with_pending["refunds"]["data"]] == ["pending"]
    too_much = httpx.post(
        f"{standin.api_base}/v1/refunds",
        data={"charge": charge_id, "amount": "1"},
        headers={"Authorization": f"Bearer {standin.api_key}"},
    )
    assert too_much.status_code == 400  # the pending refund already holds the whole amount

    settled = standin.control.settle_refund(refund.id)
    assert settled["status"] == "succeeded"
    assert "pending_reason" not in settled
    events = events_after(standin, receiver, 3)[1:]
    assert [e["type"] for e in events] == ["refund.updated", "charge.refunded"]
    updated = events[0]["data"]
    assert updated["object"]["status"] == "succeeded"
    assert updated["previous_attributes"] == {"status": "pending", "pending_reason": "processing"}
    charge = events[1]["data"]["object"]
    assert (charge["amount_refunded"], charge["refunded"]) == (1999, True)
    assert charge["refunds"]["data"][0]["status"] == "succeeded"


def test_pending_refund_can_fail_and_the_charge_stays_refundable(
    client: stripe.StripeClient, standin: StandIn, receiver: Receiver
) -> None:
    charge_id = paid_charge_id(client, standin, REFUND_PENDING_CARD)
    refund = client.v1.refunds.create(params={"charge": charge_id, "amount": 500})
    failed = standin.control.settle_refund(
        refund.id, succeeded=False, failure_reason="expired_or_canceled_card"
    )
    assert (failed["status"], failed["failure_reason"]) == ("failed", "expired_or_canceled_card")
    assert failed["failure_balance_transaction"].startswith("txn_")
    assert "pending_reason" not in failed

    events = events_after(standin, receiver, 3)
    assert [e["type"] for e in events] == ["refund.created", "refund.updated", "refund.failed"]
    assert events[1]["data"]["previous_attributes"] == {
        "status": "pending",
        "pending_reason": "processing",
        "failure_balance_transaction": None,
        "failure_reason": None,
    }
    assert events[2]["data"]["object"]["failure_reason"] == "expired_or_canceled_card"
    assert "charge.refunded" not in [e["type"] for e in receiver.events()]

    again = client.v1.refunds.create(params={"charge": charge_id})
    assert again.amount == 1999  # the failed 500 counts for nothing


def test_a_succeeded_refund_can_still_fail_and_unrefunds_the_charge(
    client: stripe.StripeClient, standin: StandIn, receiver: Receiver
) -> None:
    charge_id = paid_charge_id(client, standin)
    first = client.v1.refunds.create(params={"charge": charge_id, "amount": 999})
    rest = client.v1.refunds.create(params={"charge": charge_id})
    assert rest.amount == 1000
    standin.control.settle_refund(first.id, succeeded=False, failure_reason="lost_or_stolen_card")

    events = events_after(standin, receiver, 6)
    assert [e["type"] for e in events] == [
        "charge.refunded",
        "refund.created",
        "charge.refunded",
        "refund.created",
        "refund.updated",
        "refund.failed",
    ]
    assert events[2]["data"]["object"]["refunded"] is True
    assert events[4]["data"]["previous_attributes"]["status"] == "succeeded"
    charge = client.v1.checkout.sessions.list(
        params={"expand": ["data.payment_intent.latest_charge"]}
    ).data[0]["payment_intent"]["latest_charge"]
    assert (charge["amount_refunded"], charge["refunded"]) == (1000, False)


def test_settle_control_refuses_a_settled_refund_or_a_made_up_reason(
    client: stripe.StripeClient, standin: StandIn
) -> None:
    charge_id = paid_charge_id(client, standin, REFUND_PENDING_CARD)
    refund = client.v1.refunds.create(params={"charge": charge_id})
    control = f"{standin.api_base}/_standin/refunds/{refund.id}/settle"
    bad_reason = httpx.post(control, json={"outcome": "failed", "failure_reason": "bored"})
    assert bad_reason.status_code == 400
    assert httpx.post(control, json={"outcome": "succeeded"}).status_code == 200
    assert httpx.post(control, json={"outcome": "succeeded"}).status_code == 400
    unknown = httpx.post(
        f"{standin.api_base}/_standin/refunds/re_nope/settle", json={"outcome": "failed"}
    )
    assert unknown.status_code == 404
