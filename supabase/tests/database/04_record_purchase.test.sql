-- record_purchase and handle_stripe_event: every outcome, each written on the event's row.
begin;
select plan(61);

select tests.create_user('buyer@example.com') as buyer \gset
select tests.create_user('second@example.com') as second \gset
\set joins '00000000-0000-4000-8000-000000000002'
\set rls '00000000-0000-4000-8000-000000000003'
\set webhooks '00000000-0000-4000-8000-000000000004'
\set euros '00000000-0000-4000-8000-000000000005'
\set yen '00000000-0000-4000-8000-000000000006'

select tests.authenticate_as_service_role();

-- recorded, then duplicate ---------------------------------------------------------------------

select tests.checkout_session('cs_test_rec_1', :'buyer', :'joins', 1200, p_payment_intent => 'pi_rec_1') as s1 \gset
select is(public.record_purchase(:'s1', tests.event('evt_rec_1', 'checkout.session.completed', :'s1')),
  'recorded', 'a paid session is recorded');
select results_eq(format('select status, amount_total, currency from public.purchased_lessons where user_id = %L', :'buyer'),
  $$values ('paid', 1200::bigint, 'usd')$$, 'the ownership row is paid with the session''s amount');
select results_eq($$select status, fulfilment from public.checkout_sessions where id = 'cs_test_rec_1'$$,
  $$values ('complete', 'granted')$$, 'the session is complete and granted');
select results_eq($$select outcome, processed_at is not null from public.stripe_events where id = 'evt_rec_1'$$,
  $$values ('recorded', true)$$, 'the outcome is written on the event');
select is(public.record_purchase(:'s1', tests.event('evt_rec_1', 'checkout.session.completed', :'s1')),
  'duplicate', 'the same event again is a duplicate');
select is(public.handle_stripe_event(tests.event('evt_rec_1b', 'checkout.session.async_payment_succeeded', :'s1')),
  'duplicate', 'a second event for a recorded session records nothing new');
select results_eq(format('select count(*)::int from public.purchased_lessons where user_id = %L', :'buyer'),
  array[1], 'still one ownership row');
select is(public.record_purchase(:'s1'), 'duplicate', 'fulfil-on-return after the webhook is a duplicate too');

-- async success before completed ---------------------------------------------------------------

select tests.checkout_session('cs_test_rec_2', :'buyer', :'rls', 2500) as s2 \gset
select is(public.handle_stripe_event(tests.event('evt_rec_2a', 'checkout.session.async_payment_succeeded', :'s2')),
  'recorded', 'async success arriving first records the purchase');
select is(public.handle_stripe_event(tests.event('evt_rec_2b', 'checkout.session.completed', :'s2')),
  'duplicate', 'the completed event arriving after it is a duplicate');

-- delayed payment: pending, then failed ----------------------------------------------------------

select tests.checkout_session('cs_test_rec_3', :'buyer', :'webhooks', 1900, p_payment_status => 'unpaid') as s3 \gset
select is(public.handle_stripe_event(tests.event('evt_rec_3a', 'checkout.session.completed', :'s3')),
  'pending', 'a completed session awaiting a delayed payment is pending');
select results_eq($$select status from public.checkout_sessions where id = 'cs_test_rec_3'$$, array['processing'],
  'the session is processing');
select is_empty(format('select 1 from public.purchased_lessons where user_id = %L and lesson_id = %L', :'buyer', :'webhooks'),
  'nothing is granted while the payment is pending');
select is(public.handle_stripe_event(tests.event('evt_rec_3b', 'checkout.session.async_payment_failed', :'s3')),
  'failed', 'the delayed payment failing fails the session');
select results_eq($$select status from public.checkout_sessions where id = 'cs_test_rec_3'$$, array['failed'],
  'the session is failed');
select is(public.handle_stripe_event(tests.event('evt_rec_3c', 'checkout.session.completed',
  tests.checkout_session('cs_test_rec_3', :'buyer', :'webhooks', 1900, p_payment_status => 'unpaid'))),
  'pending', 'a late completed event is stored');
