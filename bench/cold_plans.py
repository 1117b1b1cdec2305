"""cold_plan_drift: one connection opened on a freshly built (empty) database, as a freshly
deployed sidecar's pool opens them, records new purchases while learners keep signing up.
Per-call backend CPU (/proc) of its last calls against its first, block by block (block i of
the last tenth against block i of the first tenth). The plans PL/pgSQL and the foreign-key
checks cache in that session were made when the tables were empty; if they stay that way,
the late calls scan tables that have grown, and the ratio climbs.

A connection opened at the end on the same data (its plans made on full tables) is reported
beside it, in the row's detail.
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


def step(admin_url: str, quick: bool) -> tuple[list[Row], dict[str, Any]]:
    calls = 2_000 if quick else 10_000
    blocks = calls // BLOCK
    tenth = blocks // 10
    with database.throwaway(admin_url) as url:
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
    row = Row(
        "cold_plan_drift",
        "ms CPU/call",
        round(statistics.median(last), 3),
        round(statistics.median(first), 3),
        round(median, 3),
        "<= 1.2",
        median <= 1.2,
        round(low, 3),
        round(high, 3),
        len(ratios),
        value_label=f"calls {calls - tenth * BLOCK + 1}-{calls}, connection opened on an empty db",
        baseline_label=f"calls 1-{tenth * BLOCK} on the same connection",
        detail={
            "cpu_ms_per_call_by_block": [round(v, 3) for v in cpu],
            "wall_ms_per_call_by_block": [round(v, 3) for v in wall],
            "fresh_connection_same_data_cpu_ms": round(statistics.median(fresh), 3),
        },
    )
    return [row], {}
