-- begin_checkout / attach_checkout_session / checkout_session_for_user: the price comes from the
-- database, owned and unknown lessons are refused, an open session is handed back.
begin;
select plan(32);

select tests.create_user('shopper@example.com') as shopper \gset
select tests.create_user('bystander@example.com') as bystander \gset
\set free '00000000-0000-4000-8000-000000000001'
\set joins '00000000-0000-4000-8000-000000000002'
\set rls '00000000-0000-4000-8000-000000000003'
\set unreleased '00000000-0000-4000-8000-000000000007'

select tests.authenticate_as_service_role();

select is(public.begin_checkout(:'shopper', 'c0000000-0000-4000-8000-00000000dead') ->> 'reason', 'unknown_lesson',
  'an unknown lesson is refused');
select is(public.begin_checkout(:'shopper', :'unreleased') ->> 'reason', 'unknown_lesson',
  'an unpublished lesson is refused as unknown');
select is(public.begin_checkout(:'shopper', :'free') ->> 'reason', 'free_lesson', 'a free lesson never goes to Checkout');
select is(public.begin_checkout('d0000000-0000-4000-8000-00000000dead', :'joins') ->> 'reason', 'account_disabled',
  'a user whose row is gone (deleted) is refused');

select public.begin_checkout(:'shopper', :'joins') as begun \gset
select is(:'begun'::jsonb ->> 'action', 'create', 'a buyable lesson asks the sidecar to create a session');
select is((:'begun'::jsonb -> 'lesson' ->> 'price_cents')::bigint, 1200::bigint, 'with the price from the database');
select is(:'begun'::jsonb ->> 'customer_email', 'shopper@example.com', 'and the learner''s email');
select is(public.begin_checkout(:'shopper', :'joins') ->> 'idempotency_key', :'begun'::jsonb ->> 'idempotency_key',
  'two requests before the session exists share one Idempotency-Key');

-- attach what Stripe created
select jsonb_set(tests.checkout_session('cs_test_co_1', :'shopper', :'joins', 1200, p_payment_status => 'unpaid', p_status => 'open'),
  '{customer}', 'null') as created \gset
select is(public.attach_checkout_session(:'created') ->> 'outcome', 'attached', 'the created session is attached');
select is(public.attach_checkout_session(:'created') ->> 'outcome', 'existing', 'attaching it twice is harmless');
select results_eq($$select status, amount_total from public.checkout_sessions where id = 'cs_test_co_1'$$,
  $$values ('open', 1200::bigint)$$, 'it is stored open at the lesson price');

select results_eq(format('select x ->> %L, x ->> %L from (select public.begin_checkout(%L, %L) as x) s', 'action', 'session_id', :'shopper', :'joins'),
  $$values ('reuse', 'cs_test_co_1')$$, 'the open session is handed back instead of a second one');

select is((select array[a ->> 'outcome', a ->> 'reason'] from (select public.attach_checkout_session(tests.checkout_session('cs_test_co_2', :'shopper', :'rls', 1, p_payment_status => 'unpaid', p_status => 'open')) as a) as x),
  array['rejected', 'amount_mismatch'], 'a session at another price than the lesson''s is not attached');
select is_empty($$select 1 from public.checkout_sessions where id = 'cs_test_co_2'$$, 'and nothing is stored');

-- about to expire: the sidecar must ask Stripe (expire it there) before a new one is opened
update public.checkout_sessions set expires_at = now() + interval '30 seconds' where id = 'cs_test_co_1';
select results_eq(format('select x ->> %L, x -> %L from (select public.begin_checkout(%L, %L) as x) s', 'action', 'session_ids', :'shopper', :'joins'),
  $$values ('refresh', '["cs_test_co_1"]'::jsonb)$$, 'a session about to expire is handed back to be settled with Stripe');
select results_eq($$select status from public.checkout_sessions where id = 'cs_test_co_1'$$, array['open'],
  'the database does not guess that it expired');
