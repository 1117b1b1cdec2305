-- Ownership, checkout sessions and the Stripe event log.
--
-- purchased_lessons holds one row per (learner, lesson); its state is derived by the purchase
-- functions from the facts below it (paid checkout sessions, refund and dispute events), so
-- that events arriving in any order end in the state Stripe's own order gives.
-- checkout_sessions records every Checkout Session the sidecar opened (and any paid one that
-- reached us without it). stripe_events stores every verified event before it is acted on;
-- its primary key is the idempotency guard. Nobody but the SQL functions writes these tables.

-- =============================================================================================
-- tables
-- =============================================================================================

create table public.checkout_sessions (
  -- Checkout Session id, e.g. cs_test_a1YS1URlnyQCN5fUUduORoQ7Pw41PJqDWkIVQCpJPqkfIhd6tVY8XB1OLY
  id text primary key constraint checkout_sessions_id_format check (id ~ '^cs_[A-Za-z0-9_]+$'),
  user_id uuid not null references auth.users (id) on delete cascade,
  lesson_id uuid not null references public.lessons (id) on delete restrict,
  amount_total bigint not null constraint checkout_sessions_amount_range check (amount_total >= 0),
  currency text not null constraint checkout_sessions_currency_format check (currency ~ '^[a-z]{3}$'),
  -- open → processing (delayed payment method) → complete | failed; open → expired
  status text not null default 'open'
    constraint checkout_sessions_status_check
    check (status in ('open', 'processing', 'complete', 'expired', 'failed')),
  payment_status text not null default 'unpaid'
    constraint checkout_sessions_payment_status_check
    check (payment_status in ('paid', 'unpaid', 'no_payment_required')),
  -- the hosted Checkout page while the session is open
  url text,
  -- PaymentIntent id, e.g. pi_3MtwBwLkdIwHu7ix28a3tqPa
  stripe_payment_intent_id text
    constraint checkout_sessions_payment_intent_format check (stripe_payment_intent_id ~ '^pi_[A-Za-z0-9_]+$'),
  -- Customer id, e.g. cus_NffrFeUfNV2Hib
  stripe_customer_id text
    constraint checkout_sessions_customer_format check (stripe_customer_id ~ '^cus_[A-Za-z0-9_]+$'),
  expires_at timestamptz not null,
  -- earliest time the payment is known to have succeeded (event created, or when observed)
  paid_at timestamptz,
  -- why a paid session granted nothing: 'already_owned' or 'rejected:<reason>'
  -- when the sidecar last read this session back from Stripe (the return page polls)
  synced_at timestamptz,
  fulfilment text
    constraint checkout_sessions_fulfilment_check
    check (fulfilment in ('granted', 'already_owned') or fulfilment like 'rejected:%'),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint checkout_sessions_paid_has_time check ((payment_status = 'paid') = (paid_at is not null))
);

comment on table public.checkout_sessions is 'Every Checkout Session opened for a learner; lets the sidecar reuse an open one and reconcile find gaps.';
comment on column public.checkout_sessions.fulfilment is 'What the paid session led to: granted, already_owned (charged twice) or rejected:<reason>.';

create table public.purchased_lessons (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  lesson_id uuid not null references public.lessons (id) on delete restrict,
  status text not null constraint purchased_lessons_status_check check (status in ('paid', 'refunded', 'disputed')),
  amount_total bigint not null constraint purchased_lessons_amount_range check (amount_total >= 0),
  currency text not null constraint purchased_lessons_currency_format check (currency ~ '^[a-z]{3}$'),
  -- Checkout Session id of the purchase that granted this row, e.g. cs_test_a1YS1URlnyQCN5fU…
  stripe_checkout_session_id text not null unique references public.checkout_sessions (id),
  -- PaymentIntent id, e.g. pi_3MtwBwLkdIwHu7ix28a3tqPa
  stripe_payment_intent_id text
    constraint purchased_lessons_payment_intent_format check (stripe_payment_intent_id ~ '^pi_[A-Za-z0-9_]+$'),
  -- Customer id, e.g. cus_NffrFeUfNV2Hib
  stripe_customer_id text
    constraint purchased_lessons_customer_format check (stripe_customer_id ~ '^cus_[A-Za-z0-9_]+$'),
  purchased_at timestamptz not null,
  refunded_at timestamptz,
  disputed_at timestamptz,
  updated_at timestamptz not null default now(),
  constraint purchased_lessons_one_per_learner unique (user_id, lesson_id),
  constraint purchased_lessons_refunded_has_time check ((status = 'refunded') = (refunded_at is not null)),
  constraint purchased_lessons_disputed_has_time check ((status = 'disputed') = (disputed_at is not null))
);

