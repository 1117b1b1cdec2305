-- Promotion codes: what a code took off is recorded, and never changes which lesson is granted.
--
-- With CHECKOUT_PROMOTION_CODES the sidecar opens Checkout Sessions with allow_promotion_codes,
-- and a paid session may then charge less than the lesson's price: amount_total is the price
-- less total_details.amount_discount, and discounts[0] names the promotion code and coupon.
-- Until now the purchase rules compared amount_total with the price, so such a payment would
-- have been rejected as amount_mismatch. Now (private.session_amounts) they check the price
-- before discounts (amount_subtotal) against the lesson, and that the discount adds up; the
-- lesson is still the one the session's metadata names, checked as before, whatever the code.
-- A session a code made free (payment_status no_payment_required, amount_total 0, a discount)
-- is paid (private.session_paid) and grants once; any other free session is still refused.
--
-- checkout_sessions records amount_discount, promotion_code_id, coupon_id and amount_paid
-- (amount_total stays the price); a full refund counts as the amount paid. public.promotion_codes
-- keeps each code's words from promotion_code.created/.updated events, purchase_list() shows
-- what was charged, the discount and the code, and public.promotion_code_sales sums paid
-- sessions per code and lesson for the operator (service_role only).
--
-- purchase_list() changes its columns (amount_discount, promotion_code added at the end), so
-- it is dropped and created again in this transaction.

-- =============================================================================================
-- tables
-- =============================================================================================

-- what a code took off; amount_total stays the price, amount_paid is what was charged
alter table public.checkout_sessions
  add column amount_discount bigint not null default 0,
  -- Promotion code id, e.g. promo_1Pgc79B7WZ01zgkWNy4mn5NX (its words: public.promotion_codes)
  add column promotion_code_id text
    constraint checkout_sessions_promotion_code_format check (promotion_code_id ~ '^promo_[A-Za-z0-9_]{1,250}$'),
  -- Coupon id behind the code, e.g. Z4OV52SU
  add column coupon_id text constraint checkout_sessions_coupon_format check (coupon_id ~ '^[A-Za-z0-9_-]{1,250}$'),
  add column amount_paid bigint generated always as (amount_total - amount_discount) stored,
  add constraint checkout_sessions_discount_range check (amount_discount between 0 and amount_total);

create index checkout_sessions_promotion_code_idx on public.checkout_sessions (promotion_code_id, user_id)
  where promotion_code_id is not null;

create table public.promotion_codes (
  -- Promotion code id, e.g. promo_1Pgc79B7WZ01zgkWNy4mn5NX
  id text primary key constraint promotion_codes_id_format check (id ~ '^promo_[A-Za-z0-9_]{1,250}$'),
  -- the customer-facing code, e.g. FALL20
  code text not null constraint promotion_codes_code_format check (code ~ '^[A-Za-z0-9-]+$' and length(code) <= 500),
  -- Coupon id, e.g. Z4OV52SU
  coupon_id text constraint promotion_codes_coupon_format check (coupon_id ~ '^[A-Za-z0-9_-]{1,250}$'),
  active boolean not null,
  -- Stripe's created time of the newest event that described the code (an older one, arriving
  -- late, changes nothing)
  described_at timestamptz not null,
  updated_at timestamptz not null default now()
);

comment on table public.promotion_codes is
'Promotion codes as Stripe''s promotion_code events describe them: the words a learner typed, by id.';

create trigger promotion_codes_touch_updated_at
before update on public.promotion_codes
for each row execute function private.touch_updated_at();

-- =============================================================================================
-- row level security
-- =============================================================================================

alter table public.promotion_codes enable row level security;

-- A learner reads the words of a code they paid with (purchase_list() shows them).
create policy "learners read the promotion codes they used"
on public.promotion_codes
for select
to authenticated
using (
  exists (
    select 1 from public.checkout_sessions as s
    where s.promotion_code_id = promotion_codes.id and s.user_id = (select auth.uid())
  )
);

-- =============================================================================================
-- functions
-- =============================================================================================

-- What a Checkout Session charges, read from the session object: the price before discounts
-- (Stripe's amount_subtotal; amount_total for an object without one), what a coupon or
-- promotion code took off (total_details.amount_discount), the total charged (amount_total),
-- the first discount's promotion code and coupon ids (ids, or expanded objects' ids), and
-- whether they add up: 0 <= discount <= subtotal and total = subtotal - discount. A code
-- changes what is charged, never what is sold: the subtotal is what the purchase rules check
-- against the lesson's price.
create or replace function private.session_amounts(
  p_session jsonb,
  out subtotal bigint,
  out discount bigint,
  out total bigint,
  out promotion_code_id text,
  out coupon_id text,
  out coherent boolean
)
language plpgsql
immutable
security invoker
set search_path = ''
as $$
declare
  v_discount jsonb := p_session -> 'discounts' -> 0;
