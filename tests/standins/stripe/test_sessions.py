"""Checkout Sessions through the official stripe library: create, read, list, expire, errors."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
import stripe

from standins.stripe.testing import StandIn
from tests.standins.stripe.conftest import create_session, session_params


def test_create_session_computes_totals_and_keeps_nested_params(
    client: stripe.StripeClient, standin: StandIn
) -> None:
    params = session_params(
        line_items=[
            {
                "quantity": 2,
                "price_data": {
                    "currency": "EUR",
                    "unit_amount": 1250,
                    "product_data": {"name": "Knots"},
                },
            },
            {
                "quantity": 1,
                "price_data": {
                    "currency": "eur",
                    "unit_amount": 500,
                    "product_data": {"name": "Splices"},
                },
            },
        ]
    )
    before = int(time.time())
    session = create_session(client, params)

    assert session.id.startswith("cs_test_")
    assert session.object == "checkout.session"
    assert session.amount_total == 2 * 1250 + 500
    assert session.currency == "eur"
    assert (session.status, session.payment_status, session.mode) == ("open", "unpaid", "payment")
    assert session.url == f"{standin.api_base}/c/pay/{session.id}"
    assert session.metadata is not None
    assert session.metadata.to_dict() == {"user_id": "u-1", "lesson_id": "l-1"}
    assert session.client_reference_id == "u-1"
    assert session.customer_email == "learner@example.com"
    assert session.payment_intent is None
    assert "{CHECKOUT_SESSION_ID}" in str(session.success_url)
    assert before <= session.created <= int(time.time())
    assert session.expires_at == session.created + 24 * 3600

    items = client.v1.checkout.sessions.line_items.list(session.id)
    assert [(i.description, i.quantity, i.amount_total) for i in items.data] == [
        ("Knots", 2, 2500),
        ("Splices", 1, 500),
    ]


def test_prices_made_from_price_data_are_retrievable(client: stripe.StripeClient) -> None:
    """Stripe keeps the inline price each line item's `price_data` made (inactive) and answers
    `GET /v1/prices/{id}` for it, as stripe-sync-engine calls it after listing line items."""
    session = create_session(client)
    item = client.v1.checkout.sessions.line_items.list(session.id).data[0]
    assert item.price is not None
    price = client.v1.prices.retrieve(item.price.id)
    assert (price.object, price.id, price.active) == ("price", item.price.id, False)
    assert (price.unit_amount, price.currency) == (item.price.unit_amount, item.price.currency)

    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.prices.retrieve("price_nope")
    assert missing.value.http_status == 404
    assert missing.value.code == "resource_missing"


def test_retrieve_returns_the_same_session_and_expands_line_items(
    client: stripe.StripeClient,
) -> None:
    created = create_session(client)
    fetched = client.v1.checkout.sessions.retrieve(created.id, params={"expand": ["line_items"]})
    assert fetched.id == created.id
    assert fetched["metadata"]["lesson_id"] == "l-1"
    assert fetched["line_items"]["data"][0]["price"]["unit_amount"] == 1999

    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.checkout.sessions.retrieve("cs_test_nope")
    assert missing.value.http_status == 404
    assert missing.value.code == "resource_missing"


def test_list_is_newest_first_and_paginates_with_filters(client: stripe.StripeClient) -> None:
    ids = [create_session(client).id for _ in range(5)]
    client.v1.checkout.sessions.expire(ids[0])

    first = client.v1.checkout.sessions.list(params={"limit": 2})
    assert [s.id for s in first.data] == ids[::-1][:2]
    assert first.has_more is True
    assert first.url == "/v1/checkout/sessions"

    everything = [s.id for s in first.auto_paging_iter()]
    assert everything == ids[::-1]

    after = client.v1.checkout.sessions.list(params={"starting_after": ids[3], "limit": 10})
    assert [s.id for s in after.data] == [ids[2], ids[1], ids[0]]
    assert after.has_more is False

    open_only = client.v1.checkout.sessions.list(params={"status": "open"})
    assert ids[0] not in [s.id for s in open_only.data]
    assert len(open_only.data) == 4

    future = client.v1.checkout.sessions.list(params={"created": {"gte": int(time.time()) + 60}})
    assert future.data == []
    recent = client.v1.checkout.sessions.list(params={"created": {"gte": int(time.time()) - 60}})
    assert len(recent.data) == 5


@pytest.mark.anyio
async def test_async_client_creates_and_expires(client: stripe.StripeClient) -> None:
    params: Any = session_params()
    session = await client.v1.checkout.sessions.create_async(params=params)
    expired = await client.v1.checkout.sessions.expire_async(session.id)
    assert expired.status == "expired"
    assert expired.url is None

    with pytest.raises(stripe.InvalidRequestError, match='status of "expired"'):
        await client.v1.checkout.sessions.expire_async(session.id)

    events = await client.v1.events.list_async(params={"type": "checkout.session.expired"})
    assert [e.data.object["id"] for e in events.data] == [session.id]


@pytest.mark.parametrize(
    ("drop", "param"),
    [
        ("mode", "mode"),
        ("success_url", "success_url"),
        ("line_items", "line_items"),
    ],
)
def test_missing_required_params_answer_stripe_errors(
    client: stripe.StripeClient, drop: str, param: str
) -> None:
    params = session_params()
    del params[drop]
    with pytest.raises(stripe.InvalidRequestError) as error:
        create_session(client, params)
    assert error.value.http_status == 400
    assert error.value.param == param
    assert error.value.code == "parameter_missing"
    assert error.value.error is not None
    assert error.value.error.type == "invalid_request_error"
    assert client.v1.checkout.sessions.list().data == []


def test_nested_required_and_unknown_params_are_named(client: stripe.StripeClient) -> None:
    no_name = session_params()
    del no_name["line_items"][0]["price_data"]["product_data"]["name"]
    with pytest.raises(stripe.InvalidRequestError) as error:
        create_session(client, no_name)
    assert error.value.param == "line_items[0][price_data][product_data][name]"
    assert error.value.code == "parameter_missing"

    no_quantity = session_params()
    del no_quantity["line_items"][0]["quantity"]
    with pytest.raises(stripe.InvalidRequestError) as error:
        create_session(client, no_quantity)
    assert error.value.param == "line_items[0][quantity]"

    with pytest.raises(stripe.InvalidRequestError) as error:
        create_session(client, colour="red")
    assert error.value.param == "colour"
    assert error.value.code == "parameter_unknown"

    with pytest.raises(stripe.InvalidRequestError) as error:
        create_session(client, payment_intent_data={"metadata": {"lesson": {"id": "l-1"}}})
    assert error.value.param == "payment_intent_data[metadata][lesson]"
    assert client.v1.checkout.sessions.list().data == []  # a rejected request changes nothing

    bad_amount = session_params()
    bad_amount["line_items"][0]["price_data"]["unit_amount"] = "12.5"
    with pytest.raises(stripe.InvalidRequestError) as error:
        create_session(client, bad_amount)
    assert error.value.code == "parameter_invalid_integer"


def test_customer_and_customer_email_are_exclusive_and_customer_must_exist(
    client: stripe.StripeClient,
) -> None:
    customer = client.v1.customers.create(params={"email": "a@example.com", "name": "Ada"})
    assert customer.id.startswith("cus_")
    assert client.v1.customers.retrieve(customer.id).email == "a@example.com"

    with pytest.raises(stripe.InvalidRequestError) as error:
        create_session(client, customer=customer.id)
    assert error.value.param == "customer_email"

    with pytest.raises(stripe.InvalidRequestError) as error:
        create_session(client, customer="cus_missing", customer_email=None)
    assert error.value.code == "resource_missing"

    session = create_session(client, customer=customer.id, customer_email=None)
    assert session.customer == customer.id


def test_expires_at_must_fall_in_stripes_window(client: stripe.StripeClient) -> None:
    now = int(time.time())
    session = create_session(client, expires_at=now + 3600)
    assert session.expires_at == now + 3600
    for bad in (now + 60, now + 25 * 3600):
        with pytest.raises(stripe.InvalidRequestError) as error:
            create_session(client, expires_at=bad)
        assert error.value.param == "expires_at"


def test_idempotency_key_replays_the_same_session(client: stripe.StripeClient) -> None:
    first = create_session(client, key="lesson-l-1-user-u-1")
    again = create_session(client, key="lesson-l-1-user-u-1")
    assert again.id == first.id
    assert again.last_response is not None
    assert again.last_response.headers.get("Idempotent-Replayed") == "true"
    assert first.last_response is not None
    assert again.last_response.headers["Original-Request"] == first.last_response.request_id
    assert "Idempotent-Replayed" not in first.last_response.headers
    assert len(client.v1.checkout.sessions.list().data) == 1

    other = create_session(client, key="another")
    assert other.id != first.id


def test_idempotency_key_with_other_params_is_an_idempotency_error(
    client: stripe.StripeClient,
) -> None:
    create_session(client, key="k-1")
    with pytest.raises(stripe.IdempotencyError) as error:
        create_session(client, key="k-1", client_reference_id="u-2")
    assert error.value.http_status == 400
    assert "same parameters" in str(error.value.user_message)
    assert len(client.v1.checkout.sessions.list().data) == 1


def test_rejected_request_is_not_saved_under_its_idempotency_key(
    client: stripe.StripeClient,
) -> None:
    with pytest.raises(stripe.InvalidRequestError):
        create_session(client, key="k-2", mode=None)
    session = create_session(client, key="k-2")
    assert session.status == "open"


def test_wrong_or_missing_key_is_refused_with_401(standin: StandIn) -> None:
    bad = stripe.StripeClient("sk_live_realkey1234", base_addresses={"api": standin.api_base})
    with pytest.raises(stripe.AuthenticationError) as error:
        bad.v1.checkout.sessions.list()
    assert error.value.http_status == 401
    assert "sk_live_" in str(error.value.user_message)
    assert "realkey1234" not in str(error.value.user_message)

    raw = httpx.get(f"{standin.api_base}/v1/checkout/sessions")
    assert raw.status_code == 401
    assert raw.json()["error"]["type"] == "invalid_request_error"

    basic = httpx.get(f"{standin.api_base}/v1/checkout/sessions", auth=("sk_test_x", ""))
    assert basic.status_code == 200


def test_unknown_api_route_answers_stripes_404(standin: StandIn) -> None:
    response = httpx.get(
        f"{standin.api_base}/v1/subscriptions", headers={"Authorization": "Bearer sk_test_x"}
    )
    assert response.status_code == 404
    assert response.json()["error"]["message"].startswith("Unrecognized request URL (GET:")


def test_only_configured_keys_are_accepted_when_configured() -> None:
    from standins.stripe.config import StandInConfig
    from standins.stripe.testing import running_standin

    with running_standin(config=StandInConfig(api_keys=("sk_test_only",))) as only:
        ok = stripe.StripeClient("sk_test_only", base_addresses={"api": only.api_base})
        assert ok.v1.checkout.sessions.list().data == []
        other = stripe.StripeClient("sk_test_other", base_addresses={"api": only.api_base})
        with pytest.raises(stripe.AuthenticationError):
            other.v1.checkout.sessions.list()
