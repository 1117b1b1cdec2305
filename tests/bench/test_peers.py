"""bench/peers' pure parts: the events both systems get, the exactly-once verdict, the pins.

The run itself (`make bench-peers`) needs npm and minutes; it is not part of `make test`.
"""

from __future__ import annotations

import json
import re
import uuid

import pytest
import stripe

from bench.peers import HERE, exactly_once_problems, node_url, purchase
from tests.sidecar.conftest import LESSON_JOINS, WEBHOOK_SECRET, signature_header


def test_a_purchase_is_a_paid_intent_and_its_completed_session() -> None:
    learner = uuid.uuid4()
    bought = purchase(learner, "cs_test_a1b2c3")
    intent_event, session_event = (json.loads(body) for body in bought.events)

    assert (intent_event["type"], session_event["type"]) == (
        "payment_intent.succeeded",
        "checkout.session.completed",
    )
    assert intent_event["id"] != session_event["id"]
    intent, session = intent_event["data"]["object"], session_event["data"]["object"]
    assert (session["id"], session["payment_intent"]) == ("cs_test_a1b2c3", bought.payment_intent)
    assert (intent["id"], intent["status"], intent["amount"]) == (
        bought.payment_intent,
        "succeeded",
        session["amount_total"],
    )
    assert (session["status"], session["payment_status"]) == ("complete", "paid")
    assert session["metadata"] == {"user_id": str(learner), "lesson_id": str(LESSON_JOINS)}
    # every purchase is new: no id repeats across purchases
    other = purchase(learner, "cs_test_other")
    assert other.payment_intent != bought.payment_intent


def test_the_events_verify_with_the_secret_both_systems_are_given() -> None:
    for body in purchase(uuid.uuid4(), "cs_test_x").events:
        verified = stripe.Webhook.construct_event(body, signature_header(body), WEBHOOK_SECRET)
        assert verified["data"]["object"]["object"] in ("payment_intent", "checkout.session")
        with pytest.raises(stripe.SignatureVerificationError):
            stripe.Webhook.construct_event(body, signature_header(body), "whsec_other")


def test_exactly_once_names_every_count_off_the_purchases() -> None:
    assert exactly_once_problems(3, {"a": 3, "b": 3}) == []
    assert exactly_once_problems(3, {"lost": 2, "ok": 3, "twice": 6}) == [
        "lost: 2 rows for 3 purchases",
        "twice: 6 rows for 3 purchases",
    ]


def test_stripe_sync_engine_is_pinned_exactly_and_locked() -> None:
    manifest = json.loads((HERE / "package.json").read_text())
    lock = json.loads((HERE / "package-lock.json").read_text())
    wanted = manifest["dependencies"]
    assert set(wanted) == {"@supabase/stripe-sync-engine", "stripe"}
    for name, version in wanted.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name} {version} is a range"
        assert lock["packages"][""]["dependencies"][name] == version
        assert lock["packages"][f"node_modules/{name}"]["version"] == version


def test_node_postgres_gets_a_url_for_the_same_database() -> None:
    assert (
        node_url("host=127.0.0.1 port=5432 user=postgres dbname=bench_peers_sse_1a2b")
        == "postgresql://postgres@127.0.0.1:5432/bench_peers_sse_1a2b"
    )
    assert (
        node_url("postgresql://bench:p%40ss%2Fw@db.local:6543/x")
        == "postgresql://bench:p%40ss%2Fw@db.local:6543/x"
    )
