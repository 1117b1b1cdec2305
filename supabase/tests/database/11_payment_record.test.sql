-- The payment record (purchase_list()) and why each lesson is or is not the learner's
-- (lesson_catalog().access): every payment state, every lesson state, the facts of charge
-- events whatever order they come in, receipt links that may be shown, the payment_disputed
-- refusal, and each learner seeing only their own rows.
begin;
select plan(53);

select tests.create_user('payer@example.com') as payer \gset
select tests.create_user('slowpayer@example.com') as slow \gset
select tests.create_user('stranger@example.com') as stranger \gset
\set joins '00000000-0000-4000-8000-000000000002'
\set rls '00000000-0000-4000-8000-000000000003'
\set webhooks '00000000-0000-4000-8000-000000000004'
\set euros '00000000-0000-4000-8000-000000000005'
\set yen '00000000-0000-4000-8000-000000000006'

select enum_has_labels('public', 'payment_state',
  array['processing', 'paid', 'failed', 'refunded', 'partly_refunded', 'disputed', 'dispute_won', 'dispute_lost'],
  'a payment is in one of eight states');

-- paid: charge.succeeded arrives before checkout.session.completed ------------------------

select is(public.handle_stripe_event(tests.event('evt_rec_1c', 'charge.succeeded', tests.charge('pi_rec_1', 1200), 1700000010)),
  'applied', 'a charge.succeeded before its session is stored and applied');
select tests.authenticate_as(:'payer');
select is((select access::text from public.lesson_catalog() where slug = 'joins-without-fear'), 'available',
  'a charge alone grants nothing');
select tests.clear_authentication();
select is(public.handle_stripe_event(tests.event('evt_rec_1', 'checkout.session.completed',
  tests.checkout_session('cs_test_rec_1', :'payer', :'joins', 1200, p_payment_intent => 'pi_rec_1'), 1700000000)),
  'recorded', 'then the session is recorded');
select tests.authenticate_as(:'payer');
select results_eq($$select status::text, amount_total, currency, payment_method_type, payment_method_brand,
    payment_method_last4, payment_reference, refunded_amount, refunded_at, occurred_at
  from public.purchase_list() where id = 'cs_test_rec_1'$$,
  $$values ('paid', 1200::bigint, 'usd', 'card', 'visa', '4242', 'pi_rec_1', null::bigint, null::timestamptz,
    to_timestamp(1700000000))$$,
  'a paid row: amount, card brand and last 4 from the earlier charge, the PaymentIntent as reference, nothing refunded');
select is((select receipt_url from public.purchase_list() where id = 'cs_test_rec_1'),
  'https://pay.stripe.com/receipts/payment/CAcaFwoVYWNjdF8xUGdhZlRCN1daMDF6Z2tXKI_ei7UGMgZv2S_KfiY6LCJrxC7awazgQA9I88krZKw5uuCkZ5Nup2tomEtAbSpdfzjVZHO3ZYP5KFZP',
  'and the charge''s receipt link');
select results_eq($$select access::text, access_changed_at from public.lesson_catalog() where slug = 'joins-without-fear'$$,
  $$values ('owned', to_timestamp(1700000000))$$, 'the lesson is owned since it was paid');
select tests.clear_authentication();
select is(public.handle_stripe_event(tests.event('evt_rec_1c', 'charge.succeeded', tests.charge('pi_rec_1', 1200), 1700000010)),
  'duplicate', 'a redelivered charge.succeeded is a duplicate');

-- refunded, then bought again: two rows, the lesson owned again --------------------------

select public.handle_stripe_event(tests.event('evt_rec_2', 'checkout.session.completed',
  tests.checkout_session('cs_test_rec_2', :'payer', :'rls', 2500, p_payment_intent => 'pi_rec_2'), 1700000100));
select public.handle_stripe_event(tests.event('evt_rec_2c', 'charge.succeeded', tests.charge('pi_rec_2', 2500), 1700000101));
select is(public.handle_stripe_event(tests.event('evt_rec_2r', 'charge.refunded', tests.charge('pi_rec_2', 2500, 2500), 1700000200)),
  'revoked', 'a full refund ends access');
