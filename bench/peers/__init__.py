"""`make bench-peers`: this shop's webhook path against stripe-sync-engine on the same signed
events, side by side in one run (not part of `make bench` or `make test`).

Ours: the sidecar as deployed (`python -m sidecar.cli`, SIDECAR_WORKERS = cores) on a database
built from our migrations and seed. Theirs: `@supabase/stripe-sync-engine` at the version
pinned in bench/peers/package-lock.json, installed with `npm ci` into a scratch folder, behind
`server.mjs` (its `processWebhook` on node:http), on a database of its own holding only the
schema `stripe` its migrations create. Both get the same events: per purchase, a
`payment_intent.succeeded` and a `checkout.session.completed` (Stripe's example objects as
bench/webhooks.py builds them, signed with the secret both are given), for a Checkout Session
first created at the offline Stripe stand-in, because stripe-sync-engine lists each completed
session's line items and fetches any price it has not stored from the Stripe API.

Each concurrency (8, 32) runs a warm-up pair, ANALYZEs both databases, then alternates rounds
(ours, theirs; theirs, ours; …) of fresh purchases. A last block redelivers a round's events
twice over, at once, to both; then every purchase must be in each database exactly once.
Rows `vs_stripe_sync_engine_c8` / `_c32`: ours ÷ theirs in events per second (= their time per
event ÷ ours), median and min-max of the per-round ratios; above 1 means ours is faster.

    uv run python -m bench.peers            # writes bench/results/peers.json
    uv run python -m bench.peers --quick    # a small scale, to check the harness
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg import conninfo

from bench.harness import RESULTS, Row, machine, percentiles, ratio_row, table, write_results
from bench.load import Run, http_load, http_request
from bench.procs import Server, backend_pids, running, sidecar_argv, standin_argv, total_cpu
from bench.webhooks import (
    SIDECAR_APP,
    checkout_form,
    create_learners,
    lesson_row,
    sidecar_env,
)
from devstack import database
from standins.serving import free_port
from standins.stripe.objects import template
from tests.sidecar.conftest import (
    LESSON_JOINS,
    WEBHOOK_SECRET,
    checkout_session,
    event,
    signature_header,
)

HERE = Path(__file__).resolve().parent
NODE_FILES = ("package.json", "package-lock.json", "server.mjs")
# git-ignored (bench/results/), kept between runs so `npm ci` runs only when the lock changes
SCRATCH = RESULTS / "peers-node"
THEIR_APP = "stripe-sync-engine"  # the application_name its pool sets
THEIR_POOL_MAX = 10  # its default poolConfig.max
LESSON_PRICE = 1200  # LESSON_JOINS, usd cents


@dataclass(frozen=True)
class Scale:
    rounds: int
    purchases: dict[int, int]  # purchases per round at each concurrency (2 events each)

    def total(self) -> int:
        # a warm-up and `rounds` measured rounds per concurrency, plus none for redelivery
        return sum((self.rounds + 1) * n for n in self.purchases.values())


FULL = Scale(rounds=7, purchases={8: 300, 32: 600})
QUICK = Scale(rounds=2, purchases={8: 40, 32: 80})


# --- pure parts: events and the exactly-once check -------------------------------------------


@dataclass(frozen=True)
class Purchase:
    learner: uuid.UUID
    session_id: str
    payment_intent: str
    events: tuple[bytes, bytes]  # payment_intent.succeeded, checkout.session.completed


def payment_intent(intent_id: str, *, learner: uuid.UUID, amount: int) -> dict[str, Any]:
    """A succeeded PaymentIntent as Stripe sends it in payment_intent.succeeded."""
    obj = template("payment_intent")
    obj.update(
        id=intent_id,
        amount=amount,
        amount_capturable=0,
        amount_received=amount,
        currency="usd",
        status="succeeded",
        metadata={"user_id": str(learner), "lesson_id": str(LESSON_JOINS)},
        created=int(time.time()) - 30,
        livemode=False,
    )
    return obj


def purchase(learner: uuid.UUID, session_id: str) -> Purchase:
    """The two events Stripe sends when `learner` pays Checkout Session `session_id`."""
    intent_id = "pi_" + uuid.uuid4().hex[:24]
    session = checkout_session(
        user_id=learner,
        lesson_id=LESSON_JOINS,
        amount_total=LESSON_PRICE,
        session_id=session_id,
        payment_intent=intent_id,
    )
    intent = payment_intent(intent_id, learner=learner, amount=LESSON_PRICE)
    return Purchase(
        learner,
        session_id,
        intent_id,
        (
            json.dumps(event("payment_intent.succeeded", intent)).encode(),
            json.dumps(event("checkout.session.completed", session)).encode(),
        ),
    )


def exactly_once_problems(expected: int, counts: dict[str, int]) -> list[str]:
    """Each count must equal the number of purchases: none lost, none written twice."""
    return [
        f"{name}: {count} rows for {expected} purchases"
        for name, count in sorted(counts.items())
        if count != expected
    ]


# --- the scratch folder and stripe-sync-engine's database ------------------------------------


def install(scratch: Path = SCRATCH) -> Path:
    """bench/peers' package files in `scratch`, and `npm ci` there when they changed."""
    scratch.mkdir(parents=True, exist_ok=True)
    changed = False
    for name in NODE_FILES:
        source, target = HERE / name, scratch / name
        if not target.exists() or target.read_bytes() != source.read_bytes():
            shutil.copyfile(source, target)
            changed = True
    installed = scratch / "node_modules" / ".package-lock.json"
    if changed or not installed.exists():
        print(f"installing stripe-sync-engine (npm ci in {scratch})", flush=True)
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=scratch, check=True
        )
    return scratch


