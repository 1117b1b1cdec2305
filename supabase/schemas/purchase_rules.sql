-- The purchase rules: recording purchases, revoking them, and refusing contradictions.
--
-- Every decision is taken inside one transaction and serialised by advisory locks taken in one
-- order (checkout session → payment intent → learner+lesson), so two sidecar replicas, a
-- retried webhook and the learner's return from Checkout can race and the database still ends
-- right. The state of a (learner, lesson) is re-derived from all its facts in Stripe's time
-- order each time one arrives, so that events applied in any order end where a sequential
-- replay by Stripe's `created` time ends. The rules read the facts extracted when an event was
-- stored (events.sql), never its payload.
--
-- A contradicting fact never rewrites a fact that decided ownership. Stripe may tell us about
-- one Checkout Session many times: events (redelivered, reordered), the learner's return page
-- and reconcile reading it back, the sidecar attaching it. The first claim of each of the
-- session's facts is kept: who it is for (metadata, reference), the amount and currency, the
-- payment intent and customer, and once paid or rejected, its verdict. A later claim that
-- differs is a contradiction: it is stored in checkout_session_contradictions, listed in
-- payments_needing_attention, answered 'rejected:contradiction', and changes nothing that
-- decided ownership. So a refund or a lost dispute of the payment that granted a lesson always
-- ends access; a refund or dispute of a payment intent a contradiction claimed for the session
-- ends it too (money went back, an operator looks). A dispute lost stays lost whatever a later
-- event says.
--
-- Writers are security definer because learners may not write these tables; they are
-- executable by service_role only.
--
-- Plans that cannot go stale: every public function here (and in checkout.sql) runs with
-- `set enable_seqscan = off`. They look rows up by key, and a pooled connection keeps the
-- plans it made for them (PL/pgSQL's, and the foreign-key checks'). On a young table that has
-- been ANALYZEd (a deploy's first ANALYZE, or autovacuum's on a table of a few rows) reading
-- the whole table is the cheaper plan, and a connection that cached it kept it as the table
-- grew: `make bench` (cold_plan_drift_analysed) measured CPU per purchase climbing from 3.6 to
-- 11 ms over 3,000 purchases, with 19 of the 43 statements of a purchase scanning whole tables
-- (checkout_sessions for the foreign key of purchased_lessons among them). With sequential
-- scans priced out, every plan finds its rows through an index whatever the statistics said
-- when it was made, and costs nothing per call (plan_cache_mode = force_custom_plan also fixed
-- it, at about a third more CPU per purchase: it plans every statement every time). A table
-- with no usable index is still scanned: the setting only prices scans, it forbids nothing.

-- =============================================================================================
-- private helpers
-- =============================================================================================

-- A uuid, or null for text that is not one (metadata comes from outside).
create or replace function private.try_uuid(p_text text)
returns uuid
language plpgsql
immutable
security invoker
set search_path = ''
as $$
begin
  return p_text::uuid;
exception
  when invalid_text_representation then
    return null;
end;
$$;

-- A transaction-scoped advisory lock on one key of one kind.
create or replace function private.lock(p_kind text, p_key text)
returns void
language sql
security invoker
set search_path = ''
as $$
  select pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended(p_kind || ':' || p_key, 0));
$$;

-- the purchase rules rely on each statement seeing what committed before it (read committed)
create or replace function private.assert_read_committed()
returns void
language plpgsql
security invoker
set search_path = ''
as $$
begin
  if pg_catalog.current_setting('transaction_isolation') <> 'read committed' then
    raise exception 'purchase functions need read committed isolation, not %',
      pg_catalog.current_setting('transaction_isolation')
      using errcode = '25000';
  end if;
end;
$$;

-- A session that does not match what we sold: 'rejected:<reason>' when money was taken (an
-- operator must act: payments_needing_attention lists it), 'ignored:<reason>' otherwise.
create or replace function private.refusal(p_paid boolean, p_reason text)
returns text
language sql
immutable
security invoker
set search_path = ''
as $$
  select case when p_paid then 'rejected:' else 'ignored:' end || p_reason;
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

-- Statuses only move forward: open < processing < complete | failed | expired.
create or replace function private.session_status_rank(p_status text)
returns integer
language sql
immutable
security invoker
set search_path = ''
as $$
  select case p_status when 'open' then 0 when 'processing' then 1 else 2 end;
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
-- Payment intent and customer: once known, never replaced, and once the session is paid or
-- rejected, never added either (the customer a learner's next Checkout reuses comes from the
-- payment that granted them a lesson: a later claim must not be able to choose it). Who, what
-- and how much: fixed once the session is paid or rejected (before that, a differing claim is
-- a mismatch and rejects the session). A paid session cannot be open, expired or free of payment again.
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
  if v_payment_intent <> p_row.stripe_payment_intent_id
    or (v_decided and p_row.stripe_payment_intent_id is null and v_payment_intent is not null)
  then
    v_fields := v_fields || 'payment_intent'::text;
  end if;
  if v_customer <> p_row.stripe_customer_id
    or (v_decided and p_row.stripe_customer_id is null and v_customer is not null)
  then
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

