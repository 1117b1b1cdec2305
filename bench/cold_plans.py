"""cold_plan_drift: one connection opened on a freshly built (empty) database, as a freshly
deployed sidecar's pool opens them, records new purchases while learners keep signing up.
Per-call backend CPU (/proc) of its last calls against its first, block by block (block i of
the last tenth against block i of the first tenth). The plans PL/pgSQL and the foreign-key
checks cache in that session were made when the tables were empty; if they stay that way,
the late calls scan tables that have grown, and the ratio climbs.

cold_plan_drift_analysed: the same after an ANALYZE of the empty database (a deploy's first
ANALYZE, or autovacuum's on young tables), so that the planner knows the tables are empty
rather than assuming ten pages: the case where reading a whole (tiny) table is the cheaper
plan, and a connection that caches it keeps it as the table grows.

A connection opened at the end on the same data (its plans made on full tables) is reported
beside each, in the row's detail.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import psycopg

from bench.harness import Row, spread
from bench.procs import cpu_seconds
from bench.webhooks import create_learners, purchase_event
from devstack import database
from tests.sidecar.conftest import as_service_role

BLOCK = 100


def run_block(conn: psycopg.Connection[tuple[Any, ...]], url: str) -> tuple[float, float]:
    """BLOCK new learners sign up (another connection), then BLOCK purchases on `conn`:
    the backend's CPU ms per call and the wall ms per call."""
    learners = create_learners(url, BLOCK, analyze=False)
    payloads = [purchase_event(learner).decode() for learner in learners]
    pid = conn.info.backend_pid
    cpu0, wall0 = cpu_seconds(pid), time.perf_counter()
    for text in payloads:
        row = conn.execute("select public.handle_stripe_event(%s::jsonb)", (text,)).fetchone()
        assert row == ("recorded",), row
    return (cpu_seconds(pid) - cpu0) * 1e3 / BLOCK, (time.perf_counter() - wall0) * 1e3 / BLOCK


def drift_row(url: str, name: str, calls: int, analysed: bool) -> Row:
    blocks = calls // BLOCK
    tenth = blocks // 10
    if analysed:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("analyze")
    cpu: list[float] = []
    wall: list[float] = []
    with psycopg.connect(as_service_role(url), autocommit=True) as cold:
        for _ in range(blocks):
            block_cpu, block_wall = run_block(cold, url)
            cpu.append(block_cpu)
            wall.append(block_wall)
    with psycopg.connect(as_service_role(url), autocommit=True) as warm:
        run_block(warm, url)  # its first plans
        fresh = [run_block(warm, url)[0] for _ in range(tenth)]
    first, last = cpu[:tenth], cpu[-tenth:]
    ratios = [b / a for a, b in zip(first, last, strict=True)]
    median, low, high = spread(ratios)
    opened = "an empty db, analysed" if analysed else "an empty db"
    return Row(
        name,
        "ms CPU/call",
        round(statistics.median(last), 3),
        round(statistics.median(first), 3),
        round(median, 3),
        "<= 1.2",
        median <= 1.2,
        round(low, 3),
        round(high, 3),
        len(ratios),
        value_label=f"calls {calls - tenth * BLOCK + 1}-{calls}, connection opened on {opened}",
        baseline_label=f"calls 1-{tenth * BLOCK} on the same connection",
        detail={
            "cpu_ms_per_call_by_block": [round(v, 3) for v in cpu],
            "wall_ms_per_call_by_block": [round(v, 3) for v in wall],
            "fresh_connection_same_data_cpu_ms": round(statistics.median(fresh), 3),
            # what a stale plan costs, apart from the data's growth: the late calls against
            # a connection whose plans were made on the grown tables
            "last_vs_fresh_connection": round(
                statistics.median(last) / statistics.median(fresh), 3
            ),
        },
    )


def step(admin_url: str, quick: bool) -> tuple[list[Row], dict[str, Any]]:
    rows = []
    for name, calls, analysed in (
        ("cold_plan_drift", 2_000 if quick else 10_000, False),
        ("cold_plan_drift_analysed", 2_000 if quick else 5_000, True),
    ):
        with database.throwaway(admin_url) as url:
            rows.append(drift_row(url, name, calls, analysed))
    return rows, {}
