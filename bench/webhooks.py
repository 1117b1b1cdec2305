"""The sidecar as deployed (`python -m sidecar.cli`, SIDECAR_WORKERS = cores) against the same
work done without it, at the same concurrency, in alternating rounds:

- webhook_ingestion_c8 / _c32: signed new-purchase `checkout.session.completed` events (3.7 KB,
  Stripe's own example objects) over keep-alive connections vs `handle_stripe_event` with the
  same kind of event through a psycopg pool of as many connections as the sidecar's;
- webhook_duplicates_c32: the same, for events already recorded (Stripe redelivering);
- sidecar_cpu_per_webhook_ms: CPU the sidecar processes spent per new-purchase request
  (/proc), next to what their Postgres backends spent;
- sidecar_peak_rss_mb: the largest peak resident set of a worker after the c=32 rounds;
- checkout_create: `POST /v1/checkout/sessions` through the sidecar vs the Stripe stand-in's
  own create with the parameters the sidecar sends, c=8;
- sidecar_cpu_per_checkout_ms: CPU the sidecar processes spent per session in those rounds,
  next to what the stand-in spent per create of its own.

`run(..., rows=…)` measures only the webhook rounds or only the checkout rounds when the rows
asked for are all of one kind.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import msgspec
import psycopg
from psycopg_pool import AsyncConnectionPool
from stripe._encode import _api_encode

from bench.harness import Row, percentiles, ratio_row
from bench.load import Run, http_load, http_request, task_load
from bench.procs import (
    Server,
    backend_pids,
    cpu_seconds,
    peak_rss_mb,
    running,
    sidecar_argv,
    standin_argv,
    total_cpu,
)
from sidecar.checkout import session_params
from sidecar.contracts import CreateSession, PlannedLesson
from sidecar.settings import Settings
from standins.serving import free_port
from tests.sidecar.conftest import (
    JWT_SECRET,
    LESSON_JOINS,
    LESSON_RLS,
    SITE_URL,
    WEBHOOK_SECRET,
    access_token,
    as_service_role,
    checkout_session,
    event,
    signature_header,
)

SIDECAR_APP = "lesson-shop-sidecar"
DIRECT_APP = "bench-direct"
POOL_MAX = 10  # the sidecar's DATABASE_POOL_MAX default, per worker
CHECKOUT_GOAL = 0.3  # two cores cannot carry more next to the stand-in (see bench/README.md)
CHECKOUT_CPU_GOAL_MS = 2.5
WEBHOOK_ROWS = frozenset(
    {
        "webhook_ingestion_c8",
        "webhook_ingestion_c32",
        "webhook_duplicates_c32",
        "sidecar_cpu_per_webhook_ms",
        "sidecar_peak_rss_mb",
    }
)
CHECKOUT_ROWS = frozenset({"checkout_create", "sidecar_cpu_per_checkout_ms"})


@dataclass(frozen=True)
class Scale:
    rounds: int
    c8_events: int
    c32_events: int
    checkouts: int

    @property
    def learners(self) -> int:
        per_round = 2 * (self.c8_events + self.c32_events)
        return (self.rounds + 1) * per_round


FULL = Scale(rounds=5, c8_events=300, c32_events=600, checkouts=160)
QUICK = Scale(rounds=2, c8_events=60, c32_events=120, checkouts=40)


def create_learners(url: str, count: int, *, analyze: bool = True) -> Iterator[uuid.UUID]:
    """`count` learners inserted at once (as sign-ups would have), then ANALYZE."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "insert into auth.users (id, aud, role, email, created_at, updated_at)"
            " select gen_random_uuid(), 'authenticated', 'authenticated',"
            "   'bench-' || n || '-' || gen_random_uuid() || '@example.com', now(), now()"
            " from generate_series(1, %s) as n returning id",
            (count,),
        ).fetchall()
        if analyze:
            conn.execute("analyze")
    return iter([r[0] for r in rows])


def purchase_event(learner: uuid.UUID) -> bytes:
    session = checkout_session(user_id=learner, lesson_id=LESSON_JOINS)
    return json.dumps(event("checkout.session.completed", session)).encode()


def webhook_request(base: str, payload: bytes) -> bytes:
    headers = {
        "Content-Type": "application/json",
        "Stripe-Signature": signature_header(payload),
    }
    return http_request("POST", base, "/v1/webhooks/stripe", payload, headers)


def sidecar_env(url: str, stripe_base: str) -> dict[str, str]:
    return {
        "DATABASE_URL": as_service_role(url),
        "STRIPE_SECRET_KEY": "sk_test_bench",
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_API_BASE": stripe_base,
        "SITE_URL": SITE_URL,
        "SUPABASE_JWT_SECRET": JWT_SECRET,
        "LOG_LEVEL": "INFO",
    }