-- Store a contradiction (once per distinct claim) and, for a paid session, re-derive its
-- purchase so that a refund or dispute of a payment intent the claim names takes effect. The
-- caller holds the locks on the session, the claimed payment intent and the purchase.
create or replace function private.record_contradiction(
  p_row public.checkout_sessions,
  p_session jsonb,
  p_fields text[],
  p_source text,
  p_event_id text
)
returns text
language plpgsql
security invoker
set search_path = ''
as $$
begin
  insert into public.checkout_session_contradictions (
    checkout_session_id, stripe_event_id, source, fields, claimed, payment_intent_id
  )
  values (
    p_row.id, p_event_id, p_source, p_fields, private.session_claims(p_session),
    nullif(p_session ->> 'payment_intent', '')
  )
  on conflict on constraint checkout_session_contradictions_once do nothing;
  if found and p_row.payment_status = 'paid' then
    perform private.settle_purchase(p_row.user_id, p_row.lesson_id);
  end if;
  return 'rejected:contradiction';
end;
$$;

-- The refunds of one payment intent, replayed in Stripe's time order: one row each time what
-- has been refunded (amount_refunded) or whether that is the whole payment (in_full) changes,
-- with `fact` 'refund' when it became refunded in full and 'refund_failed' when it stopped
-- being so (a refund failed or was canceled). Since API version 2024-10-28 Stripe sends
-- refund.created, refund.updated and refund.failed for every refund, and a refund may be
-- pending for days and then fail; charge.refunded says what the charge had refunded when it
-- was sent (its amount_refunded), without naming the refunds. So two sources are combined:
--   * each refund by id, from its events: live (pending, requires_action or succeeded) until
--     an event says failed or canceled, which is final. A pending refund counts: the shop
--     asked for the money to go back, and Stripe holds it against what can be refunded.
--   * the most the charge said it had refunded (charge.refunded's amount_refunded), less
--     every refund that failed after that and was created no later (so was counted in it),
--     plus every live refund created after it.
-- What has been refunded is the larger of the two, so any subset of the events, in any order
-- of arrival, gives the answer the same events replayed in Stripe's order give. Within one
-- second a refund's creation comes before a charge.refunded, and that before a failure (a
-- refund cannot fail before it is counted). Refund events rejected as another payment's are
-- left out, as are events that failed to apply (they are applied again later).
create or replace function private.refund_timeline(p_payment_intent text, p_amount bigint)
returns table (
  step integer, occurred_at timestamptz, amount_refunded bigint, in_full boolean, fact text, refunded_since timestamptz
)
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
  v_event record;
  v_claim bigint := 0;
  v_claim_full boolean := false;
  v_claim_at timestamptz;
  -- refund id → {"amount", "created" (epoch seconds), "failed"}
  v_refunds jsonb := '{}'::jsonb;
  v_refund jsonb;
  v_live bigint;
  v_live_after bigint;
  v_amount bigint := 0;
  v_full boolean := false;
  -- each time the total rose: to what, and when
  v_rises bigint[] := '{}'::bigint[];
  v_rise_times timestamptz[] := '{}'::timestamptz[];
begin
  step := 0;
  for v_event in
    select e.id, e.created, e.payment_fact, e.amount_refunded, e.object_id, e.refund_status, e.refund_amount,
      e.refund_created
    from public.stripe_events as e
    where
      e.payment_intent_id = p_payment_intent
      and (e.payment_fact in ('refund', 'partial_refund') or e.refund_status is not null)
      and (e.outcome is null or e.outcome not in ('error', 'rejected'))
    order by
      e.created,
      case when e.refund_status in ('failed', 'canceled') then 2 when e.refund_status is null then 1 else 0 end,
      e.id
  loop
    if v_event.refund_status is null then
      -- charge.refunded: what the charge had refunded when the event was sent. A smaller
      -- amount than one already counted says nothing a refund event has not: only a failure
      -- takes a refund back, and failures come as refund events.
      if coalesce(v_event.amount_refunded, 0) >= v_claim then
        v_claim := coalesce(v_event.amount_refunded, 0);
        v_claim_at := v_event.created;
      end if;
      v_claim_full := v_claim_full or v_event.payment_fact = 'refund';
    elsif v_event.object_id is not null then
      v_refund := coalesce(
        v_refunds -> v_event.object_id,
        pg_catalog.jsonb_build_object(
          'amount', coalesce(v_event.refund_amount, 0),
          'created', extract(epoch from coalesce(v_event.refund_created, v_event.created)),
          'failed', false
        )
      );
      if v_event.refund_status in ('failed', 'canceled') and not (v_refund ->> 'failed')::boolean then
        v_refund := v_refund || '{"failed": true}'::jsonb;
        if v_claim_at is not null and (v_refund ->> 'created')::numeric <= extract(epoch from v_claim_at) then
          v_claim := greatest(v_claim - (v_refund ->> 'amount')::bigint, 0);
          v_claim_full := false;
        end if;
      end if;
      v_refunds := v_refunds || pg_catalog.jsonb_build_object(v_event.object_id, v_refund);
    end if;

    select
      coalesce(pg_catalog.sum((r.value ->> 'amount')::bigint), 0),
      coalesce(pg_catalog.sum((r.value ->> 'amount')::bigint) filter (
        where v_claim_at is null or (r.value ->> 'created')::numeric > extract(epoch from v_claim_at)
      ), 0)
    into v_live, v_live_after
    from pg_catalog.jsonb_each(v_refunds) as r
    where not (r.value ->> 'failed')::boolean;

    amount_refunded := greatest(v_claim + v_live_after, v_live);
    in_full := v_claim_full or coalesce(amount_refunded >= p_amount, false);
    if (amount_refunded, in_full) is distinct from (v_amount, v_full) then
      step := step + 1;
      occurred_at := v_event.created;
      fact := case when in_full and not v_full then 'refund' when v_full and not in_full then 'refund_failed' end;
      -- when what is refunded now was refunded: the time it rose to this, or, after a failure
      -- took some back, the last time it rose to no more than what is left
      if amount_refunded > v_amount then
        v_rises := v_rises || amount_refunded;
        v_rise_times := v_rise_times || v_event.created;
        refunded_since := v_event.created;
      elsif amount_refunded < v_amount then
        refunded_since := coalesce(
          (
            select r.rose_at from rows from (pg_catalog.unnest(v_rises), pg_catalog.unnest(v_rise_times)) as r (amount, rose_at)
            where r.amount <= amount_refunded order by r.rose_at desc limit 1
          ),
          v_rise_times[1]
        );
      end if;
      if amount_refunded = 0 then
        refunded_since := null;
      end if;
      v_amount := amount_refunded;
      v_full := in_full;
      return next;
    end if;
  end loop;
