-- The RLS matrix: anon, learner A, learner B and service_role × select/insert/update/delete on
-- every table. A never sees or changes B's rows; no learner can write a purchase, an event or
-- a session; only service_role writes.
begin;
select plan(98);

-- fixtures: A owns lesson 2, B owns lesson 3, each with a checkout session and an event --------

select tests.create_user('a@example.com') as a \gset
select tests.create_user('b@example.com') as b \gset

select is(public.handle_stripe_event(tests.event('evt_rls_a', 'checkout.session.completed',
  tests.checkout_session('cs_test_rls_a', :'a', '00000000-0000-4000-8000-000000000002', 1200))),
  'recorded', 'fixture: A buys lesson 2');
select is(public.handle_stripe_event(tests.event('evt_rls_b', 'checkout.session.completed',
  tests.checkout_session('cs_test_rls_b', :'b', '00000000-0000-4000-8000-000000000003', 2500))),
  'recorded', 'fixture: B buys lesson 3');

-- every write to every table, as the current role, must be refused with 42501
create function pg_temp.writes_refused(p_who text)
returns setof text
language plpgsql
as $$
declare
  v_table record;
begin
  for v_table in
    select * from (values
      ('lessons', 'id'), ('lesson_content', 'lesson_id'), ('purchased_lessons', 'id'),
      ('checkout_sessions', 'id'), ('stripe_events', 'id'), ('checkout_session_contradictions', 'resolved_at')
    ) as t (name, key)
  loop
    return next throws_ok(format('insert into public.%I default values', v_table.name), '42501', null,
      format('%s cannot insert into %s', p_who, v_table.name));
    return next throws_ok(format('update public.%I set %I = %I', v_table.name, v_table.key, v_table.key), '42501', null,
      format('%s cannot update %s', p_who, v_table.name));
    return next throws_ok(format('delete from public.%I', v_table.name), '42501', null,
      format('%s cannot delete from %s', p_who, v_table.name));
  end loop;
end;
$$;
grant execute on function pg_temp.writes_refused(text) to anon, authenticated;

-- anon ---------------------------------------------------------------------------------------

select tests.authenticate_as_anon();

select results_eq('select count(*)::int from public.lessons', array[6], 'anon sees the 6 published lessons');
select is_empty('select 1 from public.lessons where not published', 'anon sees no unpublished lesson');
select results_eq('select lesson_id from public.lesson_content',
  array['00000000-0000-4000-8000-000000000001'::uuid], 'anon reads only the free lesson''s content');
select is_empty('select 1 from public.purchased_lessons', 'anon sees no purchases');
select is_empty('select 1 from public.checkout_sessions', 'anon sees no checkout sessions');
select throws_ok('select 1 from public.stripe_events', '42501', null, 'anon cannot read stripe events');
select throws_ok('select 1 from public.checkout_session_contradictions', '42501', null, 'anon cannot read contradictions');
select throws_ok('select 1 from public.payments_needing_attention', '42501', null, 'anon cannot read the attention list');
select * from pg_temp.writes_refused('anon');

-- learner A ----------------------------------------------------------------------------------

select tests.authenticate_as(:'a');

select results_eq('select user_id from public.purchased_lessons', array[:'a'::uuid], 'A sees only their own purchase');
select results_eq('select id from public.checkout_sessions', array['cs_test_rls_a']::public.checkout_session_id[], 'A sees only their own checkout session');
select is_empty(format('select 1 from public.purchased_lessons where user_id = %L', :'b'), 'A cannot read B''s purchase by asking for it');
select results_eq('select count(*)::int from public.lessons', array[6], 'A sees the published lessons');
select results_eq('select lesson_id from public.lesson_content order by lesson_id',
  array['00000000-0000-4000-8000-000000000001'::uuid, '00000000-0000-4000-8000-000000000002'::uuid],
  'A reads the free lesson and the lesson they bought');
select throws_ok('select 1 from public.stripe_events', '42501', null, 'A cannot read stripe events');
select throws_ok('select 1 from public.checkout_session_contradictions', '42501', null, 'A cannot read contradictions');
select throws_ok('select 1 from public.payments_needing_attention', '42501', null, 'A cannot read the attention list');
select * from pg_temp.writes_refused('learner A');
select throws_ok(
  format('select public.handle_stripe_event(%L)', tests.event('evt_rls_forged', 'checkout.session.completed',
    tests.checkout_session('cs_test_rls_forged', :'a', '00000000-0000-4000-8000-000000000004', 1900))),
  '42501', null, 'A cannot forge a purchase through the webhook function');
