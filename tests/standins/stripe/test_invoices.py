"""Checkout's post-payment invoices: `invoice_creation[enabled]=true` leaves a paid invoice."""

from __future__ import annotations

import httpx
import pytest
import stripe

from standins.stripe.testing import StandIn
from tests.standins.stripe.conftest import Receiver, create_session

INVOICE_EVENTS = [
    "invoice.created",
    "invoice.finalized",
    "invoice.paid",
    "invoice.payment_succeeded",
]


def test_paying_a_session_with_invoices_enabled_leaves_a_paid_invoice(
    client: stripe.StripeClient, standin: StandIn, receiver: Receiver
) -> None:
    session = create_session(
        client,
        customer_creation="always",
        invoice_creation={
            "enabled": True,
            "invoice_data": {"description": "Lesson purchase", "metadata": {"lesson_id": "l-1"}},
        },
    )
    assert session.invoice_creation is not None
    assert session.invoice_creation.enabled is True
    assert session.invoice_creation.invoice_data.description == "Lesson purchase"
    assert session.invoice is None
    standin.control.pay(session.id, email="paid@example.com")

    standin.control.wait_for_deliveries(lambda a: sum(1 for x in a if x["ok"]) >= 9)
    types = [e["type"] for e in receiver.events()]
    assert types == [
        "customer.created",
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.succeeded",
        *INVOICE_EVENTS,
        "checkout.session.completed",
    ]
    by_type = {e["type"]: e["data"]["object"] for e in receiver.events()}
    assert [by_type[t]["status"] for t in INVOICE_EVENTS] == ["draft", "open", "paid", "paid"]
    paid = by_type["invoice.paid"]
    assert paid["id"].startswith("in_")
    assert by_type["checkout.session.completed"]["invoice"] == paid["id"]
    assert (paid["amount_due"], paid["amount_paid"], paid["amount_remaining"]) == (1999, 1999, 0)
    assert (paid["currency"], paid["total"], paid["customer_email"]) == (
        "usd",
        1999,
        "paid@example.com",
    )
    assert paid["customer"] == by_type["customer.created"]["id"]
    assert paid["number"].startswith(by_type["customer.created"]["invoice_prefix"] + "-")
    assert paid["status_transitions"]["paid_at"] is not None
    assert paid["metadata"] == {"lesson_id": "l-1"}
    assert paid["description"] == "Lesson purchase"
    assert [line["description"] for line in paid["lines"]["data"]] == ["Knots for sailors"]
    assert paid["invoice_pdf"] is None

    retrieved = client.v1.invoices.retrieve(paid["id"])
    assert (retrieved.status, retrieved.hosted_invoice_url) == ("paid", paid["hosted_invoice_url"])
    expanded = client.v1.checkout.sessions.retrieve(session.id, params={"expand": ["invoice"]})
    assert expanded["invoice"]["id"] == paid["id"]

    page = httpx.get(paid["hosted_invoice_url"])
    assert page.status_code == 200
    assert paid["number"] in page.text
    assert "Knots for sailors" in page.text
    assert "19.99 USD" in page.text
    assert "paid" in page.text


def test_a_guest_checkout_gets_an_invoice_without_a_customer(
    client: stripe.StripeClient, standin: StandIn
) -> None:
    session = create_session(client, invoice_creation={"enabled": True})
    standin.control.pay(session.id)
    paid = client.v1.checkout.sessions.retrieve(session.id, params={"expand": ["invoice"]})
    assert paid.customer is None
    assert paid["invoice"]["customer"] is None
    assert paid["invoice"]["customer_email"] == "learner@example.com"


def test_delayed_payment_gets_its_invoice_when_it_settles(
    client: stripe.StripeClient, standin: StandIn
) -> None:
    session = create_session(client, invoice_creation={"enabled": True})
    standin.control.pay_delayed(session.id)
    assert client.v1.checkout.sessions.retrieve(session.id).invoice is None
    standin.control.delayed_succeed(session.id)
    assert str(client.v1.checkout.sessions.retrieve(session.id).invoice).startswith("in_")
    paid = client.v1.events.list(params={"type": "invoice.paid"}).data
    assert len(paid) == 1


def test_sessions_without_invoice_creation_get_no_invoice(
    client: stripe.StripeClient, standin: StandIn
) -> None:
    for session in (
        create_session(client),
        create_session(client, invoice_creation={"enabled": False}),
    ):
        standin.control.pay(session.id)
        assert client.v1.checkout.sessions.retrieve(session.id).invoice is None
    assert client.v1.events.list(params={"type": "invoice.*"}).data == []


def test_invoice_creation_is_validated_as_stripe_does(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        create_session(client, invoice_creation={"enabled": True, "invoice_data": {"x": "1"}})
    assert (unknown.value.code, unknown.value.param) == (
        "parameter_unknown",
        "invoice_creation[invoice_data][x]",
    )
    with pytest.raises(stripe.InvalidRequestError) as missing:
        create_session(client, invoice_creation={"invoice_data": {"description": "d"}})
    assert missing.value.param == "invoice_creation[enabled]"
    with pytest.raises(stripe.InvalidRequestError) as missing_invoice:
        client.v1.invoices.retrieve("in_nope")
    assert missing_invoice.value.code == "resource_missing"