end;
$$;

-- Re-derive the ownership row of one (learner, lesson) from its facts, in Stripe's time order:
-- paid checkout sessions, full refunds and disputes of their payment intents (the session's
-- own and any a contradiction claimed), and early fraud warnings of the sessions' own payment
-- intents. The caller holds the learner+lesson lock. Also writes each paid session's
-- fulfilment, and decides each warning (fraud_warnings.sql): an actionable one on the granting
-- payment, while that is neither refunded nor disputed and EFW_AUTO_REFUND was on, ends access
-- ('early_fraud_warning') and asks for one refund of the payment (early_fraud_warning_refunds,
-- unclaimed rows following the decision); every other one is listed with its reason. A refund
-- the sidecar has claimed has been asked of Stripe: its payment's warnings stay 'refund'.
create or replace function private.settle_purchase(p_user_id uuid, p_lesson_id uuid)
returns void
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_fact record;
  v_current public.checkout_sessions;
  v_status text;
  v_purchased_at timestamptz;
  v_refunded_at timestamptz;
  v_disputed_at timestamptz;
  -- the granting payment's disputes, by dispute id: 'open', 'won' or 'lost'
  v_disputes jsonb := '{}'::jsonb;
  -- earlier payments whose refund failed after the lesson was bought again
  v_paid_twice text[] := '{}'::text[];
  -- the granting payment's payment intents (its own, or one a contradiction claimed) now
  -- refunded in full: access comes back only when no refund of any of them stands
  v_refunded_intents jsonb := '{}'::jsonb;
  -- an early fraud warning ended the granting payment's access (a failed refund gives none back)
  v_fraud boolean := false;
  v_warning public.early_fraud_warnings;
  -- each warning's decision: warning id → 'refund' or the reason it is listed
  v_warnings jsonb := '{}'::jsonb;
  -- sessions whose payment a warning refunds: session id → the deciding (earliest) warning id
  v_fraud_refunds jsonb := '{}'::jsonb;
