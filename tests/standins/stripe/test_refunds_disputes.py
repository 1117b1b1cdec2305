"""Refunds through the API and disputes through the test controls, with their events."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import stripe

from standins.stripe.testing import StandIn
from tests.standins.stripe.conftest import create_session


def paid_intent(client: stripe.StripeClient, standin: StandIn) -> str:
    session = create_session(client)
    standin.control.pay(session.id)
    intent = client.v1.checkout.sessions.retrieve(session.id).payment_intent
    assert isinstance(intent, str)
    return intent


def events_of(client: stripe.StripeClient, event_type: str) -> list[dict[str, Any]]:
    listing = client.v1.events.list(params={"type": event_type})
    return [e.data.object.to_dict() for e in listing.data][::-1]


def test_full_refund_by_payment_intent_refunds_the_charge(
    client: stripe.StripeClient, standin: StandIn
) -> None:
    intent = paid_intent(client, standin)
    refund = client.v1.refunds.create(
        params={"payment_intent": intent, "reason": "requested_by_customer"}
    )
    assert refund.id.startswith("re_")
    assert (refund.amount, refund.currency, refund.status) == (1999, "usd", "succeeded")
    assert refund.payment_intent == intent
    assert refund.reason == "requested_by_customer"

    charges = events_of(client, "charge.refunded")
    assert len(charges) == 1
    charge = charges[0]
    assert (charge["id"], charge["payment_intent"]) == (refund.charge, intent)
    assert (charge["amount_refunded"], charge["refunded"]) == (1999, True)
    assert [r["id"] for r in charge["refunds"]["data"]] == [refund.id]
    assert [r["id"] for r in events_of(client, "refund.created")] == [refund.id]

    with pytest.raises(stripe.InvalidRequestError) as again:
        client.v1.refunds.create(params={"charge": str(refund.charge)})
    assert again.value.code == "charge_already_refunded"


def test_partial_refunds_add_up_and_cannot_exceed_the_charge(
    client: stripe.StripeClient, standin: StandIn
) -> None:
    intent = paid_intent(client, standin)
    first = client.v1.refunds.create(params={"payment_intent": intent, "amount": 500})
    assert first.amount == 500
    charge = events_of(client, "charge.refunded")[-1]
    assert (charge["amount_refunded"], charge["refunded"]) == (500, False)

    with pytest.raises(stripe.InvalidRequestError) as too_much:
        client.v1.refunds.create(params={"payment_intent": intent, "amount": 1500})
    assert too_much.value.param == "amount"

    rest = client.v1.refunds.create(params={"charge": str(first.charge), "amount": 1499})
    assert rest.amount == 1499
    charge = events_of(client, "charge.refunded")[-1]
    assert (charge["amount_refunded"], charge["refunded"]) == (1999, True)
    assert len(charge["refunds"]["data"]) == 2


def test_refund_needs_a_known_payment(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as neither:
        client.v1.refunds.create(params={})
    assert neither.value.code == "parameter_missing"
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        client.v1.refunds.create(params={"payment_intent": "pi_nope"})
    assert (unknown.value.code, unknown.value.param) == ("resource_missing", "payment_intent")
    assert client.v1.events.list().data == []


def test_dispute_opens_and_closes_with_events(
    client: stripe.StripeClient, standin: StandIn
) -> None:
    intent = paid_intent(client, standin)
    dispute = standin.control.dispute(intent)
    assert dispute["id"].startswith("dp_")
    assert (dispute["payment_intent"], dispute["status"]) == (intent, "needs_response")
    assert dispute["amount"] == 1999
    created = events_of(client, "charge.dispute.created")
    assert [d["id"] for d in created] == [dispute["id"]]
    assert created[0]["charge"].startswith("ch_")

    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.refunds.create(params={"payment_intent": intent})
    assert refused.value.code == "charge_disputed"

    lost = standin.control.close_dispute(dispute["id"], won=False)
    assert lost["status"] == "lost"
    closed = events_of(client, "charge.dispute.closed")
    assert [(d["id"], d["status"]) for d in closed] == [(dispute["id"], "lost")]

    again = httpx.post(
        f"{standin.api_base}/_standin/disputes/{dispute['id']}/close", json={"outcome": "won"}
    )
    assert again.status_code == 400


def test_won_dispute_closes_as_won(client: stripe.StripeClient, standin: StandIn) -> None:
    intent = paid_intent(client, standin)
    dispute = standin.control.dispute(intent, amount=1000, reason="product_not_received")
    assert (dispute["amount"], dispute["reason"]) == (1000, "product_not_received")
    won = standin.control.close_dispute(dispute["id"], won=True)
    assert won["status"] == "won"
    assert events_of(client, "charge.dispute.closed")[0]["status"] == "won"


def test_dispute_needs_a_paid_intent(standin: StandIn) -> None:
    response = httpx.post(
        f"{standin.api_base}/_standin/disputes", json={"payment_intent": "pi_nope"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "resource_missing"
