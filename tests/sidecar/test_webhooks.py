"""POST /v1/webhooks/stripe against a real database: signatures, duplicates, ordering, outages."""

from __future__ import annotations

import json
import time
import uuid

import anyio
import pytest

from tests.sidecar.conftest import (
    LESSON_JOINS,
    WEBHOOK_SECRET,
    Client,
    charge,
    checkout_session,
    deliver,
    event,
    purchase_count,
    purchase_status,
    query,
    signature_header,
    signed,
    stored_event,
)

pytestmark = pytest.mark.anyio
URL = "/v1/webhooks/stripe"


def event_count(database_url: str) -> int:
    return int(query(database_url, "select count(*) from public.stripe_events")[0][0])


def completed(learner: uuid.UUID, **kwargs: object) -> dict[str, object]:
    return event(
        "checkout.session.completed",
        checkout_session(user_id=learner, lesson_id=LESSON_JOINS, **kwargs),  # type: ignore[arg-type]
    )


# --- signatures: nothing is stored unless Stripe signed this exact body ------------------------


async def post_raw(client: Client, payload: bytes, signature: str | None) -> tuple[int, str]:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    response = await client.post(URL, content=payload, headers=headers)
    return response.status_code, response.json()["error"]["code"]


async def test_signature_matrix(client: Client, database_url: str, learner: uuid.UUID) -> None:
    payload = json.dumps(completed(learner)).encode()
    now = int(time.time())
    good = signature_header(payload)
    v1 = good.split("v1=")[1]
    wrong = signature_header(payload, secret="whsec_someone_else")
    cases = {
        "missing header": (payload, None, "missing_signature"),
        "empty header": (payload, "", "missing_signature"),
        "garbage header": (payload, "nonsense", "bad_signature"),
        "tampered body": (payload.replace(b"1200", b"1"), good, "bad_signature"),
        "wrong secret": (payload, wrong, "bad_signature"),
        "stale timestamp": (
            payload,
            signature_header(payload, timestamp=now - 301),
            "bad_signature",
        ),
        "future timestamp": (
            payload,
            signature_header(payload, timestamp=now + 301),
            "bad_signature",
        ),
        "v0 scheme only": (payload, f"t={now},v0={v1}", "bad_signature"),
        "signature of another timestamp": (payload, f"t={now - 1},v1={v1}", "bad_signature"),
    }
    before = event_count(database_url)
    for name, (body, signature, code) in cases.items():
        assert await post_raw(client, body, signature) == (400, code), name
    assert event_count(database_url) == before
    assert purchase_count(database_url, learner) == 0


async def test_one_right_signature_among_several_is_enough(
    client: Client, database_url: str, learner: uuid.UUID
) -> None:
    event_obj = completed(learner)
    payload = json.dumps(event_obj).encode()
    now = int(time.time())
    right = signature_header(payload, timestamp=now).split("v1=")[1]
    stale = signature_header(payload, secret="whsec_old_secret", timestamp=now).split("v1=")[1]
    header = f"t={now},v1={stale},v1={right},v0=deadbeef"
    response = await client.post(URL, content=payload, headers={"Stripe-Signature": header})
    assert response.status_code == 200
    assert response.json() == {"received": True, "outcome": "recorded"}


