-- revoke_purchase: refunds and disputes end access; a won dispute restores it.
begin;
select plan(26);

select tests.create_user('revoked@example.com') as learner \gset
\set joins '00000000-0000-4000-8000-000000000002'
\set rls '00000000-0000-4000-8000-000000000003'
\set webhooks '00000000-0000-4000-8000-000000000004'

select tests.authenticate_as_service_role();

select public.handle_stripe_event(tests.event('evt_rv_1', 'checkout.session.completed',
  tests.checkout_session('cs_test_rv_1', :'learner', :'joins', 1200, p_payment_intent => 'pi_rv_1'), 1700000000));
select public.handle_stripe_event(tests.event('evt_rv_2', 'checkout.session.completed',
  tests.checkout_session('cs_test_rv_2', :'learner', :'rls', 2500, p_payment_intent => 'pi_rv_2'), 1700000000));
select public.handle_stripe_event(tests.event('evt_rv_3', 'checkout.session.completed',
  tests.checkout_session('cs_test_rv_3', :'learner', :'webhooks', 1900, p_payment_intent => 'pi_rv_3'), 1700000000));

-- refunds ------------------------------------------------------------------------------------

select tests.refunded_charge('pi_rv_1', 1200, 500) as partial \gset
select is(public.revoke_purchase(:'partial', tests.event('evt_rv_p', 'charge.refunded', :'partial', 1700000100)),
  'ignored:partial_refund', 'a partial refund keeps access');
select results_eq(format('select status from public.purchased_lessons where lesson_id = %L and user_id = %L', :'joins', :'learner'),
  array['paid'], 'the purchase is still paid');

select tests.refunded_charge('pi_rv_1', 1200, 1200) as full_refund \gset
select is(public.revoke_purchase(:'full_refund', tests.event('evt_rv_f', 'charge.refunded', :'full_refund', 1700000200)),
  'revoked', 'a full refund revokes the purchase');
select results_eq(format('select status, refunded_at = to_timestamp(1700000200) from public.purchased_lessons where lesson_id = %L and user_id = %L', :'joins', :'learner'),
  $$values ('refunded', true)$$, 'status refunded, at the refund''s time');
select is(public.revoke_purchase(:'full_refund', tests.event('evt_rv_f', 'charge.refunded', :'full_refund', 1700000200)),
  'duplicate', 'the same refund event again is a duplicate');
select is(public.handle_stripe_event(tests.event('evt_rv_f2', 'charge.refunded', :'full_refund', 1700000300)),
  'ignored:no_change', 'another refund event for a refunded purchase changes nothing');

select tests.clear_authentication();
select tests.authenticate_as(:'learner');
select is_empty(format('select 1 from public.lesson_content where lesson_id = %L', :'joins'),
  'the refunded lesson is no longer readable');
select tests.clear_authentication();
select tests.authenticate_as_service_role();

-- disputes -----------------------------------------------------------------------------------

select is(public.handle_stripe_event(tests.event('evt_rv_d1', 'charge.dispute.created', tests.dispute('pi_rv_2'), 1700000100)),
  'revoked', 'a dispute revokes access');
select results_eq(format('select status, disputed_at is not null from public.purchased_lessons where lesson_id = %L and user_id = %L', :'rls', :'learner'),
  $$values ('disputed', true)$$, 'status disputed');
select is(public.handle_stripe_event(tests.event('evt_rv_d2', 'charge.dispute.closed', tests.dispute('pi_rv_2', 'won'), 1700000200)),
  'restored', 'a dispute won restores access');
select results_eq(format('select status, disputed_at is null from public.purchased_lessons where lesson_id = %L and user_id = %L', :'rls', :'learner'),
  $$values ('paid', true)$$, 'status paid again');

select is(public.handle_stripe_event(tests.event('evt_rv_d3', 'charge.dispute.created', tests.dispute('pi_rv_3'), 1700000100)),
  'revoked', 'another dispute revokes');
select is(public.handle_stripe_event(tests.event('evt_rv_d4', 'charge.dispute.closed', tests.dispute('pi_rv_3', 'lost'), 1700000200)),
  'ignored:no_change', 'a dispute lost keeps access revoked');
