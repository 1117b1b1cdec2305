-- Opening Checkout Sessions: the price comes from the database, never from the client.
--
-- begin_checkout decides whether a learner may buy a lesson and either hands back their open
-- session or everything the sidecar needs to create one, including a deterministic
-- Idempotency-Key so that double clicks and retried requests open one session at Stripe.
-- attach_checkout_session records the session Stripe created, which must agree with what is
-- stored if the webhook came first (purchase_rules.sql). All three are service_role only, and
-- run with `set enable_seqscan = off` so that no plan a pooled connection caches on young
-- tables reads a whole table later (purchase_rules.sql says why).

-- =============================================================================================
-- functions
-- =============================================================================================

-- security definer: reads auth.users and writes checkout_sessions; callable by service_role only.
create or replace function public.begin_checkout(p_user_id uuid, p_lesson_id uuid)
returns jsonb
language plpgsql
security definer
set search_path = ''
set enable_seqscan = off
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

comment on function public.begin_checkout(uuid, uuid) is
  'May this learner buy this lesson? Returns {action: reuse|create|refresh|refuse, …}; the price comes from lessons.';

-- security definer: writes checkout_sessions; callable by service_role only.
-- Answers {"outcome": "attached" | "existing" | "rejected", "reason" (rejected only), "id", "url"},
-- so that the sidecar decodes it as a tagged union.
create or replace function public.attach_checkout_session(p_session jsonb)
returns jsonb
language plpgsql
security definer
set search_path = ''
set enable_seqscan = off
as $$
declare
  v_refs record := private.session_refs(p_session);
  v_session_id text := v_refs.session_id;
  v_payment_intent text := nullif(p_session ->> 'payment_intent', '');
  v_row public.checkout_sessions;
  v_contradicts text[];
  v_reason text;
begin
  if v_refs.problem = 'not_a_checkout_session' then
    return pg_catalog.jsonb_build_object(
      'outcome', 'rejected', 'reason', v_refs.problem, 'id', v_session_id, 'url', null
    );
  end if;

  -- the webhook may be recording this very session (the learner paid at once)
  perform private.lock('checkout_session', v_session_id);
  if v_payment_intent is not null then
    perform private.lock('payment_intent', v_payment_intent);
  end if;

  -- known already (a retried attach, or the webhook came first): it must say the same
  select * into v_row from public.checkout_sessions where id = v_session_id;
  if found then
    perform private.lock('purchase', v_row.user_id::text || ':' || v_row.lesson_id::text);
    v_contradicts := private.session_contradictions(v_row, p_session, false);
    if pg_catalog.cardinality(v_contradicts) > 0 then
      perform private.record_contradiction(v_row, p_session, v_contradicts, 'attach', null);
      return pg_catalog.jsonb_build_object(
        'outcome', 'rejected', 'reason', 'contradiction', 'id', v_session_id, 'url', null
      );
    end if;
    return pg_catalog.jsonb_build_object('outcome', 'existing', 'id', v_session_id, 'url', p_session ->> 'url');
  end if;

  v_reason := coalesce(v_refs.problem, private.price_problem(p_session, v_refs.user_id, v_refs.lesson_id));
  if v_reason is not null then
    return pg_catalog.jsonb_build_object('outcome', 'rejected', 'reason', v_reason, 'id', v_session_id, 'url', null);
  end if;

  insert into public.checkout_sessions (
    id, user_id, lesson_id, amount_total, currency, status, url,
    stripe_customer_id, expires_at, created_at
  )
  values (
    v_session_id, v_refs.user_id, v_refs.lesson_id, (p_session ->> 'amount_total')::bigint,
    pg_catalog.lower(p_session ->> 'currency'),
    'open', p_session ->> 'url',
    nullif(p_session ->> 'customer', ''),
    pg_catalog.to_timestamp((p_session ->> 'expires_at')::double precision),
    coalesce(pg_catalog.to_timestamp((p_session ->> 'created')::double precision), pg_catalog.now())
  );
  return pg_catalog.jsonb_build_object('outcome', 'attached', 'id', v_session_id, 'url', p_session ->> 'url');
end;
$$;

comment on function public.attach_checkout_session(jsonb) is
  'Record the Checkout Session Stripe just created, after checking it against the lesson price: {outcome, reason, id, url}.';

-- security definer: reads any learner's session for the sidecar; callable by service_role only.
create or replace function public.checkout_session_for_user(p_user_id uuid, p_session_id text)
returns jsonb
language sql
stable
security definer
set search_path = ''
set enable_seqscan = off
as $$
  select pg_catalog.jsonb_build_object(
    'id', s.id,
    'lesson_id', s.lesson_id,
    'status', s.status,
    'payment_status', s.payment_status,
    'seconds_since_sync', extract(epoch from pg_catalog.now() - s.synced_at),
    'owned', exists (
      select 1 from public.purchased_lessons as p
      where p.user_id = s.user_id and p.lesson_id = s.lesson_id and p.status = 'paid'
    )
  )
  from public.checkout_sessions as s
  where s.id = p_session_id and s.user_id = p_user_id;
$$;

comment on function public.checkout_session_for_user(uuid, text) is
  'One learner''s Checkout Session (and how long ago it was read back from Stripe), or null when it is not theirs.';

-- =============================================================================================
-- grants
-- =============================================================================================

revoke execute on function
  public.begin_checkout(uuid, uuid),
  public.attach_checkout_session(jsonb),
  public.checkout_session_for_user(uuid, text)
from public, anon, authenticated;

grant execute on function
  public.begin_checkout(uuid, uuid),
  public.attach_checkout_session(jsonb),
  public.checkout_session_for_user(uuid, text)
to service_role;