def version_installed(scratch: Path, package: str) -> str:
    manifest = scratch / "node_modules" / package / "package.json"
    return str(json.loads(manifest.read_text())["version"])


def node_url(url: str) -> str:
    """A libpq connection string as the URL node-postgres' `connectionString` takes."""
    params = conninfo.conninfo_to_dict(url)
    user = quote(str(params.get("user", "postgres")), safe="")
    password = params.get("password")
    auth = f"{user}:{quote(str(password), safe='')}" if password else user
    host, port = params.get("host", "127.0.0.1"), params.get("port", 5432)
    return f"postgresql://{auth}@{host}:{port}/{quote(str(params['dbname']), safe='')}"


def migrate_theirs(scratch: Path, url: str) -> None:
    """stripe-sync-engine's own migrations (schema `stripe`), then check they ran."""
    subprocess.run(
        ["node", str(scratch / "server.mjs"), "migrate"],
        env={**os.environ, "DATABASE_URL": node_url(url)},
        check=True,
        timeout=300,
    )
    with psycopg.connect(url) as conn:
        row = conn.execute("select to_regclass('stripe.checkout_sessions') is not null").fetchone()
    if not row or not row[0]:
        raise RuntimeError("stripe-sync-engine's migrations made no stripe.checkout_sessions")


# --- the run ---------------------------------------------------------------------------------


@dataclass
class Side:
    rates: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)  # its own processes, per event
    db_cpu_ms: list[float] = field(default_factory=list)  # its Postgres backends, per event
    standin_cpu_ms: list[float] = field(default_factory=list)  # the Stripe stand-in, per event


@dataclass
class System:
    name: str
    server: Server
    path: str
    url: str  # its database
    application_name: str
    words: tuple[bytes, ...]  # one of them in every 200 answer to a new event
    duplicate_words: tuple[bytes, ...]  # … and to a redelivered one

    def requests(self, events: list[bytes]) -> list[bytes]:
        return [
            http_request(
                "POST",
                self.server.base,
                self.path,
                body,
                {"Content-Type": "application/json", "Stripe-Signature": signature_header(body)},
            )
            for body in events
        ]


