-- Lessons and their gated content, and the private schema every later file puts its helpers in.
--
-- The catalogue is public (published rows only); the body of a lesson is readable when the
-- lesson is free or the reader owns it with status 'paid'. The learners' policies on both
-- tables read purchased_lessons, so they are declared with it, in purchases.sql. Prices are
-- in the currency's minor unit as Stripe counts it (cents for usd, yen for jpy).

-- =============================================================================================
-- private schema: helpers that no API role may call
-- =============================================================================================

create schema if not exists private;
revoke all on schema private from public;

create or replace function private.touch_updated_at()
returns trigger
language plpgsql
security invoker
set search_path = ''
as $$
begin
  new.updated_at := now();
  return new;
end;
$$;

revoke all on function private.touch_updated_at() from public, anon, authenticated, service_role;

-- =============================================================================================
-- tables
-- =============================================================================================

create table public.lessons (
  id uuid primary key default gen_random_uuid(),
  slug text not null unique
    constraint lessons_slug_format check (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' and length(slug) <= 100),
  title text not null constraint lessons_title_length check (length(btrim(title)) between 1 and 200),
  description text not null default '',
  -- minor units; Stripe's upper bound for a Checkout amount is 99999999
  price_cents bigint not null constraint lessons_price_range check (price_cents between 0 and 99999999),
  -- ISO 4217, lower case as Stripe writes it
  currency text not null default 'usd' constraint lessons_currency_format check (currency ~ '^[a-z]{3}$'),
  published boolean not null default false,
  -- Stripe Price id, e.g. price_1MoBy5LkdIwHu7ixZhnattbh; null: Checkout gets price_data
  stripe_price_id text constraint lessons_stripe_price_id_format check (stripe_price_id ~ '^price_[A-Za-z0-9]+$'),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  display_order integer not null default 0
    constraint lessons_display_order_range check (display_order between 0 and 100000),
  outline text[] not null default '{}'
    constraint lessons_outline_size check (cardinality(outline) <= 100),
  minutes integer constraint lessons_minutes_range check (minutes between 1 and 1000),
  level text constraint lessons_level_known check (level in ('beginner', 'intermediate', 'advanced')),
  author text constraint lessons_author_length check (length(btrim(author)) between 1 and 120),
  preview text not null default ''
    constraint lessons_preview_size check (length(preview) <= 20000),
  -- the cover's name in the public bucket lesson-covers: `<lesson_id>/<file>`, one level, a file
  -- name of letters, digits, '.', '_' and '-' not starting with '.'
  cover_path text
    constraint lessons_cover_path_format check (
      cover_path ~ '^[0-9a-f-]{36}/[A-Za-z0-9][A-Za-z0-9._-]{0,199}$'
      and split_part(cover_path, '/', 1) = id::text
    ),
  cover_alt text
    constraint lessons_cover_alt_length check (length(btrim(cover_alt)) between 1 and 300),
  -- a cover is an image on the page, so it says what it shows
  constraint lessons_cover_has_alt check (cover_path is null or cover_alt is not null)
);

comment on table public.lessons is 'The catalogue. A price of 0 is a free lesson, never sent to Checkout.';
comment on column public.lessons.price_cents is 'Price in the currency''s minor unit (cents; yen for zero-decimal currencies).';
comment on column public.lessons.display_order is 'Catalogue order: lower first, then oldest first.';
comment on column public.lessons.outline is 'The section titles of the lesson, in order, shown before purchase.';
comment on column public.lessons.minutes is 'Estimated minutes to read or watch the lesson.';
comment on column public.lessons.preview is 'Markdown anyone may read: the first section, as a sample.';
comment on column public.lessons.cover_path is
'The cover image in the public bucket lesson-covers (<lesson_id>/<file>, 16:9, at least 960 px wide): catalogue card, lesson page and link previews.';
comment on column public.lessons.cover_alt is 'What the cover shows, for those who cannot see it; required with a cover.';

create table public.lesson_content (
  lesson_id uuid primary key references public.lessons (id) on delete cascade,
  body text not null,
  updated_at timestamptz not null default now()
);

comment on table public.lesson_content is 'The gated part of a lesson: readable when free or owned with status paid.';
-- Its media are rows of lesson_media (media.sql), readable exactly when this row is.

-- =============================================================================================
-- indexes
-- =============================================================================================

-- the catalogue lists published lessons; lesson_content's key already indexes its FK
create index lessons_published_idx on public.lessons (published) where published;

-- lesson_catalog() reads published lessons in this order
create index lessons_catalog_order_idx on public.lessons (display_order, created_at, slug) where published;

-- =============================================================================================
-- triggers
-- =============================================================================================

create trigger lessons_touch_updated_at
before update on public.lessons
for each row execute function private.touch_updated_at();

create trigger lesson_content_touch_updated_at
before update on public.lesson_content
for each row execute function private.touch_updated_at();

-- =============================================================================================
-- row level security
-- =============================================================================================

alter table public.lessons enable row level security;
alter table public.lesson_content enable row level security;

create policy "visitors read published lessons"
on public.lessons
for select
to anon
using (published);

create policy "visitors read free lesson content"
on public.lesson_content
for select
to anon
using (
  exists (
    select 1 from public.lessons as l
    where l.id = lesson_content.lesson_id and l.published and l.price_cents = 0
  )
);

-- "learners read published lessons and lessons they bought" and "learners read free or owned
-- lesson content" are in purchases.sql: they read purchased_lessons

-- =============================================================================================
-- grants: the catalogue is written by service_role (dashboard, seed) only
-- =============================================================================================

-- revoke all (not a list): newer Postgres versions add privileges (maintain) to "all"
revoke all on public.lessons, public.lesson_content from anon, authenticated;
grant select on public.lessons, public.lesson_content to anon, authenticated;
grant all on public.lessons, public.lesson_content to service_role;

-- =============================================================================================
-- storage: the public bucket of lesson covers (data, not schema: the migration inserts it;
-- repeated here so the schema files build a database that has it). Covers are marketing
-- images, served to anyone at /storage/v1/object/public/lesson-covers/<cover_path>; operators
-- upload them with the secret key, and no policy lets anyone else write there.
-- =============================================================================================

insert into storage.buckets (id, name, public, file_size_limit, allowed_mime_types)
values ('lesson-covers', 'lesson-covers', true, 1048576, array['image/png', 'image/jpeg', 'image/webp'])
on conflict (id) do nothing;
