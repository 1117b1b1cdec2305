"""A transient failure while applying an event rolls the whole call back, so it is retried.

Lock timeouts, deadlocks and serialization failures say nothing about the event: the same
delivery succeeds a moment later. Such an error must not be stored on the event as `error`
(which the sidecar acknowledges with 200, leaving the event to `reconcile`); the call fails,
nothing is stored, the sidecar retries or answers 503, and Stripe redelivers.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import psycopg
import pytest
from psycopg import errors
from psycopg.types.json import Jsonb

from tests.sql.conftest import JOINS, PRICES, connect
from tests.sql.stripe_objects import checkout_session, event


@pytest.mark.parametrize("table", ["public.purchased_lessons", "public.checkout_sessions"])
def test_a_lock_timeout_while_applying_stores_nothing_and_a_redelivery_records_it(
    database_url: str, make_user: Callable[[], uuid.UUID], table: str
) -> None:
    learner = make_user()
    session_id = f"cs_test_transient_{uuid.uuid4().hex[:12]}"
    evt = event(
        f"evt_transient_{uuid.uuid4().hex[:12]}",
        "checkout.session.completed",
        checkout_session(session_id, learner, JOINS, *PRICES[JOINS]),
        1_700_000_100,
    )
    with psycopg.connect(database_url) as holder, connect(database_url) as sidecar:
        # another transaction holds a table the purchase must write
        holder.execute(f"lock table {table} in access exclusive mode")
        sidecar.execute("set lock_timeout = '200ms'")
        with pytest.raises(errors.LockNotAvailable):
            sidecar.execute("select public.handle_stripe_event(%s)", (Jsonb(evt),))
        holder.rollback()

        stored = sidecar.execute(
            "select count(*) from public.stripe_events where id = %s", (evt["id"],)
        ).fetchone()
        assert stored == (0,), "a transient failure must not leave the event stored"

        sidecar.execute("reset lock_timeout")
        outcome = sidecar.execute("select public.handle_stripe_event(%s)", (Jsonb(evt),)).fetchone()
        assert outcome == ("recorded",)
        owned = sidecar.execute(
            "select status from public.purchased_lessons where user_id = %s and lesson_id = %s",
            (learner, JOINS),
        ).fetchone()
        assert owned == ("paid",)
