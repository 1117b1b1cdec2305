-- What the frontend reads: the catalogue with the caller's ownership, and their purchase history.
--
-- What each lesson offers the learner, and the Purchases page's rows, are decided here, in SQL:
-- lesson_catalog() returns the caller's state for each lesson as one value (`access`), and
-- purchase_list() returns the Purchases page's rows ready to show; the frontend only formats
-- them.
--
-- `access` is, first match wins: 'free' (price 0: never sent to Checkout), 'owned' (the caller
-- holds it with status paid), 'processing' (a Checkout Session of the caller's whose payment
-- is processing: a delayed method awaiting the bank), else 'available'. An *open* session is
-- not 'processing': the learner may have walked away from it or cancelled (Checkout's cancel
-- link leaves it open), so Buy stays on offer and the sidecar hands that session back.
-- `owned` and `pending` keep their meaning for anything that reads them.
--
-- Both are security invoker: they read through the caller's own RLS, so a learner can only
-- ever see their own purchases and sessions, and a visitor sees none. They are PL/pgSQL, not
-- SQL: a SQL function with `set search_path` cannot be inlined, so Postgres planned it again on
-- every call; PL/pgSQL plans once per connection, as PostgREST's pooled connections call them.
-- The catalogue's order has an index of its own (lessons.sql).

-- =============================================================================================
-- types
-- =============================================================================================

create type public.lesson_access as enum ('free', 'owned', 'processing', 'available');

comment on type public.lesson_access is
'What a lesson offers the caller: free to read, owned, payment processing, or available to buy.';

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
  access public.lesson_access
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
    mine.owned,
    mine.pending,
    case
      when l.price_cents = 0 then 'free'
      when mine.owned then 'owned'
      when mine.processing then 'processing'
      else 'available'
    end::public.lesson_access as access
  from public.lessons as l
  cross join lateral (
    select
      exists (
        select 1 from public.purchased_lessons as p
        where p.lesson_id = l.id and p.user_id = (select auth.uid()) and p.status = 'paid'
      ) as owned,
      exists (
        select 1 from public.checkout_sessions as s
        where
          s.lesson_id = l.id
          and s.user_id = (select auth.uid())
          and (s.status = 'processing' or (s.status = 'open' and s.expires_at > pg_catalog.now()))
      ) as pending,
      exists (
        select 1 from public.checkout_sessions as s
        where s.lesson_id = l.id and s.user_id = (select auth.uid()) and s.status = 'processing'
      ) as processing
  ) as mine
  where l.published
  order by l.created_at, l.slug;
end;
$$;

comment on function public.lesson_catalog() is
'Published lessons for the caller, with owned (paid), pending (open or processing checkout) and access.';

create or replace function public.purchase_history()
returns table (
  lesson_id uuid,
  slug text,
  title text,
  amount_total bigint,
  currency text,
  status text,
  purchased_at timestamptz,
  refunded_at timestamptz
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
    p.lesson_id,
    l.slug,
    l.title,
    p.amount_total,
    p.currency,
    p.status,
    p.purchased_at,
    p.refunded_at
  from public.purchased_lessons as p
  inner join public.lessons as l on p.lesson_id = l.id
  where p.user_id = (select auth.uid())
  order by p.purchased_at desc, l.slug;
end;
$$;

comment on function public.purchase_history() is 'The caller''s purchases, newest first.';

-- The Purchases page's rows: payments still processing (a delayed method), then purchases
-- (paid, refunded, disputed), each newest first. id is the Checkout Session id, cast to text:
-- return query takes the declared column type exactly, not the public.checkout_session_id domain.
create or replace function public.purchase_list()
returns table (
  id text,
  slug text,
  title text,
  amount_total bigint,
  currency text,
  status text,
  occurred_at timestamptz
)
language plpgsql
stable
security invoker
set search_path = ''
as $$
#variable_conflict use_column
begin
  return query
  select listed.id::text, listed.slug, listed.title, listed.amount_total, listed.currency, listed.status, listed.occurred_at
  from (
    -- payments still processing (a delayed method), then purchases, each newest first
    select s.id, l.slug, l.title, s.amount_total, s.currency, 'processing' as status, s.created_at as occurred_at, 0 as part
    from public.checkout_sessions as s
    inner join public.lessons as l on s.lesson_id = l.id
    where s.user_id = (select auth.uid()) and s.status = 'processing'
    union all
    select
      p.stripe_checkout_session_id, l.slug, l.title, p.amount_total, p.currency, p.status, p.purchased_at, 1
    from public.purchased_lessons as p
    inner join public.lessons as l on p.lesson_id = l.id
    where p.user_id = (select auth.uid())
  ) as listed
  order by listed.part, listed.occurred_at desc, listed.slug;
end;
$$;

comment on function public.purchase_list() is
'The caller''s Purchases page: payments processing, then purchases (paid, refunded, disputed), newest first.';

-- =============================================================================================
-- grants
-- =============================================================================================

revoke execute on function
  public.lesson_catalog(), public.purchase_history(), public.purchase_list()
from public, anon, authenticated;
grant execute on function public.lesson_catalog() to anon, authenticated, service_role;
grant execute on function public.purchase_history() to authenticated, service_role;
grant execute on function public.purchase_list() to authenticated, service_role;