@dataclass
class Side:
    """What one side's rounds measured."""

    rates: list[float]
    latencies: list[float]
    cpu_ms: list[float]
    db_cpu_ms: list[float]
    # the busiest worker's part of the workers' CPU in each round (1/workers when even)
    busiest_share: list[float]

    @classmethod
    def empty(cls) -> Side:
        return cls([], [], [], [], [])


def expect(run: Run, ok_status: int, word: bytes, what: str) -> None:
    bad = {s: n for s, n in run.statuses.items() if s != ok_status}
    if bad or any(word not in body for body in run.bodies):
        sample = next((b for b in run.bodies if word not in b), b"")
        raise AssertionError(f"{what}: statuses {run.statuses}, e.g. {sample[:300]!r}")


async def alternate_async(
    a: Callable[[bool], Awaitable[None]], b: Callable[[bool], Awaitable[None]], rounds: int
) -> None:
    """A warm-up pair (not kept), then A B, B A, … each called with keep=True."""
    await a(False)
    await b(False)
    for n in range(rounds):
        first, second = (a, b) if n % 2 == 0 else (b, a)
        await first(True)
        await second(True)


async def measure(
    url: str, sidecar: Server, scale: Scale, learners: Iterator[uuid.UUID]
) -> tuple[list[Row], dict[str, Any]]:
    workers = len(sidecar.workers)
    connections = workers * POOL_MAX
    admin = url
    rows: list[Row] = []
    detail: dict[str, Any] = {"sidecar_workers": workers}
    recorded: list[bytes] = []
    sidecar_cpu: list[float] = []
    sidecar_db_cpu: list[float] = []

    async with AsyncConnectionPool(
        as_service_role(url),
        min_size=connections,
        max_size=connections,
        kwargs={"autocommit": True, "prepare_threshold": None, "application_name": DIRECT_APP},
        open=False,
    ) as pool:
        await pool.open(wait=True)

        def direct_call(payload: bytes) -> Callable[[], Awaitable[bytes]]:
            text = payload.decode()

            async def call() -> bytes:
                async with pool.connection() as conn:
                    cursor = await conn.execute(
                        "select public.handle_stripe_event(%s::jsonb)", (text,)
                    )
                    row = await cursor.fetchone()
                return str(row[0] if row else None).encode()

            return call

        async def round_pair(
            name: str, concurrency: int, count: int, duplicates: bool
        ) -> tuple[Side, Side]:
            through, direct = Side.empty(), Side.empty()
            word = b"duplicate" if duplicates else b"recorded"

            def payloads() -> list[bytes]:
                if duplicates:
                    return [recorded[i % len(recorded)] for i in range(count)]
                batch = [purchase_event(next(learners)) for _ in range(count)]
                recorded.extend(batch)
                return batch

            async def via_sidecar(keep: bool) -> None:
                requests = [webhook_request(sidecar.base, p) for p in payloads()]
                db_pids = backend_pids(admin, SIDECAR_APP)
                cpu0, db0 = total_cpu(sidecar.pids), total_cpu(db_pids)
                worker_pids = sidecar.workers
                per_worker0 = [cpu_seconds(pid) for pid in worker_pids]
                run = await http_load(sidecar.base, requests, concurrency)
                cpu1, db1 = total_cpu(sidecar.pids), total_cpu(db_pids)
                per_worker = [
                    cpu_seconds(pid) - t for pid, t in zip(worker_pids, per_worker0, strict=True)
                ]
                expect(run, 200, word, f"{name} through the sidecar")
                if keep:
                    through.rates.append(run.per_second)
                    through.latencies.extend(run.latencies)
                    through.cpu_ms.append((cpu1 - cpu0) * 1e3 / count)
                    if sum(per_worker) > 0:
                        through.busiest_share.append(max(per_worker) / sum(per_worker))
                    through.db_cpu_ms.append((db1 - db0) * 1e3 / count)

            async def via_pool(keep: bool) -> None:
                calls = [direct_call(p) for p in payloads()]
                db_pids = backend_pids(admin, DIRECT_APP)
                db0 = total_cpu(db_pids)
                run = await task_load(calls, concurrency)
                db1 = total_cpu(db_pids)
                expect(run, 200, word, f"{name} directly")
                if keep:
                    direct.rates.append(run.per_second)
                    direct.latencies.extend(run.latencies)
                    direct.db_cpu_ms.append((db1 - db0) * 1e3 / count)

            await alternate_async(via_sidecar, via_pool, scale.rounds)
            return through, direct

        for name, concurrency, count, duplicates, goal in (
            ("webhook_ingestion_c8", 8, scale.c8_events, False, 0.6),
            ("webhook_ingestion_c32", 32, scale.c32_events, False, 0.6),
            ("webhook_duplicates_c32", 32, scale.c32_events, True, 0.5),
        ):
            through, direct = await round_pair(name, concurrency, count, duplicates)
            p50, p99 = percentiles(through.latencies)
            d50, d99 = percentiles(direct.latencies)
            rows.append(
                ratio_row(
                    name,
                    "events/s",
                    through.rates,
                    direct.rates,
                    goal=f">= {goal}",
                    at_least=goal,
                    value_label=f"signed POST, sidecar with {workers} workers, c={concurrency}",
                    baseline_label=f"handle_stripe_event, {connections}-conn pool, c={concurrency}",
                    detail={
                        "sidecar_p50_ms": p50,
                        "sidecar_p99_ms": p99,
                        "direct_p50_ms": d50,
                        "direct_p99_ms": d99,
                        "events_per_round": count,
                        "postgres_cpu_ms_per_event_sidecar": round(
                            statistics.median(through.db_cpu_ms), 3
                        ),
                        "postgres_cpu_ms_per_event_direct": round(
                            statistics.median(direct.db_cpu_ms), 3
                        ),
                        "busiest_worker_cpu_share": [round(v, 2) for v in through.busiest_share],
                    },
                )
            )
            if not duplicates:
                sidecar_cpu.extend(through.cpu_ms)
                sidecar_db_cpu.extend(through.db_cpu_ms)
                detail[f"sidecar_cpu_ms_{name}"] = [round(v, 3) for v in through.cpu_ms]

    cpu_row = ratio_row(
        "sidecar_cpu_per_webhook_ms",
        "ms CPU/request",
        sidecar_cpu,
        sidecar_db_cpu,
        goal="<= 1.0 ms",
        value_label="sidecar processes' CPU per new-purchase request (/proc)",
        baseline_label="their Postgres backends' CPU per request",
    )
    cpu_row.met = cpu_row.value <= 1.0
    rows.append(cpu_row)
    peak = max(peak_rss_mb(pid) for pid in sidecar.workers)
    rows.append(
        Row(
            "sidecar_peak_rss_mb",
            "MB",
            round(peak, 1),
            None,
            None,
            "<= 120",
            peak <= 120,
            value_label="largest VmHWM of a sidecar worker after every webhook round",
            detail={"workers": workers},
        )
    )
    return rows, detail


