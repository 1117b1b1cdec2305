"""sql_cpu_per_purchase_ms: the Postgres backend's CPU (/proc) per new purchase through
`handle_stripe_event`, against a floor: a function that only inserts the same event into a
copy of `stripe_events` (same columns, indexes and checks), in alternating blocks on one
connection each. The ratio is what the purchase rules cost over storing the event once.

wal_bytes_per_purchase / wal_bytes_per_duplicate: the WAL a new purchase writes against the
floor's insert of the same event, and what a redelivered event writes (nothing, as it only
reads). Read back with pg_walinspect from the records between two LSNs that touch this
database's relations or commit one of the measured transactions, so other databases on a
shared server do not count. `detail` has the records by kind, full-page images apart, and
the index insertions (B-tree leaf inserts and splits).
"""

from __future__ import annotations

import statistics
import time
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


WAL_BLOCK = 200
INDEX_INSERTS = ("Btree/INSERT_LEAF", "Btree/INSERT_POST", "Btree/SPLIT_L", "Btree/SPLIT_R")


# the block's records by kind: those on this database's pages, and its own transactions'
# commit records
WAL_KINDS = (
    "select resource_manager || '/' || split_part(record_type, ' ', 1), count(*),"
    "   sum(record_length), sum(fpi_length)"
    " from pg_get_wal_records_info(%s, %s)"
    " where block_ref like %s or (resource_manager = 'Transaction' and xid = any(%s::xid[]))"
    " group by 1 order by 1"
)


def wal_block(
    conn: psycopg.Connection[tuple[Any, ...]],
    admin: psycopg.Connection[tuple[Any, ...]],
    function: str,
    payloads: list[str],
    word: str,
) -> dict[str, Any]:
    """WAL per call of `function` over `payloads`, each call a transaction of its own."""
    dboid = admin.execute(
        "select oid from pg_database where datname = current_database()"
    ).fetchone()
    start = admin.execute("select pg_current_wal_insert_lsn()").fetchone()
    xids: list[str] = []
    for text in payloads:
        with conn.transaction():
            row = conn.execute(f"select {function}(%s::jsonb)", (text,)).fetchone()
            assert row == (word,), row
            xid = conn.execute("select pg_current_xact_id_if_assigned()::text").fetchone()
        if xid and xid[0] is not None:
            xids.append(str(int(xid[0]) & 0xFFFFFFFF))
    # pg_walinspect reads flushed WAL only. Commits flush their own records, but a block that
    # assigned no transaction id (a duplicate read first) may leave records, or none, in the WAL
    # buffers: wait for the WAL writer (every wal_writer_delay) to flush past the block's end.
    end = admin.execute("select pg_current_wal_insert_lsn()").fetchone()
    assert end
    deadline = time.monotonic() + 10
    while admin.execute("select pg_current_wal_flush_lsn() < %s::pg_lsn", (end[0],)).fetchone() == (
        True,
    ):
        if time.monotonic() > deadline:
            raise RuntimeError("the WAL writer did not flush within 10 s")
        time.sleep(0.05)
    assert dboid
    assert start
    assert end
    # pg_walinspect refuses a start at the flush point (nothing after it to read): no records
    empty = admin.execute("select %s::pg_lsn >= %s::pg_lsn", (start[0], end[0])).fetchone()
    kinds = (
        []
        if empty == (True,)
        else admin.execute(WAL_KINDS, (start[0], end[0], f"%/{dboid[0]}/%", xids)).fetchall()
    )
    calls = len(payloads)
    records = sum(int(n) for _, n, _, _ in kinds)
    total = sum(int(b) for _, _, b, _ in kinds)
    fpi = sum(int(f) for _, _, _, f in kinds)
    return {
        "calls": calls,
        "transactions_with_xid": len(xids),
        "records": round(records / calls, 2),
        "bytes": round(total / calls, 1),
        "bytes_without_fpi": round((total - fpi) / calls, 1),
        "index_insertions": round(
            sum(int(n) for k, n, _, _ in kinds if k in INDEX_INSERTS) / calls, 2
        ),
        "by_kind": {
            k: {"records": round(int(n) / calls, 2), "bytes": round(int(b) / calls, 1)}
            for k, n, b, _ in kinds
        },
    }


