-- Lesson pages that sell, and a reader that remembers where the learner stopped.
--
-- lessons gains what its page shows before anyone buys: an outline (section titles), an
-- estimated time, a level, an author, a free preview (Markdown, public like the rest of the
-- row; the body stays in lesson_content behind its rule) and a display position, which the
-- catalogue now sorts by first (the free starter lesson is placed, not alphabetised).
-- lesson_progress keeps, per learner and lesson, the section they reached; a learner may record
-- it only in a lesson whose content they may read (lesson_content's own rule, through RLS).

alter table public.lessons
  add column display_order integer not null default 0
    constraint lessons_display_order_range check (display_order between 0 and 100000),
  add column outline text[] not null default '{}'
    constraint lessons_outline_size check (cardinality(outline) <= 100),
  add column minutes integer constraint lessons_minutes_range check (minutes between 1 and 1000),
  add column level text constraint lessons_level_known check (level in ('beginner', 'intermediate', 'advanced')),
  add column author text constraint lessons_author_length check (length(btrim(author)) between 1 and 120),
  add column preview text not null default ''
    constraint lessons_preview_size check (length(preview) <= 20000);

comment on column public.lessons.display_order is 'Catalogue order: lower first, then oldest first.';
comment on column public.lessons.outline is 'The section titles of the lesson, in order, shown before purchase.';
comment on column public.lessons.minutes is 'Estimated minutes to read or watch the lesson.';
comment on column public.lessons.preview is 'Markdown anyone may read: the first section, as a sample.';

drop index public.lessons_catalog_order_idx;
create index lessons_catalog_order_idx on public.lessons (display_order, created_at, slug) where published;

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
  return query
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
  left join public.purchased_lessons as p on l.id = p.lesson_id and p.user_id = (select auth.uid())
  cross join lateral (
    select
      pg_catalog.bool_or(s.status = 'processing' or (s.status = 'open' and s.expires_at > pg_catalog.now())) as pending,
      pg_catalog.max(s.created_at) filter (where s.status = 'processing') as processing_since,
      -- the status of the caller's latest session that reached payment
      (pg_catalog.array_agg(s.status order by s.created_at desc, s.id desc)
        filter (where s.status in ('processing', 'complete', 'failed')))[1] as last_paying_status,
      pg_catalog.max(s.dispute_status) filter (where s.id = p.stripe_checkout_session_id) as granting_dispute_status
    from public.checkout_sessions as s
    where s.lesson_id = l.id and s.user_id = (select auth.uid())
  ) as mine
  cross join lateral (
    select case
      when l.price_cents = 0 then 'free'
      when p.status = 'paid' then 'owned'
      when mine.processing_since is not null then 'processing'
      when p.status = 'disputed' and mine.granting_dispute_status is distinct from 'lost' then 'disputed'
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

create table public.lesson_progress (
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  lesson_id uuid not null references public.lessons (id) on delete cascade,
  -- the id of the last heading the learner reached, as the reader makes it (rehype-slug)
  section text not null default '' constraint lesson_progress_section_length check (length(section) <= 200),
  updated_at timestamptz not null default now(),
  primary key (user_id, lesson_id)
);

comment on table public.lesson_progress is 'Where each learner stopped in each lesson they may read.';

create index lesson_progress_lesson_id_idx on public.lesson_progress (lesson_id);

create trigger lesson_progress_touch_updated_at
before update on public.lesson_progress
for each row execute function private.touch_updated_at();

alter table public.lesson_progress enable row level security;

create policy "learners read their own progress"
on public.lesson_progress
for select
to authenticated
using ((select auth.uid()) = user_id);

-- lesson_content's select policies are the one rule of who may read a lesson; as the invoker,
-- this subquery sees a row only when that rule lets the learner read it
create policy "learners record progress in lessons they may read"
on public.lesson_progress
for insert
to authenticated
with check (
  (select auth.uid()) = user_id
  and exists (select 1 from public.lesson_content as c where c.lesson_id = lesson_progress.lesson_id)
);

create policy "learners move their own progress in lessons they may read"
on public.lesson_progress
for update
to authenticated
using ((select auth.uid()) = user_id)
with check (
  (select auth.uid()) = user_id
  and exists (select 1 from public.lesson_content as c where c.lesson_id = lesson_progress.lesson_id)
);

revoke all on public.lesson_progress from anon, authenticated;
grant select, insert, update on public.lesson_progress to authenticated;
grant all on public.lesson_progress to service_role;
