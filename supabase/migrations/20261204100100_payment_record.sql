-- The payment record: the Purchases page lists payments, not ownership.
--
-- purchase_list() now returns one row per Checkout Session of the learner's that reached
-- payment (processing, failed, or paid, whatever happened to it since) with its state in words
-- (a payment_state: processing, paid, failed, refunded, partly_refunded, disputed, dispute_won,
-- dispute_lost), how it was paid as Stripe reports it (card brand and last 4), the PaymentIntent
-- id to quote to support, what was refunded and when, and the charge's receipt link.
-- purchase_history(), which listed ownership rows, is dropped: purchase_list() is the one
-- payment record, the one the page reads.
--
-- The facts come from charge events. charge.succeeded (newly handled), charge.refunded and the
-- dispute events are stored with what they say about the charge taken out (payment method,
-- card brand and last 4, receipt_url, amount_refunded), so the record survives the payload
-- being cleared after 30 days. private.settle_payment_record re-derives a session's record from
-- every event of its payment intent each time one arrives, or when the session itself does, so
-- a charge.succeeded that comes before checkout.session.completed still ends up on the row. It
-- never touches access: that stays settle_purchase's.
--
-- A receipt URL is a public.receipt_url (https, or the offline stand-in's http://127.0.0.1 /
-- localhost pages) and, for a live-mode event, https only; any other is dropped when the event
-- is stored.
--
-- lesson_catalog() says why each lesson is or is not the caller's (the lesson_access values
-- added by 20261204100000_lesson_access_states.sql) and since when (access_changed_at). A
-- column cannot be added to a function's result with `create or replace`, so lesson_catalog()
-- and purchase_list() are dropped and made again, with their grants. Learners may now read a
-- lesson unpublished after they paid for it (or a payment for it is processing or failed), so
-- that its title stays on their Purchases page.
--
-- Columns are added without a rewrite (nullable, or a constant default); their checks are
-- added not valid and validated in place (a scan that does not block writes). The record of
-- payments already stored is then derived from their events, from the payloads still kept.

-- =============================================================================================
-- domains and types
-- =============================================================================================