select results_eq($$select status from public.checkout_sessions where id = 'cs_test_rec_3'$$, array['failed'],
  'and does not move a failed session back to processing');

-- rejections: nothing granted, every one visible to an operator -------------------------------

insert into public.checkout_sessions (id, user_id, lesson_id, amount_total, currency, url, expires_at)
values ('cs_test_rec_4', :'second', :'joins', 1200, 'usd', 'https://checkout.stripe.com/c/pay/4', now() + interval '1 day');
select is(public.handle_stripe_event(tests.event('evt_rec_4', 'checkout.session.completed',
  tests.checkout_session('cs_test_rec_4', :'second', :'joins', 1))),
  'rejected:amount_mismatch', 'an amount differing from the session''s is rejected');
select is(public.handle_stripe_event(tests.event('evt_rec_5', 'checkout.session.completed',
  tests.checkout_session('cs_test_rec_5', :'second', :'euros', 1500, 'usd'))),
  'rejected:currency_mismatch', 'a currency differing from the lesson''s is rejected');
select is(public.handle_stripe_event(tests.event('evt_rec_6', 'checkout.session.completed',
  tests.checkout_session('cs_test_rec_6', :'second', 'a0000000-0000-4000-8000-00000000dead', 1200))),
  'rejected:unknown_lesson', 'an unknown lesson is rejected');
select is(public.handle_stripe_event(tests.event('evt_rec_7', 'checkout.session.completed',
  tests.checkout_session('cs_test_rec_7', 'b0000000-0000-4000-8000-00000000dead', :'joins', 1200))),
  'rejected:unknown_user', 'an unknown user is rejected');
select is(public.handle_stripe_event(tests.event('evt_rec_8', 'checkout.session.completed',
  jsonb_set(tests.checkout_session('cs_test_rec_8', :'second', :'joins', 1200), '{client_reference_id}', to_jsonb(:'buyer'::text)))),
  'rejected:user_mismatch', 'a client_reference_id differing from metadata.user_id is rejected');
select is(public.handle_stripe_event(tests.event('evt_rec_9', 'checkout.session.completed',
  jsonb_set(tests.checkout_session('cs_test_rec_9', :'second', :'joins', 1200), '{metadata,user_id}', '"not-a-uuid"'))),
  'rejected:bad_metadata', 'malformed metadata is rejected');
select is_empty(format('select 1 from public.purchased_lessons where user_id = %L', :'second'),
  'no rejected session granted anything');
select results_eq($$select reference from public.payments_needing_attention
  where reference like any (array['cs_test_rec_%', 'evt_rec_%']) order by reference$$,
  array['cs_test_rec_4', 'cs_test_rec_5', 'evt_rec_6', 'evt_rec_7', 'evt_rec_8', 'evt_rec_9'],
  'every rejected payment is listed for an operator');
select results_eq($$select reason from public.payments_needing_attention where reference = 'cs_test_rec_4'$$,
  array['rejected:amount_mismatch'], 'with its reason');
select results_eq($$select outcome, outcome_reason from public.stripe_events where id = 'evt_rec_6'$$,
  $$values ('rejected', 'unknown_lesson')$$, 'the rejection and its reason are written on the event');
select throws_ok($$update public.stripe_events set outcome = 'rejected:unknown_lesson', outcome_reason = null where id = 'evt_rec_6'$$,
  '23514', null, 'an outcome is one of the known words, never a word with its reason appended');
select throws_ok($$update public.stripe_events set outcome_reason = null where id = 'evt_rec_6'$$,
  '23514', null, 'a rejection always keeps its reason');

-- zero-decimal currency: amounts compare in the currency's own unit ---------------------------

select is(public.handle_stripe_event(tests.event('evt_rec_10', 'checkout.session.completed',
  tests.checkout_session('cs_test_rec_10', :'second', :'yen', 1800, 'JPY'))),
  'recorded', 'a yen purchase at the yen price is recorded (currency case-insensitive)');

-- not ours -----------------------------------------------------------------------------------

select is(public.handle_stripe_event(tests.event('evt_rec_11', 'checkout.session.completed',
  tests.checkout_session('cs_test_rec_11', :'second', :'joins', 1200) - 'metadata')),
  'ignored:not_a_lesson_checkout', 'a session without lesson metadata is someone else''s: ignored');
