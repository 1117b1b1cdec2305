-- begin_checkout refuses a banned or deleted learner: {"action": "refuse", "reason":
-- "account_disabled"}.
--
-- A learner's access token stays valid until it expires (an hour by default) whatever
-- happens to the account meanwhile, so the sidecar's check of the token cannot see a ban
-- (GoTrue's auth.users.banned_until in the future) or a deletion (deleted_at set, or the row
-- gone). begin_checkout reads the account itself and refuses all three the same way; it used
-- to answer `unknown_user` for a missing or soft-deleted row and to let a banned learner pay.
-- EXECUTE stays as 20261128000400_checkout_functions.sql granted it (service_role only).

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