-- A charge's receipt page, e.g. https://pay.stripe.com/receipts/payment/CAcaFwoV…, shown to the
-- learner as a link (never as HTML). https only, except the offline Stripe stand-in's own
-- pages on this machine (http://127.0.0.1:12111/…, http://localhost:12111/…); a live-mode event
-- may not use even those (stripe_events_live_receipt_url_https, private.receipt_url). No
-- spaces, quotes or angle brackets, at most 2,048 characters.
create domain public.receipt_url as text
constraint receipt_url_format check (
  length(value) <= 2048
  and (
    value ~ '^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[^[:space:][:cntrl:]"<>\\`]*)?$'
    or value ~ '^http://(127\.0\.0\.1|localhost)(:[0-9]{1,5})?(/[^[:space:][:cntrl:]"<>\\`]*)?$'
  )
);

comment on domain public.receipt_url is
'A Stripe receipt link: https, or the offline stand-in''s http://127.0.0.1 / localhost in test mode only.';

create type public.payment_state as enum (
  'processing', 'paid', 'failed', 'refunded', 'partly_refunded', 'disputed', 'dispute_won', 'dispute_lost'
);

comment on type public.payment_state is
'Where one payment (a Checkout Session that reached payment) stands, as the Purchases page shows it.';

-- =============================================================================================
-- tables
-- =============================================================================================

alter table public.stripe_events
add column payment_method_type text,
add column card_brand text,
add column card_last4 text,
add column receipt_url public.receipt_url,
add column amount_refunded bigint;

alter table public.stripe_events
add constraint stripe_events_live_receipt_url_https
check (receipt_url is null or not livemode or receipt_url like 'https://%') not valid,
add constraint stripe_events_charge_facts_format check (
  payment_method_type ~ '^[a-z0-9_]{1,50}$'
  and card_brand ~ '^[a-z0-9_]{1,30}$'
  and card_last4 ~ '^[0-9]{4}$'
  and amount_refunded >= 0
) not valid;

alter table public.stripe_events validate constraint stripe_events_live_receipt_url_https;
alter table public.stripe_events validate constraint stripe_events_charge_facts_format;

alter table public.checkout_sessions
add column payment_method_type text,
add column card_brand text,
add column card_last4 text,
add column receipt_url public.receipt_url,
add column amount_refunded bigint not null default 0,
add column refunded_at timestamptz,
add column dispute_status text;

alter table public.checkout_sessions
add constraint checkout_sessions_card_last4_format check (card_last4 ~ '^[0-9]{4}$') not valid,
add constraint checkout_sessions_refund_range check (amount_refunded >= 0) not valid,
add constraint checkout_sessions_dispute_status_check check (dispute_status in ('open', 'won', 'lost')) not valid,
add constraint checkout_sessions_refunded_has_time check ((amount_refunded > 0) = (refunded_at is not null)) not valid;

alter table public.checkout_sessions validate constraint checkout_sessions_card_last4_format;
alter table public.checkout_sessions validate constraint checkout_sessions_refund_range;
alter table public.checkout_sessions validate constraint checkout_sessions_dispute_status_check;
alter table public.checkout_sessions validate constraint checkout_sessions_refunded_has_time;

-- =============================================================================================
-- row level security
-- =============================================================================================

-- a lesson unpublished after the learner paid for it (or tried to) keeps its title on their
-- Purchases page
alter policy "learners read published lessons and lessons they bought"
on public.lessons
using (
  published
  or exists (
    select 1 from public.purchased_lessons as p
    where p.lesson_id = lessons.id and p.user_id = (select auth.uid())
  )
  or exists (
    select 1 from public.checkout_sessions as s
    where
      s.lesson_id = lessons.id
      and s.user_id = (select auth.uid())
      and (s.payment_status = 'paid' or s.status in ('processing', 'failed'))
  )
);

-- =============================================================================================
-- private helpers: the charge facts and the payment record
-- =============================================================================================

-- A charge's receipt_url if it may be shown as a link: a public.receipt_url, and https when
-- the event is live (the stand-in's local http pages are for test mode only); null otherwise,
-- so a bad URL is dropped and the event is still stored.
create or replace function private.receipt_url(p_url text, p_livemode boolean)
returns text
language plpgsql
immutable
security invoker
set search_path = ''
as $$
begin
  perform p_url::public.receipt_url;
  return case when p_livemode and p_url not like 'https://%' then null else p_url end;
exception
  when check_violation then
    return null;
end;
$$;

-- The text at p_value when it matches p_pattern, else null (a payload's oddities must not stop
-- the event being stored).
create or replace function private.json_word(p_value jsonb, p_pattern text)
returns text
language sql
immutable
security invoker
set search_path = ''
as $$
  select case when pg_catalog.jsonb_typeof(p_value) = 'string' and p_value #>> '{}' ~ p_pattern then p_value #>> '{}' end;
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
  v_is_charge boolean := v_object ->> 'object' = 'charge';
  v_method jsonb := v_object -> 'payment_method_details';
  v_livemode boolean := coalesce((p_event ->> 'livemode')::boolean, false);
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
    object_id, payment_fact, amount_total, currency, payload,
    payment_method_type, card_brand, card_last4, receipt_url, amount_refunded
  )
  values (
    p_event ->> 'id',
    p_event ->> 'type',
    pg_catalog.to_timestamp((p_event ->> 'created')::double precision),
    v_livemode,
    p_event ->> 'api_version',
    case when v_is_session and private.is_checkout_session_id(v_object ->> 'id') then v_object ->> 'id' end,
    nullif(v_object ->> 'payment_intent', ''),
    v_object ->> 'id',
    private.payment_fact(p_event ->> 'type', v_object),
    case when v_is_session then private.json_amount(v_object -> 'amount_total') end,
    case when v_is_session then pg_catalog.lower(v_object ->> 'currency') end,
    p_event,
    case when v_is_charge then private.json_word(v_method -> 'type', '^[a-z0-9_]{1,50}$') end,
    case when v_is_charge then private.json_word(v_method -> 'card' -> 'brand', '^[a-z0-9_]{1,30}$') end,
    case when v_is_charge then private.json_word(v_method -> 'card' -> 'last4', '^[0-9]{4}$') end,
    case when v_is_charge then private.receipt_url(private.json_word(v_object -> 'receipt_url', '.'), v_livemode) end,
    case when v_is_charge and private.json_amount(v_object -> 'amount_refunded') >= 0 then
      private.json_amount(v_object -> 'amount_refunded') end
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

-- Re-derive the payment record of the sessions paid with one payment intent (normally one)
-- from every event stored for it, so that any arrival order ends the same: how it was paid and
-- its receipt (from the newest charge event that says), what has been refunded and when that
-- total was reached (a full refund counts as the whole amount even if its payload was cleared
-- before the amount was taken out), and its disputes (each by id: lost once any event says
-- lost, won once closed otherwise, open until then). The record is what the Purchases page
-- shows; access is settle_purchase's alone. The caller holds the payment intent's lock.
create or replace function private.settle_payment_record(p_payment_intent text)
returns void
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_method record;
  v_refund record;
  v_dispute_status text;
begin
  if p_payment_intent is null then
    return;
  end if;

  select e.payment_method_type, e.card_brand, e.card_last4, e.receipt_url into v_method
  from public.stripe_events as e
  where
    e.payment_intent_id = p_payment_intent
    and (e.payment_method_type is not null or e.card_last4 is not null or e.receipt_url is not null)
    and e.outcome is distinct from 'error'
  order by e.created desc, e.id desc
  limit 1;

  select e.payment_fact = 'refund' as in_full, coalesce(e.amount_refunded, 0) as amount, e.created into v_refund
  from public.stripe_events as e
  where
    e.payment_intent_id = p_payment_intent
    and (e.amount_refunded > 0 or e.payment_fact = 'refund')
    and e.outcome is distinct from 'error'
  order by e.payment_fact = 'refund' desc, e.amount_refunded desc nulls last, e.created, e.id
  limit 1;

  select case
    when pg_catalog.bool_or(d.status = 'open') then 'open'
    when pg_catalog.bool_or(d.status = 'lost') then 'lost'
    when pg_catalog.bool_or(d.status = 'won') then 'won'
  end into v_dispute_status
  from (
    select case
      when pg_catalog.bool_or(e.payment_fact = 'dispute_lost') then 'lost'
      when pg_catalog.bool_or(e.payment_fact = 'dispute_won') then 'won'
      else 'open'
    end as status
    from public.stripe_events as e
    where
      e.payment_intent_id = p_payment_intent
      and e.payment_fact in ('dispute_opened', 'dispute_won', 'dispute_lost')
      and e.outcome is distinct from 'error'
    group by e.object_id
  ) as d;

  update public.checkout_sessions as s
  set
    payment_method_type = v_method.payment_method_type,
    card_brand = v_method.card_brand,
    card_last4 = v_method.card_last4,
    receipt_url = v_method.receipt_url,
    amount_refunded = n.amount_refunded,
    refunded_at = n.refunded_at,
    dispute_status = v_dispute_status
  from (
    select r.session_id, r.amount_refunded, case when r.amount_refunded > 0 then v_refund.created end as refunded_at
    from (
      select
        s2.id as session_id,
        case
          when v_refund.in_full then greatest(v_refund.amount, s2.amount_total)
          else coalesce(v_refund.amount, 0)
        end as amount_refunded
      from public.checkout_sessions as s2
      where s2.stripe_payment_intent_id = p_payment_intent
    ) as r
  ) as n
  where
    s.id = n.session_id
    and (s.payment_method_type, s.card_brand, s.card_last4, s.receipt_url, s.amount_refunded, s.refunded_at, s.dispute_status)
    is distinct from
    (v_method.payment_method_type, v_method.card_brand, v_method.card_last4, v_method.receipt_url,
     n.amount_refunded, n.refunded_at, v_dispute_status);
end;
$$;

-- Validate a Checkout Session (paid, pending, open or expired) against what is stored (or,
-- for a session never seen, against the lesson price) and apply it. Returns the outcome word.
-- p_source and p_event_id say where the claim came from, for a contradiction's record. The
-- caller has stored the event (if any) and handles errors.
create or replace function private.apply_checkout_session(
  p_session jsonb,
  p_seen_at timestamptz,
  p_source text,
  p_event_id text default null
)
returns text
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_refs record := private.session_refs(p_session);
  v_session_id text := v_refs.session_id;
  v_user_id uuid := v_refs.user_id;
  v_lesson_id uuid := v_refs.lesson_id;
  v_amount bigint := (p_session ->> 'amount_total')::bigint;
  v_currency text := pg_catalog.lower(p_session ->> 'currency');
  v_payment_intent text := nullif(p_session ->> 'payment_intent', '');
  v_customer text := nullif(p_session ->> 'customer', '');
  v_status text := private.session_status(p_session);
  v_paid boolean := p_session ->> 'payment_status' = 'paid';
  v_row public.checkout_sessions;
  v_before public.purchased_lessons;
  v_contradicts text[];
  v_reason text;
  v_fulfilment text;
begin
  if v_refs.problem = 'not_a_checkout_session' then
    return private.refusal(v_paid, v_refs.problem);
  end if;

  perform private.lock('checkout_session', v_session_id);
  if v_payment_intent is not null then
    perform private.lock('payment_intent', v_payment_intent);
  end if;

  select * into v_row from public.checkout_sessions where id = v_session_id;
  if found then
    perform private.lock('purchase', v_row.user_id::text || ':' || v_row.lesson_id::text);
    v_contradicts := private.session_contradictions(v_row, p_session, true);
    if pg_catalog.cardinality(v_contradicts) > 0 then
      return private.record_contradiction(v_row, p_session, v_contradicts, p_source, p_event_id);
    end if;
    if v_row.payment_status = 'paid' or v_row.fulfilment like 'rejected:%' then
      -- decided: the same claims again, so the same verdict
      v_reason := case when v_row.fulfilment like 'rejected:%' then pg_catalog.substr(v_row.fulfilment, 10) end;
    elsif v_user_id <> v_row.user_id or v_lesson_id <> v_row.lesson_id then
      v_reason := 'session_mismatch';
    elsif v_amount is distinct from v_row.amount_total then
      v_reason := 'amount_mismatch';
    elsif v_currency is distinct from v_row.currency then
      v_reason := 'currency_mismatch';
    end if;
  else
    if v_refs.problem = 'not_a_lesson_checkout' then
      return 'ignored:not_a_lesson_checkout';
    end if;
    if v_refs.problem is not null then
      return private.refusal(v_paid, v_refs.problem);
    end if;
    perform private.lock('purchase', v_user_id::text || ':' || v_lesson_id::text);
    -- a session we have no row for (its attach never ran): check it against the lesson price
    v_reason := private.price_problem(p_session, v_user_id, v_lesson_id);
    if v_reason in ('unknown_lesson', 'unknown_user') then
      return private.refusal(v_paid, v_reason);
    end if;
    insert into public.checkout_sessions (
      id, user_id, lesson_id, amount_total, currency, status, expires_at, created_at
    )
    values (
      v_session_id, v_user_id, v_lesson_id, coalesce(v_amount, 0),
      coalesce(v_currency, (select l.currency from public.lessons as l where l.id = v_lesson_id)),
      'open',
      coalesce(pg_catalog.to_timestamp((p_session ->> 'expires_at')::double precision), pg_catalog.now()),
      coalesce(pg_catalog.to_timestamp((p_session ->> 'created')::double precision), pg_catalog.now())
    )
    returning * into v_row;
  end if;

  if p_session ->> 'payment_status' = 'no_payment_required' then
    v_reason := coalesce(v_reason, 'no_payment_required');
  end if;

  update public.checkout_sessions as s
  set
    -- a payment is the last word, even on a session we had already taken for expired
    status = case
      when v_paid then 'complete'
      when private.session_status_rank(v_status) > private.session_status_rank(s.status) then v_status
      else s.status
    end,
    payment_status = case when v_paid then 'paid' else s.payment_status end,
    paid_at = case when v_paid then least(s.paid_at, p_seen_at) else s.paid_at end,
    stripe_payment_intent_id = coalesce(s.stripe_payment_intent_id, v_payment_intent),
    stripe_customer_id = coalesce(s.stripe_customer_id, v_customer),
    url = case when v_status = 'open' then s.url end,
    -- a session first rejected keeps the claims it was rejected for, so that the same
    -- claims again are no contradiction and different ones are
    amount_total = case when s.fulfilment is null and v_reason is not null then coalesce(v_amount, s.amount_total)
      else s.amount_total end,
    currency = case when s.fulfilment is null and v_reason is not null then coalesce(v_currency, s.currency)
      else s.currency end,
    -- decided once: a rejected session never grants, paid or not
    fulfilment = case when v_reason is not null then 'rejected:' || v_reason else s.fulfilment end
  where s.id = v_session_id;

  -- a charge event may have come first: its facts join the session's record now
  if v_payment_intent is not null then
    perform private.settle_payment_record(v_payment_intent);
  end if;

  if v_reason is not null then
    return private.refusal(v_paid, v_reason);
  end if;
  if not v_paid then
    return case v_status when 'open' then 'ignored:still_open' when 'expired' then 'expired' else 'pending' end;
  end if;

  select * into v_before from public.purchased_lessons where user_id = v_row.user_id and lesson_id = v_row.lesson_id;
  perform private.settle_purchase(v_row.user_id, v_row.lesson_id);
  select s.fulfilment into v_fulfilment from public.checkout_sessions as s where s.id = v_session_id;

  if v_fulfilment = 'already_owned' then
    return 'already_owned';
  end if;
  if v_before.stripe_checkout_session_id is not distinct from v_session_id then
    return 'duplicate';
  end if;
  return 'recorded';
end;
$$;

-- A charge event (charge.succeeded, charge.refunded) or a dispute event: a refund or dispute
-- first re-derives the purchases it may end (apply_revocation), then the payment record of the
-- payment intent takes the event's facts. charge.succeeded only adds to the record ('applied',
-- even when its session has not arrived yet: apply_checkout_session settles the record then).
create or replace function private.apply_charge_event(p_event_type text, p_object jsonb)
returns text
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_payment_intent text := nullif(p_object ->> 'payment_intent', '');
  v_outcome text;
begin
  if v_payment_intent is null then
    return 'ignored:no_payment_intent';
  end if;
  v_outcome := case
    when p_event_type = 'charge.succeeded' then 'applied'
    else private.apply_revocation(p_event_type, p_object)
  end;
  -- held already after a revocation; taken here for charge.succeeded and a partial refund
  perform private.lock('payment_intent', v_payment_intent);
  perform private.settle_payment_record(v_payment_intent);
  return v_outcome;
end;
$$;

-- Run one step for a stored event, recording its outcome; an unexpected error is recorded on
-- the event (which stays stored) instead of losing it, and the event is processed again when
-- Stripe redelivers it.
--
-- A lock timeout, a deadlock or a serialization failure is different: it says nothing about
-- the event and the same call succeeds a moment later. Those leave the sub-transaction as they
-- came, so the call fails, nothing is stored, and the sidecar retries it or answers 503 so
-- that Stripe redelivers at once rather than the event waiting for reconcile. (query_canceled,
-- from statement_timeout or the sidecar's call timeout, escapes too: a PL/pgSQL `others`
-- handler never catches it.)
create or replace function private.process_event(p_event jsonb)
returns text
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_id text := p_event ->> 'id';
  v_type text := p_event ->> 'type';
  v_object jsonb := p_event -> 'data' -> 'object';
  v_outcome text;
  v_state text;
  v_message text;
begin
  begin
    v_outcome := case
      when v_type in (
        'checkout.session.completed', 'checkout.session.async_payment_succeeded', 'checkout.session.expired'
      ) then
        private.apply_checkout_session(
          v_object, pg_catalog.to_timestamp((p_event ->> 'created')::double precision), 'event', v_id
        )
      when v_type = 'checkout.session.async_payment_failed' then
        private.close_checkout_session(v_object, 'failed', v_id)
      when v_type in ('charge.succeeded', 'charge.refunded', 'charge.dispute.created', 'charge.dispute.closed') then
        private.apply_charge_event(v_type, v_object)
      else 'ignored'
    end;
  exception
    when transaction_rollback or lock_not_available then
      -- transient: fail the whole call (the event is not stored) so that it is retried
      raise;
    when others then
      get stacked diagnostics v_state = returned_sqlstate, v_message = message_text;
      perform private.finish_event(v_id, 'error', v_state || ': ' || left(v_message, 500));
      return 'error';
  end;
  perform private.finish_event(v_id, v_outcome);
  return v_outcome;
end;
$$;

revoke all on function
  private.receipt_url(text, boolean),
  private.json_word(jsonb, text),
  private.settle_payment_record(text),
  private.apply_charge_event(text, jsonb)
from public, anon, authenticated, service_role;

-- =============================================================================================
-- public functions: the catalogue and the payment record
-- =============================================================================================

drop function public.purchase_history();
drop function public.purchase_list();
drop function public.lesson_catalog();

create function public.lesson_catalog()
returns table (
  id uuid,
  slug text,
  title text,
  description text,
  price_cents bigint,
  currency text,
  owned boolean,
  pending boolean,
  access public.lesson_access,
  access_changed_at timestamptz
)
language plpgsql
stable
security invoker
set search_path = ''
as $$
#variable_conflict use_column
begin
  return query
  select
    l.id,
    l.slug,
    l.title,
    l.description,
    l.price_cents,
    l.currency,
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
  left join public.purchased_lessons as p on l.id = p.lesson_id and p.user_id = (select auth.uid())
  cross join lateral (
    select
      pg_catalog.bool_or(s.status = 'processing' or (s.status = 'open' and s.expires_at > pg_catalog.now())) as pending,
      pg_catalog.max(s.created_at) filter (where s.status = 'processing') as processing_since,
      -- the status of the caller's latest session that reached payment
      (pg_catalog.array_agg(s.status order by s.created_at desc, s.id desc)
        filter (where s.status in ('processing', 'complete', 'failed')))[1] as last_paying_status,
      pg_catalog.max(s.dispute_status) filter (where s.id = p.stripe_checkout_session_id) as granting_dispute_status
    from public.checkout_sessions as s
    where s.lesson_id = l.id and s.user_id = (select auth.uid())
  ) as mine
  cross join lateral (
    select case
      when l.price_cents = 0 then 'free'
      when p.status = 'paid' then 'owned'
      when mine.processing_since is not null then 'processing'
      when p.status = 'disputed' and mine.granting_dispute_status is distinct from 'lost' then 'disputed'
      when mine.last_paying_status = 'failed' then 'failed'
      when p.status = 'refunded' then 'refunded'
      when p.status = 'disputed' then 'dispute_lost'
      else 'available'
    end::public.lesson_access as access
  ) as decided
  where l.published
  order by l.created_at, l.slug;
end;
$$;

comment on function public.lesson_catalog() is
'Published lessons for the caller, with owned (paid), pending (open or processing checkout), access and access_changed_at.';

-- The Purchases page: one row per Checkout Session of the caller's that reached payment
-- (processing, failed, or paid, whatever happened to it since), newest first. occurred_at is
-- when it was paid (paid_at), or when a payment still processing or failed was started;
-- payment_method_* and receipt_url are as Stripe reported the charge (null until a charge
-- event came); payment_reference is the PaymentIntent id a learner can quote to support;
-- refunded_amount and refunded_at are null when nothing was refunded. id is the Checkout
-- Session id, cast to text: return query takes the declared column type exactly, not the
-- public.checkout_session_id domain (the same for receipt_url).
create function public.purchase_list()
returns table (
  id text,
  lesson_id uuid,
  slug text,
  title text,
  amount_total bigint,
  currency text,
  status public.payment_state,
  occurred_at timestamptz,
  payment_method_type text,
  payment_method_brand text,
  payment_method_last4 text,
  payment_reference text,
  refunded_amount bigint,
  refunded_at timestamptz,
  receipt_url text
)
language plpgsql
stable
security invoker
set search_path = ''
as $$
#variable_conflict use_column
begin
  return query
  select
    s.id::text,
    s.lesson_id,
    l.slug,
    l.title,
    s.amount_total,
    s.currency,
    case
      when s.status = 'processing' then 'processing'
      when s.status = 'failed' then 'failed'
      when s.dispute_status = 'open' then 'disputed'
      when s.dispute_status = 'lost' then 'dispute_lost'
      when s.amount_refunded > 0 and s.amount_refunded >= s.amount_total then 'refunded'
      when s.dispute_status = 'won' then 'dispute_won'
      when s.amount_refunded > 0 then 'partly_refunded'
      else 'paid'
    end::public.payment_state,
    coalesce(s.paid_at, s.created_at),
    s.payment_method_type,
    s.card_brand,
    s.card_last4,
    s.stripe_payment_intent_id,
    nullif(s.amount_refunded, 0),
    s.refunded_at,
    s.receipt_url::text
  from public.checkout_sessions as s
  inner join public.lessons as l on s.lesson_id = l.id
  where s.user_id = (select auth.uid()) and (s.payment_status = 'paid' or s.status in ('processing', 'failed'))
  order by coalesce(s.paid_at, s.created_at) desc, s.id desc;
end;
$$;

comment on function public.purchase_list() is
'The caller''s payments (Purchases page), newest first: one row per Checkout Session that reached payment, its status in words.';

-- =============================================================================================
-- grants
-- =============================================================================================

revoke execute on function public.lesson_catalog(), public.purchase_list() from public, anon, authenticated;
grant execute on function public.lesson_catalog() to anon, authenticated, service_role;
grant execute on function public.purchase_list() to authenticated, service_role;

-- =============================================================================================
-- data: the record of payments already stored
-- =============================================================================================

-- the charge facts of events whose payload is still kept
update public.stripe_events as e
set
  payment_method_type = private.json_word(e.payload -> 'data' -> 'object' -> 'payment_method_details' -> 'type', '^[a-z0-9_]{1,50}$'),
  card_brand = private.json_word(e.payload -> 'data' -> 'object' -> 'payment_method_details' -> 'card' -> 'brand', '^[a-z0-9_]{1,30}$'),
  card_last4 = private.json_word(e.payload -> 'data' -> 'object' -> 'payment_method_details' -> 'card' -> 'last4', '^[0-9]{4}$'),
  receipt_url = private.receipt_url(private.json_word(e.payload -> 'data' -> 'object' -> 'receipt_url', '.'), e.livemode),
  amount_refunded = case
    when private.json_amount(e.payload -> 'data' -> 'object' -> 'amount_refunded') >= 0
      then private.json_amount(e.payload -> 'data' -> 'object' -> 'amount_refunded')
  end
where e.payload is not null and e.payload -> 'data' -> 'object' ->> 'object' = 'charge';

-- every payment intent of a session that has a charge, refund or dispute event
select private.settle_payment_record(i.payment_intent_id)
from (
  select distinct e.payment_intent_id
  from public.stripe_events as e
  inner join public.checkout_sessions as s on e.payment_intent_id = s.stripe_payment_intent_id
  where e.type like 'charge.%'
) as i;