begin
  if p_user_id is null then
    return; -- a deleted account's payment: nobody to grant to
  end if;
  for v_fact in
    with payments as (
      -- what was charged (a promotion code's discount is never refunded): refunds adding up to it are in full
      select
        s.id as session_id, s.stripe_payment_intent_id as payment_intent_id, s.paid_at, s.amount_paid as amount_total,
        s.created_at
      from public.checkout_sessions as s
      where
        s.user_id = p_user_id
        and s.lesson_id = p_lesson_id
        and s.payment_status = 'paid'
        and (s.fulfilment is null or s.fulfilment not like 'rejected:%')
    ),
    payment_intents as (
      select p.session_id, p.payment_intent_id, p.paid_at, p.amount_total, p.created_at from payments as p
      where p.payment_intent_id is not null
      union
      select p.session_id, c.payment_intent_id, p.paid_at, p.amount_total, p.created_at
      from payments as p
      join public.checkout_session_contradictions as c on c.checkout_session_id = p.session_id
      where c.payment_intent_id is not null
    )
    select
      'payment' as kind, p.paid_at as occurred_at, 2 as rank, p.session_id as ref, p.session_id,
      null as dispute_id, null as payment_intent_id, p.paid_at as payment_paid_at,
      p.created_at as payment_created_at, 1 as within_second
    from payments as p
    union all
    -- Stripe's times are whole seconds. A revocation never precedes its own payment, and one
    -- of an earlier payment comes before a new payment made in the same second (a refund,
    -- then a repurchase), also when the earlier payment was made in that second too: within
    -- a second, each payment is followed by its own revocations before the next payment
    -- (ordered by when each was paid, then by when its session was opened). A dispute's close may sort before its
    -- open: each dispute is tracked by its id below, so the order of the two does not matter.
    select
      e.payment_fact,
      greatest(e.created, i.paid_at),
      case when e.created > i.paid_at then 0 else 3 end,
      e.id, i.session_id,
      case when e.payment_fact like 'dispute_%' then e.object_id end,
      i.payment_intent_id, i.paid_at, i.created_at, case when e.created > i.paid_at then 0 else 1 end
    from public.stripe_events as e
    join payment_intents as i on i.payment_intent_id = e.payment_intent_id
    where
      e.payment_fact in ('dispute_opened', 'dispute_won', 'dispute_lost')
      and e.outcome is distinct from 'error'
    union all
    -- refunds: when the payment became refunded in full, and when a refund's failure or
    -- cancellation made it stop being so (ordered within a second as the timeline found them)
    select
      r.fact, greatest(r.occurred_at, i.paid_at),
      case when r.occurred_at > i.paid_at then 0 else 3 end,
      pg_catalog.to_char(r.step, 'FM0000000000'), i.session_id, null, i.payment_intent_id, i.paid_at,
      i.created_at, case when r.occurred_at > i.paid_at then 0 else 1 end
    from payment_intents as i
    cross join lateral private.refund_timeline(i.payment_intent_id, i.amount_total) as r
    where r.fact is not null
    union all
    -- early fraud warnings of a payment's own payment intent (after a refund or dispute of the
    -- same second, which it then finds)
    select
      'early_fraud_warning', greatest(w.created, p.paid_at),
      case when w.created > p.paid_at then 0 else 3 end,
      w.id, p.session_id, null, w.payment_intent_id, p.paid_at, p.created_at,
      case when w.created > p.paid_at then 0 else 1 end
    from payments as p
    join public.early_fraud_warnings as w on w.payment_intent_id = p.payment_intent_id
    -- within a second: revocations of payments of earlier seconds first, then each payment of
    -- the second followed by its own revocations
    order by occurred_at, within_second, payment_paid_at, payment_created_at, session_id, rank, ref
  loop
    if v_fact.kind = 'payment' then
      if v_status is distinct from 'paid' then
        select * into v_current from public.checkout_sessions where id = v_fact.session_id;
        v_status := 'paid';
        v_purchased_at := v_fact.occurred_at;
        v_refunded_at := null;
        v_disputed_at := null;
        v_disputes := '{}'::jsonb;
        v_refunded_intents := '{}'::jsonb;
        v_fraud := false;
        update public.checkout_sessions set fulfilment = 'granted'
        where id = v_fact.session_id and fulfilment is distinct from 'granted';
      elsif v_current.id <> v_fact.session_id then
        update public.checkout_sessions set fulfilment = 'already_owned'
        where id = v_fact.session_id and fulfilment is distinct from 'already_owned';
      end if;
    elsif v_fact.kind = 'early_fraud_warning' then
      select * into v_warning from public.early_fraud_warnings as w where w.id = v_fact.ref;
      v_warnings := v_warnings || pg_catalog.jsonb_build_object(v_fact.ref, case
        when exists (
          select 1 from public.early_fraud_warning_refunds as r
          where
            r.payment_intent_id = v_fact.payment_intent_id
            and (r.claimed_at is not null or r.refund_id is not null or r.refused_code is not null)
        ) then 'refund'
        when v_current.id <> v_fact.session_id then 'not_granted'
        when v_fraud then 'refund'
        when not v_warning.actionable then 'not_actionable'
        when v_status = 'refunded' then 'already_refunded'
        when v_status = 'disputed'
          or exists (select 1 from pg_catalog.jsonb_each_text(v_disputes) as d where d.value in ('open', 'lost'))
          then 'already_disputed'
        when not v_warning.auto_refund then 'auto_refund_off'
        else 'refund'
      end);
      if v_warnings ->> v_fact.ref = 'refund' then
        if not v_fraud_refunds ? v_fact.session_id then
          v_fraud_refunds := v_fraud_refunds || pg_catalog.jsonb_build_object(v_fact.session_id, v_fact.ref);
        end if;
        if v_current.id = v_fact.session_id and v_status <> 'refunded' then
          v_status := 'refunded';
          v_refunded_at := v_fact.occurred_at;
          v_disputed_at := null;
        end if;
        v_fraud := v_fraud or v_current.id = v_fact.session_id;
      end if;
    elsif v_fact.kind = 'refund_failed' and v_status = 'paid' and v_current.id <> v_fact.session_id then
      -- the refund of an earlier payment failed after the learner had bought the lesson again:
      -- they paid twice, and the earlier payment is listed for a refund (already_owned)
      v_paid_twice := v_paid_twice || v_fact.session_id;
    elsif v_current.id = v_fact.session_id then
      if v_fact.kind = 'refund' then
        v_refunded_intents := v_refunded_intents || pg_catalog.jsonb_build_object(v_fact.payment_intent_id, true);
        if v_status in ('paid', 'disputed') then
          v_status := 'refunded';
          v_refunded_at := v_fact.occurred_at;
          v_disputed_at := null;
        end if;
      elsif v_fact.kind = 'refund_failed' then
        -- the refund failed or was canceled: the money stayed with the shop, so the lesson is
        -- the learner's again (paused instead while a dispute of the payment is open or lost)
        v_refunded_intents := v_refunded_intents - v_fact.payment_intent_id;
        -- access an early fraud warning ended stays ended: the refund is listed for an operator
        if v_status = 'refunded' and v_refunded_intents = '{}'::jsonb and not v_fraud then
          v_refunded_at := null;
          if exists (
            select 1 from pg_catalog.jsonb_each_text(v_disputes) as d where d.value in ('open', 'lost')
          ) then
            v_status := 'disputed';
            v_disputed_at := v_fact.occurred_at;
          else
            v_status := 'paid';
          end if;
        end if;
      else
        if v_fact.kind = 'dispute_lost' then
          v_disputes := v_disputes || pg_catalog.jsonb_build_object(v_fact.dispute_id, 'lost');
        elsif v_fact.kind = 'dispute_won' then
          -- a dispute lost stays lost, whatever a later event says
          if v_disputes ->> v_fact.dispute_id is distinct from 'lost' then
            v_disputes := v_disputes || pg_catalog.jsonb_build_object(v_fact.dispute_id, 'won');
          end if;
        elsif not v_disputes ? v_fact.dispute_id then
          v_disputes := v_disputes || pg_catalog.jsonb_build_object(v_fact.dispute_id, 'open');
        end if;
        -- access stays revoked while any dispute of the payment is open, or was lost
        if v_status <> 'refunded' then
          if exists (
            select 1 from pg_catalog.jsonb_each_text(v_disputes) as d where d.value in ('open', 'lost')
          ) then
            if v_status = 'paid' then
              v_status := 'disputed';
              v_disputed_at := v_fact.occurred_at;
            end if;
          elsif v_status = 'disputed' then
            v_status := 'paid';
            v_disputed_at := null;
          end if;
        end if;
      end if;
    end if;
  end loop;

  if v_status is null then
    return;
  end if;
  if v_warnings <> '{}'::jsonb then
    perform private.settle_early_fraud_warnings(p_user_id, p_lesson_id, v_warnings, v_fraud_refunds);
  end if;
  if pg_catalog.cardinality(v_paid_twice) > 0 then
    update public.checkout_sessions set fulfilment = 'already_owned'
    where id = any(v_paid_twice) and fulfilment is distinct from 'already_owned';
  end if;

  insert into public.purchased_lessons as p (
    user_id, lesson_id, status, amount_total, currency, stripe_checkout_session_id,
    stripe_payment_intent_id, stripe_customer_id, purchased_at, refunded_at, disputed_at, revoked_reason
  )
  values (
    p_user_id, p_lesson_id, v_status, v_current.amount_total, v_current.currency, v_current.id,
    v_current.stripe_payment_intent_id, v_current.stripe_customer_id, v_purchased_at,
    v_refunded_at, v_disputed_at, case when v_fraud and v_status = 'refunded' then 'early_fraud_warning' end
  )
  on conflict (user_id, lesson_id) do update
  set
    status = excluded.status,
    amount_total = excluded.amount_total,
    currency = excluded.currency,
    stripe_checkout_session_id = excluded.stripe_checkout_session_id,
    stripe_payment_intent_id = excluded.stripe_payment_intent_id,
    stripe_customer_id = excluded.stripe_customer_id,
    purchased_at = excluded.purchased_at,
    refunded_at = excluded.refunded_at,
    disputed_at = excluded.disputed_at,
    revoked_reason = excluded.revoked_reason
  where (p.status, p.stripe_checkout_session_id, p.purchased_at, p.refunded_at, p.disputed_at, p.revoked_reason)
    is distinct from
    (excluded.status, excluded.stripe_checkout_session_id, excluded.purchased_at,
     excluded.refunded_at, excluded.disputed_at, excluded.revoked_reason);

  -- refunds and disputes that waited for this purchase have now been applied
  update public.stripe_events as e
  set
    outcome = case
      when e.type = 'charge.dispute.closed' or e.refund_status is not null or e.type like 'radar.early_fraud_warning.%'
        then 'applied'
      else 'revoked'
    end,
    processed_at = pg_catalog.now()
  where
    e.outcome = 'deferred'
    and e.payment_intent_id in (
      select s.stripe_payment_intent_id from public.checkout_sessions as s
      where s.user_id = p_user_id and s.lesson_id = p_lesson_id and s.stripe_payment_intent_id is not null
      union all
      select c.payment_intent_id
      from public.checkout_session_contradictions as c
      join public.checkout_sessions as s on s.id = c.checkout_session_id
      where s.user_id = p_user_id and s.lesson_id = p_lesson_id and c.payment_intent_id is not null
    );
