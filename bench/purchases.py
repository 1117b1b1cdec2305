"""The purchase functions on a real database: what idempotency, RLS and locking cost.

Each comparison runs its two sides alternately in one process on one throwaway database:

- a new purchase event vs a redelivered (duplicate) one: the cost of applying vs the guard;
- lesson_catalog() as a learner who owns lessons vs a plain select of published lessons as
  the same learner: what the owned/pending flags and RLS add;
- purchases for distinct learners on 4 connections at once vs on 1: whether the locks
  serialise purchases that do not conflict (a ratio below 1 means they run in parallel).
"""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Iterator

import psycopg
from psycopg.types.json import Jsonb

from bench.harness import Comparison, compare
from tests.sql.stripe_objects import checkout_session, event

LESSONS = [
    (uuid.UUID("00000000-0000-4000-8000-000000000002"), 1200, "usd"),
    (uuid.UUID("00000000-0000-4000-8000-000000000003"), 2500, "usd"),
    (uuid.UUID("00000000-0000-4000-8000-000000000004"), 1900, "usd"),
    (uuid.UUID("00000000-0000-4000-8000-000000000005"), 1500, "eur"),
    (uuid.UUID("00000000-0000-4000-8000-000000000006"), 1800, "jpy"),
]
BATCH = 200
counter = itertools.count()


def create_users(url: str, n: int) -> list[uuid.UUID]:
    users = [uuid.uuid4() for _ in range(n)]
    with psycopg.connect(url, autocommit=True) as conn, conn.cursor() as cur:
        cur.executemany(
            "insert into auth.users (id, aud, role, email, created_at)"
            " values (%s, 'authenticated', 'authenticated', %s, now())",
            [(u, f"{u}@bench.example") for u in users],
        )
    return users


def purchase_events(users: list[uuid.UUID]) -> Iterator[dict[str, object]]:
    """One paid checkout.session.completed per (learner, lesson), never repeating."""
    for user in users:
        for lesson, amount, currency in LESSONS:
            n = next(counter)
            session = checkout_session(f"cs_test_bench_{n}", user, lesson, amount, currency)
            yield event(f"evt_bench_{n}", "checkout.session.completed", session, 1_700_000_000 + n)


def service_connection(url: str) -> psycopg.Connection[tuple[object, ...]]:
    conn = psycopg.connect(url, autocommit=True)
    conn.execute("set role service_role")
    return conn


def deliver(conn: psycopg.Connection[tuple[object, ...]], events: list[dict[str, object]]) -> None:
    for evt in events:
        conn.execute("select public.handle_stripe_event(%s)", (Jsonb(evt),))


def new_vs_duplicate(url: str) -> Comparison:
    users = create_users(url, 8 * BATCH // len(LESSONS) + 1)
    fresh = purchase_events(users)
    delivered: list[dict[str, object]] = []
    with service_connection(url) as conn:

        def new_events() -> None:
            batch = [next(fresh) for _ in range(BATCH)]
            deliver(conn, batch)
            delivered.extend(batch)

        def duplicates() -> None:
            deliver(conn, delivered[-BATCH:])

        return compare(
            f"handle_stripe_event, {BATCH} events a round",
            "new purchase (store, validate, settle)",
            new_events,
            "redelivered event (answered duplicate)",
            duplicates,
            rounds=5,
        )


def catalog_vs_plain_select(url: str) -> Comparison:
    learner = create_users(url, 1)[0]
    with service_connection(url) as conn:
        deliver(conn, list(purchase_events([learner])))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("set role authenticated")
        conn.execute(
            "select set_config('request.jwt.claims', %s, false)",
            (f'{{"sub": "{learner}", "role": "authenticated"}}',),
        )

        def catalog() -> None:
            for _ in range(BATCH):
                conn.execute("select * from public.lesson_catalog()").fetchall()

        def plain() -> None:
            for _ in range(BATCH):
                conn.execute(
                    "select id, slug, title, description, price_cents, currency"
                    " from public.lessons where published order by created_at, slug"
                ).fetchall()

        return compare(
            f"reading the catalogue as a learner, {BATCH} reads a round",
            "lesson_catalog() with owned and pending",
            catalog,
            "select published lessons (no flags)",
            plain,
        )


def parallel_vs_serial(url: str, workers: int = 4) -> Comparison:
    users = create_users(url, 12 * BATCH // len(LESSONS) + 1)
    fresh = purchase_events(users)
    connections = [service_connection(url) for _ in range(workers)]
    try:

        def parallel() -> None:
            batch = [next(fresh) for _ in range(BATCH)]
            threads = [
                threading.Thread(target=deliver, args=(conn, batch[i::workers]))
                for i, conn in enumerate(connections)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()

        def serial() -> None:
            deliver(connections[0], [next(fresh) for _ in range(BATCH)])

        return compare(
            f"purchases by distinct learners, {BATCH} a round",
            f"on {workers} connections at once",
            parallel,
            "on 1 connection",
            serial,
            rounds=5,
        )
    finally:
        for conn in connections:
            conn.close()


def run(url: str) -> list[tuple[Comparison, int]]:
    return [
        (new_vs_duplicate(url), BATCH),
        (catalog_vs_plain_select(url), BATCH),
        (parallel_vs_serial(url), BATCH),
    ]
