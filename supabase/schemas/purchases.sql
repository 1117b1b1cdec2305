-- Ownership, checkout sessions and the contradictions Stripe's claims can raise.
--
-- purchased_lessons holds one row per (learner, lesson); its state is derived by the purchase
-- functions (purchase_rules.sql) from the facts below it (paid checkout sessions, refund and
-- dispute events), so that events arriving in any order end in the state Stripe's own order
-- gives. checkout_sessions records every Checkout Session the sidecar opened (and any paid one
-- that reached us without it). checkout_session_contradictions keeps each later claim about a
-- session that differs from what decided ownership. Nobody but the SQL functions writes these
-- tables. Every column holding a Checkout Session id is of the domain
-- public.checkout_session_id (events.sql), the one SQL definition of that shape.

-- =============================================================================================
-- tables
-- =============================================================================================

create table public.checkout_sessions (
  -- Checkout Session id, e.g. cs_test_a1YS1URlnyQCN5fUUduORoQ7Pw41PJqDWkIVQCpJPqkfIhd6tVY8XB1OLY
  id public.checkout_session_id primary key,
  -- the learner; null once their account is deleted: the payment stays for the operator's
  -- books (amounts, dates, Stripe ids) and no longer points at a person
  user_id uuid references auth.users (id) on delete set null,
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
  -- when the sidecar last read this session back from Stripe (the return page polls)
  synced_at timestamptz,
  -- what the session led to: 'granted', 'already_owned' or 'rejected:<reason>'
  fulfilment text
    constraint checkout_sessions_fulfilment_check
    check (fulfilment in ('granted', 'already_owned') or fulfilment like 'rejected:%'),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  -- The payment record (the Purchases page), re-derived by private.settle_payment_record from
  -- the events stored for this session's payment intent (purchase_rules.sql), whatever order
  -- they came in. Never read to decide access. How it was paid, as Stripe reports it:
  -- payment_method_details.type (e.g. 'card'), and for a card its brand ('visa') and last4
  payment_method_type text,
  card_brand text,
  card_last4 text constraint checkout_sessions_card_last4_format check (card_last4 ~ '^[0-9]{4}$'),
  -- the charge's receipt page (null until a charge event brought one)
  receipt_url public.receipt_url,
  -- what has been refunded of this payment so far (minor units), and when that total was reached
  amount_refunded bigint not null default 0 constraint checkout_sessions_refund_range check (amount_refunded >= 0),
  refunded_at timestamptz,
  -- disputes of this payment: 'open' while any is under review, else 'lost' if any was lost,
  -- else 'won' (won or an inquiry closed); null when never disputed
  dispute_status text constraint checkout_sessions_dispute_status_check check (dispute_status in ('open', 'won', 'lost')),
  -- Invoice id of the session's post-payment invoice (CHECKOUT_INVOICES), e.g.
  -- in_1MtHbELkdIwHu7ixl4OzzPMv, and its hosted page once invoice.paid brought it (a
  -- receipt_url: https, or the stand-in's own pages in test mode). Never read to decide access.
  invoice_id text constraint checkout_sessions_invoice_format check (invoice_id ~ '^in_[A-Za-z0-9_]+$'),
  invoice_url public.receipt_url,
  -- A promotion code the learner typed on Checkout (allow_promotion_codes), as the paid
  -- session reports it: what it took off (total_details.amount_discount, minor units), so that
  -- amount_total above stays the lesson's price and amount_paid is what was charged. A session
  -- a code made free is paid with amount_paid 0 (Stripe: no_payment_required).
  amount_discount bigint not null default 0,
  -- Promotion code id, e.g. promo_1Pgc79B7WZ01zgkWNy4mn5NX (its words: public.promotion_codes)
  promotion_code_id text constraint checkout_sessions_promotion_code_format check (promotion_code_id ~ '^promo_[A-Za-z0-9_]{1,250}$'),
  -- Coupon id behind the code, e.g. Z4OV52SU (ids are the shop's own words or Stripe's)
  coupon_id text constraint checkout_sessions_coupon_format check (coupon_id ~ '^[A-Za-z0-9_-]{1,250}$'),
  amount_paid bigint generated always as (amount_total - amount_discount) stored,
  -- paid and not granted (rejected, or charged for a lesson already owned): an operator must
  -- act (payments_needing_attention). Derived here so that the partial index of these sessions
  -- filters on this column, not on fulfilment: granting a paid session changes no indexed
  -- column, and settle_purchase's update is HOT (no new index entries)
  needs_attention boolean generated always as (coalesce(payment_status = 'paid' and fulfilment <> 'granted', false)) stored,
  -- why the shop itself refunds this payment: 'early_fraud_warning' (the card issuer warned of
  -- fraud: fraud_warnings.sql), else null. Written by settle_purchase with the decision, so the
  -- Purchases page can say why; last, as it was added after the others
  refund_reason text constraint checkout_sessions_refund_reason_check check (refund_reason in ('early_fraud_warning')),
  constraint checkout_sessions_paid_has_time check ((payment_status = 'paid') = (paid_at is not null)),
  constraint checkout_sessions_refunded_has_time check ((amount_refunded > 0) = (refunded_at is not null)),
  constraint checkout_sessions_discount_range check (amount_discount between 0 and amount_total)
);

comment on table public.checkout_sessions is 'Every Checkout Session opened for a learner; lets the sidecar reuse an open one and reconcile find gaps.';
comment on column public.checkout_sessions.fulfilment is
'What the session led to: granted, already_owned (charged twice) or rejected:<reason> (never grants; listed once paid).';

create table public.purchased_lessons (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  lesson_id uuid not null references public.lessons (id) on delete restrict,
  status text not null constraint purchased_lessons_status_check check (status in ('paid', 'refunded', 'disputed')),
  amount_total bigint not null constraint purchased_lessons_amount_range check (amount_total >= 0),
  currency text not null constraint purchased_lessons_currency_format check (currency ~ '^[a-z]{3}$'),
  -- Checkout Session id of the purchase that granted this row, e.g. cs_test_a1YS1URlnyQCN5fU…
  stripe_checkout_session_id public.checkout_session_id not null unique references public.checkout_sessions (id),
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
  -- why access ended when no refund or dispute fact ended it yet: 'early_fraud_warning' (the
  -- card issuer warned of fraud and the shop refunds the payment: fraud_warnings.sql), else null
  revoked_reason text constraint purchased_lessons_revoked_reason_check check (revoked_reason in ('early_fraud_warning')),
  constraint purchased_lessons_one_per_learner unique (user_id, lesson_id),
  constraint purchased_lessons_refunded_has_time check ((status = 'refunded') = (refunded_at is not null)),
  constraint purchased_lessons_disputed_has_time check ((status = 'disputed') = (disputed_at is not null)),
  constraint purchased_lessons_revoked_reason_not_paid check (revoked_reason is null or status <> 'paid')
);

comment on table public.purchased_lessons is 'One ownership row per learner and lesson; a repurchase after a refund revives it.';

create table public.checkout_session_contradictions (
  id bigint generated always as identity primary key,
  -- Checkout Session id contradicted, e.g. cs_test_a1YS1URlnyQCN5fUUduORoQ7Pw41PJqDWkIVQCpJPqkfIhd6tVY8XB1OLY
  checkout_session_id public.checkout_session_id not null references public.checkout_sessions (id) on delete cascade,
  -- Event id that carried the claim, e.g. evt_1Pgc76B7WZ01zgkWwyRHS12y (null: read back from Stripe)
  stripe_event_id text references public.stripe_events (id) on delete set null,
  -- which entry point saw it: 'event' (webhook, reconcile's replay), 'sync' (return page,
  -- reconcile, record_purchase without an event) or 'attach'
  source text not null constraint checkout_session_contradictions_source_check
    check (source in ('event', 'sync', 'attach')),
  -- the stored facts it contradicts, e.g. {payment_intent, amount_total}
  fields text[] not null constraint checkout_session_contradictions_fields_present check (cardinality(fields) > 0),
  -- the claim's ids, amounts and statuses (never names or emails)
  claimed jsonb not null,
  -- PaymentIntent id the claim names, e.g. pi_3MtwBwLkdIwHu7ix28a3tqPa; its refunds and
  -- disputes end the session's access too
  payment_intent_id text,
  received_at timestamptz not null default now(),
  -- set by resolve_attention (`sidecar resolve`) once an operator has dealt with it; it then
  -- leaves the attention list
  resolved_at timestamptz,
  constraint checkout_session_contradictions_once unique (checkout_session_id, claimed)
);

comment on table public.checkout_session_contradictions is
'Claims about a Checkout Session that contradict what is stored; they changed nothing and are listed for an operator.';

-- =============================================================================================
-- indexes: every foreign key and every column a policy or a purchase function filters on
-- =============================================================================================

-- A connection that first runs the purchase functions on empty tables caches PL/pgSQL plans
-- made then. With only (lesson_id) and (user_id, lesson_id) to choose from, the cached plans
-- looked purchases and sessions up by lesson alone, and every purchase of a popular lesson
-- then scanned all its rows: `make bench` measured such a connection's CPU per purchase
-- climbing by half over 2,000 calls while a newer one stayed flat. So the lesson_id indexes
-- (kept for the foreign keys) carry user_id too, and either index a plan picks finds one
-- learner's rows directly, whatever the statistics said when it was made.
create index checkout_sessions_user_lesson_idx on public.checkout_sessions (user_id, lesson_id);
create index checkout_sessions_lesson_user_idx on public.checkout_sessions (lesson_id, user_id);
create index checkout_sessions_payment_intent_idx on public.checkout_sessions (stripe_payment_intent_id)
  where stripe_payment_intent_id is not null;
create index checkout_sessions_invoice_idx on public.checkout_sessions (invoice_id)
  where invoice_id is not null;
-- the policy on promotion_codes (promotion_codes.sql) finds a learner's sessions by code
create index checkout_sessions_promotion_code_idx on public.checkout_sessions (promotion_code_id, user_id)
  where promotion_code_id is not null;
-- keyed on a column no update changes (updated_at, which every update moves, would make
-- each update write new index entries)
create index checkout_sessions_needing_attention_idx on public.checkout_sessions (created_at)
  where needs_attention;

-- (user_id, lesson_id) is indexed by purchased_lessons_one_per_learner
create index purchased_lessons_lesson_user_idx on public.purchased_lessons (lesson_id, user_id);
create index purchased_lessons_payment_intent_idx on public.purchased_lessons (stripe_payment_intent_id);

-- (checkout_session_id) is indexed by checkout_session_contradictions_once
create index checkout_session_contradictions_payment_intent_idx
  on public.checkout_session_contradictions (payment_intent_id)
  where payment_intent_id is not null;
create index checkout_session_contradictions_event_idx
  on public.checkout_session_contradictions (stripe_event_id)
  where stripe_event_id is not null;
create index checkout_session_contradictions_unresolved_idx
  on public.checkout_session_contradictions (received_at)
  where resolved_at is null;

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
alter table public.checkout_session_contradictions enable row level security;

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

-- checkout_session_contradictions: no policies: written by the purchase functions, read by
-- service_role only

-- the learners' policies on the catalogue (lessons.sql), which read purchased_lessons and
-- checkout_sessions. A lesson unpublished after a learner paid for it (or tried to: a payment
-- processing or failed) keeps its title on their Purchases page.
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
  or exists (
    select 1 from public.checkout_sessions as s
    where
      s.lesson_id = lessons.id
      and s.user_id = (select auth.uid())
      and (s.payment_status = 'paid' or s.status in ('processing', 'failed'))
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

revoke all on public.checkout_sessions, public.purchased_lessons from anon, authenticated;
-- anon keeps select so that lesson_catalog() can run for visitors; with no anon policy it sees nothing
grant select on public.checkout_sessions, public.purchased_lessons to anon, authenticated;
grant all on public.checkout_sessions, public.purchased_lessons to service_role;

revoke all on public.checkout_session_contradictions from anon, authenticated;
grant all on public.checkout_session_contradictions to service_role;
