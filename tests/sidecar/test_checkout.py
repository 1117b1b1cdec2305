"""Checkout: POST and GET /v1/checkout/sessions against real Postgres and the Stripe stand-in."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
import anyio.to_thread
import pytest
import stripe

from sidecar.auth import Learner
from sidecar.checkout import idempotency_key, session_params
from sidecar.contracts import BEGIN_CHECKOUT, CreateSession
from sidecar.settings import Settings
from standins.stripe.objects import template
from standins.stripe.testing import StandIn
from tests.sidecar.conftest import (
    LESSON_FREE,
    LESSON_JOINS,
    LESSON_RLS,
    LESSON_UNPUBLISHED,
    LESSON_WEBHOOKS,
    SITE_URL,
    Client,
    bearer,
    checkout_session,
    deliver,
    event,
    make_settings,
    new_learner,
    purchase_status,
    query,
    running_client,
)

pytestmark = pytest.mark.anyio
URL = "/v1/checkout/sessions"


@pytest.fixture
def settings(database_url: str, standin: StandIn) -> Settings:
    return make_settings(
        database_url, stripe_api_base=standin.api_base, stripe_secret_key=standin.api_key
    )


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[Client]:
    async with running_client(settings) as client:
        yield client


async def open_checkout(client: Client, learner: uuid.UUID, lesson: uuid.UUID) -> Any:
    return await client.post(URL, json={"lesson_id": str(lesson)}, headers=bearer(learner))


def session_rows(database_url: str, learner: uuid.UUID) -> list[tuple[Any, ...]]:
    return query(
        database_url,
        "select id, lesson_id, amount_total, currency, status from public.checkout_sessions "
        "where user_id = %s order by created_at",
        (learner,),
    )


async def stripe_session(standin: StandIn, session_id: str) -> Any:
    client = standin.stripe_client()
    return await anyio.to_thread.run_sync(client.v1.checkout.sessions.retrieve, session_id)


async def test_create_opens_a_session_priced_by_the_database(
    client: Client, standin: StandIn, database_url: str, learner: uuid.UUID
) -> None:
    response = await open_checkout(client, learner, LESSON_JOINS)
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "url"}
    assert body["id"].startswith("cs_test_")
    assert body["url"].startswith(standin.api_base)

    session = await stripe_session(standin, body["id"])
    assert session.mode == "payment"
    assert (session.amount_total, session.currency) == (1200, "usd")
    assert session.client_reference_id == str(learner)
    assert session.metadata.to_dict()["user_id"] == str(learner)
    assert session.metadata.to_dict()["lesson_id"] == str(LESSON_JOINS)
    assert session.customer_email == f"learner-{learner.hex[:8]}@example.com"
    # back to the lesson's own page, its slug from the database
    assert session.success_url == (
        f"{SITE_URL}/lessons/joins-without-fear?checkout=success&session_id={{CHECKOUT_SESSION_ID}}"
    )
    assert session.cancel_url == f"{SITE_URL}/lessons/joins-without-fear?checkout=cancelled"
    assert session.adaptive_pricing.enabled is False  # charged in the lesson's currency
    assert session_rows(database_url, learner) == [(body["id"], LESSON_JOINS, 1200, "usd", "open")]


async def test_second_request_reuses_the_open_session(
    client: Client, database_url: str, learner: uuid.UUID
) -> None:
    first = await open_checkout(client, learner, LESSON_RLS)
    second = await open_checkout(client, learner, LESSON_RLS)
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json() == first.json()
    assert len(session_rows(database_url, learner)) == 1


async def test_double_click_opens_one_session(
    client: Client, database_url: str, learner: uuid.UUID
) -> None:
    answers: list[Any] = []

    async def click() -> None:
        answers.append(await open_checkout(client, learner, LESSON_WEBHOOKS))

    async with anyio.create_task_group() as group:
        for _ in range(5):
            group.start_soon(click)
    assert {response.status_code for response in answers} <= {200, 201}
    assert len({response.json()["id"] for response in answers}) == 1
    assert len(session_rows(database_url, learner)) == 1


def test_the_idempotency_key_follows_the_attempt_and_the_parameters() -> None:
    params = {"mode": "payment", "success_url": "https://shop.test/lessons"}
    key = idempotency_key("lesson-checkout:a:b:1:0", params)
    assert key.startswith("lesson-checkout:a:b:1:0:")
    assert idempotency_key("lesson-checkout:a:b:1:0", dict(params)) == key
    moved = {**params, "success_url": "https://shop.example/lessons"}
    assert idempotency_key("lesson-checkout:a:b:1:0", moved) != key
    assert idempotency_key("lesson-checkout:a:b:1:1", params) != key
    assert len(key) <= 255  # Stripe's limit


@pytest.mark.parametrize(
    "extra",
    [
        {"success_url": "https://evil.example/steal"},
        {"cancel_url": "https://evil.example/"},
        {"price_cents": 1},
        {"amount": 1},
        {"user_id": "00000000-0000-4000-8000-00000000dead"},
    ],
)
async def test_client_sent_urls_prices_and_users_are_refused(
    client: Client, database_url: str, learner: uuid.UUID, extra: dict[str, Any]
) -> None:
    response = await client.post(
        URL, json={"lesson_id": str(LESSON_JOINS), **extra}, headers=bearer(learner)
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_body"
    assert session_rows(database_url, learner) == []


@pytest.mark.parametrize(
    "content",
    [b"", b"not json", b"{}", b'{"lesson_id": 12}', b'{"lesson_id": "not-a-uuid"}', b"[]"],
)
async def test_bad_bodies_are_422_in_the_error_shape(
    client: Client, learner: uuid.UUID, content: bytes
) -> None:
    response = await client.post(
        URL, content=content, headers={**bearer(learner), "Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json() == {
        "error": {
            "code": "invalid_body",
            "message": 'The body must be JSON like {"lesson_id": "<lesson uuid>"}.',
        }
    }


async def test_no_token_is_401_before_the_body_is_looked_at(client: Client) -> None:
    response = await client.post(URL, content=b"not json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "missing_token"


@pytest.mark.parametrize(
    ("lesson", "status", "code"),
    [
        (uuid.UUID("00000000-0000-4000-8000-0000000000ff"), 404, "unknown_lesson"),
        (LESSON_UNPUBLISHED, 404, "unknown_lesson"),
        (LESSON_FREE, 422, "free_lesson"),
    ],
)
async def test_refusals(
    client: Client,
    database_url: str,
    learner: uuid.UUID,
    lesson: uuid.UUID,
    status: int,
    code: str,
) -> None:
    response = await open_checkout(client, learner, lesson)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert session_rows(database_url, learner) == []


async def test_owned_lesson_is_409(client: Client, learner: uuid.UUID) -> None:
    paid = checkout_session(user_id=learner, lesson_id=LESSON_JOINS)
    assert (await deliver(client, event("checkout.session.completed", paid))).status_code == 200
    response = await open_checkout(client, learner, LESSON_JOINS)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "already_owned"


def dispute_event(payment_intent: str, event_type: str, status: str) -> dict[str, Any]:
    """charge.dispute.* with Stripe's example dispute, about one payment intent's charge."""
    obj = template("dispute")
    obj.update(
        id="dp_" + payment_intent.removeprefix("pi_"),
        charge="ch_" + payment_intent.removeprefix("pi_"),
        payment_intent=payment_intent,
        status=status,
    )
    return event(event_type, obj)


async def test_a_disputed_payment_refuses_checkout_with_409_until_the_dispute_closes(
    client: Client, database_url: str, learner: uuid.UUID
) -> None:
    paid = checkout_session(user_id=learner, lesson_id=LESSON_JOINS)
    await deliver(client, event("checkout.session.completed", paid))
    opened = dispute_event(paid["payment_intent"], "charge.dispute.created", "needs_response")
    assert (await deliver(client, opened)).json()["outcome"] == "revoked"

    refused = await open_checkout(client, learner, LESSON_JOINS)

    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "payment_disputed"
    assert "access is paused while your bank reviews it" in error["message"]
    assert session_rows(database_url, learner) == [
        (paid["id"], LESSON_JOINS, 1200, "usd", "complete")
    ]

    won = dispute_event(paid["payment_intent"], "charge.dispute.closed", "won")
    assert (await deliver(client, won)).json()["outcome"] == "restored"
    again = await open_checkout(client, learner, LESSON_JOINS)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "already_owned"


async def test_a_lost_dispute_offers_the_lesson_again(
    client: Client, database_url: str, learner: uuid.UUID
) -> None:
    paid = checkout_session(user_id=learner, lesson_id=LESSON_JOINS)
    await deliver(client, event("checkout.session.completed", paid))
    await deliver(
        client, dispute_event(paid["payment_intent"], "charge.dispute.created", "needs_response")
    )
    await deliver(client, dispute_event(paid["payment_intent"], "charge.dispute.closed", "lost"))

    response = await open_checkout(client, learner, LESSON_JOINS)

    assert response.status_code == 201
    assert purchase_status(database_url, learner, LESSON_JOINS) == "disputed"


ACCOUNT_DISABLED = {
    "code": "account_disabled",
    "message": "This account cannot make purchases: it has been suspended or deleted.",
}


async def test_still_valid_token_of_a_user_whose_row_is_gone_is_403_account_disabled(
    client: Client,
) -> None:
    response = await open_checkout(client, uuid.uuid4(), LESSON_JOINS)
    assert response.status_code == 403
    assert response.json()["error"] == ACCOUNT_DISABLED


@pytest.mark.parametrize(
    "disable",
    [
        "update auth.users set banned_until = now() + interval '1 day' where id = %s",
        "update auth.users set deleted_at = now() where id = %s",
    ],
    ids=["banned", "soft_deleted"],
)
async def test_banned_or_deleted_learner_with_a_valid_token_is_403_and_nothing_is_opened(
    client: Client, database_url: str, learner: uuid.UUID, disable: str
) -> None:
    query(database_url, disable, (learner,))
    response = await open_checkout(client, learner, LESSON_JOINS)
    assert response.status_code == 403
    assert response.json()["error"] == ACCOUNT_DISABLED
    assert session_rows(database_url, learner) == []


async def test_stripe_unreachable_is_502_and_nothing_is_attached(
    database_url: str, learner: uuid.UUID
) -> None:
    async with running_client(make_settings(database_url)) as client:  # Stripe at a dead port
        response = await open_checkout(client, learner, LESSON_JOINS)
    assert response.status_code == 502
    assert response.json()["error"] == {
        "code": "payment_provider_error",
        "message": "The payment provider could not be reached or refused the request.",
    }
    assert session_rows(database_url, learner) == []


async def test_stripe_refusing_the_key_is_502(
    database_url: str, standin: StandIn, learner: uuid.UUID
) -> None:
    settings = make_settings(
        database_url, stripe_api_base=standin.api_base, stripe_secret_key="pk_test_wrong_kind"
    )
    async with running_client(settings) as client:
        response = await open_checkout(client, learner, LESSON_JOINS)
    assert response.status_code == 502
    assert "pk_test_wrong_kind" not in response.text


# --- return from Checkout -----------------------------------------------------------------------


def about_to_expire(database_url: str, session_id: str) -> None:
    query(
        database_url,
        "update public.checkout_sessions set expires_at = now() + interval '30 seconds'"
        " where id = %s",
        (session_id,),
    )


async def test_a_session_about_to_expire_is_expired_at_stripe_before_a_new_one(
    client: Client, standin: StandIn, database_url: str, learner: uuid.UUID
) -> None:
    first = (await open_checkout(client, learner, LESSON_JOINS)).json()
    about_to_expire(database_url, first["id"])

    second = await open_checkout(client, learner, LESSON_JOINS)

    assert second.status_code == 201
    assert second.json()["id"] != first["id"]
    assert (await stripe_session(standin, first["id"])).status == "expired"
    rows = {row[0]: row[4] for row in session_rows(database_url, learner)}
    assert rows == {first["id"]: "expired", second.json()["id"]: "open"}


async def test_a_late_delayed_payment_blocks_a_second_session(
    client: Client, standin: StandIn, database_url: str, learner: uuid.UUID
) -> None:
    # Paid by a delayed method just before expiry; no webhook has reached us yet.
    first = (await open_checkout(client, learner, LESSON_JOINS)).json()
    await anyio.to_thread.run_sync(standin.control.pay_delayed, first["id"])
    about_to_expire(database_url, first["id"])

    again = await open_checkout(client, learner, LESSON_JOINS)

    assert again.status_code == 409
    assert again.json()["error"]["code"] == "payment_pending"
    rows = session_rows(database_url, learner)
    assert [(row[0], row[4]) for row in rows] == [(first["id"], "processing")]


async def test_a_session_paid_before_expiry_is_recorded_instead_of_a_second_one(
    client: Client, standin: StandIn, database_url: str, learner: uuid.UUID
) -> None:
    first = (await open_checkout(client, learner, LESSON_JOINS)).json()
    await anyio.to_thread.run_sync(standin.control.pay, first["id"])
    about_to_expire(database_url, first["id"])

    again = await open_checkout(client, learner, LESSON_JOINS)

    assert again.status_code == 409
    assert again.json()["error"]["code"] == "already_owned"
    assert purchase_status(database_url, learner, LESSON_JOINS) == "paid"


def synced_a_while_ago(database_url: str, session_id: str) -> None:
    query(
        database_url,
        "update public.checkout_sessions set synced_at = now() - interval '1 minute' where id = %s",
        (session_id,),
    )


async def test_a_polling_return_page_reads_stripe_at_most_every_two_seconds(
    client: Client, standin: StandIn, database_url: str, learner: uuid.UUID
) -> None:
    created = (await open_checkout(client, learner, LESSON_JOINS)).json()
    first = await client.get(f"{URL}/{created['id']}", headers=bearer(learner))
    assert first.json()["status"] == "open"
    await anyio.to_thread.run_sync(standin.control.pay, created["id"])

    soon = await client.get(f"{URL}/{created['id']}", headers=bearer(learner))
    assert soon.json()["status"] == "open", "answered from the database, Stripe not asked"

    synced_a_while_ago(database_url, created["id"])
    later = await client.get(f"{URL}/{created['id']}", headers=bearer(learner))
    assert (later.json()["status"], later.json()["owned"]) == ("complete", True)


async def test_a_replayed_session_that_closed_meanwhile_is_synced_and_a_new_one_opened(
    client: Client, settings: Settings, standin: StandIn, database_url: str, learner: uuid.UUID
) -> None:
    # Stripe made a session under this attempt's key, its attach never ran (database down),
    # and it expired since: the same key now replays that expired session.
    [(answer,)] = query(
        database_url, "select public.begin_checkout(%s, %s)", (learner, LESSON_JOINS)
    )
    plan = BEGIN_CHECKOUT.decode_value(answer)
    assert isinstance(plan, CreateSession)
    params = session_params(settings, Learner(learner), plan)
    stripe_client = standin.stripe_client()
    orphan = await anyio.to_thread.run_sync(
        lambda: stripe_client.v1.checkout.sessions.create(
            params,  # type: ignore[arg-type]
            {"idempotency_key": idempotency_key(plan.idempotency_key, params)},
        )
    )
    await anyio.to_thread.run_sync(stripe_client.v1.checkout.sessions.expire, orphan.id)

    response = await open_checkout(client, learner, LESSON_JOINS)

    assert response.status_code == 201
    fresh = response.json()
    assert fresh["id"] != orphan.id
    assert fresh["url"].startswith(standin.api_base)
    rows = {row[0]: row[4] for row in session_rows(database_url, learner)}
    assert rows == {orphan.id: "expired", fresh["id"]: "open"}


async def test_return_after_paying_records_the_purchase_without_a_webhook(
    client: Client, standin: StandIn, database_url: str, learner: uuid.UUID
) -> None:
    created = (await open_checkout(client, learner, LESSON_JOINS)).json()
    before = await client.get(f"{URL}/{created['id']}", headers=bearer(learner))
    assert before.status_code == 200
    assert before.json() == {
        "id": created["id"],
        "lesson_id": str(LESSON_JOINS),
        "status": "open",
        "payment_status": "unpaid",
        "owned": False,
    }

    paid = await anyio.to_thread.run_sync(standin.control.pay, created["id"])
    redirect = urlsplit(paid.headers["location"])
    assert f"{redirect.scheme}://{redirect.netloc}" == SITE_URL
    assert parse_qs(redirect.query)["session_id"] == [created["id"]]

    synced_a_while_ago(database_url, created["id"])
    after = await client.get(f"{URL}/{created['id']}", headers=bearer(learner))
    assert after.status_code == 200
    assert after.json() == {
        "id": created["id"],
        "lesson_id": str(LESSON_JOINS),
        "status": "complete",
        "payment_status": "paid",
        "owned": True,
    }
    assert purchase_status(database_url, learner, LESSON_JOINS) == "paid"


async def test_delayed_payment_reads_as_processing(
    client: Client, standin: StandIn, learner: uuid.UUID
) -> None:
    created = (await open_checkout(client, learner, LESSON_RLS)).json()
    await anyio.to_thread.run_sync(standin.control.pay_delayed, created["id"])
    response = await client.get(f"{URL}/{created['id']}", headers=bearer(learner))
    assert response.json()["status"] == "processing"
    assert response.json()["owned"] is False
    # A second checkout while the payment is under way could charge twice.
    again = await open_checkout(client, learner, LESSON_RLS)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "payment_pending"


async def test_a_learner_cannot_read_another_learners_session(
    client: Client, database_url: str, learner: uuid.UUID
) -> None:
    created = (await open_checkout(client, learner, LESSON_JOINS)).json()
    other = new_learner(database_url)
    response = await client.get(f"{URL}/{created['id']}", headers=bearer(other))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "checkout_session_not_found"


@pytest.mark.parametrize("session_id", ["cs_test_doesnotexist", "not-a-session", "cs_"])
async def test_unknown_sessions_are_404(
    client: Client, learner: uuid.UUID, session_id: str
) -> None:
    response = await client.get(f"{URL}/{session_id}", headers=bearer(learner))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "checkout_session_not_found"


async def test_reading_needs_a_token(client: Client) -> None:
    response = await client.get(f"{URL}/cs_test_x")
    assert response.status_code == 401


async def test_stripe_unreachable_on_return_is_502(
    client: Client, database_url: str, learner: uuid.UUID
) -> None:
    created = (await open_checkout(client, learner, LESSON_JOINS)).json()
    async with running_client(make_settings(database_url)) as offline:
        response = await offline.get(f"{URL}/{created['id']}", headers=bearer(learner))
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "payment_provider_error"


async def test_settled_session_is_answered_from_the_database(
    client: Client, database_url: str, learner: uuid.UUID
) -> None:
    # Paid and recorded: no need to ask Stripe (which this app cannot even reach).
    paid = checkout_session(user_id=learner, lesson_id=LESSON_JOINS)
    await deliver(client, event("checkout.session.completed", paid))
    async with running_client(make_settings(database_url)) as offline:
        response = await offline.get(f"{URL}/{paid['id']}", headers=bearer(learner))
    assert response.status_code == 200
    assert response.json()["owned"] is True


# --- the customer a Checkout reuses ------------------------------------------------------------


async def grant_with_customer(
    client: Client, learner: uuid.UUID, lesson: uuid.UUID, customer: str
) -> None:
    """A payment of the learner's, with a Stripe customer, that grants them the lesson."""
    paid = checkout_session(user_id=learner, lesson_id=lesson) | {"customer": customer}
    response = await deliver(client, event("checkout.session.completed", paid))
    assert response.json()["outcome"] == "recorded"