end;
$$;

-- Re-derive the payment record of the sessions paid with one payment intent (normally one)
-- from every event stored for it, so that any arrival order ends the same: how it was paid and
-- its receipt (from the newest charge event that says), what has been refunded and when that
-- total was reached (private.refund_timeline: refunds that failed or were canceled do not
-- count; a full refund counts as the whole amount even if its payload was cleared before the
-- amount was taken out), and its disputes (each by id: lost once any event says
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

  select t.in_full, t.amount_refunded as amount, t.refunded_since as created into v_refund
  from private.refund_timeline(
    p_payment_intent,
    -- what was charged, after any promotion code: refunds adding up to it are a refund in full
    (select pg_catalog.max(s.amount_paid) from public.checkout_sessions as s where s.stripe_payment_intent_id = p_payment_intent)
  ) as t
  order by t.step desc
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

  -- the paid invoice's page (invoice_creation), if its invoice.paid came before the session
  update public.checkout_sessions as s
  set
    invoice_url = (
      select e.invoice_url from public.stripe_events as e
      where e.object_id = s.invoice_id and e.invoice_url is not null
      order by e.created desc, e.id desc
      limit 1
    )
  where s.stripe_payment_intent_id = p_payment_intent and s.invoice_id is not null and s.invoice_url is null;
end;
$$;

-- Validate a Checkout Session (paid, pending, open or expired) against what is stored (or,
-- for a session never seen, against the lesson price) and apply it. Returns the outcome word.
-- A paid session an early fraud warning was waiting for is recorded and ended at once: 'revoked'.
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
  v_invoice text := private.json_word(p_session -> 'invoice', '^in_[A-Za-z0-9_]+$');
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
    elsif v_row.user_id is null then
      -- the learner deleted their account before paying: nothing is granted, and a payment is
      -- listed for a refund (payments_needing_attention)
      v_reason := 'account_deleted';
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
  -- its invoice.paid may be stored at this very moment (apply_invoice_event takes this lock)
  if v_invoice is not null then
    perform private.lock('invoice', v_invoice);
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
    invoice_id = coalesce(s.invoice_id, v_invoice),
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
  if v_row.user_id is null then
    -- decided before the learner deleted their account: the same verdict, nothing granted
    return case when v_row.fulfilment = 'already_owned' then 'already_owned' else 'duplicate' end;
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
  -- an early fraud warning that waited for this purchase ended it at once, and asks for its
  -- refund: 'revoked' tells the webhook to ask Stripe now (fraud_warnings.sql)
  if exists (
    select 1 from public.purchased_lessons as p
    where p.stripe_checkout_session_id = v_session_id and p.revoked_reason = 'early_fraud_warning'
  ) then
    return 'revoked';
  end if;
  return 'recorded';
end;
$$;

-- A refund or dispute: re-derive every purchase whose session's payment intent it names (its
-- own, or one a contradiction claimed). Before any such purchase is paid it is kept
-- ('deferred') and settle_purchase applies it when the purchase lands.
create or replace function private.apply_revocation(p_event_type text, p_object jsonb)
returns text
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_payment_intent text := nullif(p_object ->> 'payment_intent', '');
  v_purchase record;
  v_before record;
  v_after record;
  v_word text;
  v_outcome text;
