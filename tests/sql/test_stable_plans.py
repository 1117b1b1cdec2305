"""A pooled connection's cached plans stay index lookups as young tables grow.

A deploy ANALYZEs its empty tables (or autovacuum analyses them while they hold a few rows);
the sidecar's connections then cache the plans they make for the purchase functions, PL/pgSQL's
and the foreign-key checks'. On a table the planner knows to be empty, reading all of it is the
cheaper plan, and a connection that kept that plan read every row of the grown table on every
purchase. The functions price sequential scans out (purchase_rules.sql), so whatever the
statistics said when a plan was made, it finds rows through an index.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg.types.json import Jsonb

from devstack import database
from tests.conftest import admin_url
from tests.sql.conftest import JOINS, PRICES
from tests.sql.stripe_objects import checkout_session, event

GROWN = 20_000
TABLES = ("checkout_sessions", "purchased_lessons", "stripe_events", "users")


@pytest.fixture
def analysed_while_empty() -> Iterator[str]:
    """A freshly built database, analysed before anything was bought."""
    with database.throwaway(admin_url()) as url:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("analyze")
        yield url


def learner(url: str) -> uuid.UUID:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "insert into auth.users (id, aud, role, email, created_at)"
            " values (gen_random_uuid(), 'authenticated', 'authenticated',"
            " gen_random_uuid() || '@example.com', now()) returning id"
        ).fetchone()
    assert row is not None
    return uuid.UUID(str(row[0]))


def purchase(conn: psycopg.Connection[tuple[object, ...]], url: str) -> None:
    tag = uuid.uuid4().hex[:16]
    session = checkout_session(f"cs_test_plans_{tag}", learner(url), JOINS, *PRICES[JOINS])
    evt = event(f"evt_plans_{tag}", "checkout.session.completed", session, int(time.time()))
    row = conn.execute("select public.handle_stripe_event(%s)", (Jsonb(evt),)).fetchone()
    assert row == ("recorded",)


def grow(url: str) -> None:
    """GROWN paid purchases written at once, with their sessions and events (no ANALYZE)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "insert into auth.users (id, aud, role, email, created_at)"
            " select gen_random_uuid(), 'authenticated', 'authenticated',"
            "   'grown-' || n || '@example.com', now()"
            " from generate_series(1, %s) as n",
            (GROWN,),
        )
        conn.execute(
            "insert into public.checkout_sessions (id, user_id, lesson_id, amount_total, currency,"
            "   status, payment_status, paid_at, stripe_payment_intent_id, expires_at, fulfilment)"
            " select 'cs_test_grown_' || n, id, %s, 1200, 'usd', 'complete', 'paid', now(),"
            "   'pi_test_grown_' || n, now() + interval '1 hour', 'granted'"
            " from (select id, row_number() over () as n from auth.users"
            "   where email like 'grown-%%') as u",
            (JOINS,),
        )
        conn.execute(
            "insert into public.purchased_lessons (user_id, lesson_id, status, amount_total,"
            "   currency, stripe_checkout_session_id, stripe_payment_intent_id, purchased_at)"
            " select user_id, lesson_id, 'paid', 1200, 'usd', id, stripe_payment_intent_id, now()"
            " from public.checkout_sessions where id like 'cs_test_grown_%'"
        )
        conn.execute(
            "insert into public.stripe_events (id, type, created, checkout_session_id,"
            "   payment_intent_id, object_id, payload, outcome, processed_at)"
            " select 'evt_grown_' || substr(id, 15), 'checkout.session.completed', now(), id,"
            "   stripe_payment_intent_id, id, '{}', 'recorded', now()"
            " from public.checkout_sessions where id like 'cs_test_grown_%'"
        )


def test_plans_cached_on_analysed_empty_tables_find_rows_by_index_once_they_grow(
    analysed_while_empty: str,
) -> None:
    url = analysed_while_empty
    plans: list[str] = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.add_notice_handler(lambda diag: plans.append(diag.message_primary or ""))
        # plan cache: five custom plans, then the generic plan each statement keeps
        for _ in range(8):
            purchase(conn, url)
        grow(url)
        for setting in (
            "load 'auto_explain'",
            "set auto_explain.log_min_duration = 0",
            "set auto_explain.log_nested_statements = on",
            "set auto_explain.log_level = notice",
        ):
            conn.execute(setting)
        purchase(conn, url)

    assert len(plans) > 20, plans  # every statement of the purchase was explained
    scans = sorted(
        {
            table
            for plan in plans
            for table in re.findall(r"Seq Scan on (\w+)", plan)
            if table in TABLES
        }
    )
    assert scans == [], "\n-----\n".join(p for p in plans if "Seq Scan" in p)