def test_standin_refuses_an_unknown_customer_as_stripe_does(standin: StandIn) -> None:
    """stripe-python raises InvalidRequestError: 400, resource_missing, param customer."""
    stripe_client = standin.stripe_client()
    with pytest.raises(stripe.InvalidRequestError) as refused:
        stripe_client.v1.checkout.sessions.create(
            params={
                "mode": "payment",
                "customer": "cus_gone0000000000",
                "success_url": f"{SITE_URL}/ok",
                "line_items": [
                    {
                        "quantity": 1,
                        "price_data": {
                            "currency": "usd",
                            "unit_amount": 1200,
                            "product_data": {"name": "Joins"},
                        },
                    }
                ],
            }
        )
    error = refused.value
    assert (error.http_status, error.code, error.param) == (400, "resource_missing", "customer")
    assert error.user_message == "No such customer: 'cus_gone0000000000'"


async def test_checkout_reuses_the_customer_of_the_learners_granting_payment(
    client: Client, standin: StandIn, learner: uuid.UUID
) -> None:
    stripe_client = standin.stripe_client()
    customer = await anyio.to_thread.run_sync(
        lambda: stripe_client.v1.customers.create(params={"email": "kept@example.com"})
    )
    await grant_with_customer(client, learner, LESSON_JOINS, customer.id)
    response = await open_checkout(client, learner, LESSON_RLS)
    assert response.status_code == 201
    session = await stripe_session(standin, response.json()["id"])
    assert (session.customer, session.customer_email) == (customer.id, None)


