-- Where each learner stopped in each lesson: the reader records the last section reached and
-- offers to go back to it. A learner writes only their own rows, and only in lessons whose
-- content they may read (lesson_content's rule, through RLS).

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