select results_eq(format('select status from public.purchased_lessons where lesson_id = %L and user_id = %L', :'webhooks', :'learner'),
  array['disputed'], 'status stays disputed');

-- out of order: a dispute closing before it opened, replayed by Stripe time -------------------

select public.handle_stripe_event(tests.event('evt_rv_5', 'checkout.session.completed',
  tests.checkout_session('cs_test_rv_5', :'learner', '00000000-0000-4000-8000-000000000005', 1500, 'eur', p_payment_intent => 'pi_rv_5'), 1700000000));
select is(public.handle_stripe_event(tests.event('evt_rv_5c', 'charge.dispute.closed', tests.dispute('pi_rv_5', 'won'), 1700000300)),
  'ignored:no_change', 'a dispute closing before it was seen opening changes nothing yet');
select is(public.handle_stripe_event(tests.event('evt_rv_5o', 'charge.dispute.created', tests.dispute('pi_rv_5'), 1700000200)),
  'ignored:no_change', 'its late opening is applied in Stripe''s order: opened then won');
select results_eq($$select status from public.purchased_lessons where stripe_payment_intent_id = 'pi_rv_5'$$,
  array['paid'], 'the purchase ends paid, as a replay in Stripe''s order gives');

-- overlapping disputes: an inquiry closing does not end a chargeback still open --------------

select public.handle_stripe_event(tests.event('evt_rv_6', 'checkout.session.completed',
  tests.checkout_session('cs_test_rv_6', :'learner', '00000000-0000-4000-8000-000000000006', 1800, 'jpy', p_payment_intent => 'pi_rv_6'), 1700000000));
select is(public.handle_stripe_event(tests.event('evt_rv_6a', 'charge.dispute.created',
  jsonb_set(tests.dispute('pi_rv_6', 'warning_needs_response'), '{id}', '"dp_rv_6_inquiry"'), 1700000100)),
  'revoked', 'an inquiry revokes access');
select public.handle_stripe_event(tests.event('evt_rv_6b', 'charge.dispute.created',
  jsonb_set(tests.dispute('pi_rv_6'), '{id}', '"dp_rv_6_chargeback"'), 1700000200));
select is(public.handle_stripe_event(tests.event('evt_rv_6c', 'charge.dispute.closed',
  jsonb_set(tests.dispute('pi_rv_6', 'warning_closed'), '{id}', '"dp_rv_6_inquiry"'), 1700000200)),
  'ignored:no_change', 'the inquiry closing in the same second as a chargeback opens restores nothing');
select results_eq($$select status from public.purchased_lessons where stripe_payment_intent_id = 'pi_rv_6'$$,
  array['disputed'], 'access stays revoked while the chargeback is open');
select is(public.handle_stripe_event(tests.event('evt_rv_6d', 'charge.dispute.closed',
  jsonb_set(tests.dispute('pi_rv_6', 'won'), '{id}', '"dp_rv_6_chargeback"'), 1700000300)),
  'restored', 'winning the chargeback too restores access');

-- deferred and bad input -------------------------------------------------------------------

select is(public.handle_stripe_event(tests.event('evt_rv_u', 'charge.dispute.created', tests.dispute('pi_rv_unknown'))),
  'deferred', 'a dispute for a payment not yet seen is kept for later');
select results_eq($$select outcome, payment_intent_id from public.stripe_events where id = 'evt_rv_u'$$,
  $$values ('deferred', 'pi_rv_unknown')$$, 'stored with its payment intent');
select is(public.handle_stripe_event(tests.event('evt_rv_n', 'charge.refunded', '{"id": "ch_x", "object": "charge", "refunded": true}')),
  'ignored:no_payment_intent', 'a charge without a payment intent is not one of ours');
select throws_ok(format('select public.revoke_purchase(%L, %L)', tests.dispute('pi_rv_1'),
  tests.event('evt_rv_bad', 'checkout.session.completed', tests.dispute('pi_rv_1'))),
  '22023', null, 'revoke_purchase refuses events that are not refunds or disputes');
select is_empty($$select 1 from public.stripe_events where id = 'evt_rv_bad'$$, 'and stores nothing');

select tests.clear_authentication();
select * from finish();
rollback;
