-- lesson_catalog() reads the caller's sessions and purchases once, not lesson by lesson.
--
-- With the lesson_access states (20261204100100_payment_record.sql) the catalogue looked up
-- the caller's checkout sessions with a lateral aggregate per lesson: a thousand index probes,
-- each with an array_agg sort, per call of a 1,000-lesson catalogue (`make bench`,
-- rls_lesson_catalog, went from 4.99 to 12.35 ms a call). A learner has a handful of sessions
-- and purchases: they are now read once each through the (user_id, lesson_id) indexes,
-- aggregated by lesson, and joined to the lessons. The answer is the same, row for row.

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
  order by l.created_at, l.slug;
end;
$$;
