-- What each lesson offers the caller (lesson_catalog().access) and the Purchases page's rows
-- (purchase_list()), both decided in SQL: free, owned, processing only while a payment is
-- processing (an open session keeps Buy on offer), refunded, failed, each learner seeing only
-- their own. supabase/tests/database/11_payment_record.test.sql has every state in detail.
begin;
select plan(14);

select tests.create_user('states@example.com') as learner \gset
select tests.create_user('neighbour@example.com') as neighbour \gset
\set joins '00000000-0000-4000-8000-000000000002'
\set rls '00000000-0000-4000-8000-000000000003'
\set webhooks '00000000-0000-4000-8000-000000000004'
\set euros '00000000-0000-4000-8000-000000000005'
\set yen '00000000-0000-4000-8000-000000000006'

select enum_has_labels('public', 'lesson_access',
  array['free', 'owned', 'processing', 'disputed', 'failed', 'refunded', 'dispute_lost', 'available'],
  'access is one of eight words, in the order they are decided');

-- a visitor: the free lesson is free, every other one is available
select tests.authenticate_as_anon();
select results_eq('select slug, access::text from public.lesson_catalog() order by slug',
  $$values ('indexes-explained', 'available'), ('joins-without-fear', 'available'), ('row-level-security', 'available'),
    ('stripe-webhooks', 'available'), ('transactions-and-isolation', 'available'), ('welcome-to-sql', 'free')$$,
  'a visitor sees the free lesson free and the rest available');
select throws_ok('select * from public.purchase_list()', '42501', null, 'a visitor has no Purchases page to read');
select tests.clear_authentication();

-- the learner: joins paid, row-level-security paid then refunded, a payment processing for
-- stripe-webhooks, an open session for the euro lesson, an expired one for the yen lesson
select public.handle_stripe_event(tests.event('evt_states_1', 'checkout.session.completed',
  tests.checkout_session('cs_test_states_paid', :'learner', :'joins', 1200, p_payment_intent => 'pi_states_1'), 1700000000));
select public.handle_stripe_event(tests.event('evt_states_2', 'checkout.session.completed',
  tests.checkout_session('cs_test_states_refunded', :'learner', :'rls', 2500, p_payment_intent => 'pi_states_2'), 1700000100));
select public.handle_stripe_event(tests.event('evt_states_3', 'charge.refunded',
  tests.refunded_charge('pi_states_2', 2500, 2500), 1700000200));
insert into public.checkout_sessions (id, user_id, lesson_id, amount_total, currency, status, url, expires_at, created_at)
values
  ('cs_test_states_processing', :'learner', :'webhooks', 1900, 'usd', 'processing', null, now() + interval '1 day', now()),
  ('cs_test_states_open', :'learner', :'euros', 1500, 'eur', 'open', 'https://checkout.stripe.com/c/pay/o', now() + interval '1 hour', now()),
  ('cs_test_states_expired', :'learner', :'yen', 1800, 'jpy', 'expired', null, now() - interval '1 hour', now());

select tests.authenticate_as(:'learner');
select results_eq('select slug, access::text, owned, pending from public.lesson_catalog() order by slug',
  $$values ('indexes-explained', 'available', false, false), ('joins-without-fear', 'owned', true, false),
    ('row-level-security', 'refunded', false, false), ('stripe-webhooks', 'processing', false, true),
    ('transactions-and-isolation', 'available', false, true), ('welcome-to-sql', 'free', false, false)$$,
  'paid is owned, refunded says so (Buy again), a processing payment is processing, open and expired sessions leave Buy');
select is((select access::text from public.lesson_catalog() where slug = 'transactions-and-isolation'), 'available',
  'an open session is not processing: the learner may have walked away from it');
select is((select access::text from public.lesson_catalog() where slug = 'stripe-webhooks'), 'processing',
  'a delayed payment awaiting the bank holds the lesson as processing');
select results_eq('select id, slug, status::text from public.purchase_list()',
  $$values ('cs_test_states_processing', 'stripe-webhooks', 'processing'),
    ('cs_test_states_refunded', 'row-level-security', 'refunded'),
    ('cs_test_states_paid', 'joins-without-fear', 'paid')$$,
  'Purchases lists payments newest first (the processing one was started last); open and expired sessions are not listed');
select results_eq($$select amount_total, currency from public.purchase_list() where status = 'processing'$$,
  $$values (1900::bigint, 'usd')$$, 'a processing payment shows its amount and currency');
select isnt_empty($$select 1 from public.purchase_list() where id = 'cs_test_states_processing' and occurred_at is not null$$,
  'a processing payment is dated');
select tests.clear_authentication();

-- the processing payment fails: Buy again, and it leaves Purchases
update public.checkout_sessions set status = 'failed' where id = 'cs_test_states_processing';
select tests.authenticate_as(:'learner');
select is((select access::text from public.lesson_catalog() where slug = 'stripe-webhooks'), 'failed',
  'a failed payment says so and puts the lesson back on sale (Try again)');
select is_empty($$select 1 from public.purchase_list() where status = 'processing'$$,
  'and it is no longer listed as processing');

-- owned wins over a processing payment of the same lesson
select tests.clear_authentication();
insert into public.checkout_sessions (id, user_id, lesson_id, amount_total, currency, status, expires_at)
values ('cs_test_states_again', :'learner', :'joins', 1200, 'usd', 'processing', now() + interval '1 day');
select tests.authenticate_as(:'learner');
select is((select access::text from public.lesson_catalog() where slug = 'joins-without-fear'), 'owned',
  'an owned lesson stays owned whatever else is in flight');
select tests.clear_authentication();

-- another learner sees none of it
select tests.authenticate_as(:'neighbour');
select is_empty($$select 1 from public.lesson_catalog() where access not in ('free', 'available')$$,
  'another learner''s catalogue owns nothing and has nothing processing');
select is_empty('select * from public.purchase_list()', 'another learner''s Purchases page is empty');

select tests.clear_authentication();
select * from finish();
rollback;
