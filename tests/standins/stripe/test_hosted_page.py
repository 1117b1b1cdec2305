"""The hosted page: what each button does to a session, the events it sends, where it redirects."""

from __future__ import annotations

import httpx
import pytest
import stripe

from standins.stripe.hosted import format_amount
from standins.stripe.testing import StandIn
from tests.standins.stripe.conftest import SITE, create_session


def event_types(client: stripe.StripeClient) -> list[str]:
    """Every event so far, oldest first."""
    return [str(e.type) for e in client.v1.events.list(params={"limit": 100}).data][::-1]


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (1999, "usd", "19.99 USD"),
        (1500, "jpy", "1,500 JPY"),
        (123456, "eur", "1,234.56 EUR"),
        (1000, "kwd", "1.000 KWD"),
    ],
)
def test_amounts_are_formatted_for_their_currency(amount: int, currency: str, shown: str) -> None:
    assert format_amount(amount, currency) == shown


def test_page_shows_lesson_name_amount_and_buttons(
    client: stripe.StripeClient, standin: StandIn
) -> None:
    yen = [
        {
            "quantity": 1,
            "price_data": {
                "currency": "jpy",
                "unit_amount": 1500,
                "product_data": {"name": "Knots <advanced>"},
            },
        }
    ]
    session = create_session(client, line_items=yen)
    page = httpx.get(str(session.url))
    assert page.status_code == 200
    assert "Knots &lt;advanced&gt;" in page.text
    assert "1,500 JPY" in page.text
    for action in ("pay", "pay_delayed", "cancel", "expire"):
        assert f'value="{action}"' in page.text


def test_pay_completes_session_creates_intent_and_charge_and_redirects(
    client: stripe.StripeClient, standin: StandIn
) -> None:
    session = create_session(client)
    response = standin.control.pay(session.id, email="paid@example.com")

    assert response.status_code == 303
    assert response.headers["location"] == f"{SITE}/purchase/success?session_id={session.id}"
    paid = client.v1.checkout.sessions.retrieve(
        session.id, params={"expand": ["payment_intent.latest_charge"]}
    )
    assert (paid.status, paid.payment_status) == ("complete", "paid")
    assert paid.customer_details is not None
    assert paid.customer_details.email == "paid@example.com"
    intent = paid["payment_intent"]
    assert intent["id"].startswith("pi_")
    assert (intent["status"], intent["amount_received"]) == ("succeeded", 1999)
    assert intent["metadata"].to_dict() == {"user_id": "u-1", "lesson_id": "l-1"}
    charge = intent["latest_charge"]
    assert charge["id"].startswith("ch_")
    assert (charge["payment_intent"], charge["paid"], charge["amount"]) == (
        intent["id"],
        True,
        1999,
    )
    assert event_types(client) == [
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.succeeded",
        "checkout.session.completed",
    ]
    completed = client.v1.events.list(params={"type": "checkout.session.completed"}).data[0]
    assert completed.data.object["payment_status"] == "paid"
    assert completed.data.object["metadata"]["lesson_id"] == "l-1"

    again = standin.control.pay(session.id)
    assert again.status_code == 409
    assert event_types(client).count("checkout.session.completed") == 1


def test_customer_creation_always_makes_a_customer_on_payment(
    client: stripe.StripeClient, standin: StandIn
) -> None:
    session = create_session(client, customer_creation="always")
    standin.control.pay(session.id, email="new@example.com")
    paid = client.v1.checkout.sessions.retrieve(session.id)
    assert paid.customer is not None
    assert client.v1.customers.retrieve(str(paid.customer)).email == "new@example.com"
    assert "customer.created" in event_types(client)