select tests.authenticate_as(:'payer');
select results_eq($$select status::text, refunded_amount, refunded_at, receipt_url is not null from public.purchase_list() where id = 'cs_test_rec_2'$$,
  $$values ('refunded', 2500::bigint, to_timestamp(1700000200), true)$$,
  'a refunded row carries what was refunded and when, and keeps its receipt');
select results_eq($$select access::text, access_changed_at, owned from public.lesson_catalog() where slug = 'row-level-security'$$,
  $$values ('refunded', to_timestamp(1700000200), false)$$, 'the lesson says refunded on that date (Buy again)');
select is_empty(format('select 1 from public.lesson_content where lesson_id = %L', :'rls'),
  'and its content is no longer readable');
select tests.clear_authentication();
select is((public.begin_checkout(:'payer', :'rls')) ->> 'action', 'create', 'a refunded lesson may be bought again');
select is(public.handle_stripe_event(tests.event('evt_rec_2b', 'checkout.session.completed',
  tests.checkout_session('cs_test_rec_2b', :'payer', :'rls', 2500, p_payment_intent => 'pi_rec_2b'), 1700000300)),
  'recorded', 'the rebuy is recorded');
select tests.authenticate_as(:'payer');
select results_eq($$select id, status::text from public.purchase_list() where slug = 'row-level-security'$$,
  $$values ('cs_test_rec_2b', 'paid'), ('cs_test_rec_2', 'refunded')$$,
  'refund then rebuy: two rows, newest first');
select results_eq($$select access::text, access_changed_at from public.lesson_catalog() where slug = 'row-level-security'$$,
  $$values ('owned', to_timestamp(1700000300))$$, 'and the lesson is owned again');
select tests.clear_authentication();

-- partly refunded: still the learner's; the total refunded whatever order refunds come in -

select public.handle_stripe_event(tests.event('evt_rec_3', 'checkout.session.completed',
  tests.checkout_session('cs_test_rec_3', :'payer', :'webhooks', 1900, p_payment_intent => 'pi_rec_3'), 1700000400));
-- the second partial refund (900 in all) is delivered before the first (500)
select is(public.handle_stripe_event(tests.event('evt_rec_3r2', 'charge.refunded', tests.charge('pi_rec_3', 1900, 900), 1700000600)),
  'ignored:partial_refund', 'a partial refund changes no access');
select public.handle_stripe_event(tests.event('evt_rec_3r1', 'charge.refunded', tests.charge('pi_rec_3', 1900, 500), 1700000500));
select tests.authenticate_as(:'payer');
select results_eq($$select status::text, refunded_amount, refunded_at from public.purchase_list() where id = 'cs_test_rec_3'$$,
  $$values ('partly_refunded', 900::bigint, to_timestamp(1700000600))$$,
  'partly refunded: the total so far and when it was reached, whatever the order of delivery');
select results_eq($$select access::text, owned from public.lesson_catalog() where slug = 'stripe-webhooks'$$,
  $$values ('owned', true)$$, 'a partly refunded lesson is still owned (the README''s policy)');
select isnt_empty(format('select 1 from public.lesson_content where lesson_id = %L', :'webhooks'),
  'and still readable');
select tests.clear_authentication();

-- disputed, checkout refused, then won ----------------------------------------------------

select public.handle_stripe_event(tests.event('evt_rec_4', 'checkout.session.completed',
  tests.checkout_session('cs_test_rec_4', :'payer', :'euros', 1500, 'eur', p_payment_intent => 'pi_rec_4'), 1700000700));
select is(public.handle_stripe_event(tests.event('evt_rec_4d', 'charge.dispute.created', tests.dispute('pi_rec_4'), 1700000800)),
  'revoked', 'a dispute pauses access');
select tests.authenticate_as(:'payer');
select is((select status::text from public.purchase_list() where id = 'cs_test_rec_4'), 'disputed', 'the row is disputed');
select results_eq($$select access::text, access_changed_at, owned from public.lesson_catalog() where slug = 'transactions-and-isolation'$$,
  $$values ('disputed', to_timestamp(1700000800), false)$$, 'the lesson is disputed since the dispute opened: no Buy');
select tests.clear_authentication();
select is(public.begin_checkout(:'payer', :'euros'), '{"action": "refuse", "reason": "payment_disputed"}'::jsonb,
  'begin_checkout refuses a lesson whose payment is disputed');
