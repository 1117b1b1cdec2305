"""The early fraud warning x state table: each state a warning can meet, delivered in every
order, ends in one end state, and the table of them is printed (issue 17's closing note).

    uv run pytest tests/sql/test_early_fraud_warning_states.py -q -s
"""

from __future__ import annotations

import itertools
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
import pytest
from psycopg.types.json import Jsonb

from tests.sql.conftest import JOINS, connect
from tests.sql.stripe_objects import (
    JsonObject,
    charge_refunded,
    checkout_session,
    dispute,
    early_fraud_warning,
    event,
)

PAID_AT, EARLIER, WARNED, LATER = 1_700_000_000, 1_700_000_050, 1_700_000_100, 1_700_000_200


@dataclass(frozen=True)
class Delivery:
    key: str
    event: JsonObject
    auto_refund: bool = True


@dataclass(frozen=True)
class Case:
    state: str
    warning: str
    stories: Callable[[str, uuid.UUID], list[Delivery]]
    expected: str


def paid(tag: str, user: uuid.UUID) -> Delivery:
    session = checkout_session(f"cs_test_{tag}", user, JOINS, 1200, payment_intent=f"pi_{tag}")
    return Delivery(
        "completed", event(f"evt_{tag}_paid", "checkout.session.completed", session, PAID_AT)
    )


def warned(
    tag: str, n: int = 1, actionable: bool = True, at: int = WARNED, auto_refund: bool = True
) -> Delivery:
    obj = early_fraud_warning(f"issfr_{tag}_{n}", f"pi_{tag}", at, actionable)
    evt = event(f"evt_{tag}_w{n}", "radar.early_fraud_warning.created", obj, at)
    return Delivery(f"warning {n}", evt, auto_refund)


def refunded(tag: str, at: int = EARLIER) -> Delivery:
    obj = charge_refunded(f"pi_{tag}", 1200, 1200)
    return Delivery("refund", event(f"evt_{tag}_r", "charge.refunded", obj, at))


def disputed(tag: str, at: int = EARLIER) -> Delivery:
    obj = dispute(f"pi_{tag}")
    return Delivery("dispute", event(f"evt_{tag}_d", "charge.dispute.created", obj, at))


CASES = [
    Case(
        "granted",
        "actionable",
        lambda t, u: [paid(t, u), warned(t)],
        "refunded (early_fraud_warning) | refund | 1 refund asked | not listed",
    ),
    Case(
        "granted",
        "actionable, 20 duplicate deliveries",
        lambda t, u: [paid(t, u), *[warned(t)] * 20],
        "refunded (early_fraud_warning) | refund | 1 refund asked | not listed",
    ),
    Case(
        "granted",
        "two warnings for one charge",
        lambda t, u: [paid(t, u), warned(t), warned(t, 2, at=LATER)],
        "refunded (early_fraud_warning) | refund,refund | 1 refund asked | not listed",
    ),
    Case(
        "granted",
        "not actionable",
        lambda t, u: [paid(t, u), warned(t, actionable=False)],
        "paid | list:not_actionable | 0 refund asked | early_fraud_warning:not_actionable",
    ),
    Case(
        "granted",
        "actionable, EFW_AUTO_REFUND=false",
        lambda t, u: [paid(t, u), warned(t, auto_refund=False)],
        "paid | list:auto_refund_off | 0 refund asked | early_fraud_warning:auto_refund_off",
    ),
    Case(
        "already refunded",
        "actionable",
        lambda t, u: [paid(t, u), refunded(t), warned(t)],
        "refunded | list:already_refunded | 0 refund asked | early_fraud_warning:already_refunded",
    ),
    Case(
        "disputed",
        "actionable",
        lambda t, u: [paid(t, u), disputed(t), warned(t)],
        "disputed | list:already_disputed | 0 refund asked | early_fraud_warning:already_disputed",
    ),
    Case(
        "granted, disputed after the warning",
        "actionable",
        lambda t, u: [paid(t, u), warned(t), disputed(t, at=LATER)],
        "refunded (early_fraud_warning) | refund | 1 refund asked | not listed",
    ),
    Case(
        "unknown charge",
        "actionable",
        lambda t, u: [warned(t)],
        "no purchase | waiting | 0 refund asked | listed after an hour (deferred)",
    ),
]


