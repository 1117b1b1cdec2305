"""The hosted page's card field: brand and last 4 on the charge, receipts, and Stripe's declines."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import stripe

from standins.stripe.testing import StandIn
from tests.standins.stripe.conftest import SITE, Receiver, create_session

VISA = "4242 4242 4242 4242"
MASTERCARD = "5555 5555 5555 4444"
DECLINED = "4000 0000 0000 0002"
INSUFFICIENT_FUNDS = "4000 0000 0000 9995"


def delivered(standin: StandIn, receiver: Receiver, count: int) -> list[dict[str, Any]]:
    standin.control.wait_for_deliveries(lambda a: sum(1 for x in a if x["ok"]) >= count)
    return receiver.events()


def paid_charge(client: stripe.StripeClient, session_id: str) -> dict[str, Any]:
    session = client.v1.checkout.sessions.retrieve(
        session_id, params={"expand": ["payment_intent.latest_charge"]}
    )
    charge: dict[str, Any] = session["payment_intent"]["latest_charge"].to_dict()
    return charge


@pytest.mark.parametrize(
    ("number", "brand", "last4"),
    [
        (VISA, "visa", "4242"),
        (MASTERCARD, "mastercard", "4444"),
        ("378282246310005", "amex", "0005"),
    ],
)
def test_the_card_typed_in_decides_brand_and_last4(
    client: stripe.StripeClient, standin: StandIn, number: str, brand: str, last4: str
) -> None:
    session = create_session(client)
    assert standin.control.pay(session.id, card=number).status_code == 303
    charge = paid_charge(client, session.id)
    details = charge["payment_method_details"]
    assert details["type"] == "card"
    card = details["card"]
    assert (card["brand"], card["last4"], card["network"]) == (brand, last4, brand)
    assert (card["exp_month"], card["exp_year"]) == (12, 2034)
    assert (card["country"], card["funding"], card["checks"]["cvc_check"]) == (
        "US",
        "credit",
        "pass",
    )
    assert card["wallet"] is None


def test_the_same_card_has_the_same_fingerprint(
    client: stripe.StripeClient, standin: StandIn
) -> None:
    fingerprints = []
    for number in (VISA, VISA, MASTERCARD):
        session = create_session(client)
        standin.control.pay(session.id, card=number)
        fingerprints.append(paid_charge(client, session.id)["payment_method_details"]["card"])
    first, again, other = (c["fingerprint"] for c in fingerprints)
    assert first == again != other


def test_charge_succeeded_carries_the_receipt_url_and_card(
    client: stripe.StripeClient, standin: StandIn, receiver: Receiver
) -> None:
    session = create_session(client)
    standin.control.pay(session.id, card=MASTERCARD)
    events = delivered(standin, receiver, 4)
    by_type = {e["type"]: e["data"]["object"] for e in events}
    charge = by_type["charge.succeeded"]
    assert charge["receipt_url"].startswith(f"{standin.api_base}/receipts/payment/")
    assert charge["payment_method_details"]["card"]["brand"] == "mastercard"
    intent = by_type["payment_intent.succeeded"]
    assert intent["latest_charge"] == charge["id"]
    assert intent["payment_method"] == charge["payment_method"]
    assert paid_charge(client, session.id)["receipt_url"] == charge["receipt_url"]


def test_receipt_page_shows_amount_lesson_date_card_and_refunds(
    client: stripe.StripeClient, standin: StandIn
) -> None:
    session = create_session(client)
    standin.control.pay(session.id, card=MASTERCARD)
    charge = paid_charge(client, session.id)
    page = httpx.get(charge["receipt_url"])
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "19.99 USD" in page.text
    assert "Knots for sailors" in page.text
    assert "Mastercard ending in 4444" in page.text
    assert "No refunds." in page.text

    client.v1.refunds.create(params={"charge": charge["id"], "amount": 500})
    refunded = httpx.get(charge["receipt_url"]).text
    assert "5.00 USD" in refunded
    assert "succeeded" in refunded
    assert "No refunds." not in refunded

    assert httpx.get(f"{standin.api_base}/receipts/payment/test_guess").status_code == 404


def test_delayed_payment_gets_its_receipt_when_it_settles(
    client: stripe.StripeClient, standin: StandIn
) -> None:
    session = create_session(client)
    standin.control.pay_delayed(session.id)
    assert paid_charge(client, session.id)["receipt_url"] is None
    standin.control.delayed_succeed(session.id)
    assert httpx.get(paid_charge(client, session.id)["receipt_url"]).status_code == 200


@pytest.mark.parametrize(
    ("number", "decline_code", "message", "network_code"),
    [
        (DECLINED, "generic_decline", "Your card was declined.", "05"),
        (INSUFFICIENT_FUNDS, "insufficient_funds", "Your card has insufficient funds.", "51"),
    ],
)
def test_a_declined_card_leaves_the_page_open_with_a_failed_charge(
    client: stripe.StripeClient,
    standin: StandIn,
    receiver: Receiver,
    number: str,
    decline_code: str,
    message: str,
    network_code: str,
) -> None:
    session = create_session(client)
    page = standin.control.pay(session.id, card=number)
    assert page.status_code == 402
    assert message in page.text
    assert 'value="pay"' in page.text  # the learner can try another card

    events = delivered(standin, receiver, 3)
    assert [e["type"] for e in events] == [
        "payment_intent.created",
        "charge.failed",
        "payment_intent.payment_failed",
    ]
    charge = events[1]["data"]["object"]
    assert (charge["status"], charge["paid"], charge["captured"]) == ("failed", False, False)
    assert (charge["failure_code"], charge["failure_message"]) == ("card_declined", message)
    assert charge["outcome"]["type"] == "issuer_declined"
    assert charge["outcome"]["network_status"] == "declined_by_network"
    assert charge["outcome"]["reason"] == decline_code
    assert charge["outcome"]["network_decline_code"] == network_code
    assert (charge["receipt_url"], charge["balance_transaction"]) == (None, None)
    assert charge["payment_method_details"]["card"]["last4"] == number[-4:]
    intent = events[2]["data"]["object"]
    assert intent["status"] == "requires_payment_method"
    error = intent["last_payment_error"]
    assert (error["type"], error["code"], error["decline_code"]) == (
        "card_error",
        "card_declined",
        decline_code,
    )
    assert (error["message"], error["charge"]) == (message, charge["id"])

    still = client.v1.checkout.sessions.retrieve(session.id)
    assert (still.status, still.payment_status) == ("open", "unpaid")
    assert still.url is not None
    assert still.payment_intent == intent["id"]
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.refunds.create(params={"payment_intent": intent["id"]})


def test_after_a_decline_a_good_card_pays_on_the_same_intent(
    client: stripe.StripeClient, standin: StandIn, receiver: Receiver
) -> None:
    session = create_session(client, customer_creation="always")
    assert standin.control.pay(session.id, card=DECLINED).status_code == 402
    paid = standin.control.pay(session.id, card=VISA)
    assert paid.status_code == 303
    assert paid.headers["location"] == f"{SITE}/purchase/success?session_id={session.id}"

    events = delivered(standin, receiver, 7)
    assert [e["type"] for e in events] == [
        "payment_intent.created",
        "charge.failed",
        "payment_intent.payment_failed",
        "customer.created",
        "charge.succeeded",
        "payment_intent.succeeded",
        "checkout.session.completed",
    ]
    failed = next(e for e in events if e["type"] == "charge.failed")["data"]["object"]
    succeeded = next(e for e in events if e["type"] == "charge.succeeded")["data"]["object"]
    intent = next(e for e in events if e["type"] == "payment_intent.succeeded")["data"]["object"]
    assert failed["payment_intent"] == succeeded["payment_intent"] == intent["id"]
    assert failed["id"] != succeeded["id"]
    assert (intent["latest_charge"], intent["last_payment_error"]) == (succeeded["id"], None)
    assert intent["customer"] is not None
    completed = client.v1.checkout.sessions.retrieve(session.id)
    assert (completed.status, completed.payment_status) == ("complete", "paid")
    assert completed.payment_intent == intent["id"]


@pytest.mark.parametrize(
    ("number", "expiry", "message"),
    [
        ("4242 4242 4242 4241", "12 / 34", "Your card number is invalid."),
        (VISA, "13 / 34", "Your card's expiration date is incomplete."),
        (VISA, "01 / 20", "Your card's expiration year is in the past."),
    ],
)
def test_a_mistyped_card_charges_nothing(
    client: stripe.StripeClient, standin: StandIn, number: str, expiry: str, message: str
) -> None:
    session = create_session(client)
    page = httpx.post(
        f"{standin.api_base}/c/pay/{session.id}",
        data={"action": "pay", "card_number": number, "card_expiry": expiry},
    )
    assert page.status_code == 400
    assert message in page.text.replace("&#x27;", "'")
    assert client.v1.events.list().data == []
    assert client.v1.checkout.sessions.retrieve(session.id).status == "open"