select public.handle_stripe_event(tests.event('evt_rec_4w', 'charge.dispute.closed', tests.dispute('pi_rec_4', 'won'), 1700000900));
select tests.authenticate_as(:'payer');
select is((select status::text from public.purchase_list() where id = 'cs_test_rec_4'), 'dispute_won', 'a dispute won is dispute_won');
select results_eq($$select access::text, owned from public.lesson_catalog() where slug = 'transactions-and-isolation'$$,
  $$values ('owned', true)$$, 'and the lesson is owned again');
select tests.clear_authentication();
select is(public.begin_checkout(:'payer', :'euros') ->> 'reason', 'already_owned', 'so checkout refuses it as owned');

-- disputed, then lost ---------------------------------------------------------------------

select public.handle_stripe_event(tests.event('evt_rec_5', 'checkout.session.completed',
  tests.checkout_session('cs_test_rec_5', :'payer', :'yen', 1800, 'jpy', p_payment_intent => 'pi_rec_5'), 1700001000));
select public.handle_stripe_event(tests.event('evt_rec_5d', 'charge.dispute.created', tests.dispute('pi_rec_5'), 1700001100));
select is(public.begin_checkout(:'payer', :'yen') ->> 'reason', 'payment_disputed', 'refused while the dispute is open');
select public.handle_stripe_event(tests.event('evt_rec_5l', 'charge.dispute.closed', tests.dispute('pi_rec_5', 'lost'), 1700001200));
select tests.authenticate_as(:'payer');
select is((select status::text from public.purchase_list() where id = 'cs_test_rec_5'), 'dispute_lost', 'a dispute lost is dispute_lost');
select results_eq($$select access::text, access_changed_at, owned from public.lesson_catalog() where slug = 'indexes-explained'$$,
  $$values ('dispute_lost', to_timestamp(1700001100), false)$$, 'the lesson says dispute lost: access ended');
select tests.clear_authentication();
select is(public.begin_checkout(:'payer', :'yen') ->> 'action', 'create', 'and Buy again is offered');

-- the whole page, newest first ------------------------------------------------------------

select tests.authenticate_as(:'payer');
select results_eq('select id, status::text from public.purchase_list()',
  $$values ('cs_test_rec_5', 'dispute_lost'), ('cs_test_rec_4', 'dispute_won'), ('cs_test_rec_3', 'partly_refunded'),
    ('cs_test_rec_2b', 'paid'), ('cs_test_rec_2', 'refunded'), ('cs_test_rec_1', 'paid')$$,
  'one row per payment, newest first');
select tests.clear_authentication();

-- processing, then failed; a refund that came before its purchase -------------------------

select is(public.handle_stripe_event(tests.event('evt_rec_6', 'checkout.session.completed',
  tests.checkout_session('cs_test_rec_6', :'slow', :'joins', 1200, p_payment_status => 'unpaid', p_payment_intent => 'pi_rec_6'))),
  'pending', 'a delayed payment is pending');
select tests.authenticate_as(:'slow');
select results_eq($$select status::text, payment_reference, receipt_url from public.purchase_list()$$,
  $$values ('processing', 'pi_rec_6', null::text)$$, 'a processing row, with no receipt before a charge');
select is((select access::text from public.lesson_catalog() where slug = 'joins-without-fear'), 'processing',
  'the lesson is processing');
select tests.clear_authentication();
select is(public.handle_stripe_event(tests.event('evt_rec_6f', 'checkout.session.async_payment_failed',
  tests.checkout_session('cs_test_rec_6', :'slow', :'joins', 1200, p_payment_status => 'unpaid', p_payment_intent => 'pi_rec_6'))),
  'failed', 'then it fails');
select tests.authenticate_as(:'slow');
select is((select status::text from public.purchase_list() where id = 'cs_test_rec_6'), 'failed', 'the row says failed');
select results_eq($$select access::text, owned from public.lesson_catalog() where slug = 'joins-without-fear'$$,
  $$values ('failed', false)$$, 'the lesson says the last payment failed (Try again)');
select tests.clear_authentication();
select is(public.begin_checkout(:'slow', :'joins') ->> 'action', 'create', 'and may be tried again');

select is(public.handle_stripe_event(tests.event('evt_rec_7r', 'charge.refunded', tests.charge('pi_rec_7', 2500, 2500), 1700002100)),
  'deferred', 'a refund before its purchase is kept');
