"""sql_cpu_per_purchase_ms: the Postgres backend's CPU (/proc) per new purchase through
`handle_stripe_event`, against a floor: a function that only inserts the same event into a
copy of `stripe_events` (same columns, indexes and checks), in alternating blocks on one
connection each. The ratio is what the purchase rules cost over storing the event once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg

from bench.harness import Row, alternate, ratio_row
from bench.procs import cpu_seconds
from bench.webhooks import create_learners, purchase_event
from devstack import database
from tests.sidecar.conftest import as_service_role

FLOOR_SQL = """
create schema bench;
create table bench.floor_events (like public.stripe_events including all);
create function bench.store_event_only(p_event jsonb)
returns text
language sql
as $$
  insert into bench.floor_events (id, type, created, livemode, api_version, payload)
  values (
    p_event ->> 'id', p_event ->> 'type',
    pg_catalog.to_timestamp((p_event ->> 'created')::double precision),
    coalesce((p_event ->> 'livemode')::boolean, false), p_event ->> 'api_version', p_event
  )
  returning 'recorded';
$$;
grant usage on schema bench to service_role;
grant all on bench.floor_events to service_role;
grant execute on function bench.store_event_only(jsonb) to service_role;
"""


def block(
    conn: psycopg.Connection[tuple[Any, ...]],
    function: str,
    learners: Iterator[uuid.UUID],
    count: int,
) -> Callable[[], float]:
    pid = conn.info.backend_pid

    def run() -> float:
        payloads = [purchase_event(next(learners)).decode() for _ in range(count)]
        before = cpu_seconds(pid)
        for text in payloads:
            row = conn.execute(f"select {function}(%s::jsonb)", (text,)).fetchone()
            assert row == ("recorded",), row
        return (cpu_seconds(pid) - before) * 1e3 / count

    return run


def step(admin_url: str, quick: bool) -> tuple[list[Row], dict[str, Any]]:
    rounds, count = (3, 100) if quick else (7, 300)
    with database.throwaway(admin_url) as url:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(FLOOR_SQL)
        learners = create_learners(url, 2 * (rounds + 1) * count)
        with (
            psycopg.connect(as_service_role(url), autocommit=True) as purchases,
            psycopg.connect(as_service_role(url), autocommit=True) as floor,
        ):
            values, baselines = alternate(
                block(purchases, "public.handle_stripe_event", learners, count),
                block(floor, "bench.store_event_only", learners, count),
                rounds,
            )
        with psycopg.connect(url) as conn:
            writes = conn.execute(
                "select relname, n_tup_ins, n_tup_upd, n_tup_hot_upd from pg_stat_user_tables"
                " where relname in ('stripe_events', 'checkout_sessions', 'purchased_lessons')"
                " order by relname"
            ).fetchall()
    purchases_made = (rounds + 1) * count
    row = ratio_row(
        "sql_cpu_per_purchase_ms",
        "ms CPU/purchase",
        values,
        baselines,
        goal="report",
        value_label="backend CPU per new purchase (handle_stripe_event)",
        baseline_label="backend CPU per insert of the same event (floor function)",
        detail={
            "calls_per_block": count,
            # per purchase, over every purchase of the run (warm-up included)
            "row_writes_per_purchase": {
                name: {
                    "inserts": round(ins / purchases_made, 2),
                    "updates": round(upd / purchases_made, 2),
                    "hot_updates": round(hot / purchases_made, 2),
                }
                for name, ins, upd, hot in writes
            },
        },
    )
    return [row], {}