async def test_timestamps_within_tolerance_are_accepted(client: Client, learner: uuid.UUID) -> None:
    for skew in (-290, 290):
        event_obj = completed(learner)
        payload, headers = signed(event_obj, timestamp=int(time.time()) + skew)
        response = await client.post(URL, content=payload, headers=headers)
        assert response.status_code == 200, skew


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"[1, 2]",
        b'{"object": "event"}',
        b'{"id": "evt_1", "object": "event", "type": "x", "created": 1, "data": {"object": 1}}',
        b'{"id": "1; drop", "object": "event", "type": "x", "created": 1, "data": {"object": {}}}',
        b'{"id": "evt_1", "object": "v2.core.event", "type": "x", "created": 1, "data": {}}',
        b"\xff\xfe not utf-8",
    ],
)
async def test_signed_but_not_an_event_is_400_and_stores_nothing(
    client: Client, database_url: str, payload: bytes
) -> None:
    before = event_count(database_url)
    response = await client.post(
        URL, content=payload, headers={"Stripe-Signature": signature_header(payload)}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_payload"
    assert event_count(database_url) == before


async def test_body_over_one_mebibyte_is_413(client: Client, database_url: str) -> None:
    payload = b'{"pad": "' + b"x" * (1024 * 1024) + b'"}'
    before = event_count(database_url)
    response = await client.post(
        URL, content=payload, headers={"Stripe-Signature": signature_header(payload)}
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert event_count(database_url) == before


# --- processing -------------------------------------------------------------------------------


async def test_completed_paid_session_records_the_purchase(
    client: Client, database_url: str, learner: uuid.UUID
) -> None:
    event_obj = completed(learner)
    response = await deliver(client, event_obj)
    assert response.status_code == 200
    assert response.json() == {"received": True, "outcome": "recorded"}
    assert purchase_status(database_url, learner, LESSON_JOINS) == "paid"
    assert stored_event(database_url, event_obj["id"]) == ("recorded", None)  # type: ignore[arg-type]


async def test_sequential_duplicate_is_acknowledged_once(
    client: Client, database_url: str, learner: uuid.UUID
) -> None:
    event_obj = completed(learner)
    first = await deliver(client, event_obj)
    second = await deliver(client, event_obj)
    assert first.json()["outcome"] == "recorded"
    assert second.status_code == 200
    assert second.json()["outcome"] == "duplicate"
    assert purchase_count(database_url, learner) == 1


async def test_concurrent_duplicates_record_one_purchase(
    client: Client, database_url: str, learner: uuid.UUID
) -> None:
    event_obj = completed(learner)
    outcomes: list[str] = []

    async def send() -> None:
        response = await deliver(client, event_obj)
        assert response.status_code == 200
        outcomes.append(response.json()["outcome"])

    async with anyio.create_task_group() as group:
        for _ in range(8):
            group.start_soon(send)
    assert sorted(outcomes) == ["duplicate"] * 7 + ["recorded"]
    assert purchase_count(database_url, learner) == 1


async def test_unhandled_event_type_is_stored_and_ignored(
    client: Client, database_url: str
) -> None:
    event_obj = event("customer.created", {"id": "cus_123", "object": "customer"})
    response = await deliver(client, event_obj)
    assert response.status_code == 200
    assert response.json()["outcome"] == "ignored"
    assert stored_event(database_url, event_obj["id"]) == ("ignored", None)


async def test_unpaid_completed_session_is_pending_then_async_success_records(
    client: Client, database_url: str, learner: uuid.UUID
) -> None:
    session = checkout_session(user_id=learner, lesson_id=LESSON_JOINS, payment_status="unpaid")
    pending = await deliver(client, event("checkout.session.completed", session))
    assert pending.json()["outcome"] == "pending"
    assert purchase_status(database_url, learner, LESSON_JOINS) is None
    paid = {**session, "payment_status": "paid"}
    succeeded = await deliver(client, event("checkout.session.async_payment_succeeded", paid))
    assert succeeded.json()["outcome"] == "recorded"
    assert purchase_status(database_url, learner, LESSON_JOINS) == "paid"


async def test_async_success_before_completed(
    client: Client, database_url: str, learner: uuid.UUID
) -> None:
    session = checkout_session(user_id=learner, lesson_id=LESSON_JOINS)
    now = int(time.time())
    unpaid = {**session, "payment_status": "unpaid"}
    success = await deliver(
        client, event("checkout.session.async_payment_succeeded", session, created=now)
    )
    late_completed = await deliver(
        client, event("checkout.session.completed", unpaid, created=now - 30)
    )
    assert success.json()["outcome"] == "recorded"
    assert late_completed.status_code == 200
    assert purchase_status(database_url, learner, LESSON_JOINS) == "paid"


async def test_refund_before_purchase_is_kept_and_applied(
    client: Client, database_url: str, learner: uuid.UUID
) -> None:
    session = checkout_session(user_id=learner, lesson_id=LESSON_JOINS)
    now = int(time.time())
    refund = event("charge.refunded", charge(payment_intent=session["payment_intent"]), created=now)
    early = await deliver(client, refund)
    assert early.json()["outcome"] == "deferred"
    purchase = await deliver(client, event("checkout.session.completed", session, created=now - 60))
    assert purchase.status_code == 200
    assert purchase_status(database_url, learner, LESSON_JOINS) == "refunded"


async def test_refund_after_purchase_revokes(
    client: Client, database_url: str, learner: uuid.UUID
) -> None:
    session = checkout_session(user_id=learner, lesson_id=LESSON_JOINS)
    await deliver(client, event("checkout.session.completed", session))
    refund = await deliver(
        client, event("charge.refunded", charge(payment_intent=session["payment_intent"]))
    )
    assert refund.json()["outcome"] == "revoked"
    assert purchase_status(database_url, learner, LESSON_JOINS) == "refunded"


def succeeded_charge(payment_intent: str, **fields: object) -> dict[str, object]:
    """Stripe's example charge (card visa 4242, its receipt_url) for a payment intent."""
    obj = charge(payment_intent=payment_intent)
    obj.update(amount_refunded=0, refunded=False, **fields)
    return obj


def payment_record(database_url: str, session_id: str) -> tuple[object, ...]:
    rows = query(
        database_url,
        "select payment_method_type, card_brand, card_last4, receipt_url, amount_refunded,"
        " stripe_payment_intent_id from public.checkout_sessions where id = %s",
        (session_id,),
    )
    return rows[0]


async def test_charge_succeeded_before_its_session_ends_up_on_the_payment_record(
    client: Client, database_url: str, learner: uuid.UUID
) -> None:
    session = checkout_session(user_id=learner, lesson_id=LESSON_JOINS)
    now = int(time.time())
    paid_charge = succeeded_charge(session["payment_intent"])
    early = await deliver(client, event("charge.succeeded", paid_charge, created=now))
    assert early.status_code == 200
    assert early.json()["outcome"] == "applied"
    assert purchase_status(database_url, learner, LESSON_JOINS) is None

    await deliver(client, event("checkout.session.completed", session, created=now - 5))

    assert purchase_status(database_url, learner, LESSON_JOINS) == "paid"
    card = paid_charge["payment_method_details"]["card"]  # type: ignore[index]
    assert payment_record(database_url, session["id"]) == (
        "card",
        card["brand"],
        card["last4"],
        paid_charge["receipt_url"],
        0,
        session["payment_intent"],
    )


async def test_charge_succeeded_with_a_bad_receipt_url_stores_no_link(
    client: Client, database_url: str, learner: uuid.UUID
) -> None:
    session = checkout_session(user_id=learner, lesson_id=LESSON_JOINS)
    await deliver(client, event("checkout.session.completed", session))
    bad = succeeded_charge(session["payment_intent"], receipt_url="javascript:alert(1)")

    response = await deliver(client, event("charge.succeeded", bad))

    assert response.json()["outcome"] == "applied"
    assert payment_record(database_url, session["id"])[2:4] == ("4242", None)
    assert purchase_status(database_url, learner, LESSON_JOINS) == "paid"


async def test_partial_refund_keeps_access(
    client: Client, database_url: str, learner: uuid.UUID
) -> None:
    session = checkout_session(user_id=learner, lesson_id=LESSON_JOINS)
    await deliver(client, event("checkout.session.completed", session))
    partial = charge(payment_intent=session["payment_intent"], refunded=False)
    response = await deliver(client, event("charge.refunded", partial))
    assert response.json()["outcome"] == "ignored:partial_refund"
    assert purchase_status(database_url, learner, LESSON_JOINS) == "paid"
    assert payment_record(database_url, session["id"])[4] == partial["amount_refunded"]


async def test_tampered_amount_is_rejected_not_granted(
    client: Client, database_url: str, learner: uuid.UUID
) -> None:
    # Signed by Stripe, but the session charged 1 cent for a 12.00 lesson (no attach row).
    cheap = completed(learner, amount_total=1)
    response = await deliver(client, cheap)
    assert response.status_code == 200
    assert response.json()["outcome"] == "rejected:amount_mismatch"
    assert purchase_status(database_url, learner, LESSON_JOINS) is None


async def test_wrong_currency_is_rejected(
    client: Client, database_url: str, learner: uuid.UUID
) -> None:
    response = await deliver(client, completed(learner, currency="jpy"))
    assert response.json()["outcome"] == "rejected:currency_mismatch"
    assert purchase_status(database_url, learner, LESSON_JOINS) is None


async def test_session_of_another_shop_is_ignored(client: Client, learner: uuid.UUID) -> None:
    session = checkout_session(user_id=learner, lesson_id=LESSON_JOINS)
    session["metadata"] = {}
    response = await deliver(client, event("checkout.session.completed", session))
    assert response.json()["outcome"] == "ignored:not_a_lesson_checkout"


async def test_webhook_needs_no_token_and_logs_no_secret(
    client: Client, learner: uuid.UUID, capsys: pytest.CaptureFixture[str]
) -> None:
    event_obj = completed(learner)
    payload, headers = signed(event_obj)
    response = await client.post(URL, content=payload, headers=headers)
    assert response.status_code == 200
    logged = capsys.readouterr().out
    assert event_obj["id"] in logged  # type: ignore[operator]
    assert WEBHOOK_SECRET not in logged
    assert headers["Stripe-Signature"].split("v1=")[1] not in logged
    assert "customer_details" not in logged  # no payload in logs


async def test_an_event_at_another_api_version_is_applied_and_flagged(
    client: Client, learner: uuid.UUID, capsys: pytest.CaptureFixture[str]
) -> None:
    event_obj = completed(learner)
    event_obj["api_version"] = "2024-06-20"
    payload, headers = signed(event_obj)
    response = await client.post(URL, content=payload, headers=headers)
    assert response.json()["outcome"] == "recorded"
    assert "event_api_version_differs" in capsys.readouterr().out


async def test_a_utf8_body_as_stripe_sends_it_is_verified_and_recorded(
    client: Client, database_url: str, learner: uuid.UUID
) -> None:
    event_obj = completed(learner)
    event_obj["data"]["object"]["customer_details"] = {"name": "Zoë Ångström 山田", "email": None}  # type: ignore[index]
    payload = json.dumps(event_obj, ensure_ascii=False).encode()  # raw UTF-8, not \\u escapes
    headers = {"Stripe-Signature": signature_header(payload), "Content-Type": "application/json"}
    response = await client.post(URL, content=payload, headers=headers)
    assert response.status_code == 200
    assert response.json()["outcome"] == "recorded"
    stored = query(
        database_url,
        "select payload -> 'data' -> 'object' -> 'customer_details' ->> 'name'"
        " from public.stripe_events where id = %s",
        (event_obj["id"],),
    )
    assert stored == [("Zoë Ångström 山田",)]
