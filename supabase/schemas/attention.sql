-- Money taken without access granted is never silent.
--
-- payments_needing_attention lists what an operator must act on (usually: refund it), one row
-- per item, each with a stable id an operator names (`source:reference`, e.g.
-- 'checkout_session:cs_test_a1…'; a contradiction by its own number, a refund/dispute item with
-- its situation: 'refund_dispute:cs_test_a1…:dispute_open'), what happened in words, the learner's email when the
-- learner is known, the amount, since when, and what to do. Its sources, one union arm each:
--   * checkout_session: paid Checkout Sessions that were rejected or that charged a learner for
--     a lesson they already owned;
--   * stripe_event: events that were rejected or failed before a session could be matched, and
--     refunds or disputes of a payment nobody knows ('deferred') once they have waited an hour
--     for their purchase (Stripe delivers a purchase's events within seconds, and reconcile
--     runs hourly);
--   * contradiction: claims that contradicted a session;
--   * refund_dispute: payments whose refunds and disputes contradict each other: refunded in
--     full and disputed (open: the dispute must be answered with the refund as evidence; lost:
--     the learner was repaid twice), or refunds adding up to more than was charged;
--   * unmatched_session: paid sessions reconcile (or the return page) read back from Stripe
--     whose metadata names no learner or lesson this shop knows, so nothing could record them;
--   * early_fraud_warning: card issuers' warnings the shop did not act on by itself
--     (fraud_warnings.sql): not actionable, already refunded or disputed, EFW_AUTO_REFUND off,
--     a payment that granted nothing, and fraud refunds Stripe refused or that failed since.
--     A warning whose payment is unknown waits as its event does ('deferred', stripe_event).
-- Items leave by themselves once settled: a session refunded in full (pending or succeeded:
-- the payment record's amount_refunded; back if that refund fails), an event applied on
-- redelivery, a dispute closed as won. Everything else leaves when an operator resolves it
-- with resolve_attention (who and why are kept in attention_resolutions).

-- =============================================================================================
-- tables
-- =============================================================================================

create table public.attention_resolutions (
  -- the item's id as payments_needing_attention lists it, e.g. 'checkout_session:cs_test_a1…'
  item_id text primary key constraint attention_resolutions_item_format check (item_id ~ '^[a-z_]+:.+$'),
  -- why, in the operator's words
  note text not null constraint attention_resolutions_note_present check (btrim(note) <> ''),
  -- who: the operator's name (the OS user running `sidecar resolve`, or its --by)
  resolved_by text not null constraint attention_resolutions_by_present check (btrim(resolved_by) <> ''),
  resolved_at timestamptz not null default now()
);

comment on table public.attention_resolutions is
'Attention items an operator resolved: who and why. Written by resolve_attention only.';

create table public.unmatched_checkout_sessions (
  -- Checkout Session id, e.g. cs_test_a1YS1URlnyQCN5fUUduORoQ7Pw41PJqDWkIVQCpJPqkfIhd6tVY8XB1OLY
  id public.checkout_session_id primary key,
  -- why it could not be recorded: the refusal's reason, e.g. 'bad_metadata', 'unknown_user'
  reason text not null constraint unmatched_checkout_sessions_reason_format check (reason ~ '^[a-z_]+$'),
  -- PaymentIntent id it was paid with, e.g. pi_3MtwBwLkdIwHu7ix28a3tqPa (what to refund)
  payment_intent_id text,
  amount_total bigint,
  currency text,
  -- what the session claimed: ids, amounts and statuses (never names or emails)
  claimed jsonb not null,
  first_seen_at timestamptz not null default now()
);

comment on table public.unmatched_checkout_sessions is
'Paid Checkout Sessions read back from Stripe that no learner or lesson could be matched to; listed for an operator.';

-- =============================================================================================
-- indexes
-- =============================================================================================

create index unmatched_checkout_sessions_payment_intent_idx on public.unmatched_checkout_sessions (payment_intent_id)
  where payment_intent_id is not null;

-- =============================================================================================
-- RLS
-- =============================================================================================

alter table public.attention_resolutions enable row level security;
alter table public.unmatched_checkout_sessions enable row level security;
-- no policies: written and read by service_role only (through the functions below)

-- =============================================================================================
-- views
-- =============================================================================================

create view public.payments_needing_attention
with (security_invoker = true)
as
with reasons (reason, words) as (
  values
  ('amount_mismatch', 'the amount differs from the lesson''s price'),
  ('currency_mismatch', 'the currency differs from the lesson''s'),
  ('session_mismatch', 'it names another learner or lesson than the session the shop opened'),
  ('unknown_lesson', 'it names a lesson the shop does not have'),
  ('unknown_user', 'it names a learner the shop does not have'),
  ('bad_metadata', 'its metadata names no learner or lesson the shop can read'),
  ('user_mismatch', 'its client_reference_id and metadata name different learners'),
  ('not_a_payment', 'it is not a one-off payment'),
  ('not_a_checkout_session', 'it is not a Checkout Session'),
  ('no_payment_required', 'it was free without a promotion code'),
  ('refund_mismatch', 'a refund names another payment than it did before'),
  ('not_a_refund', 'its refund cannot be read'),
  ('account_deleted', 'the learner deleted their account before it was paid')
)

select
  i.source,
  i.reference,
  i.reason,
  i.user_id,
  i.lesson_id,
  i.amount_total,
  i.currency,
  i.stripe_payment_intent_id,
  i.since,
  i.id,
  i.what,
  u.email::text as email,
  i.suggested_action
from (
  select
    'checkout_session' as source,
    s.id as reference,
    s.fulfilment as reason,
    s.user_id,
    s.lesson_id,
    s.amount_total,
    s.currency,
    s.stripe_payment_intent_id,
    s.paid_at as since,
    'checkout_session:' || s.id as id,
    case
      when s.fulfilment = 'already_owned' then 'Paid for a lesson they already owned'
      else 'Paid but not granted: ' || coalesce(
        (select r.words from reasons as r where 'rejected:' || r.reason = s.fulfilment),
        pg_catalog.replace(pg_catalog.substr(s.fulfilment, 10), '_', ' ')
      )
    end as what,
    'Refund the payment in Stripe (the item leaves once refunded), or grant the lesson by hand and resolve it' as suggested_action
  from public.checkout_sessions as s
  where
    -- paid and not granted (purchases.sql), unless refunded in full (what was charged)
    s.needs_attention
    and s.amount_refunded < s.amount_paid
  union all
  select
    'stripe_event' as source,
    -- the outcome word with its reason, e.g. 'rejected:amount_mismatch', then any error
    e.id as reference,
    coalesce(e.outcome, 'unprocessed') || coalesce(':' || e.outcome_reason, '') || coalesce(': ' || e.error, '') as reason,
    (select s.user_id from public.checkout_sessions as s where s.id = e.checkout_session_id) as user_id,
    (select s.lesson_id from public.checkout_sessions as s where s.id = e.checkout_session_id) as lesson_id,
    e.amount_total,
    e.currency,
    e.payment_intent_id,
    e.received_at as since,
    'stripe_event:' || e.id as id,
    case e.outcome
      when 'error' then 'A ' || e.type || ' event could not be applied: ' || coalesce(e.error, 'unknown error')
      when 'deferred' then 'A ' || e.type || ' event names a payment the shop does not know'
      else 'A ' || e.type || ' event was rejected: ' || coalesce(
        (select r.words from reasons as r where r.reason = e.outcome_reason),
        pg_catalog.replace(e.outcome_reason, '_', ' ')
      )
    end as what,
    case e.outcome
      when 'error' then 'Fix the cause; a redelivery or `sidecar reconcile` applies it again'
      when 'deferred' then 'Find the payment in Stripe; resolve it once accounted for'
      else 'Check the payment in Stripe and refund it if money was taken; then resolve it'
    end as suggested_action
  from public.stripe_events as e
  where
    e.unsettled
    and (
      e.outcome = 'error'
      or (e.outcome = 'rejected' and e.outcome_reason <> 'contradiction')
      or (e.outcome = 'deferred' and e.received_at < pg_catalog.now() - interval '1 hour')
    )
    and not exists (
      select 1 from public.checkout_sessions as s
      where s.id = e.checkout_session_id and s.fulfilment like 'rejected:%'
    )
    -- a refund or dispute of an unmatched session is that session's business
    and not exists (
      select 1 from public.unmatched_checkout_sessions as m
      where e.outcome = 'deferred' and m.payment_intent_id = e.payment_intent_id
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
    c.received_at as since,
    'contradiction:' || c.id as id,
    'Stripe said something else about a paid session: ' || pg_catalog.array_to_string(c.fields, ', ') as what,
    'Compare the session in Stripe with the purchase; refund if money was taken twice, then resolve it' as suggested_action
  from public.checkout_session_contradictions as c
  inner join public.checkout_sessions as s on c.checkout_session_id = s.id
  where c.resolved_at is null
  union all
  select
    'refund_dispute' as source,
    s.id as reference,
    case
      when s.amount_refunded > s.amount_paid then 'refunded_over_charge'
      else 'refunded_and_dispute_' || s.dispute_status
    end as reason,
    s.user_id,
    s.lesson_id,
    s.amount_paid as amount_total,
    s.currency,
    s.stripe_payment_intent_id,
    greatest(
      s.refunded_at,
      (
        select pg_catalog.max(e.created) from public.stripe_events as e
        where e.payment_intent_id = s.stripe_payment_intent_id and e.payment_fact like 'dispute_%'
      )
    ) as since,
    -- the situation is part of the id: a dispute resolved while open that is then lost is a
    -- new item
    'refund_dispute:' || s.id || ':' || case
      when s.amount_refunded > s.amount_paid then 'over_charge'
      else 'dispute_' || s.dispute_status
    end as id,
    case
      when s.amount_refunded > s.amount_paid
        then 'Refunds add up to ' || s.amount_refunded || ', more than the ' || s.amount_paid || ' charged'
      when s.dispute_status = 'open' then 'Disputed after a full refund'
      else 'Dispute lost after a full refund: the learner was repaid twice'
    end as what,
    case
      when s.amount_refunded > s.amount_paid then 'Compare the refunds in Stripe with the payment; then resolve it'
      when s.dispute_status = 'open' then 'Answer the dispute in Stripe with the refund as evidence (it leaves once won)'
      else 'Ask the learner or the card issuer to return the second repayment; then resolve it'
    end as suggested_action
  from public.checkout_sessions as s
  where
    s.payment_status = 'paid'
    and (s.dispute_status is not null or s.amount_refunded > 0)
    and (
      s.amount_refunded > s.amount_paid
      or (s.dispute_status in ('open', 'lost') and s.amount_refunded >= s.amount_paid and s.amount_paid > 0)
    )
  union all
  select
    'unmatched_session' as source,
    m.id as reference,
    'rejected:' || m.reason as reason,
    null as user_id,
    null as lesson_id,
    m.amount_total,
    m.currency,
    m.payment_intent_id,
    m.first_seen_at as since,
    'unmatched_session:' || m.id as id,
    'Paid but not recorded: ' || coalesce(
      (select r.words from reasons as r where r.reason = m.reason), pg_catalog.replace(m.reason, '_', ' ')
    ) as what,
    'Refund the payment in Stripe (the item leaves once refunded), or grant the lesson by hand and resolve it' as suggested_action
  from public.unmatched_checkout_sessions as m
  where
    -- recorded since (its metadata was mended), or a webhook's event already lists it
    not exists (select 1 from public.checkout_sessions as s where s.id = m.id)
    and not exists (select 1 from public.stripe_events as e where e.checkout_session_id = m.id)
    -- refunded in full
    and not exists (
      select 1 from public.stripe_events as e
      where
        e.payment_intent_id = m.payment_intent_id
        and e.payment_fact = 'refund'
        and (e.outcome is null or e.outcome not in ('error', 'rejected'))
    )
  union all
  select
    'early_fraud_warning' as source,
    w.id as reference,
    'early_fraud_warning:' || case
      when r.refused_code is not null then 'refund_refused:' || r.refused_code
      when w.action = 'refund' then 'refund_failed'
      else w.action_reason
    end as reason,
    s.user_id,
    s.lesson_id,
    s.amount_paid as amount_total,
    s.currency,
    w.payment_intent_id as stripe_payment_intent_id,
    w.received_at as since,
    'early_fraud_warning:' || w.id as id,
    'The card issuer flagged the payment as fraud (' || coalesce(pg_catalog.replace(w.fraud_type, '_', ' '), 'unknown type') || '): ' || case
      when r.refused_code is not null then 'Stripe refused its refund (' || r.refused_code || ')'
      when w.action = 'refund' then 'its refund failed; access stays closed'
      when w.action_reason = 'not_actionable' then 'not actionable'
      when w.action_reason = 'already_refunded' then 'already refunded'
      when w.action_reason = 'already_disputed' then 'already disputed'
      when w.action_reason = 'auto_refund_off' then 'not refunded, EFW_AUTO_REFUND is off'
      when w.action_reason = 'not_granted' then 'the payment granted nothing'
      else pg_catalog.replace(w.action_reason, '_', ' ')
    end as what,
    case
      when w.action_reason = 'already_refunded' then 'Nothing to refund; resolve it once noted'
      when w.action_reason = 'already_disputed' then 'Answer the dispute in Stripe; then resolve it'
      when w.action_reason = 'not_actionable' then 'Review the payment in Stripe and refund it if you judge it fraudulent; then resolve it'
      else 'Refund the payment in Stripe to avoid a dispute and its fee; then resolve it'
    end as suggested_action
  from public.early_fraud_warnings as w
  left join public.early_fraud_warning_refunds as r
    on w.payment_intent_id = r.payment_intent_id and w.id = r.early_fraud_warning_id
  left join lateral (
    select
      s1.user_id,
      s1.lesson_id,
      s1.amount_paid,
      s1.currency
    from public.checkout_sessions as s1
    where s1.stripe_payment_intent_id = w.payment_intent_id and s1.payment_status = 'paid'
    order by s1.paid_at
    limit 1
  ) as s on true
  where
    w.resolved_at is null
    and (
      w.action = 'list'
      or r.refused_code is not null
      -- the refund was made and has failed or been canceled since: the money stayed, access ended
      or exists (
        select 1 from public.stripe_events as e
        where e.object_id = r.refund_id and e.refund_status in ('failed', 'canceled')
      )
    )
) as i
left join auth.users as u on i.user_id = u.id
where not exists (select 1 from public.attention_resolutions as r where r.item_id = i.id);

comment on view public.payments_needing_attention is
'What needs an operator, one row per item with its id, what happened, the learner''s email and what to do.';

-- =============================================================================================
-- functions
-- =============================================================================================

-- Keep a paid session that a sync (reconcile, the return page) refused before anything could
-- be recorded for it, so that the attention list shows it. The caller holds nothing: the
-- insert is idempotent.
create or replace function private.record_unmatched_session(p_session jsonb, p_outcome text)
returns void
language plpgsql
security invoker
set search_path = ''
as $$
begin
  if p_outcome not like 'rejected:%'
    or not private.is_checkout_session_id(p_session ->> 'id')
    or exists (select 1 from public.checkout_sessions as s where s.id = p_session ->> 'id')
  then
    return;
  end if;
  insert into public.unmatched_checkout_sessions (id, reason, payment_intent_id, amount_total, currency, claimed)
  values (
    p_session ->> 'id',
    pg_catalog.substr(p_outcome, 10),
    nullif(p_session ->> 'payment_intent', ''),
    private.json_amount(p_session -> 'amount_total'),
    pg_catalog.lower(p_session ->> 'currency'),
    private.session_claims(p_session)
  )
  on conflict (id) do nothing;
end;
$$;

-- security definer: writes attention_resolutions, which no API role may write; callable by
-- service_role only.
create or replace function public.resolve_attention(p_item_id text, p_note text, p_resolved_by text)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_row public.attention_resolutions;
begin
  if p_note is null or pg_catalog.btrim(p_note) = '' then
    raise exception 'a note saying why is required to resolve %', p_item_id using errcode = '22023';
  end if;
  if p_resolved_by is null or pg_catalog.btrim(p_resolved_by) = '' then
    raise exception 'who resolves % is required', p_item_id using errcode = '22023';
  end if;
  perform private.lock('attention', coalesce(p_item_id, ''));
  if not exists (select 1 from public.payments_needing_attention as a where a.id = p_item_id) then
    if exists (select 1 from public.attention_resolutions as r where r.item_id = p_item_id) then
      raise exception 'attention item % is already resolved', p_item_id using errcode = 'P0002';
    end if;
    raise exception 'no attention item %', coalesce(p_item_id, 'null')
      using errcode = 'P0002', hint = 'sidecar attention lists the open items and their ids';
  end if;
  insert into public.attention_resolutions (item_id, note, resolved_by)
  values (p_item_id, pg_catalog.btrim(p_note), pg_catalog.btrim(p_resolved_by))
  returning * into v_row;
  if p_item_id like 'contradiction:%' then
    update public.checkout_session_contradictions
    set resolved_at = v_row.resolved_at
    where id = pg_catalog.substr(p_item_id, 15)::bigint;
  elsif p_item_id like 'early_fraud_warning:%' then
    update public.early_fraud_warnings
    set resolved_at = v_row.resolved_at
    where id = pg_catalog.substr(p_item_id, 21);
  end if;
  return pg_catalog.to_jsonb(v_row);
end;
$$;

comment on function public.resolve_attention(text, text, text) is
'Resolve one item of payments_needing_attention by its id, keeping who and why; refuses an unknown id or an empty note.';

-- How many items are open and how long the oldest has waited (null when none): what a daily
-- job sends to the operator's monitoring.
create or replace function public.attention_summary(out open_items integer, out oldest_age interval)
language sql
stable
security invoker
set search_path = ''
as $$
  select pg_catalog.count(*)::integer, pg_catalog.now() - pg_catalog.min(a.since)
  from public.payments_needing_attention as a;
$$;

comment on function public.attention_summary() is
'The attention list''s count and its oldest item''s age, for monitoring.';

-- =============================================================================================
-- grants: service_role only
-- =============================================================================================

revoke all on public.payments_needing_attention from public, anon, authenticated;
grant select on public.payments_needing_attention to service_role;

-- read-only even for service_role: resolve_attention and sync_checkout_session are their only
-- writers, so no hand-written update can resolve an item without saying who and why
revoke all on public.attention_resolutions, public.unmatched_checkout_sessions
from public, anon, authenticated, service_role;
grant select on public.attention_resolutions, public.unmatched_checkout_sessions to service_role;

revoke all on function private.record_unmatched_session(jsonb, text)
from public, anon, authenticated, service_role;

revoke execute on function
  public.resolve_attention(text, text, text),
  public.attention_summary()
from public, anon, authenticated;

grant execute on function
  public.resolve_attention(text, text, text),
  public.attention_summary()
to service_role;
