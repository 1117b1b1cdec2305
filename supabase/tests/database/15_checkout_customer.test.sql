-- The customer a learner's Checkout reuses comes only from that learner's own granting payment,
-- and a later claim adding or changing the customer or payment intent of a decided session is a
-- contradiction: refused, listed, nothing changed.
begin;
select plan(17);

\set joins '00000000-0000-4000-8000-000000000002'
\set rls '00000000-0000-4000-8000-000000000003'
\set webhooks '00000000-0000-4000-8000-000000000004'

select tests.create_user('cu_a@example.com') as a \gset
select tests.create_user('cu_b@example.com') as b \gset
select tests.create_user('cu_c@example.com') as c \gset

-- a session paid as a guest (no customer); a later claim adds one ----------------------------

select is(public.handle_stripe_event(tests.event('evt_cu_a1', 'checkout.session.completed',
  tests.checkout_session('cs_test_cu_a1', :'a', :'joins', 1200, p_payment_intent => 'pi_cu_a1'), 1700000000)),
  'recorded', 'a guest payment is recorded with no customer');
select is(public.handle_stripe_event(tests.event('evt_cu_a1x', 'checkout.session.completed',
  jsonb_set(tests.checkout_session('cs_test_cu_a1', :'a', :'joins', 1200, p_payment_intent => 'pi_cu_a1'),
    '{customer}', '"cus_cu_someone_else"'), 1700000010)),
  'rejected:contradiction', 'a later claim adding a customer to the paid session is a contradiction');
select is((select stripe_customer_id from public.checkout_sessions where id = 'cs_test_cu_a1'), null,
  'the session keeps no customer');
select is(public.sync_checkout_session(jsonb_set(tests.checkout_session('cs_test_cu_a1', :'a', :'joins', 1200,
    p_payment_intent => 'pi_cu_a1'), '{customer}', '"cus_cu_someone_else"')),
  'rejected:contradiction', 'read back from Stripe with a customer, the same');
select results_eq($$select fields from public.checkout_session_contradictions where checkout_session_id = 'cs_test_cu_a1'$$,
  $$values (array['customer'])$$, 'stored once, naming the customer');
select isnt_empty($$select 1 from public.payments_needing_attention
    where source = 'contradiction' and reference = 'cs_test_cu_a1' and reason = 'contradiction:customer'$$,
  'and listed for an operator');
select is(public.begin_checkout(:'a', :'rls') ->> 'stripe_customer_id', null,
  'the learner''s next Checkout is not sent to the claimed customer');

-- a paid session with no payment intent; a later claim adds one ---------------------------

select is(public.sync_checkout_session(jsonb_set(tests.checkout_session('cs_test_cu_a2', :'a', :'webhooks', 1900),
    '{payment_intent}', 'null')),
  'recorded', 'a paid session read back without a payment intent is recorded');
select is(public.handle_stripe_event(tests.event('evt_cu_a2x', 'checkout.session.completed',
  tests.checkout_session('cs_test_cu_a2', :'a', :'webhooks', 1900, p_payment_intent => 'pi_cu_claimed'), 1700000020)),
  'rejected:contradiction', 'a later claim adding a payment intent to the decided session is a contradiction');
select is((select stripe_payment_intent_id from public.checkout_sessions where id = 'cs_test_cu_a2'), null,
  'the session keeps no payment intent');

-- the customer of the learner's own granting payment is reused, and only that one ------------

select is(public.handle_stripe_event(tests.event('evt_cu_b1', 'checkout.session.completed',
  jsonb_set(tests.checkout_session('cs_test_cu_b1', :'b', :'joins', 1200, p_payment_intent => 'pi_cu_b1'),
    '{customer}', '"cus_cu_b"'), 1700000000)),
  'recorded', 'a payment with the learner''s customer grants the lesson');
select is(public.begin_checkout(:'b', :'rls') ->> 'stripe_customer_id', 'cus_cu_b',
  'the next Checkout reuses the customer of that granting payment');
select is(public.handle_stripe_event(tests.event('evt_cu_b1x', 'checkout.session.completed',
  jsonb_set(tests.checkout_session('cs_test_cu_b1', :'b', :'joins', 1200, p_payment_intent => 'pi_cu_b1'),
    '{customer}', '"cus_cu_other"'), 1700000010)),
  'rejected:contradiction', 'a later claim changing the customer is a contradiction');
select is(public.attach_checkout_session(jsonb_set(tests.checkout_session('cs_test_cu_b2', :'b', :'rls', 2500,
    p_payment_status => 'unpaid', p_status => 'open', p_payment_intent => 'pi_cu_b2'),
  '{customer}', '"cus_cu_open"')) ->> 'outcome',
  'attached', 'an open session of the learner''s with another customer is attached');
select is(public.begin_checkout(:'b', :'webhooks') ->> 'stripe_customer_id', 'cus_cu_b',
  'still the granting payment''s customer: neither the contradiction nor an open session chose it');

-- an open session may still learn its customer when it is paid --------------------------------

select is(public.attach_checkout_session(tests.checkout_session('cs_test_cu_c1', :'c', :'joins', 1200,
    p_payment_status => 'unpaid', p_status => 'open', p_payment_intent => 'pi_cu_c1') - 'payment_intent') ->> 'outcome',
  'attached', 'a session attached with no customer nor payment intent');
select is(public.handle_stripe_event(tests.event('evt_cu_c1', 'checkout.session.completed',
  jsonb_set(tests.checkout_session('cs_test_cu_c1', :'c', :'joins', 1200, p_payment_intent => 'pi_cu_c1'),
    '{customer}', '"cus_cu_c"'), 1700000000)),
  'recorded', 'paid, it takes the customer and payment intent Stripe reports: no contradiction before it is decided');

select * from finish();
rollback;
