"""Webhook delivery: Stripe's signature, retries with backoff, duplicate/shuffle/pause switches."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import httpx
import pytest
import stripe

from standins.stripe.testing import Attempts, StandIn, running_standin
from tests.standins.stripe.conftest import WEBHOOK_SECRET, Receiver, create_session


def open_sessions(client: stripe.StripeClient, count: int) -> list[str]:
    return [create_session(client).id for _ in range(count)]


def delivered(count: int) -> Callable[[Attempts], bool]:
    def enough(attempts: Attempts) -> bool:
        return sum(1 for a in attempts if a["ok"]) >= count

    return enough


def test_deliveries_are_signed_as_stripe_signs(
    client: stripe.StripeClient, standin: StandIn, receiver: Receiver
) -> None:
    session = create_session(client)
    standin.control.pay(session.id)
    standin.control.wait_for_deliveries(delivered(4))

    assert len(receiver.received) == 4
    for received in receiver.received:
        event = stripe.Webhook.construct_event(received.body, received.signature, WEBHOOK_SECRET)
        assert event.id.startswith("evt_")
        timestamp = int(received.signature.split(",")[0].removeprefix("t="))
        assert abs(timestamp - time.time()) < 30
        with pytest.raises(stripe.SignatureVerificationError):
            stripe.Webhook.construct_event(received.body, received.signature, "whsec_wrong")
        with pytest.raises(stripe.SignatureVerificationError):
            stripe.Webhook.construct_event(received.body + b" ", received.signature, WEBHOOK_SECRET)

    completed = [e for e in receiver.events() if e["type"] == "checkout.session.completed"]
    assert len(completed) == 1
    body = completed[0]
    assert body["data"]["object"]["id"] == session.id
    assert body["data"]["object"]["payment_status"] == "paid"
    assert body["data"]["object"]["metadata"] == {"user_id": "u-1", "lesson_id": "l-1"}
    assert (body["livemode"], body["pending_webhooks"]) == (False, 1)
    assert body["api_version"] == stripe.api_version
    stored = client.v1.events.retrieve(body["id"])
    assert stored.data.object["id"] == session.id
    assert stored.pending_webhooks == 0  # delivered, so no longer pending


def test_api_events_carry_the_request_and_idempotency_key(
    client: stripe.StripeClient, standin: StandIn, receiver: Receiver
) -> None:
    session = create_session(client)
    expired = client.v1.checkout.sessions.expire(session.id, options={"idempotency_key": "exp-1"})
    assert expired.last_response is not None
    standin.control.wait_for_deliveries(delivered(1))
    event = receiver.events()[0]
    assert event["type"] == "checkout.session.expired"
    assert event["request"] == {"id": expired.last_response.request_id, "idempotency_key": "exp-1"}


def test_failed_delivery_is_retried_with_the_same_body_until_it_succeeds(
    client: stripe.StripeClient, standin: StandIn, receiver: Receiver
) -> None:
    receiver.fail_next = 2
    (session_id,) = open_sessions(client, 1)
    client.v1.checkout.sessions.expire(session_id)
    attempts = standin.control.wait_for_deliveries(delivered(1))

    assert [(a["attempt"], a["status"], a["will_retry"]) for a in attempts] == [
        (1, 500, True),
        (2, 500, True),
        (3, 200, False),
    ]
    assert len({r.body for r in receiver.received}) == 1
    assert attempts[2]["at"] - attempts[0]["at"] >= 0.05 + 0.1 - 0.01  # backoff was waited
    for received in receiver.received:
        stripe.Webhook.construct_event(received.body, received.signature, WEBHOOK_SECRET)


def test_unreachable_endpoint_is_retried_then_given_up() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
    with running_standin([(dead, WEBHOOK_SECRET)], retry_delays=(0.01, 0.02)) as standin:
        client = standin.stripe_client()
        (session_id,) = open_sessions(client, 1)
        client.v1.checkout.sessions.expire(session_id)
        attempts = standin.control.wait_for_deliveries(lambda a: len(a) >= 3)
        time.sleep(0.1)
        attempts = standin.control.deliveries()
    assert [(a["attempt"], a["status"], a["will_retry"]) for a in attempts] == [
        (1, None, True),
        (2, None, True),
        (3, None, False),
    ]
    assert all("ConnectError" in str(a["error"]) for a in attempts)


def test_duplicate_switch_delivers_each_event_twice(
    client: stripe.StripeClient, standin: StandIn, receiver: Receiver
) -> None:
    assert standin.control.set_delivery(duplicate=True)["duplicate"] is True
    (session_id,) = open_sessions(client, 1)
    client.v1.checkout.sessions.expire(session_id)
    attempts = standin.control.wait_for_deliveries(lambda a: len(a) >= 2)
    assert [a["duplicate"] for a in attempts] == [False, True]
    ids = [e["id"] for e in receiver.events()]
    assert len(ids) == 2
    assert ids[0] == ids[1]

    standin.control.set_delivery(duplicate=False)
    (other,) = open_sessions(client, 1)
    client.v1.checkout.sessions.expire(other)
    standin.control.wait_for_deliveries(lambda a: len(a) >= 3)
    time.sleep(0.1)
    assert len(receiver.events()) == 3


def test_pause_holds_deliveries_and_shuffle_reorders_them(
    client: stripe.StripeClient, standin: StandIn, receiver: Receiver
) -> None:
    standin.control.set_delivery(paused=True, shuffle=True)
    ids = open_sessions(client, 6)
    for session_id in ids:
        client.v1.checkout.sessions.expire(session_id)
    time.sleep(0.2)
    assert receiver.received == []
    created_order = [e.id for e in client.v1.events.list().data][::-1]

    standin.control.set_delivery(paused=False)
    standin.control.wait_for_deliveries(delivered(6))
    arrived = [e["id"] for e in receiver.events()]
    assert sorted(arrived) == sorted(created_order)
    assert arrived != created_order


def test_without_shuffle_events_arrive_in_the_order_they_happened(
    client: stripe.StripeClient, standin: StandIn, receiver: Receiver
) -> None:
    standin.control.set_delivery(paused=True)
    for session_id in open_sessions(client, 5):
        client.v1.checkout.sessions.expire(session_id)
    standin.control.set_delivery(paused=False)
    standin.control.wait_for_deliveries(delivered(5))
    created_order = [e.id for e in client.v1.events.list().data][::-1]
    assert [e["id"] for e in receiver.events()] == created_order


def test_api_registered_endpoint_gets_only_its_events_signed_with_its_secret(
    client: stripe.StripeClient, standin: StandIn, receiver: Receiver
) -> None:
    endpoint = client.v1.webhook_endpoints.create(
        params={
            "url": receiver.url.replace("/webhooks/stripe", "/only-completed"),
            "enabled_events": ["checkout.session.completed"],
        }
    )
    assert endpoint.id.startswith("we_")
    assert endpoint.secret is not None
    assert endpoint.secret.startswith("whsec_")
    listed = client.v1.webhook_endpoints.list()
    assert endpoint.id in [e.id for e in listed.data]
    assert all("secret" not in e for e in listed.data)

    (session_id,) = open_sessions(client, 1)
    standin.control.pay(session_id)
    standin.control.wait_for_deliveries(delivered(5))
    only = [r for r in receiver.received if r.path == "/only-completed"]
    assert len(only) == 1
    event = stripe.Webhook.construct_event(only[0].body, only[0].signature, endpoint.secret)
    assert event.type == "checkout.session.completed"
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(only[0].body, only[0].signature, WEBHOOK_SECRET)


def test_control_registered_endpoint_uses_the_given_secret(
    standin: StandIn, receiver: Receiver
) -> None:
    url = receiver.url.replace("/webhooks/stripe", "/late")
    added = standin.control.add_webhook_endpoint(url, secret="whsec_late")
    assert added["secret"] == "whsec_late"
    client = standin.stripe_client()
    (session_id,) = open_sessions(client, 1)
    client.v1.checkout.sessions.expire(session_id)
    standin.control.wait_for_deliveries(delivered(2))
    late = [r for r in receiver.received if r.path == "/late"]
    stripe.Webhook.construct_event(late[0].body, late[0].signature, "whsec_late")


def test_events_list_filters_by_type_prefix_and_created(
    client: stripe.StripeClient, standin: StandIn
) -> None:
    (session_id,) = open_sessions(client, 1)
    standin.control.pay(session_id)
    everything = client.v1.events.list(params={"limit": 100}).data
    assert len(everything) == 4
    sessions_only = client.v1.events.list(params={"type": "checkout.session.*"}).data
    assert [e.type for e in sessions_only] == ["checkout.session.completed"]
    newer = client.v1.events.list(params={"created": {"gt": int(time.time()) + 5}}).data
    assert newer == []
    page = client.v1.events.list(params={"limit": 2})
    assert page.has_more is True
    rest = client.v1.events.list(params={"limit": 2, "starting_after": page.data[-1].id})
    assert [e.id for e in page.data + rest.data] == [e.id for e in everything]
    missing = httpx.get(
        f"{standin.api_base}/v1/events/evt_nope", headers={"Authorization": "Bearer sk_test_x"}
    )
    assert missing.status_code == 404
