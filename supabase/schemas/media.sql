-- A lesson's media: files in the private Storage bucket `lesson-media`, listed in lesson_media.
--
-- Files live at `<lesson_id>/<file name>` in the bucket and are served only through signed URLs
-- (storage-api's `POST /object/sign/…`), which storage-api mints only for an object the caller
-- can select from storage.objects. So who may see a file is decided here, by RLS, with the one
-- rule that decides who may read a lesson: the policies on lesson_content (free published
-- lessons: anyone; others: owners while their purchase is paid; in lessons.sql and
-- purchases.sql). Nothing below restates that rule: a learner may read a lesson_media row when
-- they may read its lesson's content row (RLS applies inside a policy's subquery), and a file
-- when they may read the lesson_media row that lists it. A file nobody listed is served to
-- nobody but the service role, and because a name must equal a listed path exactly, a name such
-- as `<free lesson>/../<paid lesson>/x.mp4` matches nothing.
--
-- Learners never write: no insert, update or delete policy on storage.objects for this bucket,
-- and no write privilege on lesson_media. Operators upload with the secret key (the CLI, the
-- dashboard, supabase-py) and add the row.
--
-- Media that used to sit at an outside address (lesson_content.media_url, dropped by
-- 20261205100000_lesson_media.sql) is kept as a row with external_url: shown only to readers of
-- the lesson, but a copied outside URL cannot be revoked, so media_needing_attention lists each
-- such row until an operator moves the file into the bucket.

-- =============================================================================================
-- storage: the private bucket (data, not schema: the migration inserts it; repeated here so the
-- schema files build a database that has it)
-- =============================================================================================

insert into storage.buckets (id, name, public)
values ('lesson-media', 'lesson-media', false)
on conflict (id) do nothing;

-- =============================================================================================
-- types
-- =============================================================================================

create type public.lesson_media_kind as enum ('video', 'audio', 'image', 'pdf');

comment on type public.lesson_media_kind is
'How the reader shows a lesson''s media: video and audio with native controls, an image with its title as alt text, a PDF as a download link.';

-- =============================================================================================
-- tables
-- =============================================================================================

create table public.lesson_media (
  id uuid primary key default gen_random_uuid(),
  lesson_id uuid not null references public.lessons (id) on delete cascade,
  kind public.lesson_media_kind not null,
  -- shown as the caption of the player or link, and as an image's alt text
  title text not null constraint lesson_media_title_length check (length(btrim(title)) between 1 and 200),
  -- the object's name in the bucket lesson-media: `<lesson_id>/<file>`, one level, a file name
  -- of letters, digits, '.', '_' and '-' not starting with '.' (so never '.' or '..')
  object_path text unique
    constraint lesson_media_object_path_format check (
      object_path ~ '^[0-9a-f-]{36}/[A-Za-z0-9][A-Za-z0-9._-]{0,199}$'
      and split_part(object_path, '/', 1) = lesson_id::text
    ),
  -- WebVTT captions beside a video or audio file, in the same folder
  captions_path text
    constraint lesson_media_captions_path_format check (
      captions_path is null
      or (
        captions_path ~ '^[0-9a-f-]{36}/[A-Za-z0-9][A-Za-z0-9._-]{0,195}\.vtt$'
        and split_part(captions_path, '/', 1) = lesson_id::text
        and kind in ('video', 'audio')
      )
    ),
  -- media at an outside address, moved from lesson_content.media_url: cannot be revoked
  external_url text constraint lesson_media_external_url_format check (external_url ~ '^https?://'),
  external boolean not null generated always as (external_url is not null) stored,
  -- video and audio: whole seconds; pdf: pages
  duration_seconds integer
    constraint lesson_media_duration check (duration_seconds is null or (duration_seconds > 0 and kind in ('video', 'audio'))),
  page_count integer constraint lesson_media_page_count check (page_count is null or (page_count > 0 and kind = 'pdf')),
  position integer not null default 0 constraint lesson_media_position check (position >= 0),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint lesson_media_one_source check ((object_path is null) <> (external_url is null)),
  constraint lesson_media_position_unique unique (lesson_id, position)
);

comment on table public.lesson_media is
'A lesson''s media in the order the reader shows it: files in the private bucket lesson-media (object_path), or an outside address kept from before (external_url; cannot be revoked).';
comment on column public.lesson_media.external is
'True for media at an outside address: shown only to readers of the lesson, but a copied URL keeps working; listed in media_needing_attention.';

-- =============================================================================================
-- indexes: lesson_id is the first column of lesson_media_position_unique; object_path has its
-- unique index; the storage policy also looks captions up by path
-- =============================================================================================

create index lesson_media_captions_path_idx on public.lesson_media (captions_path) where captions_path is not null;

-- =============================================================================================
-- triggers
-- =============================================================================================

create trigger lesson_media_touch_updated_at
before update on public.lesson_media
for each row execute function private.touch_updated_at();

-- =============================================================================================
-- row level security
-- =============================================================================================

alter table public.lesson_media enable row level security;

-- One policy for both roles: the rule it defers to (lesson_content's policies) already tells a
-- visitor from a learner.
create policy "readers of a lesson read its media"
on public.lesson_media
for select
to anon, authenticated
using (
  exists (
    select 1 from public.lesson_content as c
    where c.lesson_id = lesson_media.lesson_id
  )
);

-- storage-api signs a URL only for an object this select shows the caller. No insert, update or
-- delete policy: learners cannot write to the bucket.
create policy "readers of a lesson read its media files"
on storage.objects
for select
to anon, authenticated
using (
  bucket_id = 'lesson-media'
  and exists (
    select 1 from public.lesson_media as m
    where m.object_path = objects.name or m.captions_path = objects.name
  )
);

-- =============================================================================================
-- views: what an operator must act on
-- =============================================================================================

-- Media at an outside address: anyone who copied the URL keeps it after a refund or a lost
-- dispute, and anyone they pass it to watches free. Move the file into the bucket and clear
-- the row's external_url (set object_path) to take it off the list.
create view public.media_needing_attention
with (security_invoker = true)
as
select
  'lesson_media' as source,
  m.id as reference,
  'external_url_not_revocable' as reason,
  m.lesson_id,
  m.external_url,
  m.created_at as since
from public.lesson_media as m
where m.external;

comment on view public.media_needing_attention is
'Lesson media at an outside address: access to it cannot be revoked; move the file into the lesson-media bucket.';

-- =============================================================================================
-- grants: readers select through RLS; service_role writes
-- =============================================================================================

revoke all on public.lesson_media from anon, authenticated;
grant select on public.lesson_media to anon, authenticated;
grant all on public.lesson_media to service_role;

revoke all on public.media_needing_attention from public, anon, authenticated, service_role;
grant select on public.media_needing_attention to service_role;
