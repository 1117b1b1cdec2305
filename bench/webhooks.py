"""A Stripe webhook through the sidecar vs the same SQL call made directly.

A: a signed `checkout.session.completed` posted to the sidecar under uvicorn (HTTP, signature
check, JSON, one pooled `handle_stripe_event` call). B: `handle_stripe_event` with the same
kind of event on a plain psycopg connection. Both record a new purchase for a new learner;
rounds alternate A and B. The ratio is what the sidecar adds to the database's own work; the
percentiles are each side's per-request latency over all rounds.
"""

from __future__ import annotations

import sys
import time
import uuid
from typing import Any

import httpx
import psycopg
from psycopg.types.json import Jsonb

from bench.harness import Comparison, compare, percentiles
from sidecar.logging import configure_logging
from tests.sidecar.conftest import (
    LESSON_JOINS,
    as_service_role,
    checkout_session,
    event,
    make_settings,
    new_learner,
    running_sidecar,
    signed,
)

BATCH = 100
ROUNDS = 5


def fresh_events(url: str, count: int) -> list[dict[str, Any]]:
    learners: list[uuid.UUID] = [new_learner(url) for _ in range(count)]
    return [
        event("checkout.session.completed", checkout_session(user_id=u, lesson_id=LESSON_JOINS))
        for u in learners
    ]


def run(url: str) -> tuple[Comparison, list[str]]:
    configure_logging("WARNING", stream=sys.stderr)
    total = BATCH * (ROUNDS + 1)
    over_http = iter([signed(e) for e in fresh_events(url, total)])
    direct = iter(fresh_events(url, total))
    http_latency: list[float] = []
    sql_latency: list[float] = []
    with (
        running_sidecar(make_settings(url)) as base,
        httpx.Client() as client,
        psycopg.connect(as_service_role(url), autocommit=True) as conn,
    ):

        def through_sidecar() -> None:
            for _ in range(BATCH):
                payload, headers = next(over_http)
                started = time.perf_counter()
                response = client.post(
                    f"{base}/v1/webhooks/stripe", content=payload, headers=headers
                )
                http_latency.append(time.perf_counter() - started)
                assert response.json()["outcome"] == "recorded", response.text

        def straight_to_sql() -> None:
            for _ in range(BATCH):
                started = time.perf_counter()
                row = conn.execute(
                    "select public.handle_stripe_event(%s)", (Jsonb(next(direct)),)
                ).fetchone()
                sql_latency.append(time.perf_counter() - started)
                assert row == ("recorded",), row

        comparison = compare(
            f"a new purchase's webhook, {BATCH} a round",
            "signed POST through the sidecar (HTTP + verify + SQL)",
            through_sidecar,
            "handle_stripe_event called directly",
            straight_to_sql,
            rounds=ROUNDS,
        )
    warm = BATCH  # the warm-up round is not counted
    lines = []
    for label, samples in (("sidecar", http_latency[warm:]), ("direct SQL", sql_latency[warm:])):
        p50, p99 = percentiles(samples)
        lines.append(f"  {label:<10} p50 {p50:.2f} ms, p99 {p99:.2f} ms (n={len(samples)})")
    return comparison, lines
