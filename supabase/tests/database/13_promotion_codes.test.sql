-- Promotion codes: a paid session's discount, code and coupon are recorded and shown, the price
-- before discounts is what is checked, a code never grants another lesson than the session's
-- metadata names, a code that makes the lesson free grants once, and the per-code report is
-- the operator's alone.
begin;
select plan(29);

select tests.create_user('coder@example.com') as coder \gset
select tests.create_user('swapper@example.com') as swapper \gset
select tests.create_user('bystander@example.com') as bystander \gset
\set joins '00000000-0000-4000-8000-000000000002'
\set rls '00000000-0000-4000-8000-000000000003'
\set webhooks '00000000-0000-4000-8000-000000000004'

-- A session object as Stripe reports it after a code: amount_subtotal, total_details and
-- discounts added to tests.checkout_session's (whose amount is the total charged).
create function tests.with_code(
  p_session jsonb, p_subtotal bigint, p_discount bigint, p_promotion_code text, p_coupon text
)
returns jsonb
language sql
set search_path = ''
as $$
  select p_session || jsonb_build_object(
    'amount_subtotal', p_subtotal,
    'total_details', jsonb_build_object('amount_discount', p_discount, 'amount_shipping', 0, 'amount_tax', 0),
    'discounts', jsonb_build_array(jsonb_build_object('coupon', p_coupon, 'promotion_code', p_promotion_code))
  );
$$;

-- A promotion code as promotion_code.created carries it (API 2025-09-30 and later).
create function tests.promotion_code(p_id text, p_code text, p_coupon text, p_active boolean default true)
returns jsonb
language sql
set search_path = ''
as $$
  select jsonb_build_object(
    'id', p_id, 'object', 'promotion_code', 'code', p_code, 'active', p_active,
    'promotion', jsonb_build_object('type', 'coupon', 'coupon', p_coupon),
    'times_redeemed', 0, 'max_redemptions', null, 'expires_at', null
  );
$$;

-- the code's words arrive with Stripe's promotion_code events ---------------------------------

select is(public.handle_stripe_event(tests.event('evt_pc_code', 'promotion_code.created',
  tests.promotion_code('promo_sail20', 'SAIL20', 'SAIL20c'), 1700000000)),
  'applied', 'a promotion_code.created event is applied');
select results_eq($$select code, coupon_id, active from public.promotion_codes where id = 'promo_sail20'$$,
  $$values ('SAIL20', 'SAIL20c', true)$$, 'the code''s words and coupon are kept');
select public.handle_stripe_event(tests.event('evt_pc_code_off', 'promotion_code.updated',
  tests.promotion_code('promo_sail20', 'SAIL20', 'SAIL20c', false), 1700000200));
select public.handle_stripe_event(tests.event('evt_pc_code_old', 'promotion_code.updated',
  tests.promotion_code('promo_sail20', 'SAIL20', 'SAIL20c', true), 1700000100));
select is((select active from public.promotion_codes where id = 'promo_sail20'), false,
  'an older promotion_code event arriving late does not overwrite a newer one');

-- paid with a code: the price is checked before the discount; what it took off is recorded ---

select is(public.handle_stripe_event(tests.event('evt_pc_1', 'checkout.session.completed',
  tests.with_code(tests.checkout_session('cs_test_pc_1', :'coder', :'joins', 960, p_payment_intent => 'pi_pc_1'),
    1200, 240, 'promo_sail20', 'SAIL20c'), 1700001000)),
  'recorded', 'a session paid with a 20 % code is recorded');
select results_eq($$select amount_total, amount_discount, amount_paid, promotion_code_id, coupon_id, fulfilment
  from public.checkout_sessions where id = 'cs_test_pc_1'$$,
  $$values (1200::bigint, 240::bigint, 960::bigint, 'promo_sail20', 'SAIL20c', 'granted')$$,
  'the session keeps the price, the discount, what was charged, the code and the coupon');
select is((select status from public.purchased_lessons where user_id = :'coder' and lesson_id = :'joins'), 'paid',
  'and the lesson is the learner''s');
select tests.authenticate_as(:'coder');
select results_eq($$select status::text, amount_total, amount_discount, promotion_code from public.purchase_list()
  where id = 'cs_test_pc_1'$$,
  $$values ('paid', 960::bigint, 240::bigint, 'SAIL20')$$,
  'Purchases shows what was charged, the discount and the code''s words');
select results_eq($$select code from public.promotion_codes$$, $$values ('SAIL20')$$,
  'a learner reads the words of a code they paid with');
select tests.authenticate_as(:'bystander');
select is_empty($$select 1 from public.promotion_codes$$, 'and no one else''s');
select tests.clear_authentication();

select is(public.handle_stripe_event(tests.event('evt_pc_1', 'checkout.session.completed',
  tests.with_code(tests.checkout_session('cs_test_pc_1', :'coder', :'joins', 960, p_payment_intent => 'pi_pc_1'),
    1200, 240, 'promo_sail20', 'SAIL20c'), 1700001000)),
  'duplicate', 'a redelivery is a duplicate');
select is(public.sync_checkout_session(
  tests.with_code(tests.checkout_session('cs_test_pc_1', :'coder', :'joins', 960, p_payment_intent => 'pi_pc_1'),
    1200, 240, 'promo_sail20', 'SAIL20c')),
  'duplicate', 'the return page reading the same session back changes nothing');
select is(public.handle_stripe_event(tests.event('evt_pc_1b', 'checkout.session.completed',
  tests.with_code(tests.checkout_session('cs_test_pc_1', :'coder', :'joins', 600, p_payment_intent => 'pi_pc_1'),
    1200, 600, 'promo_half', 'HALFc'), 1700001001)),
  'rejected:contradiction', 'a later claim of another discount for the paid session is a contradiction');
