-- Half the writes per purchase: the usual updates are HOT.
--
-- A new purchase updated its event (finish_event: outcome 'recorded') and granted its
-- Checkout Session (settle_purchase: fulfilment 'granted'), and neither update could be HOT:
-- outcome sat in the predicate of stripe_events_unsettled_idx, fulfilment in that of
-- checkout_sessions_needing_attention_idx, whose key updated_at the touch trigger moves on
-- every update. So each wrote a new entry in every index of its table (7 of the 24 index
-- insertions of a purchase, `make bench`, wal_bytes_per_purchase). Both attention lists now
-- filter on a generated column that those updates leave as it was (false), and the sessions'
-- index is keyed on created_at, which no update changes. payments_needing_attention reads
-- the same rows through the same indexes.
--
-- Adding a stored generated column rewrites the table (under an exclusive lock): run it when
-- the shop is quiet.

-- =============================================================================================
-- tables
-- =============================================================================================

alter table public.stripe_events
add column unsettled boolean generated always as (coalesce(outcome in ('error', 'deferred', 'rejected'), false)) stored;

alter table public.checkout_sessions
add column needs_attention boolean generated always as (
  coalesce(payment_status = 'paid' and fulfilment <> 'granted', false)
) stored;

-- =============================================================================================
-- indexes
-- =============================================================================================

drop index public.stripe_events_unsettled_idx;
create index stripe_events_unsettled_idx on public.stripe_events (received_at)
where unsettled;

drop index public.checkout_sessions_needing_attention_idx;
create index checkout_sessions_needing_attention_idx on public.checkout_sessions (created_at)
where needs_attention;

-- =============================================================================================
-- views
-- =============================================================================================

create or replace view public.payments_needing_attention
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
  -- paid and not granted (purchases.sql)
  s.needs_attention
  and not exists (
    select 1 from public.stripe_events as e
    where e.payment_intent_id = s.stripe_payment_intent_id and e.payment_fact = 'refund'
  )
union all
select
  'stripe_event' as source,
  -- the outcome word with its reason, e.g. 'rejected:amount_mismatch', then any error
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
  e.unsettled
  and (e.outcome = 'error' or (e.outcome = 'rejected' and e.outcome_reason <> 'contradiction'))
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
