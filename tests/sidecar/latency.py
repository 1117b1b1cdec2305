"""Webhook latency against real Postgres: `uv run python -m tests.sidecar.latency [N]`.

Serves the sidecar under uvicorn on a throwaway database (built like the test suite's), posts N
signed `checkout.session.completed` events for N different learners one after another over a
kept-alive connection, then the same N again (duplicates), then N fresh ones eight at a time,
and prints percentiles of the client-side round trip for each run.
"""

from __future__ import annotations

import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from devstack import database
from sidecar.logging import configure_logging
from tests.conftest import admin_url
from tests.sidecar.conftest import (
    LESSON_JOINS,
    checkout_session,
    event,
    make_settings,
    new_learner,
    running_sidecar,
    signed,
)


def percentiles(samples: list[float]) -> str:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return (
        f"n={len(samples)} p50={cuts[49]:.2f}ms p90={cuts[89]:.2f}ms p99={cuts[98]:.2f}ms "
        f"max={max(samples):.2f}ms"
    )


def events_for(url: str, count: int) -> list[tuple[bytes, dict[str, str]]]:
    out = []
    for _ in range(count):
        learner = new_learner(url)
        out.append(
            signed(
                event(
                    "checkout.session.completed",
                    checkout_session(user_id=learner, lesson_id=LESSON_JOINS),
                )
            )
        )
    return out


def post_timed(
    client: httpx.Client, base: str, payload: bytes, headers: dict[str, str], expect: str
) -> float:
    started = time.perf_counter()
    response = client.post(f"{base}/v1/webhooks/stripe", content=payload, headers=headers)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200 or response.json()["outcome"] != expect:
        raise RuntimeError(f"expected 200 {expect}, got {response.status_code} {response.text}")
    return elapsed


def main(count: int) -> None:
    configure_logging("WARNING", stream=sys.stderr)
    with database.throwaway(admin_url()) as url:
        settings = make_settings(url)
        first, fresh = events_for(url, count), events_for(url, count)
        with running_sidecar(settings) as base, httpx.Client() as client:
            for payload, headers in events_for(url, 20):  # warm the pool and the plans
                post_timed(client, base, payload, headers, "recorded")
            recorded = [post_timed(client, base, p, h, "recorded") for p, h in first]
            duplicates = [post_timed(client, base, p, h, "duplicate") for p, h in first]
            with ThreadPoolExecutor(8) as pool:
                clients = [httpx.Client() for _ in range(8)]
                concurrent = list(
                    pool.map(
                        lambda item: post_timed(
                            clients[item[0] % 8], base, item[1][0], item[1][1], "recorded"
                        ),
                        enumerate(fresh),
                    )
                )
                for c in clients:
                    c.close()
    print(f"sequential, new purchase : {percentiles(recorded)}")
    print(f"sequential, duplicate    : {percentiles(duplicates)}")
    print(f"8 concurrent, new        : {percentiles(concurrent)}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
