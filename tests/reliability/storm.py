"""A webhook storm, the sidecar processes it hits, and the end state it must leave.

`plan_storm` makes paid Checkout Sessions for new learners (card payments, delayed payments
whose `completed` event arrives unpaid with an `async_payment_succeeded` twin, and full
refunds for some), then spreads a fixed number of deliveries over their events (each event
1 to 5 times) and shuffles them. `deliver` plays Stripe: 32 deliveries at once, spread over the
sidecar processes, every answer other than 2xx retried with a short backoff (Stripe waits
longer), until each delivery has been accepted. `end_state` reads back what the database holds
for the storm's learners, to compare with `Storm.expected`.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg

from standins.serving import free_port
from tests.sidecar.conftest import (
    JWT_SECRET,
    LESSON_JOINS,
    LESSON_RLS,
    LESSON_WEBHOOKS,
    SITE_URL,
    UNREACHABLE_STRIPE,
    WEBHOOK_SECRET,
    as_service_role,
    charge,
    checkout_session,
    event,
    signature_header,
)

PRICES = {LESSON_JOINS: 1200, LESSON_RLS: 2500, LESSON_WEBHOOKS: 1900}
CONCURRENCY = 32


@dataclass(frozen=True)
class Scale:
    sessions: int
    deliveries: int


# `make reliability` runs the storm the goals name; `make test` a smaller one of the same shape.
FULL = Scale(sessions=2_000, deliveries=10_000)
SMALL = Scale(sessions=100, deliveries=400)


def scale() -> Scale:
    return FULL if os.environ.get("RELIABILITY_SCALE") == "full" else SMALL


@dataclass
class Storm:
    learners: list[uuid.UUID]
    events: dict[str, bytes]  # event id → JSON body as Stripe sends it
    deliveries: list[str]  # event ids, in delivery order
    # (learner, lesson) → (status, granting Checkout Session id)
    expected: dict[tuple[uuid.UUID, uuid.UUID], tuple[str, str]]


def plan_storm(database_url: str, size: Scale, seed: int) -> Storm:
    rng = random.Random(seed)
    lessons = list(PRICES)
    # two lessons per learner: their sessions share the learner's purchase lock
    learner_count = (size.sessions + 1) // 2
    with psycopg.connect(database_url, autocommit=True) as conn:
        learners = [
            row[0]
            for row in conn.execute(
                "insert into auth.users (id, aud, role, email, created_at, updated_at)"
                " select gen_random_uuid(), 'authenticated', 'authenticated',"
                "   'storm-' || gen_random_uuid() || '@example.com', now(), now()"
                " from generate_series(1, %s) returning id",
                (learner_count,),
            ).fetchall()
        ]
    events: dict[str, bytes] = {}
    expected: dict[tuple[uuid.UUID, uuid.UUID], tuple[str, str]] = {}
    paid_at = int(time.time()) - 3600
    for n in range(size.sessions):
        learner = learners[n // 2]
        lesson = lessons[(n // 2 + n % 2) % len(lessons)]
        delayed = rng.random() < 0.2
        session = checkout_session(
            user_id=learner,
            lesson_id=lesson,
            amount_total=PRICES[lesson],
            payment_status="unpaid" if delayed else "paid",
        )
        created = paid_at + n % 600
        if delayed:
            events_for = [
                event("checkout.session.completed", session, created=created),
                event(
                    "checkout.session.async_payment_succeeded",
                    {**session, "payment_status": "paid"},
                    created=created + 60,
                ),
            ]
        else:
            events_for = [event("checkout.session.completed", session, created=created)]
        status = "paid"
        if rng.random() < 0.1:
            refund = charge(payment_intent=session["payment_intent"], amount=PRICES[lesson])
            events_for.append(event("charge.refunded", refund, created=created + 120))
            status = "refunded"
        for evt in events_for:
            events[evt["id"]] = json.dumps(evt).encode()
        expected[(learner, lesson)] = (status, session["id"])

    ids = list(events)
    if not len(ids) <= size.deliveries <= 5 * len(ids):
        raise ValueError(f"{size.deliveries} deliveries cannot cover {len(ids)} events 1-5 times")
    counts = dict.fromkeys(ids, 1)
    below_five = list(ids)
    for _ in range(size.deliveries - len(ids)):
        pick = rng.randrange(len(below_five))
        event_id = below_five[pick]
        counts[event_id] += 1
        if counts[event_id] == 5:
            below_five[pick] = below_five[-1]
            below_five.pop()
    deliveries = [event_id for event_id, times in counts.items() for _ in range(times)]
    rng.shuffle(deliveries)
    return Storm(learners, events, deliveries, expected)


# --- the sidecar processes ----------------------------------------------------------------------


class Sidecar:
    """`python -m sidecar.cli` on its own port (one worker), stopped with the test."""

    def __init__(self, database_url: str, log_dir: Path, **env: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"sidecar-{self.port}.log"
        self.env = {
            **os.environ,
            "STRIPE_SECRET_KEY": "sk_test_reliability",
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "STRIPE_API_BASE": UNREACHABLE_STRIPE,
            "SITE_URL": SITE_URL,
            "DATABASE_URL": as_service_role(database_url),
            "SUPABASE_JWT_SECRET": JWT_SECRET,
            "SIDECAR_WORKERS": "1",
            # two processes x 8 stay far below a CI server's max_connections = 100
            "DATABASE_POOL_MAX": "8",
            "LOG_LEVEL": "WARNING",
            "PORT": str(self.port),
            **env,
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "sidecar.cli"],
                env=self.env,
                cwd="/",  # no .env there
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        # generous: on a machine shared with other test runs, importing the app can take long
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the sidecar exited: {self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError("the sidecar did not start within 120 s")

    def kill(self) -> None:
        """SIGKILL: no shutdown, requests in flight are cut."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextmanager
