-- Plans that stay right from an empty start, and catalogue reads that plan once per session.
--
-- A connection that first runs the purchase functions on empty tables caches PL/pgSQL plans
-- made then. With only (lesson_id) and (user_id, lesson_id) to choose from, the cached plans
-- looked purchases and sessions up by lesson alone, and every purchase of a popular lesson
-- then scanned all its rows: `make bench` measured such a connection's CPU per purchase
-- climbing by half over 2,000 calls while a newer one stayed flat. The lesson_id indexes
-- (kept for the foreign keys) now carry user_id too, so either index a plan picks finds
-- one learner's rows directly, whatever the statistics said when it was made.
--
-- lesson_catalog() and purchase_history() were SQL functions, which Postgres plans again on
-- every call (their `set search_path` rules out inlining); as PL/pgSQL they plan once per
-- connection, as PostgREST's pooled connections call them. The catalogue's order has an
-- index of its own.

-- =============================================================================================
-- indexes
-- =============================================================================================

create index purchased_lessons_lesson_user_idx on public.purchased_lessons (lesson_id, user_id);
drop index public.purchased_lessons_lesson_id_idx;

create index checkout_sessions_lesson_user_idx on public.checkout_sessions (lesson_id, user_id);
drop index public.checkout_sessions_lesson_id_idx;

create index lessons_catalog_order_idx on public.lessons (created_at, slug) where published;

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
  pending boolean
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
    ) as pending
  from public.lessons as l
  where l.published
  order by l.created_at, l.slug;
end;
$$;

comment on function public.lesson_catalog() is
'Published lessons for the caller, with owned (paid) and pending (open or processing checkout).';

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
