-- The attention list as a tool: every item of payments_needing_attention gets an id an
-- operator names, what happened in words, the learner's email and a suggested action;
-- resolve_attention resolves one, keeping who and why (attention_resolutions), instead of a
-- hand-written update; attention_summary gives the count and the oldest item's age for
-- monitoring. Two sources join the list: payments whose refunds and disputes contradict each
-- other (refund_dispute), and paid sessions a sync could not match to a learner or lesson
-- (unmatched_checkout_sessions, written by sync_checkout_session), which reconcile used only
-- to print.

set local check_function_bodies = off;

drop view public.payments_needing_attention;

create table public.attention_resolutions (
  item_id     text                     not null,
  note        text                     not null,
  resolved_by text                     not null,
  resolved_at timestamp with time zone not null default now(),
  constraint attention_resolutions_by_present check ((btrim(resolved_by) <> ''::text)),
  constraint attention_resolutions_item_format check ((item_id ~ '^[a-z_]+:.+$'::text)),
  constraint attention_resolutions_note_present check ((btrim(note) <> ''::text)),
  constraint attention_resolutions_pkey primary key (item_id)
);

alter table public.attention_resolutions
  enable row level security;

create table public.unmatched_checkout_sessions (
  id                public.checkout_session_id not null,
  reason            text                       not null,
  payment_intent_id text,
  amount_total      bigint,
  currency          text,
  claimed           jsonb                      not null,
  first_seen_at     timestamp with time zone   not null default now(),
  constraint unmatched_checkout_sessions_pkey primary key (id),
  constraint unmatched_checkout_sessions_reason_format check ((reason ~ '^[a-z_]+$'::text))
);

alter table public.unmatched_checkout_sessions
  enable row level security;

create or replace function private.record_unmatched_session (
  p_session jsonb,
  p_outcome text
)
  returns void
  language plpgsql
  set search_path to ''
  as $function$
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
$function$;

create or replace function public.attention_summary (
  out open_items integer,
  out oldest_age interval
)
  returns record
  language sql
  stable
  set search_path to ''
  as $function$
  select pg_catalog.count(*)::integer, pg_catalog.now() - pg_catalog.min(a.since)
  from public.payments_needing_attention as a;
$function$;

create or replace function public.resolve_attention (
  p_item_id     text,
  p_note        text,
  p_resolved_by text
)
  returns jsonb
  language plpgsql
  security definer
  set search_path to ''
  as $function$
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
  end if;
  return pg_catalog.to_jsonb(v_row);
end;
$function$;

create or replace function public.sync_checkout_session (
  p_session jsonb
)
  returns text
  language plpgsql
  security definer
  set search_path to ''
  set enable_seqscan to 'off'
  as $function$
declare
  v_outcome text;
begin
  perform private.assert_read_committed();
  -- a session we never attached (its attach failed) is validated and recorded like any other
  v_outcome := private.apply_checkout_session(p_session, pg_catalog.now(), 'sync');
  update public.checkout_sessions set synced_at = pg_catalog.now() where id = p_session ->> 'id';
  -- paid but refused before anything was stored (its metadata cannot be read, or names a
  -- learner or lesson the shop does not have): kept so that the attention list shows it
  if v_outcome like 'rejected:%' then
    perform private.record_unmatched_session(p_session, v_outcome);
  end if;
  return v_outcome;
end;
$function$;

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
  ('not_a_refund', 'its refund cannot be read')
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
) as i
left join auth.users as u on i.user_id = u.id
where not exists (select 1 from public.attention_resolutions as r where r.item_id = i.id);

create index unmatched_checkout_sessions_payment_intent_idx on public.unmatched_checkout_sessions (payment_intent_id)
where payment_intent_id is not null;

comment on table public.attention_resolutions is
'Attention items an operator resolved: who and why. Written by resolve_attention only.';

comment on table public.unmatched_checkout_sessions is
'Paid Checkout Sessions read back from Stripe that no learner or lesson could be matched to; listed for an operator.';

comment on function public.resolve_attention(text, text, text) is
'Resolve one item of payments_needing_attention by its id, keeping who and why; refuses an unknown id or an empty note.';

comment on function public.attention_summary() is
'The attention list''s count and its oldest item''s age, for monitoring.';

comment on view public.payments_needing_attention is 'What needs an operator, one row per item with its id, what happened, the learner''s email and what to do.';

-- =============================================================================================
-- grants: service_role only; the two tables read-only even for it (their functions write them)
-- =============================================================================================

revoke all on public.payments_needing_attention from public, anon, authenticated;
grant select on public.payments_needing_attention to service_role;

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
