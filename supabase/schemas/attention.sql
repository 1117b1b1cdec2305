-- Money taken without access granted is never silent.
--
-- payments_needing_attention lists what an operator must act on (usually: refund it): paid
-- Checkout Sessions that were rejected or that charged a learner for a lesson they already
-- owned, events that were rejected or failed before a session could be matched, and claims
-- that contradicted a session (until an operator sets their resolved_at). Refunded payments
-- drop off the list once a refund of the whole amount is known (pending or succeeded: the
-- payment record's amount_refunded), and come back if that refund fails or is canceled. A
-- refund or dispute of a payment nobody knows ('deferred') is listed once it has waited an
-- hour for its purchase (Stripe delivers a purchase's events within seconds, and reconcile
-- runs hourly). Early fraud warnings the shop did not act on by itself are listed too.

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
  -- paid and not granted (purchases.sql), unless refunded in full (what was charged)
  s.needs_attention
  and s.amount_refunded < s.amount_paid
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
  and (
    e.outcome = 'error'
    or (e.outcome = 'rejected' and e.outcome_reason <> 'contradiction')
    or (e.outcome = 'deferred' and e.received_at < pg_catalog.now() - interval '1 hour')
  )
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
where c.resolved_at is null
union all
-- early fraud warnings an operator must decide (fraud_warnings.sql): listed ones (not
-- actionable, already refunded or disputed, EFW_AUTO_REFUND off, a payment that granted
-- nothing, no payment intent) and those whose refund Stripe refused or that failed, until an
-- operator sets resolved_at. A warning whose payment is unknown waits as its event does
-- ('deferred', listed above after an hour).
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
  w.received_at as since
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
  );

comment on view public.payments_needing_attention is
'Paid but not granted (rejected, charged twice), failed events, and contradicting claims: each needs an operator.';

-- =============================================================================================
-- grants: service_role only
-- =============================================================================================

revoke all on public.payments_needing_attention from public, anon, authenticated;
grant select on public.payments_needing_attention to service_role;