select is(public.handle_stripe_event(tests.event('evt_rec_12', 'customer.created', '{"id": "cus_1", "object": "customer"}')),
  'ignored', 'an event type the shop does not handle is stored and ignored');
select results_eq($$select outcome, outcome_reason from public.stripe_events where id = 'evt_rec_12'$$,
  $$values ('ignored', null::text)$$, 'the ignored event is stored');
select results_eq($$select outcome, outcome_reason from public.stripe_events where id = 'evt_rec_11'$$,
  $$values ('ignored', 'not_a_lesson_checkout')$$, 'an event ignored for a reason is stored with it');

-- already owned: a second paid session for an owned lesson is charged twice: listed ----------

select is(public.handle_stripe_event(tests.event('evt_rec_13', 'checkout.session.completed',
  tests.checkout_session('cs_test_rec_13', :'buyer', :'joins', 1200, p_payment_intent => 'pi_rec_13'))),
  'already_owned', 'paying again for an owned lesson grants nothing new');
select results_eq(format('select stripe_checkout_session_id from public.purchased_lessons where user_id = %L and lesson_id = %L', :'buyer', :'joins'),
  array['cs_test_rec_1']::public.checkout_session_id[], 'the original purchase stands');
select isnt_empty($$select 1 from public.payments_needing_attention where reference = 'cs_test_rec_13' and reason = 'already_owned'$$,
  'the double charge is listed for a refund');
select is(public.handle_stripe_event(tests.event('evt_rec_13r', 'charge.refunded', tests.refunded_charge('pi_rec_13', 1200, 1200))),
  'ignored:no_change', 'refunding the double charge leaves the purchase alone');
select is_empty($$select 1 from public.payments_needing_attention where reference = 'cs_test_rec_13'$$,
  'and takes it off the attention list');

-- refund before purchase; repurchase after refund -------------------------------------------

select is(public.handle_stripe_event(tests.event('evt_rec_14r', 'charge.refunded',
  tests.refunded_charge('pi_rec_14', 1500, 1500), 1700000900)), 'deferred', 'a refund for an unknown payment is kept');
select is(public.handle_stripe_event(tests.event('evt_rec_14', 'checkout.session.completed',
  tests.checkout_session('cs_test_rec_14', :'buyer', :'euros', 1500, 'eur', p_payment_intent => 'pi_rec_14'), 1700000800)),
  'recorded', 'the purchase it refunds lands afterwards');
select results_eq(format('select status from public.purchased_lessons where user_id = %L and lesson_id = %L', :'buyer', :'euros'),
  array['refunded'], 'and the waiting refund is applied to it');
select results_eq($$select outcome from public.stripe_events where id = 'evt_rec_14r'$$, array['revoked'],
  'the waiting refund''s outcome is updated');
select is(public.handle_stripe_event(tests.event('evt_rec_15', 'checkout.session.completed',
  tests.checkout_session('cs_test_rec_15', :'buyer', :'euros', 1500, 'eur', p_payment_intent => 'pi_rec_15'), 1700001000)),
  'recorded', 'buying again after a refund is recorded');
select results_eq(format('select status, stripe_checkout_session_id, refunded_at is null from public.purchased_lessons where user_id = %L and lesson_id = %L', :'buyer', :'euros'),
  $$values ('paid', 'cs_test_rec_15'::public.checkout_session_id, true)$$, 'and revives the same ownership row');

-- Stripe's times are whole seconds: a refund and a repurchase in one second still revive ----

select public.handle_stripe_event(tests.event('evt_rec_17', 'checkout.session.completed',
  tests.checkout_session('cs_test_rec_17', :'second', :'webhooks', 1900, p_payment_intent => 'pi_rec_17'), 1700002000));
select is(public.handle_stripe_event(tests.event('evt_rec_18', 'checkout.session.completed',
  tests.checkout_session('cs_test_rec_18', :'second', :'webhooks', 1900, p_payment_intent => 'pi_rec_18'), 1700002100)),
  'already_owned', 'a repurchase reported before the refund it follows is a double charge for now');
