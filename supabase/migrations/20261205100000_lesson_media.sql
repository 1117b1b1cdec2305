-- Lesson media in the private Storage bucket `lesson-media`, served by short-lived signed URLs
-- under the rule that decides who reads a lesson; lesson_content.media_url goes.
--
-- A fixed media_url was an outside address: a learner who copied it kept watching after a
-- refund or a lost dispute. Media now live in the private bucket at `<lesson_id>/<file>`, listed
-- in lesson_media; storage-api signs a URL only for an object the caller can select from
-- storage.objects, and the policy below shows a file exactly to those who may read its lesson's
-- content (it defers to lesson_content's policies, the one rule; see supabase/schemas/media.sql).
--
-- Data: each existing media_url becomes a lesson_media row with external_url (kind guessed
-- from the file's extension, video otherwise, as the page called it "the video for this
-- lesson"), shown only to readers of the lesson and listed in media_needing_attention, since a
-- copied outside address cannot be revoked. Then the column is dropped.

-- =============================================================================================
-- storage: the private bucket
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
-- data: lesson_content.media_url → lesson_media (external), then drop the column
-- =============================================================================================

insert into public.lesson_media (lesson_id, kind, title, external_url, position)
select
  c.lesson_id,
  case
    when c.media_url ~* '\.(mp3|wav|ogg|oga|m4a|aac|flac)([?#]|$)' then 'audio'
    when c.media_url ~* '\.(png|jpe?g|gif|webp|avif|svg)([?#]|$)' then 'image'
    when c.media_url ~* '\.pdf([?#]|$)' then 'pdf'
    else 'video'
  end::public.lesson_media_kind as kind,
  'Media for this lesson' as title,
  c.media_url as external_url,
  0 as position
from public.lesson_content as c
where c.media_url is not null;

alter table public.lesson_content drop column media_url;

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
