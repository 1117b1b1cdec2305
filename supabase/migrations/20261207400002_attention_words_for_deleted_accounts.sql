-- A paid session of a deleted account (rejected:account_deleted, 20261207300000) is listed for
-- the operator in words, like every other reason: the attention view's words gain it.
--
-- Written by `make migration NAME=attention_words_for_deleted_accounts`: supabase db diff --use-pg-delta (Supabase
-- CLI 2.117.0) from a database built by supabase db push to one built
-- from supabase/schemas.

drop view public.payments_needing_attention;

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

revoke all on public.payments_needing_attention from public, anon, authenticated;
grant select on public.payments_needing_attention to service_role;
