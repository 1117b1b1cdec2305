-- Typed Checkout Session ids and event outcomes.
--
-- A Checkout Session id was a text column with a CHECK on one table and a regular expression
-- repeated in the functions; it is now one domain, public.checkout_session_id, on every column
-- that holds one, and the functions test a text against that domain. (The sidecar's own
-- definition is sidecar/stripe_ids.py; both are tested against tests/cases/checkout_session_ids.json.)
--
-- stripe_events.outcome was free text read by prefix ('rejected:amount_mismatch'); it is now one
-- of the known outcome words, and the reason an event was ignored or rejected has a column of its
-- own, outcome_reason. The functions still answer the same words ('rejected:amount_mismatch'):
-- private.finish_event splits a word once, as it stores it. attach_checkout_session answers
-- {"outcome": "rejected", "reason": …} the same way, so the sidecar decodes it as a tagged union.
--
-- The columns move to the domain without a rewrite (see the domain below); its check is then
-- validated by one scan of each table, which blocks writes to it (not reads) while it runs. The
-- view reading them is dropped and made again around it.

-- =============================================================================================
-- domains
-- =============================================================================================

-- Checkout Session id, e.g. cs_test_a1YS1URlnyQCN5fUUduORoQ7Pw41PJqDWkIVQCpJPqkfIhd6tVY8XB1OLY;
-- at most 250 characters after cs_ (what the indexes on these columns take)
-- Made without its check first: changing a column's type to a domain *with* a constraint
-- rewrites the table and rebuilds its indexes under an exclusive lock (22 s for a million
-- rows here), while an unconstrained domain over text is a catalog change (3 ms). The check is
-- added once every column has moved, and validated in place (a scan, no rewrite).
create domain public.checkout_session_id as text;

comment on domain public.checkout_session_id is
'A Stripe Checkout Session id (cs_…): the one SQL definition of its shape.';

-- =============================================================================================
-- private helpers
-- =============================================================================================

-- Whether p_text is a Checkout Session id, asked of the domain itself so that its pattern is
-- written once (pg_input_is_valid, which would ask without an exception block, is Postgres 16+).
create or replace function private.is_checkout_session_id(p_text text)
returns boolean
language plpgsql
immutable
security invoker
set search_path = ''
as $$
begin
  perform p_text::public.checkout_session_id;
  return p_text is not null;
exception
  when check_violation then
    return false;
end;
$$;

-- =============================================================================================
-- views: dropped while the columns they read change type (made again below)
-- =============================================================================================

drop view public.payments_needing_attention;

-- =============================================================================================
-- tables: Checkout Session ids
-- =============================================================================================

alter table public.checkout_sessions
drop constraint checkout_sessions_id_format,
alter column id type public.checkout_session_id;

alter table public.purchased_lessons
alter column stripe_checkout_session_id type public.checkout_session_id;

alter table public.checkout_session_contradictions
alter column checkout_session_id type public.checkout_session_id;

-- store_event copied the id of any object calling itself a checkout.session; one that is not a
-- Checkout Session id named no session (the functions refuse it as not_a_checkout_session) and
-- is kept in object_id, as every event's object id is
update public.stripe_events
set checkout_session_id = null
where checkout_session_id !~ '^cs_[A-Za-z0-9_]{1,250}$';

alter table public.stripe_events
alter column checkout_session_id type public.checkout_session_id;

alter domain public.checkout_session_id
add constraint checkout_session_id_format check (value ~ '^cs_[A-Za-z0-9_]{1,250}$') not valid;

alter domain public.checkout_session_id validate constraint checkout_session_id_format;

-- =============================================================================================
-- tables: event outcomes
-- =============================================================================================

-- text with a CHECK rather than an enum, as every other status in this schema: a new word is
-- added by replacing the constraint in the migration whose function first writes it, whereas
-- an enum value added by `alter type … add value` cannot be used in the transaction that adds
-- it (a migration of its own, before) and can never be removed.
alter table public.stripe_events
-- why the event was ignored or rejected, e.g. 'amount_mismatch' (null for the other outcomes,
-- and for an event ignored only because the shop does not handle its type)
add column outcome_reason text;

update public.stripe_events
set
  outcome = pg_catalog.split_part(outcome, ':', 1),
  outcome_reason = pg_catalog.substr(outcome, pg_catalog.strpos(outcome, ':') + 1)
where outcome like '%:%';

alter table public.stripe_events
add constraint stripe_events_outcome_check check (
  outcome in (
    'recorded', 'duplicate', 'already_owned', 'pending', 'failed', 'expired', 'revoked', 'restored',
    'deferred', 'applied', 'ignored', 'rejected', 'error'
  )
),
add constraint stripe_events_outcome_reason_check check (
  outcome_reason is null or (outcome_reason ~ '^[a-z_]+$' and outcome in ('ignored', 'rejected'))
),
add constraint stripe_events_rejected_has_reason check (outcome <> 'rejected' or outcome_reason is not null);

