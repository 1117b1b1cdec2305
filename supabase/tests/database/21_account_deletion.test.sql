-- Deleting a learner's account (Supabase Auth deletes the auth.users row): their payments stay
-- for the operator's books, anonymised (amounts, dates, Stripe ids, receipts, refunds and
-- disputes kept; user_id null); their access rows and reading progress go; events about their
-- payments that arrive afterwards never grant the lesson to anyone, and money taken is listed
-- for a refund. Another learner's purchases are untouched.
begin;
select plan(30);

select tests.create_user('leaving@example.com') as leaving \gset
select tests.create_user('staying@example.com') as staying \gset
\set free '00000000-0000-4000-8000-000000000001'
\set joins '00000000-0000-4000-8000-000000000002'
\set rls '00000000-0000-4000-8000-000000000003'
\set webhooks '00000000-0000-4000-8000-000000000004'

-- structure: what goes with the user and what stays ------------------------------------------

select col_is_null('public', 'checkout_sessions', 'user_id', 'a payment may outlive its learner');
select is((select confdeltype::text from pg_constraint where conname = 'checkout_sessions_user_id_fkey'), 'n',
  'checkout_sessions.user_id is set null when the user is deleted');
select is((select confdeltype::text from pg_constraint where conname = 'purchased_lessons_user_id_fkey'), 'c',
  'purchased_lessons (access) goes with the user');
select is((select confdeltype::text from pg_constraint where conname = 'lesson_progress_user_id_fkey'), 'c',
  'lesson_progress goes with the user');

-- the leaving learner: a paid lesson with its receipt, a lesson refunded in part, an open
-- Checkout Session, and reading progress; the staying learner owns a lesson too ---------------

select public.handle_stripe_event(tests.event('evt_del_1c', 'charge.succeeded', tests.charge('pi_del_1', 1200), 1700000010));
select is(public.handle_stripe_event(tests.event('evt_del_1', 'checkout.session.completed',
  tests.checkout_session('cs_test_del_1', :'leaving', :'joins', 1200, p_payment_intent => 'pi_del_1'), 1700000000)),
  'recorded', 'the leaving learner buys a lesson');
select public.handle_stripe_event(tests.event('evt_del_2', 'checkout.session.completed',
  tests.checkout_session('cs_test_del_2', :'leaving', :'rls', 2500, p_payment_intent => 'pi_del_2'), 1700000100));
select public.handle_stripe_event(tests.event('evt_del_2r', 'charge.refunded', tests.charge('pi_del_2', 2500, 1000), 1700000200));
select public.attach_checkout_session(
  tests.checkout_session('cs_test_del_open', :'leaving', :'webhooks', 1900, p_payment_status => 'unpaid', p_status => 'open',
    p_payment_intent => 'pi_del_open'));
select is(public.handle_stripe_event(tests.event('evt_del_s', 'checkout.session.completed',
  tests.checkout_session('cs_test_del_s', :'staying', :'joins', 1200, p_payment_intent => 'pi_del_s'), 1700000300)),
  'recorded', 'the staying learner buys the same lesson');
select tests.authenticate_as(:'leaving');
insert into public.lesson_progress (lesson_id, section) values (:'joins', 'inner-joins'), (:'free', 'your-first-select');
select tests.clear_authentication();

select is(public.handle_stripe_event(tests.event('evt_del_early', 'charge.dispute.created', tests.dispute('pi_del_open'), 1700000050)),
  'deferred', 'a dispute of the open session''s payment intent waits for its purchase');

create temporary table books_before on commit drop as
select id, lesson_id, amount_total, amount_paid, currency, status, payment_status, paid_at, stripe_payment_intent_id,
  stripe_customer_id, receipt_url, card_last4, amount_refunded, refunded_at, fulfilment, created_at
from public.checkout_sessions where user_id = :'leaving';
create temporary table events_before on commit drop as select id, type from public.stripe_events;

select is((select count(*)::int from books_before), 3, 'three payment records before');
select ok((select payload is not null from public.stripe_events where id = 'evt_del_1'),
  'a processed event still holds its payload (the buyer''s details) before');

delete from auth.users where id = :'leaving';

-- what stays: every payment record, no longer pointing at anyone ------------------------------