select public.handle_stripe_event(tests.event('evt_rec_7', 'checkout.session.completed',
  tests.checkout_session('cs_test_rec_7', :'slow', :'rls', 2500, p_payment_intent => 'pi_rec_7'), 1700002000));
select tests.authenticate_as(:'slow');
select results_eq($$select status::text, refunded_amount, refunded_at, payment_method_last4 from public.purchase_list() where id = 'cs_test_rec_7'$$,
  $$values ('refunded', 2500::bigint, to_timestamp(1700002100), '4242')$$,
  'and lands on the row when the purchase does');
select tests.clear_authentication();

-- receipt links: https, or the stand-in's local pages in test mode; nothing else ------------

select public.handle_stripe_event(tests.event('evt_rec_8', 'checkout.session.completed',
  tests.checkout_session('cs_test_rec_8', :'slow', :'webhooks', 1900, p_payment_intent => 'pi_rec_8'), 1700003000));
select public.handle_stripe_event(tests.event('evt_rec_8c', 'charge.succeeded',
  tests.charge('pi_rec_8', 1900, p_receipt_url => 'javascript:alert(document.cookie)'), 1700003001));
select is((select receipt_url::text from public.checkout_sessions where id = 'cs_test_rec_8'), null,
  'a receipt link that is not https is dropped');
select public.handle_stripe_event(tests.event('evt_rec_8d', 'charge.succeeded',
  tests.charge('pi_rec_8', 1900, p_receipt_url => 'https://pay.stripe.com/receipts/x"><script>alert(1)</script>'), 1700003002));
select is((select receipt_url::text from public.checkout_sessions where id = 'cs_test_rec_8'), null,
  'so is one carrying markup');
select public.handle_stripe_event(tests.event('evt_rec_8e', 'charge.succeeded',
  tests.charge('pi_rec_8', 1900, p_receipt_url => 'http://127.0.0.1:12111/receipts/ch_rec_8'), 1700003003));
select is((select receipt_url::text from public.checkout_sessions where id = 'cs_test_rec_8'), 'http://127.0.0.1:12111/receipts/ch_rec_8',
  'the offline stand-in''s local receipt page is kept in test mode');
select public.handle_stripe_event(jsonb_set(tests.event('evt_rec_8f', 'charge.succeeded',
  tests.charge('pi_rec_8', 1900, p_receipt_url => 'http://localhost:12111/receipts/ch_rec_8', p_last4 => '0005'), 1700003004),
  '{livemode}', 'true'));
select results_eq($$select receipt_url::text, card_last4 from public.checkout_sessions where id = 'cs_test_rec_8'$$,
  $$values (null::text, '0005')$$, 'but not from a live event, whose other facts still count');
select throws_ok($$select 'http://evil.example/receipt'::public.receipt_url$$, '23514', null,
  'the receipt_url domain refuses plain http beyond this machine');
select throws_ok($$update public.stripe_events set receipt_url = 'http://127.0.0.1/r' where id = 'evt_rec_8f'$$, '23514', null,
  'and a live event cannot hold a local link');

-- a lesson unpublished after a payment keeps its title on Purchases -------------------------

update public.lessons set published = false where id = :'joins';
select tests.authenticate_as(:'slow');
select is((select title from public.purchase_list() where id = 'cs_test_rec_6'), 'Joins without fear',
  'a failed payment for a lesson since unpublished still shows its title');
select tests.clear_authentication();

-- RLS: each learner sees their own rows, a visitor none -------------------------------------

select tests.authenticate_as(:'slow');
select results_eq('select id from public.purchase_list()',
  array['cs_test_rec_6', 'cs_test_rec_8', 'cs_test_rec_7'], 'a learner''s Purchases page has their payments only, newest first');
select tests.authenticate_as(:'stranger');
select is_empty('select * from public.purchase_list()', 'a learner with no payments sees none of anyone''s');
select is_empty($$select 1 from public.lesson_catalog() where access not in ('free', 'available')$$,
  'and no one else''s lesson states');
select is_empty(format('select 1 from public.lessons where id = %L', :'joins'),
  'nor a lesson unpublished that only others paid for');
select tests.authenticate_as_anon();
select throws_ok('select * from public.purchase_list()', '42501', null, 'a visitor has no payment record');
select tests.clear_authentication();

select * from finish();
rollback;