begin
  -- cast as before: an amount that is not a number is an error, and the event is kept
  total := (p_session ->> 'amount_total')::bigint;
  subtotal := coalesce((p_session ->> 'amount_subtotal')::bigint, total);
  discount := coalesce((p_session -> 'total_details' ->> 'amount_discount')::bigint, 0);
  promotion_code_id := coalesce(
    private.json_word(v_discount -> 'promotion_code', '^promo_[A-Za-z0-9_]{1,250}$'),
    private.json_word(v_discount -> 'promotion_code' -> 'id', '^promo_[A-Za-z0-9_]{1,250}$')
  );
  coupon_id := coalesce(
    private.json_word(v_discount -> 'coupon', '^[A-Za-z0-9_-]{1,250}$'),
    private.json_word(v_discount -> 'coupon' -> 'id', '^[A-Za-z0-9_-]{1,250}$')
  );
  coherent := coalesce(total = subtotal - discount and discount between 0 and subtotal, false);
end;
$$;
-- Whether a Checkout Session object says it is paid: payment_status 'paid', or a promotion
-- code that took the whole price off (Stripe completes such a session with payment_status
-- 'no_payment_required', amount_total 0 and no PaymentIntent). A session free for any other
-- reason is not one this shop sells ('no_payment_required').
create or replace function private.session_paid(p_session jsonb)
returns boolean
language sql
immutable
security invoker
set search_path = ''
as $$
  select coalesce(
    p_session ->> 'payment_status' = 'paid'
    or (
      p_session ->> 'payment_status' = 'no_payment_required'
      and private.json_amount(p_session -> 'amount_total') = 0
      and private.json_amount(p_session -> 'total_details' -> 'amount_discount') > 0
    ),
    false
  );
$$;
-- Why a session does not match what the lesson costs now, or null when it does: the learner
-- and the lesson must exist, the amount before discounts and the currency must be the
-- lesson's, and the discount must add up.
create or replace function private.price_problem(p_session jsonb, p_user_id uuid, p_lesson_id uuid)
returns text
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
  v_lesson public.lessons;
  v_amounts record;
begin
  select * into v_lesson from public.lessons as l where l.id = p_lesson_id;
  if not found then
    return 'unknown_lesson';
  end if;
  if not exists (select 1 from auth.users as u where u.id = p_user_id) then
    return 'unknown_user';
  end if;
  v_amounts := private.session_amounts(p_session);
  if v_amounts.subtotal is distinct from v_lesson.price_cents or not v_amounts.coherent then
    return 'amount_mismatch';
  end if;
  if pg_catalog.lower(p_session ->> 'currency') is distinct from v_lesson.currency then
    return 'currency_mismatch';
  end if;
  return null;
end;
$$;
-- Checkout Session status in this project's words, from the session object Stripe returns.
create or replace function private.session_status(p_session jsonb)
returns text
language sql
immutable
security invoker
set search_path = ''
as $$
  select case
    when p_session ->> 'status' = 'complete' and private.session_paid(p_session) then 'complete'
    when p_session ->> 'status' = 'complete' then 'processing'
    when p_session ->> 'status' = 'expired' then 'expired'
    else 'open'
  end;
$$;
-- What a Checkout Session object claims, reduced to ids, amounts and statuses.
create or replace function private.session_claims(p_session jsonb)
returns jsonb
language sql
immutable
security invoker
set search_path = ''
as $$
  select pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
    'status', p_session ->> 'status',
    'payment_status', p_session ->> 'payment_status',
    'mode', p_session ->> 'mode',
    'amount_total', p_session -> 'amount_total',
    'amount_subtotal', p_session -> 'amount_subtotal',
    'amount_discount', p_session -> 'total_details' -> 'amount_discount',
    'currency', p_session ->> 'currency',
    'payment_intent', p_session ->> 'payment_intent',
    'customer', p_session ->> 'customer',
    'client_reference_id', p_session ->> 'client_reference_id',
    'user_id', p_session -> 'metadata' ->> 'user_id',
    'lesson_id', p_session -> 'metadata' ->> 'lesson_id'
  ));
$$;
-- The stored facts of a session that a claim about it contradicts (empty when none).
-- Payment intent and customer: once known, never replaced. Who, what and how much: fixed
-- once the session is paid or rejected (before that, a differing claim is a mismatch and
-- rejects the session). A paid session cannot be open, expired or free of payment again.
-- p_with_status is false for the creation response attach sees, which is open by nature.
create or replace function private.session_contradictions(
  p_row public.checkout_sessions,
  p_session jsonb,
  p_with_status boolean
)
returns text[]
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
  v_refs record := private.session_refs(p_session);
  v_payment_intent text := nullif(p_session ->> 'payment_intent', '');
  v_customer text := nullif(p_session ->> 'customer', '');
  v_decided boolean := p_row.payment_status = 'paid' or p_row.fulfilment like 'rejected:%';
  v_amounts record := private.session_amounts(p_session);
  v_fields text[] := '{}'::text[];