begin
  if v_payment_intent is null then
    return 'ignored:no_payment_intent';
  end if;

  perform private.lock('payment_intent', v_payment_intent);
  for v_purchase in
    select s.user_id, s.lesson_id
    from public.checkout_sessions as s
    where s.stripe_payment_intent_id = v_payment_intent and s.payment_status = 'paid'
    union
    select s.user_id, s.lesson_id
    from public.checkout_session_contradictions as c
    join public.checkout_sessions as s on s.id = c.checkout_session_id
    where c.payment_intent_id = v_payment_intent and s.payment_status = 'paid'
    -- one lock order for every caller
    order by user_id, lesson_id
  loop
    perform private.lock('purchase', v_purchase.user_id::text || ':' || v_purchase.lesson_id::text);
    select p.status, p.stripe_checkout_session_id as session_id into v_before
    from public.purchased_lessons as p
    where p.user_id = v_purchase.user_id and p.lesson_id = v_purchase.lesson_id;
    perform private.settle_purchase(v_purchase.user_id, v_purchase.lesson_id);
    select p.status, p.stripe_checkout_session_id as session_id into v_after
    from public.purchased_lessons as p
    where p.user_id = v_purchase.user_id and p.lesson_id = v_purchase.lesson_id;

    v_word := case
      when (v_before.status, v_before.session_id) is not distinct from (v_after.status, v_after.session_id)
        then 'ignored:no_change'
      when v_after.status = 'paid' and v_before.status <> 'paid' then 'restored'
      -- the purchase this event is about ended, even if a later payment now grants the lesson
      else 'revoked'
    end;
    -- one event may touch several purchases: an ending outweighs a restoring, which outweighs none
    v_outcome := case
      when 'revoked' in (v_outcome, v_word) then 'revoked'
      when 'restored' in (v_outcome, v_word) then 'restored'
      else v_word
    end;
  end loop;

  -- A partial refund changes no access by itself (partial refunds that add up to the whole
  -- payment do, through the timeline), nor does one before its purchase: the timeline reads it
  -- when the purchase lands.
  if p_event_type = 'charge.refunded' and private.payment_fact(p_event_type, p_object) <> 'refund'
    and (v_outcome is null or v_outcome = 'ignored:no_change')
  then
    return 'ignored:partial_refund';
  end if;
  -- kept, and applied by settle_purchase when the purchase lands
  return coalesce(v_outcome, 'deferred');
