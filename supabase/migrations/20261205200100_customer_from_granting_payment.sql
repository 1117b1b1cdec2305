-- The customer a learner's Checkout reuses comes only from that learner's own granting payment.
--
-- begin_checkout handed the sidecar the customer of the learner's newest session that had any,
-- and a session's customer could be added by any later claim about it (a stored null was
-- filled in, even after the session was paid). So one signed claim naming a customer steered
-- every later Checkout of that learner to it, or made each fail with 502 if Stripe refused it.
-- Now a claim that adds or changes the customer or the payment intent of a decided (paid or
-- rejected) session is a contradiction: stored, listed for an operator, refused, and it
-- changes nothing. begin_checkout reuses only the customer of a payment that granted this
-- learner a lesson (fulfilment 'granted'), newest first; the sidecar falls back to
-- customer_email when Stripe answers that it has no such customer.

-- =============================================================================================
-- functions
-- =============================================================================================

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
    if (p_session ->> 'amount_total')::bigint is distinct from p_row.amount_total then
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
      and p_row.fulfilment is distinct from 'rejected:no_payment_required'
    then
      v_fields := v_fields || 'payment_status'::text;
    end if;
  end if;
  return v_fields;
end;
$$;

-- security definer: reads auth.users and writes checkout_sessions; callable by service_role only.
create or replace function public.begin_checkout(p_user_id uuid, p_lesson_id uuid)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_lesson public.lessons;
  v_email text;
  v_open public.checkout_sessions;
  v_stale text[];
  v_generation bigint;
  v_customer text;
begin
  select * into v_lesson from public.lessons as l where l.id = p_lesson_id and l.published;
  if not found then
    return pg_catalog.jsonb_build_object('action', 'refuse', 'reason', 'unknown_lesson');
  end if;
  if v_lesson.price_cents = 0 then
    return pg_catalog.jsonb_build_object('action', 'refuse', 'reason', 'free_lesson');
  end if;
  -- An access token outlives a ban or a deletion by up to its expiry: Auth's verdict on the
  -- account is read here, so a banned or deleted learner cannot open a checkout meanwhile.
  select u.email into v_email
  from auth.users as u
  where
    u.id = p_user_id and u.deleted_at is null
    and (u.banned_until is null or u.banned_until <= pg_catalog.now());
  if not found then
    return pg_catalog.jsonb_build_object('action', 'refuse', 'reason', 'account_disabled');
  end if;
  if exists (
    select 1 from public.purchased_lessons as p
    where p.user_id = p_user_id and p.lesson_id = p_lesson_id and p.status = 'paid'
  ) then
    return pg_catalog.jsonb_build_object('action', 'refuse', 'reason', 'already_owned');
  end if;
  -- a delayed payment under way: a second session could charge the learner twice
  if exists (
    select 1 from public.checkout_sessions as s
    where s.user_id = p_user_id and s.lesson_id = p_lesson_id and s.status = 'processing'
  ) then
    return pg_catalog.jsonb_build_object('action', 'refuse', 'reason', 'payment_pending');
  end if;
  -- >>> payment_disputed (20261204100200_payment_disputed_refusal.sql) >>>
  -- The bank is reviewing a dispute of the payment that granted this lesson: access is paused,
  -- and the learner may yet get the lesson back (dispute won) or the money back (lost). A
  -- second payment now could charge them twice. lesson_catalog() shows exactly these lessons
  -- as 'disputed', with no Buy; once the dispute is lost, Buy is offered again.
  if exists (
    select 1
    from public.purchased_lessons as p
    inner join public.checkout_sessions as s on p.stripe_checkout_session_id = s.id
    where
      p.user_id = p_user_id and p.lesson_id = p_lesson_id and p.status = 'disputed'
      and s.dispute_status is distinct from 'lost'
  ) then
    return pg_catalog.jsonb_build_object('action', 'refuse', 'reason', 'payment_disputed');
  end if;
  -- <<< payment_disputed <<<

  select * into v_open
  from public.checkout_sessions as s
  where
    s.user_id = p_user_id and s.lesson_id = p_lesson_id and s.status = 'open'
    and s.expires_at > pg_catalog.now() + interval '1 minute'
    and s.amount_total = v_lesson.price_cents and s.currency = v_lesson.currency
    and s.url is not null
  order by s.created_at desc
  limit 1;
  if found then
    return pg_catalog.jsonb_build_object('action', 'reuse', 'session_id', v_open.id, 'url', v_open.url);
  end if;

  -- Open sessions that cannot be reused (about to expire, or at an old price) may still be
  -- paid, even with a delayed method whose event has not arrived: only Stripe knows. The
  -- sidecar expires them there and syncs what Stripe answers before a new one is opened, so
  -- a learner never holds two payable sessions for one lesson.
  select pg_catalog.array_agg(s.id order by s.created_at) into v_stale
  from public.checkout_sessions as s
  where s.user_id = p_user_id and s.lesson_id = p_lesson_id and s.status = 'open';
  if v_stale is not null then
    return pg_catalog.jsonb_build_object('action', 'refresh', 'session_ids', pg_catalog.to_jsonb(v_stale));
  end if;

  -- the key changes only when a session closes or the lesson is edited (price, title…), so
  -- concurrent requests for the same purchase share it and Stripe answers them with one session
  select pg_catalog.count(*) into v_generation
  from public.checkout_sessions as s
  where s.user_id = p_user_id and s.lesson_id = p_lesson_id and s.status <> 'open';

  -- The Customer to reuse comes only from a payment that granted this learner a lesson: its
  -- customer was fixed when it was decided (a later claim adding or changing it is a
  -- contradiction that changes nothing), so no other claim can steer a learner's Checkout to
  -- someone else's customer. The sidecar falls back to customer_email if Stripe refuses it.
  select s.stripe_customer_id into v_customer
  from public.checkout_sessions as s
  where s.user_id = p_user_id and s.stripe_customer_id is not null and s.fulfilment = 'granted'
  order by s.paid_at desc, s.id desc
  limit 1;

  return pg_catalog.jsonb_build_object(
    'action', 'create',
    'idempotency_key', pg_catalog.format(
      'lesson-checkout:%s:%s:%s:%s',
      p_user_id, p_lesson_id,
      pg_catalog.floor(extract(epoch from v_lesson.updated_at) * 1000)::bigint, v_generation
    ),
    'lesson', pg_catalog.jsonb_build_object(
      'id', v_lesson.id,
      'slug', v_lesson.slug,
      'title', v_lesson.title,
      'description', v_lesson.description,
      'price_cents', v_lesson.price_cents,
      'currency', v_lesson.currency,
      'stripe_price_id', v_lesson.stripe_price_id
    ),
    'customer_email', v_email,
    'stripe_customer_id', v_customer
  );
end;
$$;
