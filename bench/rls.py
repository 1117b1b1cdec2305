"""rls_lesson_catalog / rls_purchase_history at scale: 1,000 lessons, 200,000 learners, 1,000,000
purchases (5 each) and their checkout sessions, generated in SQL, vacuumed and analysed before
any measured connection opens.

A: as a learner, exactly as PostgREST runs `POST /rest/v1/rpc/<fn>` for supabase-js: a
transaction, one `set_config` statement (role, claims, method, path, headers), the call
wrapped in PostgREST's json_agg query, commit. B: the same round trips as the superuser (no
RLS, no function), with a hand-written query returning the same rows for the same learner.
Learners rotate through a fixed sample; A and B alternate by rounds. The EXPLAIN (ANALYZE,
BUFFERS) of both paths, the statement inside the function included, comes from auto_explain.

rls_purchase_history measures purchase_list(), the payment record the Purchases page reads
(purchase_history() was folded into it); the row keeps its name so its figures stay comparable.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.string import TextLoader

from bench.harness import Row, alternate, ratio_row
from devstack import database

LEARNERS = 200_000
LESSONS = 1_000
PER_LEARNER = 5

GENERATE_SQL = """
set session_replication_role = replica;  -- built consistent: skip the foreign-key triggers
insert into public.lessons (slug, title, description, price_cents, currency, published, created_at)
select
  'bench-lesson-' || n, 'Bench lesson ' || n,
  'What bench lesson ' || n || ' teaches, in a sentence or two.',
  500 + n, 'usd', true, now() - interval '30 days' + n * interval '1 minute'
from generate_series(1, {lessons}) as n;

create temporary table bench_lessons as
select (row_number() over (order by slug)) - 1 as k, id, price_cents
from public.lessons where slug like 'bench-lesson-%';

create temporary table bench_learners as
select n, gen_random_uuid() as id from generate_series(1, {learners}) as n;

insert into auth.users (id, aud, role, email, created_at, updated_at)
select id, 'authenticated', 'authenticated', 'learner-' || n || '@bench.example', now(), now()
from bench_learners;

-- every payment has its card and receipt; one in twenty is refunded (as below)
insert into public.checkout_sessions (
  id, user_id, lesson_id, amount_total, currency, status, payment_status,
  stripe_payment_intent_id, expires_at, paid_at, fulfilment, created_at, updated_at,
  payment_method_type, card_brand, card_last4, receipt_url, amount_refunded, refunded_at
)
select
  'cs_test_bench_' || u.n || '_' || j, u.id, l.id, l.price_cents, 'usd', 'complete', 'paid',
  'pi_bench_' || u.n || '_' || j, t.at + interval '1 day', t.at, 'granted', t.at, t.at,
  'card', 'visa', lpad((u.n % 10000)::text, 4, '0'),
  'https://pay.stripe.com/receipts/payment/bench_' || u.n || '_' || j,
  case when hashtext('cs_test_bench_' || u.n || '_' || j) % 20 = 0 then l.price_cents else 0 end,
  case when hashtext('cs_test_bench_' || u.n || '_' || j) % 20 = 0 then t.at + interval '1 day' end
from bench_learners as u
cross join generate_series(0, {per_learner} - 1) as j
join bench_lessons as l on l.k = (u.n * 7 + j * 199) % {lessons}
cross join lateral (
  select now() - (u.n % 1000) * interval '1 hour' - j * interval '1 minute' as at
) as t;

insert into public.purchased_lessons (
  user_id, lesson_id, status, amount_total, currency, stripe_checkout_session_id,
  stripe_payment_intent_id, purchased_at, refunded_at
)
select
  s.user_id, s.lesson_id,
  case when hashtext(s.id) % 20 = 0 then 'refunded' else 'paid' end,
  s.amount_total, s.currency, s.id, s.stripe_payment_intent_id, s.paid_at,
  case when hashtext(s.id) % 20 = 0 then s.paid_at + interval '1 day' end
from public.checkout_sessions as s
where s.id like 'cs_test_bench_%';

