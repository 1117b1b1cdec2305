-- Lesson covers: a cover names a file in the lesson's own folder of the public bucket
-- lesson-covers and always says what it shows; anyone reads both columns; nobody but the
-- service role sets them.
begin;
select plan(9);

\set joins '00000000-0000-4000-8000-000000000002'
\set rls '00000000-0000-4000-8000-000000000003'

select results_eq($$select public from storage.buckets where id = 'lesson-covers'$$, array[true],
  'covers live in a public bucket');

select throws_ok($$update public.lessons set cover_path = '00000000-0000-4000-8000-000000000002/cover.png'
  where slug = 'joins-without-fear'$$, '23514', null,
  'a cover without alt text is refused');
select throws_ok($$update public.lessons set cover_path = '00000000-0000-4000-8000-000000000003/cover.png',
  cover_alt = 'Locked drawers' where slug = 'joins-without-fear'$$, '23514', null,
  'a cover in another lesson''s folder is refused');
select throws_ok($$update public.lessons set cover_path = '00000000-0000-4000-8000-000000000002/../x.png',
  cover_alt = 'Two columns' where slug = 'joins-without-fear'$$, '23514', null,
  'a cover path that climbs out of its folder is refused');
select throws_ok($$update public.lessons set cover_path = '00000000-0000-4000-8000-000000000002/cover.png',
  cover_alt = '   ' where slug = 'joins-without-fear'$$, '23514', null,
  'blank alt text is refused');

update public.lessons
set cover_path = :'joins' || '/cover.png', cover_alt = 'Two columns of cards, paired by lines'
where id = :'joins';
select results_eq($$select cover_path, cover_alt from public.lessons where slug = 'joins-without-fear'$$,
  $$values ('00000000-0000-4000-8000-000000000002/cover.png', 'Two columns of cards, paired by lines')$$,
  'a cover in the lesson''s folder, with alt text, is kept');
select lives_ok($$update public.lessons set cover_path = null, cover_alt = null where slug = 'row-level-security'$$,
  'a lesson may have no cover');

select tests.authenticate_as_anon();
select results_eq($$select cover_alt from public.lessons where slug = 'joins-without-fear'$$,
  array['Two columns of cards, paired by lines'], 'a visitor reads the cover and its alt text');
select throws_ok($$update public.lessons set cover_alt = 'mine' where slug = 'joins-without-fear'$$, '42501', null,
  'a visitor sets no cover');
select tests.clear_authentication();

select * from finish();
rollback;
