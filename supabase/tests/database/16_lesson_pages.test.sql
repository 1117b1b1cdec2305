-- Lesson pages and the reader's progress: the catalogue sorts by position; anyone reads a
-- lesson's outline and preview; a learner records progress only in lessons they may read, only
-- as themselves, and reads only their own.
begin;
select plan(16);

select tests.create_user('progress@example.com') as learner \gset
select tests.create_user('someone-else@example.com') as other \gset
\set free '00000000-0000-4000-8000-000000000001'
\set joins '00000000-0000-4000-8000-000000000002'
\set rls '00000000-0000-4000-8000-000000000003'

-- the catalogue's order is the operator's, not the alphabet's or the calendar's
select tests.authenticate_as_anon();
select results_eq('select slug from public.lesson_catalog() limit 2', array['welcome-to-sql', 'joins-without-fear'],
  'the catalogue starts with the lowest position');
select isnt_empty($$select 1 from public.lessons where slug = 'joins-without-fear' and cardinality(outline) > 0 and preview <> ''$$,
  'a visitor reads a paid lesson''s outline and preview');
select tests.clear_authentication();
update public.lessons set display_order = 5 where id = :'rls';
select tests.authenticate_as_anon();
select results_eq('select slug from public.lesson_catalog() limit 1', array['row-level-security'],
  'moving a lesson''s position moves it in the catalogue');
select tests.clear_authentication();

select throws_ok($$update public.lessons set level = 'expert' where slug = 'joins-without-fear'$$, '23514', null,
  'a level is one of beginner, intermediate, advanced');
select throws_ok($$update public.lessons set minutes = 0 where slug = 'joins-without-fear'$$, '23514', null,
  'an estimated time is at least a minute');

-- progress
select tests.authenticate_as(:'learner');
select lives_ok(format($$insert into public.lesson_progress (lesson_id, section) values (%L, 'your-first-select')$$, :'free'),
  'a learner records progress in the free lesson');
select throws_ok(format($$insert into public.lesson_progress (lesson_id, section) values (%L, 'inner-joins')$$, :'joins'),
  '42501', null, 'but not in a paid lesson they do not own');
select throws_ok(format($$insert into public.lesson_progress (user_id, lesson_id) values (%L, %L)$$, :'other', :'free'),
  '42501', null, 'nor as another learner');
select tests.clear_authentication();

select public.handle_stripe_event(tests.event('evt_progress_1', 'checkout.session.completed',
  tests.checkout_session('cs_test_progress_1', :'learner', :'joins', 1200, p_payment_intent => 'pi_progress_1'), 1700000000));

select tests.authenticate_as(:'learner');
select lives_ok(format($$insert into public.lesson_progress (lesson_id, section) values (%L, 'inner-joins')$$, :'joins'),
  'once bought, the lesson''s progress is recorded');
select lives_ok(format($$insert into public.lesson_progress (lesson_id, section) values (%L, 'lateral-joins')
  on conflict (user_id, lesson_id) do update set section = excluded.section$$, :'joins'),
  'and moved on, as the reader''s upsert does');
select results_eq('select section from public.lesson_progress order by section', array['lateral-joins', 'your-first-select'],
  'the learner reads their own progress');
select throws_ok(format($$insert into public.lesson_progress (lesson_id, section) values (%L, %L)$$, :'free', repeat('x', 201)),
  '23514', null, 'a section id is at most 200 characters');
select tests.clear_authentication();

select tests.authenticate_as(:'other');
select is_empty('select * from public.lesson_progress', 'another learner sees none of it');
select results_eq(format($$with moved as (update public.lesson_progress set section = 'x' where user_id = %L returning 1)
  select count(*)::int from moved$$, :'learner'), array[0], 'nor moves it');
select tests.clear_authentication();

-- a refund ends access, and with it the right to record progress (what was recorded stays)
select public.handle_stripe_event(tests.event('evt_progress_2', 'charge.refunded', tests.refunded_charge('pi_progress_1', 1200, 1200), 1700000100));
select tests.authenticate_as(:'learner');
select throws_ok(format($$update public.lesson_progress set section = 'exercises' where lesson_id = %L$$, :'joins'),
  '42501', null, 'after a full refund, progress in that lesson no longer moves');
select tests.clear_authentication();

select tests.authenticate_as_anon();
select throws_ok('select * from public.lesson_progress', '42501', null, 'visitors have no progress to read');
select tests.clear_authentication();

select * from finish();
rollback;