def test_delayed_payment_completes_unpaid_then_succeeds(
    client: stripe.StripeClient, standin: StandIn
) -> None:
    session = create_session(client)
    response = standin.control.pay_delayed(session.id)
    assert response.status_code == 303

    pending = client.v1.checkout.sessions.retrieve(
        session.id, params={"expand": ["payment_intent"]}
    )
    assert (pending.status, pending.payment_status) == ("complete", "unpaid")
    assert pending["payment_intent"]["status"] == "processing"
    completed = client.v1.events.list(params={"type": "checkout.session.completed"}).data
    assert [e.data.object["payment_status"] for e in completed] == ["unpaid"]
    assert "Delayed payment succeeds" in httpx.get(f"{standin.api_base}/c/pay/{session.id}").text

    settled = standin.control.delayed_succeed(session.id)
    assert settled.status_code == 303
    assert settled.headers["location"].endswith(session.id)
    paid = client.v1.checkout.sessions.retrieve(session.id, params={"expand": ["payment_intent"]})
    assert paid.payment_status == "paid"
    assert paid["payment_intent"]["status"] == "succeeded"
    succeeded = client.v1.events.list(
        params={"type": "checkout.session.async_payment_succeeded"}
    ).data
    assert [e.data.object["id"] for e in succeeded] == [session.id]
    assert succeeded[0].data.object["payment_status"] == "paid"

    assert standin.control.delayed_fail(session.id).status_code == 409


def test_delayed_payment_can_fail(client: stripe.StripeClient, standin: StandIn) -> None:
    session = create_session(client)
    standin.control.pay_delayed(session.id)
    standin.control.delayed_fail(session.id)

    failed = client.v1.checkout.sessions.retrieve(session.id, params={"expand": ["payment_intent"]})
    assert (failed.status, failed.payment_status) == ("complete", "unpaid")
    assert failed["payment_intent"]["status"] == "requires_payment_method"
    types = event_types(client)
    assert types[-3:] == [
        "charge.failed",
        "payment_intent.payment_failed",
        "checkout.session.async_payment_failed",
    ]
    assert "checkout.session.async_payment_succeeded" not in types
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.refunds.create(params={"payment_intent": failed["payment_intent"]["id"]})


def test_cancel_redirects_to_cancel_url_and_leaves_session_open(
    client: stripe.StripeClient, standin: StandIn
) -> None:
    session = create_session(client)
    response = standin.control.cancel(session.id)
    assert response.status_code == 303
    assert response.headers["location"] == f"{SITE}/lessons/knots"
    assert client.v1.checkout.sessions.retrieve(session.id).status == "open"
    assert event_types(client) == []
    assert standin.control.pay(session.id).status_code == 303


def test_expire_button_expires_and_sends_expired_event(
    client: stripe.StripeClient, standin: StandIn
) -> None:
    session = create_session(client)
    response = standin.control.expire(session.id)
    assert response.status_code == 303
    assert response.headers["location"] == f"{SITE}/lessons/knots"
    expired = client.v1.checkout.sessions.retrieve(session.id)
    assert (expired.status, expired.url) == ("expired", None)
    assert event_types(client) == ["checkout.session.expired"]

    refused = standin.control.pay(session.id)
    assert refused.status_code == 409
    assert "expired" in refused.text


def test_sessions_expire_on_their_own_when_expires_at_passes(
    client: stripe.StripeClient, standin: StandIn
) -> None:
    session = create_session(client)
    standin.control.advance_clock(3600)
    assert client.v1.checkout.sessions.retrieve(session.id).status == "open"
    result = standin.control.advance_clock(24 * 3600)
    assert result["expired"] == 1
    assert client.v1.checkout.sessions.retrieve(session.id).status == "expired"
    assert event_types(client) == ["checkout.session.expired"]


def test_unknown_action_and_unknown_session(standin: StandIn, client: stripe.StripeClient) -> None:
    session = create_session(client)
    bad = httpx.post(f"{standin.api_base}/c/pay/{session.id}", data={"action": "steal"})
    assert bad.status_code == 400
    assert client.v1.checkout.sessions.retrieve(session.id).status == "open"
    assert httpx.get(f"{standin.api_base}/c/pay/cs_test_nope").status_code == 404