def checkout_form(learner: uuid.UUID, lesson: dict[str, Any]) -> bytes:
    """What the sidecar sends Stripe to open a session for `lesson`."""
    settings = Settings(
        stripe_secret_key="sk_test_bench",  # noqa: S106 - the stand-in's test key
        stripe_webhook_secret=WEBHOOK_SECRET,
        site_url=SITE_URL,
        database_url="postgresql://unused",
        supabase_jwt_secret=JWT_SECRET,
    )

    class Learner:
        id = learner

    plan = CreateSession(
        idempotency_key=uuid.uuid4().hex,
        lesson=msgspec.convert(lesson, PlannedLesson),
        customer_email=f"learner-{learner.hex[:8]}@example.com",
        stripe_customer_id=None,
    )
    params = session_params(settings, Learner(), plan)  # type: ignore[arg-type]
    return urllib.parse.urlencode(list(_api_encode(params))).encode()


def lesson_row(url: str, lesson_id: uuid.UUID) -> dict[str, Any]:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "select id::text, slug, title, description, currency, price_cents, stripe_price_id"
            " from public.lessons where id = %s",
            (lesson_id,),
        ).fetchone()
    assert row is not None
    keys = ("id", "slug", "title", "description", "currency", "price_cents", "stripe_price_id")
    return dict(zip(keys, row, strict=True))