comment on table public.purchased_lessons is 'One ownership row per learner and lesson; a repurchase after a refund revives it.';

create table public.stripe_events (
  -- Event id, e.g. evt_1Pgc76B7WZ01zgkWwyRHS12y
  id text primary key constraint stripe_events_id_format check (id ~ '^evt_[A-Za-z0-9_]+$'),
  type text not null,
  -- Stripe's created time of the event
  created timestamptz not null,
  livemode boolean not null default false,
  api_version text,
  received_at timestamptz not null default now(),
  processed_at timestamptz,
  outcome text,
  error text,
  -- Checkout Session id the event is about, e.g. cs_test_a1YS1URlnyQCN5fU…
  checkout_session_id text,
  -- PaymentIntent id the event is about, e.g. pi_3MtwBwLkdIwHu7ix28a3tqPa
  payment_intent_id text,
  payload jsonb not null
);

comment on table public.stripe_events is 'Every verified Stripe event, stored before it is acted on. The primary key is the idempotency guard.';

-- =============================================================================================
-- indexes: every foreign key and every column a policy or a purchase function filters on
-- =============================================================================================

create index checkout_sessions_user_lesson_idx on public.checkout_sessions (user_id, lesson_id);
create index checkout_sessions_lesson_id_idx on public.checkout_sessions (lesson_id);
create index checkout_sessions_payment_intent_idx on public.checkout_sessions (stripe_payment_intent_id)
  where stripe_payment_intent_id is not null;
create index checkout_sessions_needing_attention_idx on public.checkout_sessions (updated_at)
  where fulfilment <> 'granted';

-- (user_id, lesson_id) is indexed by purchased_lessons_one_per_learner
create index purchased_lessons_lesson_id_idx on public.purchased_lessons (lesson_id);
create index purchased_lessons_payment_intent_idx on public.purchased_lessons (stripe_payment_intent_id);

create index stripe_events_payment_intent_idx on public.stripe_events (payment_intent_id)
  where payment_intent_id is not null;
create index stripe_events_checkout_session_idx on public.stripe_events (checkout_session_id)
  where checkout_session_id is not null;
create index stripe_events_unsettled_idx on public.stripe_events (received_at)
  where outcome = 'error' or outcome = 'deferred' or outcome like 'rejected:%';

-- =============================================================================================
-- triggers
-- =============================================================================================

create trigger checkout_sessions_touch_updated_at
before update on public.checkout_sessions
for each row execute function private.touch_updated_at();

create trigger purchased_lessons_touch_updated_at
before update on public.purchased_lessons
for each row execute function private.touch_updated_at();

-- =============================================================================================
-- row level security
-- =============================================================================================

alter table public.checkout_sessions enable row level security;
alter table public.purchased_lessons enable row level security;
alter table public.stripe_events enable row level security;

create policy "learners read their own purchases"
on public.purchased_lessons
for select
to authenticated
using (user_id = (select auth.uid()));

create policy "learners read their own checkout sessions"
on public.checkout_sessions
for select
to authenticated
using (user_id = (select auth.uid()));

-- stripe_events: no policies: written and read by service_role only

create policy "learners read published lessons and lessons they bought"
on public.lessons
for select
to authenticated
using (
  published
  or exists (
    select 1 from public.purchased_lessons as p
    where p.lesson_id = lessons.id and p.user_id = (select auth.uid())
  )
);

create policy "learners read free or owned lesson content"
on public.lesson_content
for select
to authenticated
using (
  exists (
    select 1 from public.lessons as l
    where l.id = lesson_content.lesson_id and l.published and l.price_cents = 0
  )
  or exists (
    select 1 from public.purchased_lessons as p
    where
      p.lesson_id = lesson_content.lesson_id
      and p.user_id = (select auth.uid())
      and p.status = 'paid'
  )
);

-- =============================================================================================
-- grants: learners read through RLS; only the purchase functions (as their owner) write
-- =============================================================================================

revoke all on public.checkout_sessions, public.purchased_lessons, public.stripe_events
from anon, authenticated;
-- anon keeps select so that lesson_catalog() can run for visitors; with no anon policy it sees nothing
grant select on public.checkout_sessions, public.purchased_lessons to anon, authenticated;
grant all on public.checkout_sessions, public.purchased_lessons, public.stripe_events to service_role;