end;
$$;

-- A refund event (refund.created, refund.updated, refund.failed, charge.refund.updated): the
-- refund's status joins its payment intent's timeline (refund_timeline), which may end access
-- (a refund in full, or partial refunds adding up to it) or give it back (a refund that failed
-- or was canceled), exactly as charge.refunded does. A refund belongs to the payment intent its
-- first event named: a later event naming another is a contradiction, stored, listed for an
-- operator ('rejected:refund_mismatch') and left out of every timeline. A refund of a payment
-- nobody knows is kept ('deferred') and listed once it has waited an hour
-- (payments_needing_attention).
create or replace function private.apply_refund_event(p_event_type text, p_object jsonb)
returns text
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_refund_id text := p_object ->> 'id';
  v_payment_intent text := nullif(p_object ->> 'payment_intent', '');
begin
  if coalesce(v_refund_id, '') !~ '^re_[A-Za-z0-9_]+$' then
    return 'rejected:not_a_refund';
  end if;
  if v_payment_intent is null then
    return 'ignored:no_payment_intent';
  end if;
  -- two events of one refund naming different payment intents must not both pass the check
  perform private.lock('refund', v_refund_id);
  if exists (
    select 1 from public.stripe_events as e
    where
      e.object_id = v_refund_id
      and e.refund_status is not null
      and e.payment_intent_id is distinct from v_payment_intent
      and (e.outcome is null or e.outcome not in ('error', 'rejected'))
  ) then
    return 'rejected:refund_mismatch';
  end if;
  return private.apply_charge_event(p_event_type, p_object);
end;
$$;

-- invoice.paid of a Checkout post-payment invoice (invoice_creation): its hosted page, kept on
-- the event when it was stored (invoice_url: the receipt_url rule, https or the stand-in's own
-- pages in test mode), is put on the session whose `invoice` it is, for the Purchases page.
-- Nothing about access depends on it. A session that names the invoice later picks the page up
-- then (settle_payment_record); an invoice no session names is someone else's, or early.
create or replace function private.apply_invoice_event(p_event_id text, p_object jsonb)
returns text
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_invoice text := private.json_word(p_object -> 'id', '^in_[A-Za-z0-9_]+$');
  v_url text;
begin
  if v_invoice is null then
    return 'ignored:not_an_invoice';
  end if;
  select e.invoice_url into v_url from public.stripe_events as e where e.id = p_event_id;
  if v_url is null then
    return 'ignored:no_invoice_url';
  end if;
  -- a session naming this invoice may be being recorded at this very moment
  perform private.lock('invoice', v_invoice);
  update public.checkout_sessions as s set invoice_url = v_url
  where s.invoice_id = v_invoice and s.invoice_url is distinct from v_url;
  if found or exists (select 1 from public.checkout_sessions as s where s.invoice_id = v_invoice) then
    return 'applied';
  end if;
  return 'ignored:unknown_invoice';
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

-- A session whose delayed payment failed. For a session already paid, that contradicts it.
create or replace function private.close_checkout_session(
  p_session jsonb,
  p_status text,
  p_event_id text default null
)
returns text
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_session_id text := p_session ->> 'id';
  v_payment_intent text := nullif(p_session ->> 'payment_intent', '');
  v_row public.checkout_sessions;
  v_contradicts text[];
begin
  perform private.lock('checkout_session', coalesce(v_session_id, ''));
  if v_payment_intent is not null then
    perform private.lock('payment_intent', v_payment_intent);
  end if;
  select * into v_row from public.checkout_sessions as s where s.id = v_session_id;
  if not found then
    return 'ignored:unknown_or_settled_session';
  end if;
  perform private.lock('purchase', v_row.user_id::text || ':' || v_row.lesson_id::text);
  v_contradicts := private.session_contradictions(v_row, p_session, false);
  if v_row.payment_status = 'paid' then
    v_contradicts := v_contradicts || 'payment_status'::text;
  end if;
  if pg_catalog.cardinality(v_contradicts) > 0 then
    return private.record_contradiction(v_row, p_session, v_contradicts, 'event', p_event_id);
  end if;

  update public.checkout_sessions as s
  set status = p_status, url = null
  where s.id = v_session_id and s.status in ('open', 'processing');
  if found then
    return p_status;
  end if;
  return 'ignored:unknown_or_settled_session';
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
      when v_type in ('refund.created', 'refund.updated', 'refund.failed', 'charge.refund.updated') then
        private.apply_refund_event(v_type, v_object)
      when v_type = 'invoice.paid' then
        private.apply_invoice_event(v_id, v_object)
      when v_type in ('radar.early_fraud_warning.created', 'radar.early_fraud_warning.updated') then
        private.apply_early_fraud_warning(v_object)
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