def expect_all(run: Run, system: System, what: str, words: tuple[bytes, ...]) -> None:
    bad = {s: n for s, n in run.statuses.items() if s != 200}
    unexpected = [body for body in run.bodies if not any(word in body for word in words)]
    if bad or unexpected:
        sample = unexpected[0] if unexpected else b""
        raise AssertionError(f"{system.name}, {what}: {run.statuses}, e.g. {sample[:300]!r}")


async def deliver(
    system: System, standin: Server, events: list[bytes], concurrency: int
) -> tuple[Run, float, float, float]:
    """Post `events` to `system`; its run and the CPU ms per event of its processes, its
    Postgres backends and the stand-in."""
    requests = system.requests(events)
    db = backend_pids(system.url, system.application_name)
    before = (total_cpu(system.server.pids), total_cpu(db), total_cpu(standin.pids))
    run = await http_load(system.server.base, requests, concurrency)
    after = (total_cpu(system.server.pids), total_cpu(db), total_cpu(standin.pids))
    per_event = [(a - b) * 1e3 / len(events) for a, b in zip(after, before, strict=True)]
    return run, per_event[0], per_event[1], per_event[2]


def analyze(*urls: str) -> None:
    for url in urls:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("analyze")


async def open_sessions(standin: Server, forms: list[bytes]) -> dict[uuid.UUID, str]:
    """Checkout Sessions at the stand-in with the form the sidecar sends: each learner's id."""
    requests = [
        http_request(
            "POST",
            standin.base,
            "/v1/checkout/sessions",
            form,
            {
                "Content-Type": "application/x-www-form-urlencoded",
                "Authorization": "Bearer sk_test_bench",
                "Idempotency-Key": uuid.uuid4().hex,
            },
        )
        for form in forms
    ]
    run = await http_load(standin.base, requests, 8)
    if set(run.statuses) != {200}:
        raise AssertionError(f"creating sessions at the stand-in: {run.statuses}")
    # answers arrive in completion order: the learner is in each session's metadata
    sessions = [json.loads(body) for body in run.bodies]
    return {uuid.UUID(s["metadata"]["user_id"]): s["id"] for s in sessions}


async def one_round(
    system: System, standin: Server, events: list[bytes], concurrency: int, side: Side | None
) -> None:
    """`events` to `system`; what it measured into `side` (None: a warm-up, not kept)."""
    run, cpu, db_cpu, standin_cpu = await deliver(system, standin, events, concurrency)
    expect_all(run, system, f"c={concurrency}", system.words)
    if side is not None:
        side.rates.append(run.per_second)
        side.latencies.extend(run.latencies)
        side.cpu_ms.append(cpu)
        side.db_cpu_ms.append(db_cpu)
        side.standin_cpu_ms.append(standin_cpu)