comment on column public.stripe_events.outcome is
'What applying the event did (null until processed); why it was ignored or rejected is in outcome_reason.';

-- =============================================================================================
-- indexes
-- =============================================================================================

-- the same rows as before: failed, deferred and rejected events
drop index public.stripe_events_unsettled_idx;
create index stripe_events_unsettled_idx on public.stripe_events (received_at)
where outcome in ('error', 'deferred', 'rejected');

-- =============================================================================================
-- functions
-- =============================================================================================

-- Record an event's outcome word, e.g. 'rejected:amount_mismatch': the word before the colon
-- in outcome, the reason after it in outcome_reason.
create or replace function private.finish_event(p_event_id text, p_outcome text, p_error text default null)
returns void
language sql
security invoker
set search_path = ''
as $$
  update public.stripe_events
  set
    outcome = pg_catalog.split_part(p_outcome, ':', 1),
    outcome_reason = case
      when pg_catalog.strpos(p_outcome, ':') > 0 then pg_catalog.substr(p_outcome, pg_catalog.strpos(p_outcome, ':') + 1)
    end,
    error = p_error,
    processed_at = pg_catalog.now()
  where id = p_event_id;
$$;

-- What a Checkout Session is for, read from its metadata, or the problem that makes it not
-- one of ours: 'not_a_checkout_session', 'not_a_lesson_checkout' (the Stripe account may sell
-- other things), 'not_a_payment', 'bad_metadata' or 'user_mismatch'.
create or replace function private.session_refs(
  p_session jsonb,
  out session_id text,
  out user_id uuid,
  out lesson_id uuid,
  out problem text
)
language plpgsql
immutable
security invoker
set search_path = ''
as $$
begin
  session_id := p_session ->> 'id';
  user_id := private.try_uuid(p_session -> 'metadata' ->> 'user_id');
  lesson_id := private.try_uuid(p_session -> 'metadata' ->> 'lesson_id');
  problem := case
    when p_session ->> 'object' is distinct from 'checkout.session'
      or not private.is_checkout_session_id(session_id) then 'not_a_checkout_session'
    when not coalesce(p_session -> 'metadata', '{}'::jsonb) ? 'lesson_id' then 'not_a_lesson_checkout'
    when p_session ->> 'mode' is distinct from 'payment' then 'not_a_payment'
    when user_id is null or lesson_id is null then 'bad_metadata'
    when p_session ->> 'client_reference_id' is distinct from user_id::text then 'user_mismatch'
  end;
end;
$$;

-- Store a verified event with the facts the purchase rules need. Returns 'new', 'retry' (an
-- earlier attempt failed with an error and is processed again) or 'duplicate'. Concurrent
-- callers with one event id serialise on the primary key: the second waits for the first and
-- then sees its row. checkout_session_id is the object's id only when that is a Checkout
-- Session id (object_id keeps it either way).
create or replace function private.store_event(p_event jsonb)
returns text
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_object jsonb := p_event -> 'data' -> 'object';
  v_is_session boolean := v_object ->> 'object' = 'checkout.session';
  v_previous text;
begin
  if p_event ->> 'object' is distinct from 'event'
    or coalesce(p_event ->> 'id', '') !~ '^evt_[A-Za-z0-9_]+$'
    or p_event ->> 'type' is null
    or pg_catalog.jsonb_typeof(p_event -> 'created') is distinct from 'number'
    or pg_catalog.jsonb_typeof(v_object) is distinct from 'object'
  then
    raise exception 'not a Stripe event' using errcode = '22023';
  end if;

  insert into public.stripe_events (
    id, type, created, livemode, api_version, checkout_session_id, payment_intent_id,
    object_id, payment_fact, amount_total, currency, payload
  )
  values (
    p_event ->> 'id',
    p_event ->> 'type',
    pg_catalog.to_timestamp((p_event ->> 'created')::double precision),
    coalesce((p_event ->> 'livemode')::boolean, false),
    p_event ->> 'api_version',
    case when v_is_session and private.is_checkout_session_id(v_object ->> 'id') then v_object ->> 'id' end,
    nullif(v_object ->> 'payment_intent', ''),
    v_object ->> 'id',
    private.payment_fact(p_event ->> 'type', v_object),
    case when v_is_session then private.json_amount(v_object -> 'amount_total') end,
    case when v_is_session then pg_catalog.lower(v_object ->> 'currency') end,
    p_event
  )
  on conflict (id) do nothing;

  if found then
    return 'new';
  end if;

  select e.outcome into v_previous from public.stripe_events as e where e.id = p_event ->> 'id' for update;
  if v_previous = 'error' then
    update public.stripe_events set error = null where id = p_event ->> 'id';
    return 'retry';
  end if;
  return 'duplicate';
end;
$$;

revoke all on all functions in schema private from public, anon, authenticated, service_role;