select results_eq($$select amount_discount, promotion_code_id from public.checkout_sessions where id = 'cs_test_pc_1'$$,
  $$values (240::bigint, 'promo_sail20')$$, 'and changes nothing recorded');
select is((select reason from public.payments_needing_attention where reference = 'cs_test_pc_1'),
  'contradiction:discounts', 'it is listed for an operator');

-- a full refund is the amount charged -----------------------------------------------------

select is(public.handle_stripe_event(tests.event('evt_pc_1r', 'charge.refunded',
  tests.charge('pi_pc_1', 960, 960), 1700002000)),
  'revoked', 'a full refund of what was charged ends access');
select tests.authenticate_as(:'coder');
select results_eq($$select status::text, refunded_amount from public.purchase_list() where id = 'cs_test_pc_1'$$,
  $$values ('refunded', 960::bigint)$$, 'and the row says refunded, of what was charged');
select tests.clear_authentication();

-- a code never grants another lesson than the session's metadata names ------------------------

select jsonb_set(tests.checkout_session('cs_test_pc_2', :'swapper', :'rls', 2500, p_payment_status => 'unpaid', p_status => 'open'),
  '{customer}', 'null') as opened \gset
select is(public.attach_checkout_session(:'opened') ->> 'outcome', 'attached', 'a session for one lesson is opened');
select is(public.handle_stripe_event(tests.event('evt_pc_2', 'checkout.session.completed',
  tests.with_code(tests.checkout_session('cs_test_pc_2', :'swapper', :'joins', 1250, p_payment_intent => 'pi_pc_2'),
    2500, 1250, 'promo_sail20', 'SAIL20c'), 1700003000)),
  'rejected:session_mismatch', 'paid with a code, but naming another lesson in its metadata: refused');
select is(public.handle_stripe_event(tests.event('evt_pc_3', 'checkout.session.completed',
  tests.with_code(tests.checkout_session('cs_test_pc_3', :'swapper', :'rls', 960, p_payment_intent => 'pi_pc_3'),
    1200, 240, 'promo_sail20', 'SAIL20c'), 1700003100)),
  'rejected:amount_mismatch', 'a session naming a lesson at another lesson''s price before the code: refused');
select is(public.handle_stripe_event(tests.event('evt_pc_4', 'checkout.session.completed',
  tests.with_code(tests.checkout_session('cs_test_pc_4', :'swapper', :'webhooks', 1000, p_payment_intent => 'pi_pc_4'),
    1900, 240, 'promo_sail20', 'SAIL20c'), 1700003200)),
  'rejected:amount_mismatch', 'a discount that does not add up to what was charged: refused');
select is_empty(format('select 1 from public.purchased_lessons where user_id = %L', :'swapper'),
  'none of them granted any lesson');
select results_eq($$select amount_discount, promotion_code_id from public.checkout_sessions where id = 'cs_test_pc_2'$$,
  $$values (0::bigint, null::text)$$, 'a refused session records no discount');

-- a code that takes the whole price off: free, granted once ---------------------------------

select jsonb_set(jsonb_set(tests.with_code(
    tests.checkout_session('cs_test_pc_5', :'coder', :'webhooks', 0, p_payment_status => 'no_payment_required'),
    1900, 1900, 'promo_free', 'FREEc'),
  '{payment_intent}', 'null'), '{customer}', 'null') as free \gset
select is(public.handle_stripe_event(tests.event('evt_pc_5', 'checkout.session.completed', :'free', 1700004000)),
  'recorded', 'a session a code made free (no_payment_required) is recorded');
select is(public.handle_stripe_event(tests.event('evt_pc_5b', 'checkout.session.completed', :'free', 1700004001)),
  'duplicate', 'and another event for it grants nothing more');
select results_eq($$select p.status, s.amount_paid, s.amount_discount from public.purchased_lessons as p
  join public.checkout_sessions as s on s.id = p.stripe_checkout_session_id
  where p.user_id = '$$ || :'coder' || $$' and p.lesson_id = '$$ || :'webhooks' || $$'$$,
  $$values ('paid', 0::bigint, 1900::bigint)$$, 'the lesson is the learner''s, paid 0 with 19.00 off');
select is(public.handle_stripe_event(tests.event('evt_pc_6', 'checkout.session.completed',
  jsonb_set(tests.checkout_session('cs_test_pc_6', :'bystander', :'webhooks', 0, p_payment_status => 'no_payment_required'),
    '{payment_intent}', 'null'), 1700004100)),
  'ignored:amount_mismatch', 'a session free for no code''s sake grants nothing');

-- the operator's report, and no one else's --------------------------------------------------

select tests.authenticate_as_service_role();
select results_eq($$select code, lesson_id, purchases, amount_subtotal, amount_discount, amount_paid, amount_refunded, amount_net
  from public.promotion_code_sales where promotion_code_id = 'promo_sail20' order by lesson_id nulls last$$,
  format($$values ('SAIL20', %L::uuid, 1::bigint, 1200::bigint, 240::bigint, 960::bigint, 960::bigint, 0::bigint),
    ('SAIL20', null::uuid, 1::bigint, 1200::bigint, 240::bigint, 960::bigint, 960::bigint, 0::bigint)$$, :'joins'),
  'per code and lesson, and per code over all lessons: purchases, price, discount, charged, refunded, net');
select tests.authenticate_as_anon();
select throws_ok('select * from public.promotion_code_sales', '42501', null, 'visitors may not read the report');
select tests.authenticate_as(:'coder');
select throws_ok('select * from public.promotion_code_sales', '42501', null, 'learners may not read the report');
select tests.clear_authentication();

select * from finish();
rollback;