select is(public.sync_checkout_session(jsonb_set(:'created'::jsonb, '{status}', '"expired"')), 'expired',
  'Stripe''s answer (expired) is synced');
select public.begin_checkout(:'shopper', :'joins') as again \gset
select is(:'again'::jsonb ->> 'action', 'create', 'then a new session may be opened');
select isnt(:'again'::jsonb ->> 'idempotency_key', :'begun'::jsonb ->> 'idempotency_key', 'under a new key');

-- an open session at an old price is settled with Stripe too, not left payable beside a new one
select jsonb_set(jsonb_set(tests.checkout_session('cs_test_co_5', :'shopper', '00000000-0000-4000-8000-000000000004', 1900, p_payment_status => 'unpaid', p_status => 'open'),
  '{customer}', 'null'), '{url}', '"https://checkout.stripe.com/c/pay/5"') as old_price \gset
select is(public.attach_checkout_session(:'old_price') ->> 'outcome', 'attached', 'a session at the current price is attached');
update public.lessons set price_cents = 2100 where id = '00000000-0000-4000-8000-000000000004';
select is(public.begin_checkout(:'shopper', '00000000-0000-4000-8000-000000000004') ->> 'action', 'refresh',
  'after a price change the old open session is settled first');

-- a deleted or banned account cannot open a checkout (its access token may still be valid)
update auth.users set deleted_at = now() where id = :'bystander';
select is(public.begin_checkout(:'bystander', :'joins') ->> 'reason', 'account_disabled', 'a deleted user is refused');
update auth.users set deleted_at = null, banned_until = now() + interval '1 day' where id = :'bystander';
select is(public.begin_checkout(:'bystander', :'joins') ->> 'reason', 'account_disabled', 'a banned user is refused');
select is_empty(format('select 1 from public.checkout_sessions where user_id = %L', :'bystander'),
  'and nothing is stored for them');
update auth.users set banned_until = now() - interval '1 second' where id = :'bystander';
select is(public.begin_checkout(:'bystander', :'joins') ->> 'action', 'create', 'a ban that has ended no longer refuses');
update auth.users set banned_until = null where id = :'bystander';

-- paid at Stripe just before it expired, the webhook arriving after we marked it expired
select is(public.handle_stripe_event(tests.event('evt_co_1', 'checkout.session.completed',
  tests.checkout_session('cs_test_co_1', :'shopper', :'joins', 1200))), 'recorded',
  'a payment for a session taken for expired is still recorded');
select results_eq($$select status, payment_status from public.checkout_sessions where id = 'cs_test_co_1'$$,
  $$values ('complete', 'paid')$$, 'and the session is complete');

-- a delayed payment under way blocks a second checkout; ownership blocks it for good
select public.handle_stripe_event(tests.event('evt_co_3', 'checkout.session.completed',
  tests.checkout_session('cs_test_co_3', :'shopper', :'rls', 2500, p_payment_status => 'unpaid')));
select is(public.begin_checkout(:'shopper', :'rls') ->> 'reason', 'payment_pending', 'a processing payment blocks a second checkout');
select public.handle_stripe_event(tests.event('evt_co_4', 'checkout.session.async_payment_succeeded',
  tests.checkout_session('cs_test_co_3', :'shopper', :'rls', 2500)));
select is(public.begin_checkout(:'shopper', :'rls') ->> 'reason', 'already_owned', 'an owned lesson is refused');

-- checkout_session_for_user: only the learner's own session
select is(public.checkout_session_for_user(:'shopper', 'cs_test_co_3') ->> 'owned', 'true', 'the owner reads their session and ownership');
select is(public.checkout_session_for_user(:'shopper', 'cs_test_co_3') ->> 'status', 'complete', 'with its status');
select is(public.checkout_session_for_user(:'bystander', 'cs_test_co_3'), null, 'another learner gets nothing');

select tests.clear_authentication();
select * from finish();
rollback;
