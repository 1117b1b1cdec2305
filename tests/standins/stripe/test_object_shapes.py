"""Everything the stand-in emits has exactly the fields of Stripe's own example of that object."""

from __future__ import annotations

from typing import Any

import httpx
import stripe

from standins.stripe.objects import CONDITIONAL, template
from standins.stripe.testing import StandIn
from tests.standins.stripe.conftest import Receiver, create_session

# Free-form maps: any keys are Stripe's own (metadata) or the fixture's example is empty.
FREE_FORM = {"metadata"}
# Fields Stripe adds only in one answer: an expanded `line_items`, a new endpoint's `secret`.
ONLY_SOMETIMES = {("checkout.session", "line_items"), ("webhook_endpoint", "secret")}
# Where `objects.CONDITIONAL` may add an optional field, the stripe-python class declaring it.
DECLARED_BY = {
    "refund": stripe.Refund,
    "payment_intent.last_payment_error": stripe.PaymentIntent.LastPaymentError,
    "radar.early_fraud_warning": stripe.radar.EarlyFraudWarning,
}


def shape_errors(obj: Any, expected: Any, path: str, kind: str) -> list[str]:
    """Keys missing from `obj` or invented by it, compared with Stripe's example `expected`."""
    if not isinstance(obj, dict) or not isinstance(expected, dict) or not expected:
        return []
    errors = [f"{path}.{key} missing" for key in expected if key not in obj]
    for key, value in obj.items():
        if key not in expected:
            sometimes = (kind, key) in ONLY_SOMETIMES and path == kind
            if not sometimes and key not in CONDITIONAL.get(path, ()):
                errors.append(f"{path}.{key} invented")
        elif key not in FREE_FORM and not (kind == "event" and key == "data"):
            errors += shape_errors(value, expected[key], f"{path}.{key}", kind)
    return errors


def check(obj: dict[str, Any]) -> list[str]:
    kind = obj["object"]
    if kind == "list":
        return [e for item in obj["data"] for e in check(item)]
    errors = shape_errors(obj, template(kind), kind, kind)
    if kind == "event":
        errors += check(obj["data"]["object"])
    if kind == "charge":
        errors += check(obj["refunds"])
    if kind == "invoice":
        errors += check(obj["lines"])
    return errors


def test_every_emitted_object_has_every_field_of_stripes_fixture(
    client: stripe.StripeClient, standin: StandIn, receiver: Receiver
) -> None:
    customer = client.v1.customers.create(params={"email": "c@example.com"})
    sessions = [
        create_session(client, **extra)
        for extra in (
            {},
            {},
            {},
            {"customer_creation": "always"},
            {"customer": customer.id, "customer_email": None},
        )
    ]
    standin.control.pay(sessions[0].id)
    standin.control.pay_delayed(sessions[1].id)
    standin.control.delayed_succeed(sessions[1].id)
    standin.control.pay_delayed(sessions[2].id)
    standin.control.delayed_fail(sessions[2].id)
    standin.control.pay(sessions[3].id)
    client.v1.checkout.sessions.expire(sessions[4].id)
    first_intent = client.v1.checkout.sessions.retrieve(sessions[0].id).payment_intent
    second_intent = client.v1.checkout.sessions.retrieve(sessions[1].id).payment_intent
    assert isinstance(first_intent, str)
    assert isinstance(second_intent, str)
    client.v1.refunds.create(params={"payment_intent": first_intent, "amount": 100})
    dispute = standin.control.dispute(second_intent)
    standin.control.close_dispute(dispute["id"], won=True)
    endpoint = client.v1.webhook_endpoints.create(
        params={"url": "http://127.0.0.1:9/unused", "enabled_events": ["refund.created"]}
    )

    auth = {"Authorization": f"Bearer {standin.api_key}"}
    price = client.v1.checkout.sessions.line_items.list(sessions[0].id).data[0].price
    assert price is not None
    answers: list[dict[str, Any]] = [dispute]
    for path in (
        "/v1/events?limit=100",
        "/v1/checkout/sessions?limit=100&expand[]=data.payment_intent.latest_charge",
        f"/v1/checkout/sessions/{sessions[0].id}?expand[]=line_items&expand[]=customer",
        f"/v1/checkout/sessions/{sessions[0].id}/line_items",
        f"/v1/customers/{customer.id}",
        f"/v1/prices/{price.id}",
        "/v1/webhook_endpoints",
    ):
        response = httpx.get(standin.api_base + path, headers=auth)
        assert response.status_code == 200, response.text
        answers.append(response.json())
    answers.append(endpoint.to_dict())

    events = answers[1]["data"]
    emitted = {e["data"]["object"]["object"] for e in events}
    assert emitted == {
        "checkout.session",
        "payment_intent",
        "charge",
        "refund",
        "dispute",
        "customer",
    }
    assert len(events) == 29  # see the flows above: 4 per card payment, 7 per delayed one, …
    assert [e for answer in answers for e in check(answer)] == []


def test_the_shape_check_catches_a_missing_or_invented_field() -> None:
    session = template("checkout.session")
    del session["payment_status"]
    session["customer_details"]["nickname"] = "x"
    assert sorted(check(session)) == [
        "checkout.session.customer_details.nickname invented",
        "checkout.session.payment_status missing",
    ]


def test_optional_fields_are_ones_stripe_python_declares_on_that_object() -> None:
    assert set(CONDITIONAL) == set(DECLARED_BY)
    for where, fields in CONDITIONAL.items():
        assert fields <= set(DECLARED_BY[where].__annotations__), where


def test_declines_pending_and_failed_refunds_and_invoices_have_stripes_fields(
    client: stripe.StripeClient, standin: StandIn, receiver: Receiver
) -> None:
    declined = create_session(client, invoice_creation={"enabled": True})
    standin.control.pay(declined.id, card="4000000000009995")
    standin.control.pay(declined.id, card="4000000000007726")
    paid = client.v1.checkout.sessions.retrieve(declined.id, params={"expand": ["invoice"]})
    intent = str(paid.payment_intent)
    pending = client.v1.refunds.create(params={"payment_intent": intent, "amount": 100})
    failing = client.v1.refunds.create(params={"payment_intent": intent, "amount": 200})
    standin.control.settle_refund(pending.id)
    standin.control.settle_refund(failing.id, succeeded=False)

    auth = {"Authorization": f"Bearer {standin.api_key}"}
    events = httpx.get(f"{standin.api_base}/v1/events?limit=100", headers=auth).json()
    types = {e["type"] for e in events["data"]}
    assert {
        "charge.failed",
        "payment_intent.payment_failed",
        "refund.updated",
        "refund.failed",
        "invoice.paid",
    } <= types
    kinds = {e["data"]["object"]["object"] for e in events["data"]}
    assert "invoice" in kinds
    answers = [events, paid.to_dict()["invoice"], pending.to_dict(), failing.to_dict()]
    assert [e for answer in answers for e in check(answer)] == []