def sidecars(
    database_url: str, log_dir: Path, count: int = 2, **env: str
) -> Iterator[list[Sidecar]]:
    started = [Sidecar(database_url, log_dir, **env) for _ in range(count)]
    try:
        for sidecar in started:
            sidecar.start()
        yield started
    finally:
        for sidecar in started:
            sidecar.stop()


# --- delivering like Stripe ----------------------------------------------------------------------


@dataclass
class Tally:
    deliveries: int = 0  # HTTP attempts, retries included
    statuses: Counter[int] = field(default_factory=Counter)
    transport_errors: int = 0  # no answer: connection refused or cut (a killed process)
    hung: int = 0  # no answer within the client's timeout
    outcomes: Counter[str] = field(default_factory=Counter)
    accepted: int = 0  # deliveries finally answered 2xx

    @property
    def ok(self) -> int:
        return sum(n for status, n in self.statuses.items() if 200 <= status < 300)

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)


Hook = Callable[[Tally], Awaitable[None]]


async def deliver(
    storm: Storm,
    bases: list[str],
    *,
    during: Hook | None = None,
    client_timeout: float = 30.0,
    give_up_after: float = 120.0,
) -> Tally:
    """Every delivery until it is answered 2xx; `during(tally)` runs alongside (the fault)."""
    tally = Tally()
    queue = list(reversed(list(enumerate(storm.deliveries))))
    # idle connections dropped before uvicorn's 5 s keep-alive closes them, so a request never
    # races the server's close of a connection it reuses
    limits = httpx.Limits(
        max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY, keepalive_expiry=2.0
    )

    async with httpx.AsyncClient(timeout=client_timeout, limits=limits) as client:

        async def one(index: int, event_id: str) -> None:
            body = storm.events[event_id]
            started = time.monotonic()
            attempt = 0
            while True:
                # round robin, as a load balancer in front of the replicas would
                base = bases[(index + attempt) % len(bases)]
                headers = {
                    "Content-Type": "application/json",
                    "Stripe-Signature": signature_header(body),
                }
                tally.deliveries += 1
                try:
                    response = await client.post(
                        f"{base}/v1/webhooks/stripe", content=body, headers=headers
                    )
                except httpx.TimeoutException:
                    tally.hung += 1
                except httpx.TransportError:
                    tally.transport_errors += 1
                else:
                    tally.statuses[response.status_code] += 1
                    if response.status_code == 200:
                        tally.outcomes[response.json()["outcome"]] += 1
                        tally.accepted += 1
                        return
                    if response.status_code < 500:
                        raise AssertionError(f"{response.status_code}: {response.text}")
                attempt += 1
                if time.monotonic() - started > give_up_after:
                    raise AssertionError(f"{event_id} never accepted in {give_up_after} s")
                await asyncio.sleep(min(0.1 * 2**attempt, 1.0))

        async def worker() -> None:
            while queue:
                index, event_id = queue.pop()
                await one(index, event_id)

        tasks = [asyncio.ensure_future(worker()) for _ in range(CONCURRENCY)]
        fault = asyncio.ensure_future(during(tally)) if during else None
        try:
            await asyncio.gather(*tasks)
            if fault is not None:
                await fault
        finally:
            for task in [*tasks, *([fault] if fault else [])]:
                task.cancel()
    return tally