begin
  if v_refs.problem is not null then
    v_fields := v_fields || case v_refs.problem
      when 'user_mismatch' then 'client_reference_id'
      when 'not_a_payment' then 'mode'
      else 'metadata'
    end;
  end if;
  if v_payment_intent <> p_row.stripe_payment_intent_id then
    v_fields := v_fields || 'payment_intent'::text;
  end if;
  if v_customer <> p_row.stripe_customer_id then
    v_fields := v_fields || 'customer'::text;
  end if;
  if v_decided or not p_with_status then
    if v_refs.problem is null and p_row.fulfilment is distinct from 'rejected:session_mismatch' then
      if v_refs.user_id <> p_row.user_id then
        v_fields := v_fields || 'user_id'::text;
      end if;
      if v_refs.lesson_id <> p_row.lesson_id then
        v_fields := v_fields || 'lesson_id'::text;
      end if;
    end if;
    if v_amounts.subtotal is distinct from p_row.amount_total then
      v_fields := v_fields || 'amount_total'::text;
    end if;
    if pg_catalog.lower(p_session ->> 'currency') is distinct from p_row.currency then
      v_fields := v_fields || 'currency'::text;
    end if;
  end if;
  if p_with_status and p_row.payment_status = 'paid' then
    if private.session_status(p_session) in ('open', 'expired') then
      v_fields := v_fields || 'status'::text;
    end if;
    if p_session ->> 'payment_status' = 'no_payment_required'
      and not private.session_paid(p_session)
      and p_row.fulfilment is distinct from 'rejected:no_payment_required'
    then
      v_fields := v_fields || 'payment_status'::text;
    end if;
    -- what a code took off is fixed once paid (a rejected session recorded none)
    if private.session_paid(p_session)
      and p_row.fulfilment not like 'rejected:%'
      and (v_amounts.discount, v_amounts.promotion_code_id, v_amounts.coupon_id)
      is distinct from (p_row.amount_discount, p_row.promotion_code_id, p_row.coupon_id)
    then
      v_fields := v_fields || 'discounts'::text;
    end if;
  end if;
  return v_fields;
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
          when v_refund.in_full then greatest(v_refund.amount, s2.amount_total - s2.amount_discount)
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
  -- the price before any discount: what the purchase rules check (session_amounts)
  v_amounts record := private.session_amounts(p_session);
  v_amount bigint := v_amounts.subtotal;
  v_currency text := pg_catalog.lower(p_session ->> 'currency');
  v_payment_intent text := nullif(p_session ->> 'payment_intent', '');
  v_customer text := nullif(p_session ->> 'customer', '');
  v_status text := private.session_status(p_session);
  v_paid boolean := private.session_paid(p_session);
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
    elsif not v_amounts.coherent then
      v_reason := 'amount_mismatch';
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

  if p_session ->> 'payment_status' = 'no_payment_required' and not v_paid then
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
    fulfilment = case when v_reason is not null then 'rejected:' || v_reason else s.fulfilment end,
    -- what a promotion code took off, as the session says until it is paid (a code may be
    -- applied and changed on the hosted page); a rejected session records none
    amount_discount = case
      when s.payment_status = 'paid' then s.amount_discount when v_reason is null then v_amounts.discount else 0
    end,
    promotion_code_id = case
      when s.payment_status = 'paid' then s.promotion_code_id when v_reason is null then v_amounts.promotion_code_id
    end,
    coupon_id = case
      when s.payment_status = 'paid' then s.coupon_id when v_reason is null then v_amounts.coupon_id
    end
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
-- A promotion_code.created or .updated event: keep the code's words, coupon and active flag,
-- unless a newer event already described it. The coupon is promotion.coupon since API
-- 2025-09-30 and the embedded coupon object before.
create or replace function private.apply_promotion_code(p_object jsonb, p_created timestamptz)
returns text
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_id text := private.json_word(p_object -> 'id', '^promo_[A-Za-z0-9_]{1,250}$');
  v_code text := private.json_word(p_object -> 'code', '^[A-Za-z0-9-]+$');
