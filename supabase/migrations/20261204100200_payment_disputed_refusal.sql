-- begin_checkout refuses a lesson whose payment is disputed and under review ('payment_disputed').
--
-- While the bank reviews a dispute of the payment that granted a lesson, access is paused and
-- the learner may yet get the lesson back (dispute won) or their money back (lost): a second
-- payment now could charge them twice. begin_checkout refuses with the reason
-- 'payment_disputed' (the sidecar answers 409 payment_disputed), and lesson_catalog() shows the
-- lesson as 'disputed' with no Buy (20261204100100_payment_record.sql). Once the dispute is
-- lost, Buy is offered again; won, the lesson is owned.
--
-- The change is one block, marked `>>> payment_disputed` … `<<< payment_disputed`, between
-- the payment_pending refusal and the reuse of an open session; the rest of the function is
-- as it was, so another change to begin_checkout merges by carrying this block over. It
-- carries 20261203120000_account_disabled.sql's refusal of a banned or deleted learner.

-- =============================================================================================
-- functions
-- =============================================================================================

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

  select s.stripe_customer_id into v_customer
  from public.checkout_sessions as s
  where s.user_id = p_user_id and s.stripe_customer_id is not null
  order by s.created_at desc
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

comment on function public.begin_checkout(uuid, uuid) is
  'May this learner buy this lesson? Returns {action: reuse|create|refresh|refuse, …}; the price comes from lessons.';