async def measure_checkout(
    url: str, sidecar: Server, standin: Server, scale: Scale, learners: Iterator[uuid.UUID]
) -> list[Row]:
    standin_base = standin.base
    lesson = lesson_row(url, LESSON_RLS)
    # CPU ms per session: the sidecar's processes, their Postgres backends, the stand-in (which
    # does its own create on both sides)
    cpu: dict[str, list[float]] = {
        "sidecar": [],
        "postgres": [],
        "standin_serving_sidecar": [],
        "standin_alone": [],
    }
    concurrency = 8
    count = scale.checkouts
    through: list[float] = []
    direct: list[float] = []
    through_latency: list[float] = []
    direct_latency: list[float] = []
    body = json.dumps({"lesson_id": str(LESSON_RLS)}).encode()

    async def via_sidecar(keep: bool) -> None:
        requests = [
            http_request(
                "POST",
                sidecar.base,
                "/v1/checkout/sessions",
                body,
                {
                    "Content-Type": "application/json",
                    "Authorization": f"Bearer {access_token(next(learners))}",
                },
            )
            for _ in range(count)
        ]
        db_pids = backend_pids(url, SIDECAR_APP)
        before = (total_cpu(sidecar.pids), total_cpu(db_pids), total_cpu(standin.pids))
        run = await http_load(sidecar.base, requests, concurrency)
        after = (total_cpu(sidecar.pids), total_cpu(db_pids), total_cpu(standin.pids))
        expect(run, 201, b'"url"', "checkout through the sidecar")
        if keep:
            through.append(run.per_second)
            through_latency.extend(run.latencies)
            for key, b, a in zip(
                ("sidecar", "postgres", "standin_serving_sidecar"), before, after, strict=True
            ):
                cpu[key].append((a - b) * 1e3 / count)

    async def at_standin(keep: bool) -> None:
        requests = [
            http_request(
                "POST",
                standin_base,
                "/v1/checkout/sessions",
                checkout_form(next(learners), lesson),
                {
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Authorization": "Bearer sk_test_bench",
                    "Idempotency-Key": uuid.uuid4().hex,
                    "Stripe-Version": "2026-10-28.endive",
                },
            )
            for _ in range(count)
        ]
        before = total_cpu(standin.pids)
        run = await http_load(standin_base, requests, concurrency)
        after = total_cpu(standin.pids)
        expect(run, 200, b'"cs_', "create at the stand-in")
        if keep:
            cpu["standin_alone"].append((after - before) * 1e3 / count)
            direct.append(run.per_second)
            direct_latency.extend(run.latencies)

    await alternate_async(via_sidecar, at_standin, scale.rounds)
    p50, p99 = percentiles(through_latency)
    d50, d99 = percentiles(direct_latency)
    cpu_row = ratio_row(
        "sidecar_cpu_per_checkout_ms",
        "ms CPU/session",
        cpu["sidecar"],
        cpu["standin_alone"],
        goal=f"<= {CHECKOUT_CPU_GOAL_MS} ms",
        value_label="sidecar processes' CPU per POST /v1/checkout/sessions (/proc)",
        baseline_label="the Stripe stand-in's CPU per create of its own",
        detail={"postgres_cpu_ms_per_session": round(statistics.median(cpu["postgres"]), 3)},
    )
    cpu_row.met = cpu_row.value <= CHECKOUT_CPU_GOAL_MS
    create_row = ratio_row(
        "checkout_create",
        "sessions/s",
        through,
        direct,
        goal=f">= {CHECKOUT_GOAL}",
        at_least=CHECKOUT_GOAL,
        value_label="POST /v1/checkout/sessions through the sidecar, c=8",
        baseline_label="the Stripe stand-in's own create, same parameters, c=8",
        detail={
            "sidecar_p50_ms": p50,
            "sidecar_p99_ms": p99,
            "standin_p50_ms": d50,
            "standin_p99_ms": d99,
            **{f"cpu_ms_per_session_{k}": round(statistics.median(v), 3) for k, v in cpu.items()},
        },
    )
    return [create_row, cpu_row]


def run(
    url: str, scale: Scale, rows: frozenset[str] = frozenset()
) -> tuple[list[Row], dict[str, Any]]:
    """Every row of this step, or only the webhook or checkout rounds that `rows` needs."""
    webhooks = not rows or bool(rows & WEBHOOK_ROWS)
    checkout = not rows or bool(rows & CHECKOUT_ROWS)
    learners = create_learners(url, scale.learners + 2 * (scale.rounds + 1) * scale.checkouts)
    standin_port = free_port()
    standin_base = f"http://127.0.0.1:{standin_port}"
    with (
        running(
            standin_argv(standin_port), {}, "/v1/checkout/sessions", "Stripe stand-in", standin_port
        ) as standin,
        running(sidecar_argv(), sidecar_env(url, standin_base), "/healthz", "sidecar") as sidecar,
    ):
        measured: list[Row] = []
        detail: dict[str, Any] = {}
        if webhooks:
            measured, detail = asyncio.run(measure(url, sidecar, scale, learners))
        if checkout:
            measured += asyncio.run(measure_checkout(url, sidecar, standin, scale, learners))
    return measured, detail
