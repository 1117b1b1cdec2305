-- What the frontend reads: the catalogue with the caller's ownership, and their purchase history.
--
-- Both are security invoker: they read through the caller's own RLS, so a learner can only
-- ever see their own purchases and sessions, and a visitor sees none. They are PL/pgSQL, not
-- SQL: a SQL function with `set search_path` cannot be inlined, so Postgres planned it again on
-- every call; PL/pgSQL plans once per connection, as PostgREST's pooled connections call them.
-- The catalogue's order has an index of its own (lessons.sql).

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

-- =============================================================================================
-- grants
-- =============================================================================================

revoke execute on function public.lesson_catalog(), public.purchase_history() from public, anon, authenticated;
grant execute on function public.lesson_catalog() to anon, authenticated, service_role;
grant execute on function public.purchase_history() to authenticated, service_role;