def step(admin_url: str, quick: bool) -> tuple[list[Row], dict[str, Any]]:
    rounds, count = (3, 100) if quick else (7, 300)
    with database.throwaway(admin_url) as url:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(FLOOR_SQL)
            conn.execute("create extension if not exists pg_walinspect")
        learners = create_learners(url, 2 * (rounds + 1) * count + 4 * WAL_BLOCK)
        with (
            psycopg.connect(as_service_role(url), autocommit=True) as purchases,
            psycopg.connect(as_service_role(url), autocommit=True) as floor,
        ):
            values, baselines = alternate(
                block(purchases, "public.handle_stripe_event", learners, count),
                block(floor, "bench.store_event_only", learners, count),
                rounds,
            )
            # WAL, on the same warm connections: purchase and floor blocks alternating, then
            # the purchases' events delivered again
            wal: dict[str, list[dict[str, Any]]] = {"purchase": [], "floor": [], "duplicate": []}
            with psycopg.connect(url, autocommit=True) as admin:
                for _ in range(2):
                    bought = [purchase_event(next(learners)).decode() for _ in range(WAL_BLOCK)]
                    wal["purchase"].append(
                        wal_block(
                            purchases, admin, "public.handle_stripe_event", bought, "recorded"
                        )
                    )
                    stored = [purchase_event(next(learners)).decode() for _ in range(WAL_BLOCK)]
                    wal["floor"].append(
                        wal_block(floor, admin, "bench.store_event_only", stored, "recorded")
                    )
                    wal["duplicate"].append(
                        wal_block(
                            purchases, admin, "public.handle_stripe_event", bought, "duplicate"
                        )
                    )
        with psycopg.connect(url) as conn:
            # the backends have exited, so their counts are in
            writes = conn.execute(
                "select relname, n_tup_ins, n_tup_upd, n_tup_hot_upd from pg_stat_user_tables"
                " where relname in ('stripe_events', 'checkout_sessions', 'purchased_lessons')"
                " order by relname"
            ).fetchall()
    purchases_made = (rounds + 1) * count + 2 * WAL_BLOCK
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
    wal_row = ratio_row(
        "wal_bytes_per_purchase",
        "bytes WAL/call",
        [b["bytes_without_fpi"] for b in wal["purchase"]],
        [b["bytes_without_fpi"] for b in wal["floor"]],
        goal="<= 4096 bytes",
        value_label="WAL of a new purchase (handle_stripe_event, commit included, no full pages)",
        baseline_label="WAL of the floor function's insert of the same event",
        detail={
            "records_per_purchase": statistics.median(b["records"] for b in wal["purchase"]),
            "records_per_floor_insert": statistics.median(b["records"] for b in wal["floor"]),
            "index_insertions_per_purchase": statistics.median(
                b["index_insertions"] for b in wal["purchase"]
            ),
            "index_insertions_per_floor_insert": statistics.median(
                b["index_insertions"] for b in wal["floor"]
            ),
            "blocks": wal,
        },
    )
    wal_row.met = wal_row.value <= 4096
    duplicate_bytes = max(b["bytes"] for b in wal["duplicate"])
    duplicate_row = Row(
        "wal_bytes_per_duplicate",
        "bytes WAL/call",
        duplicate_bytes,
        None,
        None,
        "= 0",
        duplicate_bytes == 0,
        rounds=len(wal["duplicate"]),
        value_label="WAL of an event delivered again (handle_stripe_event), larger of 2 blocks",
        detail={"transactions_with_xid": [b["transactions_with_xid"] for b in wal["duplicate"]]},
    )
    return [row, wal_row, duplicate_row], {}
