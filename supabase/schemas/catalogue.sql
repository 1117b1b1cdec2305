-- What the frontend reads: the catalogue with the caller's state for each lesson, and the
-- caller's payment record.
--
-- Both are decided here, in SQL; the frontend only formats them. lesson_catalog() returns each
-- lesson's `access` (why it is or is not the caller's) and `access_changed_at`; the lesson page
-- reads the same function filtered by slug. purchase_list() is the Purchases page: a record of
-- payments, not of ownership, one row per Checkout Session of the caller's that reached
-- payment, with its `status` in words (a `payment_state`).
--
-- `access`, first match wins:
--   'free'          price 0: never sent to Checkout
--   'owned'         the caller holds it with status paid: bought, partly refunded (a partial
--                   refund keeps access: settle_purchase, the one place that decides access),
--                   or a dispute won
--   'processing'    a payment of the caller's is processing (a delayed method awaiting the bank)
--   'disputed'      the bank is reviewing a dispute of the payment that granted it: access is
--                   paused and Buy is not offered (begin_checkout refuses 'payment_disputed')
--   'failed'        the caller's latest payment for it failed: they were not charged; try again
--   'refunded'      refunded in full: access ended; Buy again
--   'dispute_lost'  a dispute of the granting payment was lost: access ended; Buy again
--   'available'     on offer
-- An *open* session is not 'processing': the learner may have walked away from it or
-- cancelled (Checkout's cancel link leaves it open), so Buy stays on offer and the sidecar
-- hands that session back. `access_changed_at` is when the state began: purchased_at (owned),
-- when the processing checkout started, refunded_at, disputed_at (disputed, dispute_lost);
-- null for free, failed and available. `owned` and `pending` keep their meaning for anything
-- that reads them.
--
-- Both are security invoker: they read through the caller's own RLS, so a learner can only
-- ever see their own purchases and sessions, and a visitor sees none. They are PL/pgSQL, not
-- SQL: a SQL function with `set search_path` cannot be inlined, so Postgres planned it again on
-- every call; PL/pgSQL plans once per connection, as PostgREST's pooled connections call them.
-- The catalogue's order has an index of its own (lessons.sql).

-- =============================================================================================
-- types
-- =============================================================================================

create type public.lesson_access as enum (
  'free', 'owned', 'processing', 'disputed', 'failed', 'refunded', 'dispute_lost', 'available'
);

comment on type public.lesson_access is
'Why a lesson is or is not the caller''s: free, owned, processing, disputed, failed, refunded, dispute_lost or available.';

create type public.payment_state as enum (
  'processing', 'paid', 'failed', 'refunded', 'partly_refunded', 'disputed', 'dispute_won', 'dispute_lost'
);

comment on type public.payment_state is
'Where one payment (a Checkout Session that reached payment) stands, as the Purchases page shows it.';

-- =============================================================================================
-- functions
-- =============================================================================================

create or replace function public.lesson_catalog()
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
  -- The caller's own sessions and purchases are read once each (a few rows through the
  -- (user_id, lesson_id) indexes) and joined to the lessons, rather than looked up lesson by
  -- lesson: a catalogue of 1,000 lessons made a thousand index probes and aggregates per call
  -- (`make bench`, rls_lesson_catalog).
  return query
  with mine as (
    select
      s.lesson_id,
      pg_catalog.bool_or(s.status = 'processing' or (s.status = 'open' and s.expires_at > pg_catalog.now())) as pending,
      pg_catalog.max(s.created_at) filter (where s.status = 'processing') as processing_since,
      -- the status of the caller's latest session that reached payment
      (pg_catalog.array_agg(s.status order by s.created_at desc, s.id desc)
        filter (where s.status in ('processing', 'complete', 'failed')))[1] as last_paying_status
    from public.checkout_sessions as s
    where s.user_id = (select auth.uid())
    group by s.lesson_id
  ),
  held as (
    select p.lesson_id, p.status, p.purchased_at, p.refunded_at, p.disputed_at,
      g.dispute_status as granting_dispute_status
    from public.purchased_lessons as p
    inner join public.checkout_sessions as g on p.stripe_checkout_session_id = g.id
    where p.user_id = (select auth.uid())
  )
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
  left join held as p on l.id = p.lesson_id
  left join mine on l.id = mine.lesson_id
  cross join lateral (
    select case
      when l.price_cents = 0 then 'free'
      when p.status = 'paid' then 'owned'
      when mine.processing_since is not null then 'processing'
      when p.status = 'disputed' and p.granting_dispute_status is distinct from 'lost' then 'disputed'
      when mine.last_paying_status = 'failed' then 'failed'
      when p.status = 'refunded' then 'refunded'
      when p.status = 'disputed' then 'dispute_lost'
      else 'available'
    end::public.lesson_access as access
  ) as decided
  where l.published
  order by l.display_order, l.created_at, l.slug;
end;
$$;

comment on function public.lesson_catalog() is
'Published lessons for the caller, with owned (paid), pending (open or processing checkout), access and access_changed_at.';

-- The Purchases page: one row per Checkout Session of the caller's that reached payment
-- (processing, failed, or paid, whatever happened to it since), newest first. occurred_at is
-- when it was paid (paid_at), or when a payment still processing or failed was started;
-- payment_method_* and receipt_url are as Stripe reported the charge (null until a charge
-- event came); payment_reference is the PaymentIntent id a learner can quote to support;
-- refunded_amount and refunded_at are null when nothing was refunded; invoice_url is the paid
-- invoice's page when the session was created with an invoice (CHECKOUT_INVOICES), else null
-- (the receipt_url rule: https, or the stand-in's own pages in test mode); amount_total is what
-- was charged, after any promotion code's amount_discount (null without one), promotion_code the
-- code's words (null without one, or while its promotion_code event has not come); refund_reason
-- why the shop itself refunds the payment ('early_fraud_warning': the card issuer flagged it;
-- null otherwise, a refund an operator or the learner asked for included). id is the Checkout
-- Session id, cast to text: return query takes the declared column type exactly, not the
-- public.checkout_session_id domain (the same for receipt_url and invoice_url).
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
  invoice_url text,
  amount_discount bigint,
  promotion_code text,
  refund_reason text
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
    s.invoice_url::text,
    nullif(s.amount_discount, 0),
    (select c.code from public.promotion_codes as c where c.id = s.promotion_code_id),
    s.refund_reason
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
