"""The newest migration upgrades a live database: every row stays, every rule still holds.

A database is built by `supabase db push` from every migration but the newest, filled through
the real SQL functions as the sidecar fills it (paid, refunded, disputed and delayed purchases,
open Checkout Sessions, a rejected payment, an ignored event), then takes the newest migration
with `db push`. Each table's primary keys are the same before and after, the learners' access
and each stored event's outcome word are unchanged, and the whole pgTAP suite passes on the
upgraded database. Whatever migration is
newest is the one under test, so this guards every future migration too; the data is made with
the functions' calls as the sidecar makes them, which the newest migration must keep working.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.types.json import Jsonb

from devstack import database, supabase_cli
from tests.conftest import admin_url
from tests.sql.stripe_objects import charge_refunded, checkout_session, dispute, event
from tools.check import pg_prove_command

JOINS = uuid.UUID("00000000-0000-4000-8000-000000000002")  # 1200 usd
RLS = uuid.UUID("00000000-0000-4000-8000-000000000003")  # 2500 usd
WEBHOOKS = uuid.UUID("00000000-0000-4000-8000-000000000004")  # 1900 usd
EUROS = uuid.UUID("00000000-0000-4000-8000-000000000005")  # 1500 eur
YEN = uuid.UUID("00000000-0000-4000-8000-000000000006")  # 1800 jpy
PRICES = {JOINS: (1200, "usd"), RLS: (2500, "usd"), WEBHOOKS: (1900, "usd"), EUROS: (1500, "eur")}
PRICES[YEN] = (1800, "jpy")

Snapshot = dict[str, list[tuple[Any, ...]]]


def project_without_newest(root: Path) -> tuple[Path, Path]:
    """A copy of the project's supabase/ folder lacking the newest migration; and that one."""
    *older, newest = database.migration_files()
    target = root / "supabase"
    (target / "migrations").mkdir(parents=True)
    supabase_cli.copy_config(target)
    shutil.copy(database.SEED_SQL, target)
    for path in older:
        shutil.copy(path, target / "migrations")
    return root, newest


@pytest.fixture(scope="module")
def older_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A database at the state of every migration but the newest; the newest's path."""
    workdir, newest = project_without_newest(tmp_path_factory.mktemp("older_project"))
    with database.throwaway(admin_url(), built=False) as url:
        database.run_sql_file(url, database.PLATFORM_SQL)
        supabase_cli.push(url, workdir=workdir)
        database.run_sql_file(url, database.MULTI_CURRENCY_SQL)  # fill() sells in eur and jpy
        yield url, newest


def create_learner(conn: psycopg.Connection[tuple[Any, ...]]) -> uuid.UUID:
    user_id = uuid.uuid4()
    conn.execute(
        "insert into auth.users (id, aud, role, email, created_at)"
        " values (%s, 'authenticated', 'authenticated', %s, now())",
        (user_id, f"{user_id}@example.com"),
    )
    return user_id


def call(conn: psycopg.Connection[tuple[Any, ...]], function: str, *args: object) -> Any:
    """`select public.<function>(…)` as the sidecar's service role."""
    query = sql.SQL("select public.{}({})").format(
        sql.Identifier(function), sql.SQL(", ").join(sql.Placeholder() * len(args))
    )
    conn.execute("set role service_role")
    try:
        row = conn.execute(query, args).fetchone()
    finally:
        conn.execute("reset role")
    assert row is not None
    return row[0]


def open_session(
    conn: psycopg.Connection[tuple[Any, ...]], user_id: uuid.UUID, lesson_id: uuid.UUID
) -> dict[str, Any]:
    """begin_checkout, then the session Stripe would create, attached as the sidecar does."""
    plan = call(conn, "begin_checkout", user_id, lesson_id)
    assert plan["action"] == "create", plan
    amount, currency = PRICES[lesson_id]
    session_id = f"cs_test_{uuid.uuid4().hex}"
    session = checkout_session(session_id, user_id, lesson_id, amount, currency, paid=False)
    session |= {
        "status": "open",
        "payment_intent": None,
        "url": f"https://checkout.stripe.com/c/pay/{session_id}",
        "created": int(time.time()),
        "expires_at": int(time.time()) + 23 * 3600,
    }
    attached = call(conn, "attach_checkout_session", Jsonb(session))
    assert attached["outcome"] == "attached", attached
    return session


def deliver(conn: psycopg.Connection[tuple[Any, ...]], kind: str, obj: dict[str, Any]) -> str:
    created = int(time.time())
    outcome = call(
        conn, "handle_stripe_event", Jsonb(event(f"evt_{uuid.uuid4().hex}", kind, obj, created))
    )
    return str(outcome)


def paid(session: dict[str, Any]) -> dict[str, Any]:
    session_id = str(session["id"])
    return session | {
        "status": "complete",
        "payment_status": "paid",
        "payment_intent": "pi_" + session_id.removeprefix("cs_"),
        "url": None,
    }