-- a few learners also have a checkout open (the catalogue's pending flag)
insert into public.checkout_sessions (
  id, user_id, lesson_id, amount_total, currency, status, expires_at, url
)
select
  'cs_test_bench_open_' || u.n, u.id, l.id, l.price_cents, 'usd', 'open',
  now() + interval '1 hour', 'https://checkout.stripe.com/c/pay/bench'
from bench_learners as u
join bench_lessons as l on l.k = (u.n * 7 + 5 * 199) % {lessons}
where u.n % 10 = 0;
set session_replication_role = origin;
"""

# what PostgREST sends before the call (one statement), for supabase-js's POST /rpc/<fn>
PREREQUEST = (
    "select set_config('search_path', '\"public\", \"extensions\"', true),"
    " set_config('role', %s, true), set_config('request.jwt.claims', %s, true),"
    " set_config('request.method', 'POST', true), set_config('request.path', %s, true),"
    " set_config('request.headers', '{}', true), set_config('request.cookies', '{}', true)"
)
# PostgREST's query for a set-returning function called with no arguments
POSTGREST_CALL = """
with pgrst_source as (select pgrst_call.* from public.{fn}() as pgrst_call)
select
  null::bigint as total_result_set,
  pg_catalog.count(_postgrest_t) as page_total,
  coalesce(pg_catalog.json_agg(_postgrest_t), '[]') as body,
  nullif(current_setting('response.headers', true), '') as response_headers,
  nullif(current_setting('response.status', true), '') as response_status,
  '' as response_inserted
from (select {fn}.* from pgrst_source as {fn}) as _postgrest_t
"""
HAND_WRITTEN = {
    "lesson_catalog": """
with mine as (
  select
    s.lesson_id,
    bool_or(s.status = 'processing' or (s.status = 'open' and s.expires_at > now())) as pending,
    max(s.created_at) filter (where s.status = 'processing') as processing_since,
    (array_agg(s.status order by s.created_at desc, s.id desc)
      filter (where s.status in ('processing', 'complete', 'failed')))[1] as last_paying_status
  from public.checkout_sessions as s
  where s.user_id = %(user)s
  group by s.lesson_id
),
held as (
  select p.lesson_id, p.status, p.purchased_at, p.refunded_at, p.disputed_at,
    g.dispute_status as granting_dispute_status
  from public.purchased_lessons as p
  join public.checkout_sessions as g on g.id = p.stripe_checkout_session_id
  where p.user_id = %(user)s
)
select
  l.id, l.slug, l.title, l.description, l.price_cents, l.currency,
  coalesce(p.status = 'paid', false) as owned,
  coalesce(mine.pending, false) as pending,
  decided.access,
  case decided.access
    when 'owned' then p.purchased_at
    when 'processing' then mine.processing_since
    when 'refunded' then p.refunded_at
    when 'disputed' then p.disputed_at
    when 'dispute_lost' then p.disputed_at
  end as access_changed_at
from public.lessons as l
left join held as p on l.id = p.lesson_id
left join mine on l.id = mine.lesson_id
cross join lateral (
  select case
    when l.price_cents = 0 then 'free'
    when p.status = 'paid' then 'owned'
    when mine.processing_since is not null then 'processing'
    when p.status = 'disputed' and p.granting_dispute_status is distinct from 'lost'
      then 'disputed'
    when mine.last_paying_status = 'failed' then 'failed'
    when p.status = 'refunded' then 'refunded'
    when p.status = 'disputed' then 'dispute_lost'
    else 'available'
  end::public.lesson_access as access
) as decided
where l.published
order by l.display_order, l.created_at, l.slug
""",
    "purchase_list": """
select
  s.id::text as id, s.lesson_id, l.slug, l.title, s.amount_paid as amount_total, s.currency,
  case
    when s.status = 'processing' then 'processing'
    when s.status = 'failed' then 'failed'
    when s.dispute_status = 'open' then 'disputed'
    when s.dispute_status = 'lost' then 'dispute_lost'
    when s.amount_refunded > 0 and s.amount_refunded >= s.amount_paid then 'refunded'
    when s.dispute_status = 'won' then 'dispute_won'
    when s.amount_refunded > 0 then 'partly_refunded'
    else 'paid'
  end::public.payment_state as status,
  coalesce(s.paid_at, s.created_at) as occurred_at,
  s.payment_method_type, s.card_brand as payment_method_brand, s.card_last4 as payment_method_last4,
  s.stripe_payment_intent_id as payment_reference, nullif(s.amount_refunded, 0) as refunded_amount,
  s.refunded_at, s.receipt_url::text as receipt_url, s.invoice_url::text as invoice_url,
  nullif(s.amount_discount, 0) as amount_discount,
  (select c.code from public.promotion_codes as c where c.id = s.promotion_code_id)
    as promotion_code,
  s.refund_reason
from public.checkout_sessions as s
join public.lessons as l on l.id = s.lesson_id
where s.user_id = %(user)s and (s.payment_status = 'paid' or s.status in ('processing', 'failed'))
order by coalesce(s.paid_at, s.created_at) desc, s.id desc
""",
}
# The same json_agg wrapping around the hand-written query, so both send the same bytes back.
SUPERUSER_CALL = """
select
  null::bigint as total_result_set,
  pg_catalog.count(_postgrest_t) as page_total,
  coalesce(pg_catalog.json_agg(_postgrest_t), '[]') as body,
  nullif(current_setting('response.headers', true), '') as response_headers,
  nullif(current_setting('response.status', true), '') as response_status,
  '' as response_inserted
from ({query}) as _postgrest_t
"""

AUTO_EXPLAIN = [
    "load 'auto_explain'",
    "set auto_explain.log_min_duration = 0",
    "set auto_explain.log_analyze = on",
    "set auto_explain.log_buffers = on",
    "set auto_explain.log_timing = on",
    "set auto_explain.log_nested_statements = on",
    # sent to this client as a NOTICE, so the plans come back on the connection itself
    "set auto_explain.log_level = notice",
]

Conn = psycopg.Connection[tuple[Any, ...]]


def generate(url: str, learners: int) -> dict[str, Any]:
    started = time.monotonic()
    script = GENERATE_SQL.format(lessons=LESSONS, learners=learners, per_learner=PER_LEARNER)
    with psycopg.connect(url, autocommit=True) as conn:
        with conn.transaction():
            conn.execute(sql.SQL(script))  # fixed text and numbers
        conn.execute("vacuum analyze")
        counts = conn.execute(
            "select (select count(*) from public.lessons where published),"
            " (select count(*) from auth.users), (select count(*) from public.purchased_lessons),"
            " (select count(*) from public.checkout_sessions)"
        ).fetchone()
    assert counts is not None
    return {
        "published_lessons": counts[0],
        "learners": counts[1],
        "purchases": counts[2],
        "checkout_sessions": counts[3],
        "generate_seconds": round(time.monotonic() - started),
    }


def sample_learners(url: str, count: int) -> list[uuid.UUID]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select distinct user_id from public.checkout_sessions"
            " where id like 'cs_test_bench_open_%%' order by user_id limit %s",
            (count,),
        ).fetchall()
    return [r[0] for r in rows]


def as_learner(conn: Conn, fn: str, user: uuid.UUID) -> str:
    claims = json.dumps({"sub": str(user), "role": "authenticated", "aud": "authenticated"})
    with conn.transaction():
        conn.execute(PREREQUEST, ("authenticated", claims, f"/rpc/{fn}"))
        row = conn.execute(sql.SQL(POSTGREST_CALL.format(fn=fn))).fetchone()
    assert row is not None
    return str(row[2])


def as_superuser(conn: Conn, fn: str, user: uuid.UUID) -> str:
    claims = json.dumps({"sub": str(user), "role": "service_role"})
    with conn.transaction():
        # the same round trip as PostgREST's, with the role left as it is
        conn.execute(
            PREREQUEST.replace("set_config('role', %s, true)", "%s"), ("", claims, f"/rpc/{fn}")
        )
        query = SUPERUSER_CALL.format(query=HAND_WRITTEN[fn])
        row = conn.execute(query, {"user": user}).fetchone()
    assert row is not None
    return str(row[2])


def raw_json(conn: Conn) -> Conn:
    """The body comes back as the text Postgres sent, as PostgREST passes it on (no parsing)."""
    conn.adapters.register_loader("json", TextLoader)
    return conn


def timed(
    conn: Conn,
    call: Callable[[Conn, str, uuid.UUID], str],
    fn: str,
    learners: list[uuid.UUID],
    count: int,
) -> Callable[[], float]:
    def run() -> float:
        started = time.perf_counter()
        for n in range(count):
            call(conn, fn, learners[n % len(learners)])
        return (time.perf_counter() - started) * 1e3 / count

    return run


def explain(
    url: str, call: Callable[[Conn, str, uuid.UUID], str], fn: str, user: uuid.UUID
) -> list[str]:
    notices: list[str] = []
    with psycopg.connect(url) as conn:
        conn.autocommit = True
        for statement in AUTO_EXPLAIN:
            conn.execute(statement)
        conn.autocommit = False
        conn.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
        call(conn, fn, user)
    return [n for n in notices if n.startswith("duration:")]


def step(admin_url: str, quick: bool) -> tuple[list[Row], dict[str, Any]]:
    rounds, count = (3, 40) if quick else (7, 150)
    rows: list[Row] = []
    explains: dict[str, Any] = {}
    with database.throwaway(admin_url) as url:
        data = generate(url, LEARNERS // 10 if quick else LEARNERS)
        learners = sample_learners(url, 50)
        with (
            raw_json(psycopg.connect(url)) as learner_conn,
            raw_json(psycopg.connect(url)) as super_conn,
        ):
            for fn, name, goal in (
                ("lesson_catalog", "rls_lesson_catalog", 1.2),
                ("purchase_list", "rls_purchase_history", 1.3),
            ):
                for user in learners[:5]:
                    mine, theirs = (
                        as_learner(learner_conn, fn, user),
                        as_superuser(super_conn, fn, user),
                    )
                    assert mine == theirs, f"{fn}: the two paths returned different rows"
                values, baselines = alternate(
                    timed(learner_conn, as_learner, fn, learners, count),
                    timed(super_conn, as_superuser, fn, learners, count),
                    rounds,
                )
                rows.append(
                    ratio_row(
                        name,
                        "ms/call",
                        values,
                        baselines,
                        goal=f"<= {goal}",
                        at_most=goal,
                        value_label=f"{fn}() as a learner, as PostgREST calls it",
                        baseline_label="hand-written query as superuser, same rows and round trips",
                        detail={"calls_per_round": count, **data},
                    )
                )
        for fn in ("lesson_catalog", "purchase_list"):
            explains[fn] = {
                "learner_through_postgrest": explain(url, as_learner, fn, learners[0]),
                "superuser_hand_written": explain(url, as_superuser, fn, learners[0]),
            }
    return rows, {"explain": explains, "data": data}