async def measure(
    ours: System,
    theirs: System,
    standin: Server,
    scale: Scale,
    purchases: Iterator[Purchase],
) -> tuple[list[Row], dict[str, Any]]:
    rows: list[Row] = []
    detail: dict[str, Any] = {}
    delivered: list[Purchase] = []
    for concurrency, count in scale.purchases.items():
        sides = {ours.name: Side(), theirs.name: Side()}

        for n in range(scale.rounds + 1):
            batch = [next(purchases) for _ in range(count)]
            delivered.extend(batch)
            events = [body for p in batch for body in p.events]
            keep = n > 0
            first, second = (ours, theirs) if n % 2 == 0 else (theirs, ours)
            for system in (first, second):
                side = sides[system.name] if keep else None
                await one_round(system, standin, events, concurrency, side)
            if n == 0:
                # the warm-up filled both databases equally; plan on what they now hold
                analyze(ours.url, theirs.url)

        a, b = sides[ours.name], sides[theirs.name]
        name = f"vs_stripe_sync_engine_c{concurrency}"
        ours_p50, ours_p99 = percentiles(a.latencies)
        their_p50, their_p99 = percentiles(b.latencies)
        events_per_round = 2 * count

        def per_event(side: Side) -> dict[str, float]:
            cpu = {
                "process_cpu_ms": statistics.median(side.cpu_ms),
                "postgres_cpu_ms": statistics.median(side.db_cpu_ms),
                "stripe_standin_cpu_ms": statistics.median(side.standin_cpu_ms),
            }
            return {
                "wall_ms": round(1e3 / statistics.median(side.rates), 3),
                **{key: round(value, 3) for key, value in cpu.items()},
                "total_cpu_ms": round(sum(cpu.values()), 3),
            }

        rows.append(
            ratio_row(
                name,
                "events/s",
                a.rates,
                b.rates,
                goal=">= 1.5",
                at_least=1.5,
                value_label=f"signed POST to the sidecar ({len(ours.server.workers)} workers),"
                f" c={concurrency}",
                baseline_label=f"the same events to stripe-sync-engine (1 Node process,"
                f" pool {THEIR_POOL_MAX}), c={concurrency}",
                detail={
                    "events_per_round": events_per_round,
                    "ours_p50_ms": ours_p50,
                    "ours_p99_ms": ours_p99,
                    "theirs_p50_ms": their_p50,
                    "theirs_p99_ms": their_p99,
                    "ours_per_event": per_event(a),
                    "theirs_per_event": per_event(b),
                },
            )
        )

    # Stripe redelivers: the last round's events again, each twice side by side (so both copies
    # are in flight together), to both
    last = delivered[-scale.purchases[32] :]
    again = [body for p in last for body in p.events for _copy in range(2)]
    for system in (ours, theirs):
        run, *_ = await deliver(system, standin, again, 32)
        expect_all(run, system, "redelivery", system.duplicate_words)
    detail["redelivered_events"] = len(again)
    detail["exactly_once"] = check_exactly_once(ours, theirs, delivered)
    return rows, detail


def check_exactly_once(ours: System, theirs: System, delivered: list[Purchase]) -> dict[str, Any]:
    sessions = [p.session_id for p in delivered]
    intents = [p.payment_intent for p in delivered]
    learners = [p.learner for p in delivered]
    with psycopg.connect(ours.url) as conn:
        mine = {
            "public.purchased_lessons": conn.execute(
                "select count(*) from public.purchased_lessons"
                " where user_id = any(%s) and lesson_id = %s and status = 'paid'"
                " and stripe_checkout_session_id = any(%s)",
                (learners, LESSON_JOINS, sessions),
            ).fetchone()[0],  # type: ignore[index]
            "public.checkout_sessions granted": conn.execute(
                "select count(*) from public.checkout_sessions"
                " where id = any(%s) and fulfilment = 'granted'",
                (sessions,),
            ).fetchone()[0],  # type: ignore[index]
        }
    with psycopg.connect(theirs.url) as conn:
        their = {
            "stripe.checkout_sessions": conn.execute(
                "select count(*) from stripe.checkout_sessions"
                " where id = any(%s) and status = 'complete'",
                (sessions,),
            ).fetchone()[0],  # type: ignore[index]
            "stripe.payment_intents": conn.execute(
                "select count(*) from stripe.payment_intents"
                " where id = any(%s) and status = 'succeeded'",
                (intents,),
            ).fetchone()[0],  # type: ignore[index]
            "stripe.checkout_session_line_items": conn.execute(
                "select count(*) from stripe.checkout_session_line_items"
                " where checkout_session = any(%s)",
                (sessions,),
            ).fetchone()[0],  # type: ignore[index]
        }
    # the same counts over each table whole: nothing written under another id either
    with psycopg.connect(ours.url) as conn:
        mine["public.purchased_lessons (whole table)"] = conn.execute(
            "select count(*) from public.purchased_lessons where lesson_id = %s", (LESSON_JOINS,)
        ).fetchone()[0]  # type: ignore[index]
    with psycopg.connect(theirs.url) as conn:
        for table_name in (
            "checkout_sessions",
            "payment_intents",
            "checkout_session_line_items",
            "prices",  # one made from price_data per session
        ):
            their[f"stripe.{table_name} (whole table)"] = conn.execute(
                f"select count(*) from stripe.{table_name}"  # noqa: S608 - fixed names
            ).fetchone()[0]  # type: ignore[index]
    problems = exactly_once_problems(len(delivered), {**mine, **their})
    if problems:
        raise AssertionError("exactly-once broken: " + "; ".join(problems))
    return {"purchases": len(delivered), "ours": mine, "theirs": their}