select is(public.handle_stripe_event(tests.event('evt_rec_17r', 'charge.refunded',
  tests.refunded_charge('pi_rec_17', 1900, 1900), 1700002100)),
  'revoked', 'the refund in the same second is ordered before the repurchase, which then grants');
select results_eq(format('select status, stripe_checkout_session_id from public.purchased_lessons where user_id = %L and lesson_id = %L', :'second', :'webhooks'),
  $$values ('paid', 'cs_test_rec_18'::public.checkout_session_id)$$, 'the learner owns the lesson through the repurchase');

-- a purchase fulfilled on return (paid_at = now) is still revoked by a refund Stripe dated earlier
select public.record_purchase(tests.checkout_session('cs_test_rec_19', :'buyer', :'yen', 1800, 'jpy', p_payment_intent => 'pi_rec_19'));
select is(public.handle_stripe_event(tests.event('evt_rec_19r', 'charge.refunded',
  tests.refunded_charge('pi_rec_19', 1800, 1800), 1700000000)),
  'revoked', 'a refund never counts as happening before its own payment');

-- unpaid sessions that do not match cost nobody anything: ignored, not listed -----------------

select is(public.handle_stripe_event(tests.event('evt_rec_20', 'checkout.session.expired',
  jsonb_set(tests.checkout_session('cs_test_rec_20', :'second', :'joins', 1200, p_payment_status => 'unpaid', p_status => 'expired'),
    '{metadata,user_id}', '"nope"'))),
  'ignored:bad_metadata', 'an unpaid session that does not match is ignored');
select is_empty($$select 1 from public.payments_needing_attention where reference = 'evt_rec_20'$$,
  'and not listed for an operator');
select is(public.handle_stripe_event(tests.event('evt_rec_21', 'checkout.session.expired',
  tests.checkout_session('cs_test_rec_21', :'second', :'rls', 2500, p_payment_status => 'unpaid', p_status => 'expired'))),
  'expired', 'an expired session whose attach never ran is recorded');
select results_eq($$select status, url from public.checkout_sessions where id = 'cs_test_rec_21'$$,
  $$values ('expired', null::text)$$, 'as expired, with no page to pay on');

-- bad input: clear errors, nothing stored -----------------------------------------------------

select throws_ok($$select public.handle_stripe_event('{"id": "evt_x", "object": "event"}')$$, '22023', null,
  'an object that is not a Stripe event is refused');
select throws_ok(format('select public.record_purchase(%L, %L)', :'s1', tests.event('evt_rec_x', 'checkout.session.completed', :'s2')),
  '22023', null, 'record_purchase refuses a session that is not the event''s');
select throws_ok(format('select public.record_purchase(%L, %L)', :'s1', tests.event('evt_rec_y', 'charge.refunded', :'s1')),
  '22023', null, 'record_purchase refuses events that are not a paid or completed checkout');
select is_empty($$select 1 from public.stripe_events where id in ('evt_x', 'evt_rec_x', 'evt_rec_y')$$, 'and stores nothing');

-- an unexpected failure keeps the event, records the error, and a redelivery retries ----------

select is(public.handle_stripe_event(tests.event('evt_rec_16', 'checkout.session.completed',
  jsonb_set(tests.checkout_session('cs_test_rec_16', :'second', :'rls', 2500), '{amount_total}', '"lots"'))),
  'error', 'an event that fails to apply reports an error');
select results_eq($$select outcome, error like '22P02:%' from public.stripe_events where id = 'evt_rec_16'$$,
  $$values ('error', true)$$, 'it is stored with the error');
select isnt_empty($$select 1 from public.payments_needing_attention where reference = 'evt_rec_16'$$,
  'and listed for an operator');
select is(public.handle_stripe_event(tests.event('evt_rec_16', 'checkout.session.completed',
  jsonb_set(tests.checkout_session('cs_test_rec_16', :'second', :'rls', 2500), '{amount_total}', '"lots"'))),
  'error', 'a redelivery of a failed event is processed again, not answered as a duplicate');

select tests.clear_authentication();
select * from finish();
rollback;
