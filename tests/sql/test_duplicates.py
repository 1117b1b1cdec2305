"""A redelivered event is read, not written; a failed one is applied again exactly once.

Stripe redelivers an event until it is acknowledged, and two sidecar replicas may receive the
same delivery at once. A duplicate must cost the database no write (no row lock, no
transaction id, no WAL), while a failed event redelivered to many callers at once must still
be applied by exactly one of them.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable

import psycopg

from tests.sql.conftest import JOINS, PRICES, connect
from tests.sql.stripe_objects import checkout_session, event
from tests.sql.test_purchase_races import handle, run_together


def test_a_redelivered_event_takes_no_transaction_id(
    database_url: str, make_user: Callable[[], uuid.UUID]
) -> None:
    tag = uuid.uuid4().hex[:12]
    evt = event(
        f"evt_dup_{tag}",
        "checkout.session.completed",
        checkout_session(f"cs_test_dup_{tag}", make_user(), JOINS, *PRICES[JOINS]),
        1_700_000_000,
    )
    with connect(database_url) as conn:
        assert handle(conn, evt) == "recorded"
        with conn.transaction():
            assert handle(conn, evt) == "duplicate"
            row = conn.execute("select pg_current_xact_id_if_assigned()").fetchone()
        locked = conn.execute(
            "select xmax = 0 from public.stripe_events where id = %s", (evt["id"],)
        ).fetchone()
    assert row == (None,)  # nothing written: no transaction id, so no WAL and no commit flush
    assert locked == (True,)  # and the stored row was not locked


def test_concurrent_redeliveries_of_a_failed_event_apply_it_once(
    database_url: str, make_user: Callable[[], uuid.UUID]
) -> None:
    learner = make_user()
    tag = uuid.uuid4().hex[:12]
    session_id = f"cs_test_failed_{tag}"
    evt = event(
        f"evt_failed_{tag}",
        "checkout.session.completed",
        checkout_session(session_id, learner, JOINS, *PRICES[JOINS]),
        1_700_000_000,
    )
    # the first delivery fails (here: the purchase cannot be written), and is stored as failed
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute(
            "create function public.tests_refuse_purchase() returns trigger language plpgsql"
            " as $$ begin raise exception 'purchases cannot be written now'; end $$"
        )
        admin.execute(
            "create trigger tests_refuse_purchase before insert on public.purchased_lessons"
            " for each row execute function public.tests_refuse_purchase()"
        )
        try:
            with connect(database_url) as conn:
                assert handle(conn, evt) == "error"
        finally:
            admin.execute("drop trigger tests_refuse_purchase on public.purchased_lessons")
            admin.execute("drop function public.tests_refuse_purchase()")

    outcomes = run_together(database_url, [evt] * 16, workers=16)

    assert Counter(outcomes) == {"recorded": 1, "duplicate": 15}
    with psycopg.connect(database_url) as conn:
        purchases = conn.execute(
            "select status, stripe_checkout_session_id from public.purchased_lessons"
            " where user_id = %s",
            (learner,),
        ).fetchall()
        stored = conn.execute(
            "select outcome, error from public.stripe_events where id = %s", (evt["id"],)
        ).fetchone()
    assert purchases == [("paid", session_id)]
    assert stored == ("recorded", None)