-- Store an event and apply it once: a stored event answers duplicate, unless its earlier
-- attempt failed with an error, in which case the stored event (not the redelivered body,
-- which could differ) is applied again.
create or replace function private.receive_event(p_event jsonb)
returns text
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_stored jsonb;
begin
  case private.store_event(p_event)
    when 'duplicate' then
      return 'duplicate';
    when 'retry' then
      select e.payload into v_stored from public.stripe_events as e where e.id = p_event ->> 'id';
      return private.process_event(v_stored);
    else
      return private.process_event(p_event);
  end case;
end;
$$;

revoke all on function
  private.try_uuid(text),
  private.lock(text, text),
  private.assert_read_committed(),
  private.refusal(boolean, text),
  private.session_refs(jsonb),
  private.session_amounts(jsonb),
  private.session_paid(jsonb),
  private.price_problem(jsonb, uuid, uuid),
  private.session_status(jsonb),
  private.session_status_rank(text),
  private.session_claims(jsonb),
  private.session_contradictions(public.checkout_sessions, jsonb, boolean),
  private.record_contradiction(public.checkout_sessions, jsonb, text[], text, text),
  private.refund_timeline(text, bigint),
  private.settle_purchase(uuid, uuid),
  private.settle_payment_record(text),
  private.apply_checkout_session(jsonb, timestamptz, text, text),
  private.apply_revocation(text, jsonb),
  private.apply_charge_event(text, jsonb),
  private.apply_refund_event(text, jsonb),
  private.apply_invoice_event(text, jsonb),
  private.close_checkout_session(jsonb, text, text),
  private.process_event(jsonb),
  private.receive_event(jsonb)
from public, anon, authenticated, service_role;

-- =============================================================================================
-- public functions: the sidecar's interface (service_role only)
-- =============================================================================================

-- security definer: writes tables that no API role may write; callable by service_role only.
create or replace function public.record_purchase(p_session jsonb, p_event jsonb default null)
returns text
language plpgsql
security definer
set search_path = ''
set enable_seqscan = off
as $$
begin
  perform private.assert_read_committed();
  if p_event is null then
    return private.apply_checkout_session(p_session, pg_catalog.now(), 'sync');
  end if;
  if p_event -> 'data' -> 'object' is distinct from p_session then
    raise exception 'p_session must be the event''s data.object' using errcode = '22023';
  end if;
  if p_event ->> 'type' not in ('checkout.session.completed', 'checkout.session.async_payment_succeeded') then
    raise exception 'record_purchase takes checkout.session.completed and async_payment_succeeded events, not %',
      p_event ->> 'type' using errcode = '22023';
  end if;
  return private.receive_event(p_event);
end;
$$;

comment on function public.record_purchase(jsonb, jsonb) is
  'Record a paid Checkout Session (as Stripe returns it). With p_event: store the event first; the same event twice is a duplicate.';

-- security definer: writes tables that no API role may write; callable by service_role only.
create or replace function public.revoke_purchase(p_object jsonb, p_event jsonb)
returns text
language plpgsql
security definer
set search_path = ''
set enable_seqscan = off
as $$
begin
  perform private.assert_read_committed();
  if p_event -> 'data' -> 'object' is distinct from p_object then
    raise exception 'p_object must be the event''s data.object' using errcode = '22023';
  end if;
  if p_event ->> 'type' not in ('charge.refunded', 'charge.dispute.created', 'charge.dispute.closed') then
    raise exception 'revoke_purchase takes charge.refunded and charge.dispute.* events, not %',
      p_event ->> 'type' using errcode = '22023';
  end if;
  return private.receive_event(p_event);
end;
$$;

comment on function public.revoke_purchase(jsonb, jsonb) is
  'Apply a full refund or a dispute (charge or dispute object). Arriving before its purchase, it is kept and applied when the purchase lands.';

-- security definer: writes tables that no API role may write; callable by service_role only.
create or replace function public.handle_stripe_event(p_event jsonb)
returns text
language plpgsql
security definer
set search_path = ''
set enable_seqscan = off
as $$
begin
  perform private.assert_read_committed();
  return private.receive_event(p_event);
end;
$$;

comment on function public.handle_stripe_event(jsonb) is
  'The webhook''s single call: store a verified Stripe event, apply it, return the outcome word.';

-- security definer: writes tables that no API role may write; callable by service_role only.
create or replace function public.sync_checkout_session(p_session jsonb)
returns text
language plpgsql
security definer
set search_path = ''
set enable_seqscan = off
as $$
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
$$;

comment on function public.sync_checkout_session(jsonb) is
  'Bring one Checkout Session retrieved from Stripe into the database: fulfil-on-return and reconcile.';

-- =============================================================================================
-- grants
-- =============================================================================================

revoke execute on function
  public.record_purchase(jsonb, jsonb),
  public.revoke_purchase(jsonb, jsonb),
  public.handle_stripe_event(jsonb),
  public.sync_checkout_session(jsonb)
from public, anon, authenticated;

grant execute on function
  public.record_purchase(jsonb, jsonb),
  public.revoke_purchase(jsonb, jsonb),
  public.handle_stripe_event(jsonb),
  public.sync_checkout_session(jsonb)
to service_role;