begin
  if v_id is null or v_code is null or pg_catalog.length(v_code) > 500 then
    return 'ignored:not_a_promotion_code';
  end if;
  insert into public.promotion_codes as c (id, code, coupon_id, active, described_at)
  values (
    v_id,
    v_code,
    coalesce(
      private.json_word(p_object -> 'promotion' -> 'coupon', '^[A-Za-z0-9_-]{1,250}$'),
      private.json_word(p_object -> 'coupon' -> 'id', '^[A-Za-z0-9_-]{1,250}$')
    ),
    coalesce((p_object ->> 'active')::boolean, true),
    p_created
  )
  on conflict (id) do update
  set
    code = excluded.code,
    coupon_id = coalesce(excluded.coupon_id, c.coupon_id),
    active = excluded.active,
    described_at = excluded.described_at
  where c.described_at <= excluded.described_at;
  return 'applied';
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
      when v_type in ('promotion_code.created', 'promotion_code.updated') then
        private.apply_promotion_code(v_object, pg_catalog.to_timestamp((p_event ->> 'created')::double precision))
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
  private.session_amounts(jsonb),
  private.session_paid(jsonb),
  private.apply_promotion_code(jsonb, timestamptz)
from public, anon, authenticated, service_role;

drop function public.purchase_list();

-- The Purchases page: one row per Checkout Session of the caller's that reached payment
-- (processing, failed, or paid, whatever happened to it since), newest first. occurred_at is
-- when it was paid (paid_at), or when a payment still processing or failed was started;
-- payment_method_* and receipt_url are as Stripe reported the charge (null until a charge
-- event came); payment_reference is the PaymentIntent id a learner can quote to support;
-- refunded_amount and refunded_at are null when nothing was refunded; amount_total is what was
-- charged, after any promotion code's amount_discount (null without one), promotion_code the
-- code's words (null without one, or while its promotion_code event has not come). id is the Checkout
-- Session id, cast to text: return query takes the declared column type exactly, not the
-- public.checkout_session_id domain (the same for receipt_url).
create or replace function public.purchase_list()
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
  receipt_url text,
  amount_discount bigint,
  promotion_code text
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
    s.amount_paid,
    s.currency,
    case
      when s.status = 'processing' then 'processing'
      when s.status = 'failed' then 'failed'
      when s.dispute_status = 'open' then 'disputed'
      when s.dispute_status = 'lost' then 'dispute_lost'
      when s.amount_refunded > 0 and s.amount_refunded >= s.amount_paid then 'refunded'
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
    s.receipt_url::text,
    nullif(s.amount_discount, 0),
    (select c.code from public.promotion_codes as c where c.id = s.promotion_code_id)
  from public.checkout_sessions as s
  inner join public.lessons as l on s.lesson_id = l.id
  where s.user_id = (select auth.uid()) and (s.payment_status = 'paid' or s.status in ('processing', 'failed'))
  order by coalesce(s.paid_at, s.created_at) desc, s.id desc;
end;
$$;
comment on function public.purchase_list() is
'The caller''s payments (Purchases page), newest first: one row per Checkout Session that reached payment, its status in words.';

revoke execute on function public.purchase_list() from public, anon, authenticated;
grant execute on function public.purchase_list() to authenticated, service_role;

-- =============================================================================================
-- views
-- =============================================================================================

-- Paid Checkout Sessions summed per promotion code and lesson (lesson_id null: the code's
-- total over all lessons; promotion_code_id null: sessions paid without a code), in each
-- currency: how many, the price before discounts, what the codes took off, what was charged,
-- what has been refunded since, and the net (charged less refunded). Every paid session counts,
-- granted or not (a charge for a lesson already owned is money taken until refunded).
create view public.promotion_code_sales
with (security_invoker = true)
as
select
  s.promotion_code_id,
  c.code,
  s.coupon_id,
  s.lesson_id,
  l.slug,
  s.currency,
  count(*) as purchases,
  sum(s.amount_total)::bigint as amount_subtotal,
  sum(s.amount_discount)::bigint as amount_discount,
  sum(s.amount_paid)::bigint as amount_paid,
  sum(s.amount_refunded)::bigint as amount_refunded,
  sum(s.amount_paid - least(s.amount_refunded, s.amount_paid))::bigint as amount_net
from public.checkout_sessions as s
inner join public.lessons as l on s.lesson_id = l.id
left join public.promotion_codes as c on s.promotion_code_id = c.id
where s.payment_status = 'paid'
group by grouping sets (
  (s.promotion_code_id, c.code, s.coupon_id, s.currency, s.lesson_id, l.slug),
  (s.promotion_code_id, c.code, s.coupon_id, s.currency)
);

comment on view public.promotion_code_sales is
'Paid sessions per promotion code and lesson (lesson_id null: the code over all lessons): count, discount, charged, refunded, net.';

-- =============================================================================================
-- grants: service_role only
-- =============================================================================================

revoke all on public.promotion_codes from anon, authenticated;
grant select on public.promotion_codes to authenticated;
grant all on public.promotion_codes to service_role;

revoke all on public.promotion_code_sales from public, anon, authenticated;
grant select on public.promotion_code_sales to service_role;