-- security definer: writes checkout_sessions; callable by service_role only.
-- Answers {"outcome": "attached" | "existing" | "rejected", "reason" (rejected only), "id", "url"}.
create or replace function public.attach_checkout_session(p_session jsonb)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_refs record := private.session_refs(p_session);
  v_session_id text := v_refs.session_id;
  v_payment_intent text := nullif(p_session ->> 'payment_intent', '');
  v_row public.checkout_sessions;
  v_contradicts text[];
  v_reason text;
begin
  if v_refs.problem = 'not_a_checkout_session' then
    return pg_catalog.jsonb_build_object(
      'outcome', 'rejected', 'reason', v_refs.problem, 'id', v_session_id, 'url', null
    );
  end if;

  -- the webhook may be recording this very session (the learner paid at once)
  perform private.lock('checkout_session', v_session_id);
  if v_payment_intent is not null then
    perform private.lock('payment_intent', v_payment_intent);
  end if;

  -- known already (a retried attach, or the webhook came first): it must say the same
  select * into v_row from public.checkout_sessions where id = v_session_id;
  if found then
    perform private.lock('purchase', v_row.user_id::text || ':' || v_row.lesson_id::text);
    v_contradicts := private.session_contradictions(v_row, p_session, false);
    if pg_catalog.cardinality(v_contradicts) > 0 then
      perform private.record_contradiction(v_row, p_session, v_contradicts, 'attach', null);
      return pg_catalog.jsonb_build_object(
        'outcome', 'rejected', 'reason', 'contradiction', 'id', v_session_id, 'url', null
      );
    end if;
    return pg_catalog.jsonb_build_object('outcome', 'existing', 'id', v_session_id, 'url', p_session ->> 'url');
  end if;

  v_reason := coalesce(v_refs.problem, private.price_problem(p_session, v_refs.user_id, v_refs.lesson_id));
  if v_reason is not null then
    return pg_catalog.jsonb_build_object('outcome', 'rejected', 'reason', v_reason, 'id', v_session_id, 'url', null);
  end if;

  insert into public.checkout_sessions (
    id, user_id, lesson_id, amount_total, currency, status, url,
    stripe_customer_id, expires_at, created_at
  )
  values (
    v_session_id, v_refs.user_id, v_refs.lesson_id, (p_session ->> 'amount_total')::bigint,
    pg_catalog.lower(p_session ->> 'currency'),
    'open', p_session ->> 'url',
    nullif(p_session ->> 'customer', ''),
    pg_catalog.to_timestamp((p_session ->> 'expires_at')::double precision),
    coalesce(pg_catalog.to_timestamp((p_session ->> 'created')::double precision), pg_catalog.now())
  );
  return pg_catalog.jsonb_build_object('outcome', 'attached', 'id', v_session_id, 'url', p_session ->> 'url');
end;
$$;

comment on function public.attach_checkout_session(jsonb) is
'Record the Checkout Session Stripe just created, after checking it against the lesson price: {outcome, reason, id, url}.';

-- =============================================================================================
-- views
-- =============================================================================================

create view public.payments_needing_attention
with (security_invoker = true)
as
select
  'checkout_session' as source,
  s.id as reference,
  s.fulfilment as reason,
  s.user_id,
  s.lesson_id,
  s.amount_total,
  s.currency,
  s.stripe_payment_intent_id,
  s.paid_at as since
from public.checkout_sessions as s
where
  s.payment_status = 'paid'
  and s.fulfilment <> 'granted'
  and not exists (
    select 1 from public.stripe_events as e
    where e.payment_intent_id = s.stripe_payment_intent_id and e.payment_fact = 'refund'
  )
union all
select
  'stripe_event' as source,
  e.id as reference,
  coalesce(e.outcome, 'unprocessed') || coalesce(':' || e.outcome_reason, '') || coalesce(': ' || e.error, '') as reason,
  null as user_id,
  null as lesson_id,
  e.amount_total,
  e.currency,
  e.payment_intent_id,
  e.received_at as since
from public.stripe_events as e
where
  (e.outcome = 'error' or (e.outcome = 'rejected' and e.outcome_reason <> 'contradiction'))
  and not exists (
    select 1 from public.checkout_sessions as s
    where s.id = e.checkout_session_id and s.fulfilment like 'rejected:%'
  )
union all
select
  'contradiction' as source,
  c.checkout_session_id as reference,
  'contradiction:' || pg_catalog.array_to_string(c.fields, ',') as reason,
  s.user_id,
  s.lesson_id,
  (c.claimed ->> 'amount_total')::bigint as amount_total,
  c.claimed ->> 'currency' as currency,
  c.payment_intent_id as stripe_payment_intent_id,
  c.received_at as since
from public.checkout_session_contradictions as c
inner join public.checkout_sessions as s on c.checkout_session_id = s.id
where c.resolved_at is null;

comment on view public.payments_needing_attention is
'Paid but not granted (rejected, charged twice), failed events, and contradicting claims: each needs an operator.';

-- =============================================================================================
-- grants
-- =============================================================================================

revoke all on public.payments_needing_attention from public, anon, authenticated;
grant select on public.payments_needing_attention to service_role;