select set_eq(
  $$select id, lesson_id, amount_total, amount_paid, currency, status, payment_status, paid_at, stripe_payment_intent_id,
      stripe_customer_id, receipt_url, card_last4, amount_refunded, refunded_at, fulfilment, created_at
    from public.checkout_sessions where id in ('cs_test_del_1', 'cs_test_del_2', 'cs_test_del_open')$$,
  $$select * from books_before$$,
  'each payment keeps its amounts, dates, Stripe ids, receipt and refunds');
select is_empty($$select 1 from public.checkout_sessions
    where id in ('cs_test_del_1', 'cs_test_del_2', 'cs_test_del_open') and user_id is not null$$,
  'and none of them names the learner any more');
select set_eq($$select id, type from public.stripe_events$$, $$select * from events_before$$,
  'every stored Stripe event stays');
select is_empty($$select 1 from public.stripe_events
    where id in ('evt_del_1', 'evt_del_1c', 'evt_del_2') and (payload is not null or payload_cleared_at is null)$$,
  'the payloads of the learner''s processed events (names, emails) are cleared at once');
select ok((select payload is not null from public.stripe_events where id = 'evt_del_early'),
  'an event still waiting to apply keeps its payload');
select ok((select payload is not null from public.stripe_events where id = 'evt_del_s'),
  'another learner''s events keep theirs');

-- what goes: access and progress -------------------------------------------------------------

select is_empty(format('select 1 from public.purchased_lessons where user_id = %L', :'leaving'),
  'the learner''s access rows are gone');
select is_empty($$select 1 from public.purchased_lessons where stripe_checkout_session_id in ('cs_test_del_1', 'cs_test_del_2')$$,
  'no access row is left for their payments');
select is_empty(format('select 1 from public.lesson_progress where user_id = %L', :'leaving'),
  'their reading progress is gone');
select results_eq(format('select status, stripe_checkout_session_id::text from public.purchased_lessons where user_id = %L', :'staying'),
  $$values ('paid', 'cs_test_del_s')$$, 'another learner''s purchase of the same lesson is untouched');

-- events after the deletion grant nobody anything ---------------------------------------------

select is(public.handle_stripe_event(tests.event('evt_del_open', 'checkout.session.completed',
  tests.checkout_session('cs_test_del_open', :'leaving', :'webhooks', 1900, p_payment_intent => 'pi_del_open'), 1700000400)),
  'rejected:account_deleted', 'the open session paid after the deletion is rejected: there is nobody to grant it to');
select is_empty($$select 1 from public.purchased_lessons where stripe_checkout_session_id = 'cs_test_del_open'$$,
  'and grants nothing');
select results_eq($$select source, reason, user_id from public.payments_needing_attention where reference = 'cs_test_del_open'$$,
  $$values ('checkout_session', 'rejected:account_deleted', null::uuid)$$,
  'the money taken is listed for a refund, with nobody named');
select is((select what from public.payments_needing_attention where reference = 'cs_test_del_open'),
  'Paid but not granted: the learner deleted their account before it was paid', 'in words the operator reads');
select is(public.sync_checkout_session(
  tests.checkout_session('cs_test_del_1', :'leaving', :'joins', 1200, p_payment_intent => 'pi_del_1')),
  'duplicate', 'a paid session read back again after the deletion answers as before');
select is_empty($$select 1 from public.purchased_lessons where stripe_checkout_session_id = 'cs_test_del_1'$$,
  'and grants nothing again');
select is(public.handle_stripe_event(tests.event('evt_del_new', 'checkout.session.completed',
  tests.checkout_session('cs_test_del_new', :'leaving', :'rls', 2500, p_payment_intent => 'pi_del_new'), 1700000500)),
  'rejected:unknown_user', 'a paid session never seen before, for the deleted learner, is rejected');
select results_eq($$select source, reason from public.payments_needing_attention where reference = 'evt_del_new'$$,
  $$values ('stripe_event', 'rejected:unknown_user')$$, 'and listed for a refund');
select is(public.handle_stripe_event(tests.event('evt_del_1r', 'charge.refunded', tests.charge('pi_del_1', 1200, 1200), 1700000600)),
  'ignored:no_change', 'a refund after the deletion has no access left to end');
select results_eq($$select amount_refunded, refunded_at from public.checkout_sessions where id = 'cs_test_del_1'$$,
  $$values (1200::bigint, to_timestamp(1700000600))$$, 'and is kept on the anonymised payment record');
select is(public.handle_stripe_event(tests.event('evt_del_d', 'charge.dispute.created', tests.dispute('pi_del_2'), 1700000700)),
  'ignored:no_change', 'a dispute after the deletion changes no access either');

select * from finish();
rollback;