def fill(url: str) -> dict[str, uuid.UUID]:
    """Learners in every state a live shop holds, made through the real SQL functions."""
    with psycopg.connect(url, autocommit=True) as conn:
        learners = {name: create_learner(conn) for name in ("buyer", "refunded", "disputed")}
        learners |= {name: create_learner(conn) for name in ("delayed", "browsing", "overpaid")}

        bought = paid(open_session(conn, learners["buyer"], JOINS))
        assert deliver(conn, "checkout.session.completed", bought) == "recorded"
        yen = paid(open_session(conn, learners["buyer"], YEN))
        assert deliver(conn, "checkout.session.completed", yen) == "recorded"

        refunded = paid(open_session(conn, learners["refunded"], RLS))
        assert deliver(conn, "checkout.session.completed", refunded) == "recorded"
        charge = charge_refunded(refunded["payment_intent"], 2500, 2500)
        assert deliver(conn, "charge.refunded", charge).startswith("revoked")

        disputed = paid(open_session(conn, learners["disputed"], WEBHOOKS))
        assert deliver(conn, "checkout.session.completed", disputed) == "recorded"
        outcome = deliver(conn, "charge.dispute.created", dispute(disputed["payment_intent"]))
        assert outcome.startswith("revoked"), outcome

        delayed = open_session(conn, learners["delayed"], EUROS)
        delayed |= {"status": "complete", "payment_status": "unpaid", "url": None}
        assert deliver(conn, "checkout.session.completed", delayed) != "recorded"

        open_session(conn, learners["browsing"], JOINS)
        open_session(conn, learners["browsing"], RLS)

        # paid at a price that is not the lesson's: refused, listed for an operator
        wrong = paid(open_session(conn, learners["overpaid"], JOINS))
        wrong |= {"id": f"cs_test_{uuid.uuid4().hex}", "amount_total": 1}
        wrong["payment_intent"] = "pi_" + str(wrong["id"]).removeprefix("cs_")
        assert deliver(conn, "checkout.session.completed", wrong).startswith("rejected")

        assert deliver(conn, "customer.created", {"id": "cus_test_1", "object": "customer"})
    return learners


def snapshot(url: str) -> Snapshot:
    """The primary keys of every table in the schemas the project owns, and of auth.users."""
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            """
            select c.oid::regclass::text, array_agg(a.attname::text order by k.ord)
            from pg_constraint as con
            join pg_class as c on c.oid = con.conrelid
            join pg_namespace as n on n.oid = c.relnamespace
            cross join lateral unnest(con.conkey) with ordinality as k (attnum, ord)
            join pg_attribute as a on a.attrelid = c.oid and a.attnum = k.attnum
            where con.contype = 'p' and (n.nspname in ('public', 'private')
              or c.oid = 'auth.users'::regclass)
            group by c.oid
            """
        ).fetchall()
        result: Snapshot = {}
        for table, keys in tables:
            columns = sql.SQL(", ").join(sql.Identifier(k) for k in keys)
            rows = conn.execute(
                sql.SQL("select {} from {} order by 1").format(columns, sql.SQL(table))
            ).fetchall()
            result[str(table)] = rows
    return result


def access(url: str, learners: dict[str, uuid.UUID]) -> dict[str, list[str]]:
    """The lesson content each learner can read, asked as that learner through RLS."""
    readable: dict[str, list[str]] = {}
    with psycopg.connect(url) as conn:
        for name, user_id in learners.items():
            with conn.transaction(force_rollback=True):
                claims = {"sub": str(user_id), "role": "authenticated"}
                conn.execute(
                    "select set_config('request.jwt.claims', %s, true)", (json.dumps(claims),)
                )
                conn.execute("set local role authenticated")
                rows = conn.execute(
                    "select l.slug from public.lesson_content as c"
                    " join public.lessons as l on l.id = c.lesson_id"
                    " where l.price_cents > 0 order by l.slug"
                ).fetchall()
            readable[name] = [str(r[0]) for r in rows]
    return readable


def attention(url: str) -> list[tuple[Any, ...]] | None:
    """What payments_needing_attention lists, or None before the migration that makes it."""
    with psycopg.connect(url) as conn:
        exists = conn.execute("select to_regclass('public.payments_needing_attention')").fetchone()
        if exists is None or exists[0] is None:
            return None
        return conn.execute(
            "select source, reference, reason from public.payments_needing_attention order by 2"
        ).fetchall()


def event_outcomes(url: str) -> list[tuple[str, str | None]]:
    """Each stored event's outcome word as the functions answer it ('rejected:amount_mismatch'),
    whether its reason has a column of its own (outcome_reason) or not."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select e.id, e.outcome || coalesce(':' || (to_jsonb(e) ->> 'outcome_reason'), '')"
            " from public.stripe_events as e order by e.id"
        ).fetchall()
    return [(str(event_id), word) for event_id, word in rows]


def test_the_newest_migration_keeps_every_row_and_rule(older_database: tuple[str, Path]) -> None:
    url, newest = older_database
    learners = fill(url)
    rows_before, access_before = snapshot(url), access(url, learners)
    attention_before = attention(url)
    outcomes_before = event_outcomes(url)
    assert any(str(word).startswith("rejected:") for _, word in outcomes_before)
    assert access_before["buyer"] == ["indexes-explained", "joins-without-fear"]
    assert access_before["refunded"] == access_before["disputed"] == []
    assert attention_before is None or len(attention_before) == 1
    assert sum(map(len, rows_before.values())) > 30

    pushed = supabase_cli.push(url)

    assert f"Applying migration {newest.name}..." in pushed.stderr
    assert pushed.stderr.count("Applying migration") == 1, pushed.output
    rows_after = snapshot(url)
    assert rows_before.keys() <= rows_after.keys(), "a table was dropped"
    kept = {table: rows_after[table] for table in rows_before}
    assert kept == rows_before, "a row was lost or added by the migration"
    assert access(url, learners) == access_before
    assert event_outcomes(url) == outcomes_before, "an event's outcome changed"
    if attention_before is not None:
        assert attention(url) == attention_before
    assert {local for local, remote in supabase_cli.migration_list(url) if local == remote} == {
        database.version_of(p) for p in database.migration_files()
    }

    cmd, env = pg_prove_command(url)
    assert shutil.which("pg_prove"), "pg_prove is missing: run `make install`"
    proved = subprocess.run(
        cmd, cwd=database.ROOT, env={**os.environ, **env}, capture_output=True, text=True
    )
    assert proved.returncode == 0, proved.stdout + proved.stderr
    assert "All tests successful" in proved.stdout