async def test_a_customer_stripe_refuses_falls_back_to_the_learners_email(
    client: Client, standin: StandIn, database_url: str, learner: uuid.UUID
) -> None:
    """A stored customer Stripe no longer knows never fails the purchase."""
    await grant_with_customer(client, learner, LESSON_JOINS, "cus_deleted00000000")
    response = await open_checkout(client, learner, LESSON_RLS)
    assert response.status_code == 201
    session = await stripe_session(standin, response.json()["id"])
    assert session.customer is None
    assert session.customer_email == f"learner-{learner.hex[:8]}@example.com"
    assert session_rows(database_url, learner)[-1][0] == response.json()["id"]
    again = await open_checkout(client, learner, LESSON_RLS)
    assert (again.status_code, again.json()) == (200, response.json())


async def test_a_later_claim_cannot_choose_the_learners_customer(
    client: Client, standin: StandIn, database_url: str, learner: uuid.UUID
) -> None:
    """A signed claim adding a customer to a paid session is a contradiction: the next
    Checkout still goes out with the learner's email."""
    paid = checkout_session(user_id=learner, lesson_id=LESSON_JOINS)
    first = await deliver(client, event("checkout.session.completed", paid))
    assert first.json()["outcome"] == "recorded"
    claim = paid | {"customer": "cus_someoneelse000"}
    later = await deliver(client, event("checkout.session.completed", claim))
    assert later.json()["outcome"] == "rejected:contradiction"
    response = await open_checkout(client, learner, LESSON_RLS)
    assert response.status_code == 201
    session = await stripe_session(standin, response.json()["id"])
    assert (session.customer, session.customer_email) == (
        None,
        f"learner-{learner.hex[:8]}@example.com",
    )
    stored = query(
        database_url,
        "select stripe_customer_id from public.checkout_sessions where id = %s",
        (paid["id"],),
    )
    assert stored == [(None,)]


async def test_checkout_invoices_ask_stripe_for_an_invoice(
    database_url: str, standin: StandIn, learner: uuid.UUID
) -> None:
    """CHECKOUT_INVOICES=true: sessions are created with invoice_creation[enabled]=true; off,
    without."""
    on = make_settings(
        database_url,
        stripe_api_base=standin.api_base,
        stripe_secret_key=standin.api_key,
        checkout_invoices=True,
    )
    async with running_client(on) as client:
        response = await open_checkout(client, learner, LESSON_JOINS)
    assert response.status_code == 201
    creation = (await stripe_session(standin, response.json()["id"])).invoice_creation
    assert creation is not None
    assert creation.enabled is True
    off = make_settings(
        database_url, stripe_api_base=standin.api_base, stripe_secret_key=standin.api_key
    )
    async with running_client(off) as client:
        response = await open_checkout(client, learner, LESSON_RLS)
    creation = (await stripe_session(standin, response.json()["id"])).invoice_creation
    assert creation is None or creation.enabled is False