async def until(predicate: Callable[[], bool], within: float = 120.0) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("the storm never reached the point the fault waits for")
        await asyncio.sleep(0.02)


# --- what the database holds -------------------------------------------------------------------


@dataclass
class EndState:
    purchases: dict[tuple[uuid.UUID, uuid.UUID], tuple[str, str]]
    events_stored: int
    unsettled: list[tuple[str, str | None]]  # (event id, outcome) left error/deferred/rejected


def end_state(database_url: str, storm: Storm) -> EndState:
    with psycopg.connect(database_url) as conn:
        purchases = {
            (user_id, lesson_id): (status, session_id)
            for user_id, lesson_id, status, session_id in conn.execute(
                "select user_id, lesson_id, status, stripe_checkout_session_id"
                " from public.purchased_lessons where user_id = any(%s)",
                (storm.learners,),
            )
        }
        ids = list(storm.events)
        row = conn.execute(
            "select count(*) from public.stripe_events where id = any(%s)", (ids,)
        ).fetchone()
        unsettled = conn.execute(
            "select id, outcome from public.stripe_events where id = any(%s)"
            " and (outcome is null or outcome in ('error', 'deferred', 'rejected'))",
            (ids,),
        ).fetchall()
    return EndState(purchases, int(row[0]) if row else 0, [(r[0], r[1]) for r in unsettled])


def report(name: str, storm: Storm, tally: Tally, state: EndState) -> str:
    """One line of counts, printed by every scenario (pytest -s shows it; -rA keeps it)."""
    matching = sum(1 for k, v in storm.expected.items() if state.purchases.get(k) == v)
    return (
        f"{name}: deliveries {tally.deliveries} (storm {len(storm.deliveries)}, "
        f"events {len(storm.events)}), 2xx {tally.ok}, 5xx {tally.server_errors} "
        f"{dict(sorted((s, n) for s, n in tally.statuses.items() if s >= 500))}, "
        f"no answer {tally.transport_errors + tally.hung}, "
        f"rows expected {len(storm.expected)}, rows found {len(state.purchases)}, "
        f"rows matching {matching}, "
        f"events stored {state.events_stored}/{len(storm.events)}, "
        f"unsettled {len(state.unsettled)}"
    )


def assert_end_state(storm: Storm, tally: Tally, state: EndState) -> None:
    assert tally.accepted == len(storm.deliveries)
    assert state.events_stored == len(storm.events)
    assert state.unsettled == []
    missing = {k: v for k, v in storm.expected.items() if state.purchases.get(k) != v}
    extra = {k: v for k, v in state.purchases.items() if k not in storm.expected}
    assert not missing, f"{len(missing)} purchases differ, e.g. {next(iter(missing.items()))}"
    assert not extra, f"{len(extra)} purchases nobody paid for"
    # a purchase is recorded once at most per session; fewer answers say so when an answer
    # was lost (the work committed, the reply cut) and the redelivery found it a duplicate
    assert tally.outcomes["recorded"] <= len(storm.expected)