def run(admin_url: str, scale: Scale) -> tuple[list[Row], dict[str, Any]]:
    scratch = install()
    versions = {
        "@supabase/stripe-sync-engine": version_installed(scratch, "@supabase/stripe-sync-engine"),
        "stripe": version_installed(scratch, "stripe"),
        "node": subprocess.run(
            ["node", "--version"], capture_output=True, text=True, check=True
        ).stdout.strip(),
    }
    their_url = database.create_throwaway(admin_url, prefix="bench_peers_sse")
    try:
        migrate_theirs(scratch, their_url)
        with database.throwaway(admin_url) as our_url:
            return _run(scratch, our_url, their_url, scale, versions)
    finally:
        database.drop(admin_url, their_url)


def _run(
    scratch: Path, our_url: str, their_url: str, scale: Scale, versions: dict[str, str]
) -> tuple[list[Row], dict[str, Any]]:
    total = scale.total()
    learners = list(create_learners(our_url, total))
    lesson = lesson_row(our_url, LESSON_JOINS)
    standin_port = free_port()
    standin_base = f"http://127.0.0.1:{standin_port}"
    their_env = {
        "DATABASE_URL": node_url(their_url),
        "STRIPE_SECRET_KEY": "sk_test_bench",
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_API_BASE": standin_base,
        "POOL_MAX": str(THEIR_POOL_MAX),
    }
    with (
        running(
            standin_argv(standin_port), {}, "/v1/checkout/sessions", "Stripe stand-in", standin_port
        ) as standin,
        running(
            sidecar_argv(), sidecar_env(our_url, standin_base), "/healthz", "sidecar"
        ) as sidecar,
        running(
            ["node", str(scratch / "server.mjs")], their_env, "/health", "stripe-sync-engine"
        ) as sse,
    ):
        forms = [checkout_form(learner, lesson) for learner in learners]
        by_learner = asyncio.run(open_sessions(standin, forms))
        purchases = iter([purchase(learner, by_learner[learner]) for learner in learners])
        # ours answers each event's outcome: the session "recorded", the payment intent
        # "ignored" (not an event the purchase rules act on), a redelivery "duplicate"
        ours = System(
            "ours",
            sidecar,
            "/v1/webhooks/stripe",
            our_url,
            SIDECAR_APP,
            (b'"recorded"', b'"ignored"'),
            (b'"duplicate"',),
        )
        theirs = System(
            "stripe-sync-engine",
            sse,
            "/webhooks",
            their_url,
            THEIR_APP,
            (b'"received":true',),
            (b'"received":true',),
        )
        rows, detail = asyncio.run(measure(ours, theirs, standin, scale, purchases))
    detail["versions"] = versions
    return rows, detail


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.peers", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small scale: checks the harness")
    args = parser.parse_args(argv)
    admin_url = os.environ.get("TEST_DATABASE_URL", database.DEFAULT_ADMIN_URL)
    with psycopg.connect(admin_url) as conn:
        row = conn.execute("show server_version").fetchone()
    info = machine(str(row[0]) if row else "?")
    info["scale"] = "quick" if args.quick else "full"
    started = time.monotonic()
    rows, detail = run(admin_url, QUICK if args.quick else FULL)
    info["seconds"] = round(time.monotonic() - started)
    path = write_results(info, rows, {"detail": detail}, RESULTS / "peers.json")
    print(table(rows))
    print(f"\n{detail['versions']}; exactly once: {detail['exactly_once']}")
    print(f"{len(rows)} rows in {info['seconds']} s; written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
