-- Lesson covers: an optional image per lesson, with the words that say what it shows.
--
-- Covers are public marketing images (the catalogue card, the lesson's page and its link
-- preview), so they live in a public Storage bucket, `lesson-covers`, at `<lesson_id>/<file>`,
-- as lesson media do in their private one; a cover without alt text is refused.

-- =============================================================================================
-- tables
-- =============================================================================================

alter table public.lessons
  add column cover_path text
    constraint lessons_cover_path_format check (
      cover_path ~ '^[0-9a-f-]{36}/[A-Za-z0-9][A-Za-z0-9._-]{0,199}$'
      and split_part(cover_path, '/', 1) = id::text
    ),
  add column cover_alt text
    constraint lessons_cover_alt_length check (length(btrim(cover_alt)) between 1 and 300),
  add constraint lessons_cover_has_alt check (cover_path is null or cover_alt is not null);

comment on column public.lessons.cover_path is
'The cover image in the public bucket lesson-covers (<lesson_id>/<file>, 16:9, at least 960 px wide): catalogue card, lesson page and link previews.';
comment on column public.lessons.cover_alt is 'What the cover shows, for those who cannot see it; required with a cover.';

-- =============================================================================================
-- storage: the public bucket (no policies: only the secret key uploads; anyone reads)
-- =============================================================================================

insert into storage.buckets (id, name, public, file_size_limit, allowed_mime_types)
values ('lesson-covers', 'lesson-covers', true, 1048576, array['image/png', 'image/jpeg', 'image/webp'])
on conflict (id) do nothing;
