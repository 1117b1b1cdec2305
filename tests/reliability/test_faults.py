"""The webhook path under a storm and under faults: two sidecar processes (`python -m
sidecar.cli`) on the real database, deliveries 32 at once, every one retried until accepted.

Each scenario prints its counts and fails on any difference from the storm's expected end
state. `make test` runs a small storm (400 deliveries); `make reliability` the full one
(RELIABILITY_SCALE=full: 10,000 deliveries for 2,000 paid sessions).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import psycopg
import pytest

from tests.reliability.storm import (
    Storm,
    Tally,
    assert_end_state,
    deliver,
    end_state,
    plan_storm,
    report,
    scale,
    sidecars,
    until,
)
from tests.sidecar.proxy import CuttableProxy

pytestmark = pytest.mark.reliability


def settle(name: str, database_url: str, storm: Storm, tally: Tally) -> None:
    state = end_state(database_url, storm)
    print(f"\n{report(name, storm, tally, state)}")
    assert_end_state(storm, tally, state)


def a_third_accepted(storm: Storm, tally: Tally) -> bool:
    return tally.accepted >= len(storm.deliveries) // 3


def test_storm_across_two_processes_stores_every_event_once_with_no_5xx(
    database_url: str, tmp_path: Path
) -> None:
    storm = plan_storm(database_url, scale(), seed=1)
    with sidecars(database_url, tmp_path) as (first, second):
        tally = asyncio.run(deliver(storm, [first.base, second.base]))
    settle("storm", database_url, storm, tally)
    assert tally.deliveries == len(storm.deliveries)
    assert tally.server_errors == tally.transport_errors == tally.hung == 0
    assert tally.outcomes["recorded"] == len(storm.expected)


def test_database_outage_mid_storm_is_503_then_redelivery_ends_the_same(
    database_url: str, tmp_path: Path
) -> None:
    storm = plan_storm(database_url, scale(), seed=2)
    with (
        CuttableProxy.in_front_of(database_url) as proxy,
        sidecars(proxy.url_through(database_url), tmp_path, DATABASE_POOL_TIMEOUT="1") as (
            first,
            second,
        ),
    ):

        async def outage(tally: Tally) -> None:
            await until(lambda: a_third_accepted(storm, tally))
            proxy.cut()
            cut_at = time.monotonic()
            # down for about 5 s, and at least until the sidecars have refused some deliveries
            await until(lambda: tally.statuses[503] >= 10)
            await asyncio.sleep(max(0.0, 5.0 - (time.monotonic() - cut_at)))
            proxy.restore()

        tally = asyncio.run(deliver(storm, [first.base, second.base], during=outage))
    settle("outage", database_url, storm, tally)
    # what could not be stored was answered 503 (Stripe retries), never 200 and never 500
    assert tally.statuses[503] >= 10
    assert {s for s in tally.statuses if s >= 500} == {503}
    assert tally.hung == 0


def test_sidecar_killed_mid_storm_loses_nothing_once_redelivered(
    database_url: str, tmp_path: Path
) -> None:
    storm = plan_storm(database_url, scale(), seed=3)
    with sidecars(database_url, tmp_path) as (first, second):

        async def crash(tally: Tally) -> None:
            await until(lambda: a_third_accepted(storm, tally))
            first.kill()
            # deliveries to it fail until it is back, as behind a load balancer's health check
            await until(lambda: tally.transport_errors > 0)
            await asyncio.to_thread(first.start)

        tally = asyncio.run(deliver(storm, [first.base, second.base], during=crash))
    settle("crash", database_url, storm, tally)
    assert tally.transport_errors > 0
    assert {s for s in tally.statuses if s >= 500} <= {503}
    assert tally.hung == 0


def test_slow_database_answers_503_not_a_hang_and_recovers(
    database_url: str, tmp_path: Path
) -> None:
    storm = plan_storm(database_url, scale(), seed=4)
    with sidecars(database_url, tmp_path, DATABASE_POOL_TIMEOUT="1", DATABASE_CALL_TIMEOUT="2") as (
        first,
        second,
    ):

        async def slow(tally: Tally) -> None:
            await until(lambda: a_third_accepted(storm, tally))
            # every webhook call waits on this lock: longer than the pool and call timeouts
            async with await psycopg.AsyncConnection.connect(database_url) as blocker:
                await blocker.execute("lock table public.stripe_events in access exclusive mode")
                await until(lambda: tally.statuses[503] >= 40)
                await blocker.rollback()

        # a request with no answer in 30 s counts as hung
        tally = asyncio.run(
            deliver(storm, [first.base, second.base], during=slow, client_timeout=30)
        )
    settle("slow database", database_url, storm, tally)
    assert tally.statuses[503] >= 40
    assert {s for s in tally.statuses if s >= 500} == {503}
    assert tally.hung == 0