def deliver(conn: psycopg.Connection[tuple[object, ...]], delivery: Delivery) -> str:
    if delivery.event["type"].startswith("radar."):
        query = "select public.handle_early_fraud_warning(%s, %s)"
        row = conn.execute(query, (Jsonb(delivery.event), delivery.auto_refund)).fetchone()
    else:
        row = conn.execute(
            "select public.handle_stripe_event(%s)", (Jsonb(delivery.event),)
        ).fetchone()
    assert row is not None
    return str(row[0])


def end_state(conn: psycopg.Connection[tuple[object, ...]], tag: str) -> str:
    pi = f"pi_{tag}"
    purchase = conn.execute(
        "select status || coalesce(' (' || revoked_reason || ')', '')"
        " from public.purchased_lessons where stripe_payment_intent_id = %s",
        (pi,),
    ).fetchone()
    decisions = conn.execute(
        "select coalesce(string_agg(coalesce(action || coalesce(':' || action_reason, ''),"
        " 'waiting'), ',' order by id), 'no warning')"
        " from public.early_fraud_warnings where payment_intent_id = %s",
        (pi,),
    ).fetchone()
    refunds = conn.execute(
        "select count(*) from public.early_fraud_warning_refunds where payment_intent_id = %s",
        (pi,),
    ).fetchone()
    listed = conn.execute(
        "select string_agg(reason, ',' order by reason) from public.payments_needing_attention"
        " where stripe_payment_intent_id = %s",
        (pi,),
    ).fetchone()
    deferred = conn.execute(
        "select count(*) from public.stripe_events where payment_intent_id = %s"
        " and outcome = 'deferred'",
        (pi,),
    ).fetchone()
    assert decisions is not None
    assert refunds is not None
    assert listed is not None
    assert deferred is not None
    listing = listed[0] or ("listed after an hour (deferred)" if deferred[0] else "not listed")
    return " | ".join(
        [
            str(purchase[0]) if purchase else "no purchase",
            str(decisions[0]),
            f"{refunds[0]} refund asked",
            str(listing),
        ]
    )


def orders(deliveries: list[Delivery], rng: random.Random) -> list[list[Delivery]]:
    """Every order of the deliveries (or 24 random ones when there are more than 24)."""
    if len(deliveries) <= 4:
        return [list(p) for p in itertools.permutations(deliveries)]
    shuffled = []
    for _ in range(24):
        order = list(deliveries)
        rng.shuffle(order)
        shuffled.append(order)
    return shuffled


def test_each_warning_and_state_ends_the_same_in_every_order(
    database_url: str,
    make_user: Callable[[], uuid.UUID],
    capsys: pytest.CaptureFixture[str],
) -> None:
    rng = random.Random(17)
    table: list[tuple[str, str, int, str]] = []
    with connect(database_url) as conn:
        for number, case in enumerate(CASES):
            ends = set()
            tried = orders(case.stories("x", uuid.UUID(int=0)), rng)
            for attempt in range(len(tried)):
                tag = f"efwt{number}_{attempt}_{uuid.uuid4().hex[:6]}"
                user = make_user()
                story = case.stories(tag, user)
                by_key: dict[str, list[Delivery]] = {}
                for d in story:
                    by_key.setdefault(d.key, []).append(d)
                for template in tried[attempt]:
                    delivery = by_key[template.key].pop()
                    assert deliver(conn, delivery) != "error"
                ends.add(end_state(conn, tag))
            assert ends == {case.expected}, (case.state, case.warning, ends)
            table.append((case.warning, case.state, len(tried), case.expected))

    with capsys.disabled():
        width = max(len(f"{w} x {s}") for w, s, _, _ in table)
        print("\nearly fraud warning x state -> end state (purchase | decision | refunds | listed)")
        for warning, state, tried_orders, expected in table:
            label = f"{warning} x {state}"
            print(f"  {label:<{width}}  {tried_orders:>2} order(s) -> {expected}")