select throws_ok(format('select public.begin_checkout(%L, %L)', :'b', '00000000-0000-4000-8000-000000000004'),
  '42501', null, 'A cannot open checkout sessions for anyone');

-- learner B ----------------------------------------------------------------------------------

select tests.authenticate_as(:'b');

select results_eq('select user_id from public.purchased_lessons', array[:'b'::uuid], 'B sees only their own purchase');
select results_eq('select id from public.checkout_sessions', array['cs_test_rls_b']::public.checkout_session_id[], 'B sees only their own checkout session');
select results_eq('select lesson_id from public.lesson_content order by lesson_id',
  array['00000000-0000-4000-8000-000000000001'::uuid, '00000000-0000-4000-8000-000000000003'::uuid],
  'B reads the free lesson and the lesson they bought, not A''s');
select * from pg_temp.writes_refused('learner B');

-- service_role -------------------------------------------------------------------------------

select tests.authenticate_as_service_role();

select results_eq(format('select count(*)::int from public.purchased_lessons where user_id in (%L, %L)', :'a', :'b'),
  array[2], 'service_role sees both learners'' purchases');
select results_eq(format('select count(*)::int from public.checkout_sessions where user_id in (%L, %L)', :'a', :'b'),
  array[2], 'service_role sees both learners'' sessions');
select results_eq($$select count(*)::int from public.stripe_events where id in ('evt_rls_a', 'evt_rls_b')$$, array[2],
  'service_role sees every event');
select results_eq('select count(*)::int from public.lessons', array[7], 'service_role sees unpublished lessons too');
select lives_ok($$update public.lessons set title = 'Joins, fearlessly' where slug = 'joins-without-fear'$$,
  'service_role updates lessons');
select lives_ok($$insert into public.lessons (id, slug, title, price_cents)
  values ('e0000000-0000-4000-8000-000000000001', 'service-made', 'Made by service', 100)$$,
  'service_role inserts lessons');
select lives_ok($$insert into public.lesson_content (lesson_id, body) values ('e0000000-0000-4000-8000-000000000001', 'x')$$,
  'service_role inserts lesson content');
select lives_ok($$update public.lesson_content set body = 'y' where lesson_id = 'e0000000-0000-4000-8000-000000000001'$$,
  'service_role updates lesson content');
select lives_ok(format($$insert into public.checkout_sessions (id, user_id, lesson_id, amount_total, currency, expires_at)
  values ('cs_test_rls_service', %L, 'e0000000-0000-4000-8000-000000000001', 100, 'usd', now())$$, :'a'),
  'service_role inserts checkout sessions');
select lives_ok($$update public.checkout_sessions set status = 'expired' where id = 'cs_test_rls_service'$$,
  'service_role updates checkout sessions');
select lives_ok(format($$insert into public.purchased_lessons (user_id, lesson_id, status, amount_total, currency, stripe_checkout_session_id, purchased_at)
  values (%L, 'e0000000-0000-4000-8000-000000000001', 'paid', 100, 'usd', 'cs_test_rls_service', now())$$, :'a'),
  'service_role inserts purchases');
select lives_ok($$update public.purchased_lessons set amount_total = amount_total$$, 'service_role updates purchases');
select lives_ok($$insert into public.stripe_events (id, type, created, payload) values ('evt_rls_service', 'ping', now(), '{}')$$,
  'service_role inserts events');
select lives_ok($$update public.stripe_events set outcome = outcome$$, 'service_role updates events');
select lives_ok($$delete from public.stripe_events where id = 'evt_rls_service'$$, 'service_role deletes events');
select lives_ok($$update public.checkout_session_contradictions set resolved_at = now() where false$$,
  'service_role resolves contradictions');
select lives_ok($$delete from public.purchased_lessons where stripe_checkout_session_id = 'cs_test_rls_service'$$,
  'service_role deletes purchases');
select lives_ok($$delete from public.checkout_sessions where id = 'cs_test_rls_service'$$, 'service_role deletes checkout sessions');
select lives_ok($$delete from public.lesson_content where lesson_id = 'e0000000-0000-4000-8000-000000000001'$$,
  'service_role deletes lesson content');
select lives_ok($$delete from public.lessons where slug = 'service-made'$$, 'service_role deletes lessons');
select results_eq(format('select count(*)::int from public.purchased_lessons where user_id in (%L, %L)', :'a', :'b'),
  array[2], 'and what it made is gone again');

select tests.clear_authentication();

select * from finish();
rollback;
