-- The attention list as a tool: each item has an id, words, the learner's email and an action;
-- resolve_attention resolves one by id keeping who and why (service_role only, refusing an
-- unknown id or an empty note and changing nothing); items that settle leave by themselves;
-- refund/dispute contradictions and unmatched paid sessions join the list; attention_summary
-- counts it.
begin;
select plan(64);

\set joins '00000000-0000-4000-8000-000000000002'

select tests.create_user('att_ada@example.com') as ada \gset
select tests.create_user('att_bo@example.com') as bo \gset
select tests.create_user('att_cy@example.com') as cy \gset
select tests.create_user('att_di@example.com') as di \gset

-- A paid Checkout Session of the lesson (1200 usd) for a learner, delivered by its event.
create function pg_temp.buy(p_user uuid, p_tag text, p_amount bigint default 1200)
returns text
language sql
as $$
  select public.handle_stripe_event(tests.event('evt_att_' || p_tag, 'checkout.session.completed',
    tests.checkout_session('cs_test_att_' || p_tag, p_user, '00000000-0000-4000-8000-000000000002', p_amount,
      p_payment_intent => 'pi_att_' || p_tag), 1700000000));
$$;

-- structure and privileges ------------------------------------------------------------------

select is_definer('public', 'resolve_attention', array['text', 'text', 'text'], 'resolve_attention is security definer');
select isnt_definer('public', 'attention_summary', array[]::text[], 'attention_summary runs as its caller');
select columns_are('public', 'attention_resolutions', array['item_id', 'note', 'resolved_by', 'resolved_at'],
  'a resolution keeps the item, why, who and when');

select tests.authenticate_as_anon();
select throws_ok($$select public.resolve_attention('checkout_session:cs_test_x', 'n', 'me')$$, '42501', null,
  'anon cannot resolve');
select throws_ok($$select * from public.attention_summary()$$, '42501', null, 'anon cannot count the list');
select throws_ok($$select 1 from public.attention_resolutions$$, '42501', null, 'anon cannot read resolutions');
select throws_ok($$select 1 from public.unmatched_checkout_sessions$$, '42501', null, 'anon cannot read unmatched sessions');
select tests.clear_authentication();

select tests.authenticate_as(:'ada');
select throws_ok($$select public.resolve_attention('checkout_session:cs_test_x', 'n', 'me')$$, '42501', null,
  'a learner cannot resolve');
select throws_ok($$select * from public.attention_summary()$$, '42501', null, 'a learner cannot count the list');
select throws_ok($$select 1 from public.attention_resolutions$$, '42501', null, 'a learner cannot read resolutions');
select tests.clear_authentication();

select tests.authenticate_as_service_role();
select throws_ok($$insert into public.attention_resolutions (item_id, note, resolved_by) values ('checkout_session:cs_test_x', 'n', 'me')$$,
  '42501', null, 'even the service role resolves only through resolve_attention');
select throws_ok($$update public.attention_resolutions set note = 'other'$$, '42501', null,
  'and cannot rewrite why');
select tests.clear_authentication();

-- an item in words --------------------------------------------------------------------------

-- ada pays 999 for the 1200 lesson: rejected, money taken
select is(pg_temp.buy(:'ada', 'a', 999), 'rejected:amount_mismatch', 'a session of the wrong amount is rejected');
select results_eq($$select id, what, email, amount_total, currency, suggested_action from public.payments_needing_attention
    where reference = 'cs_test_att_a'$$,
  $$values ('checkout_session:cs_test_att_a', 'Paid but not granted: the amount differs from the lesson''s price',
    'att_ada@example.com', 999::bigint, 'usd',
    'Refund the payment in Stripe (the item leaves once refunded), or grant the lesson by hand and resolve it')$$,
  'it is listed with its id, what happened, the learner''s email, the amount and what to do');
select is((select count(*)::integer from public.payments_needing_attention where id = 'checkout_session:cs_test_att_a'), 1,
  'once');

-- resolve: refused inputs change nothing ----------------------------------------------------

select tests.authenticate_as_service_role();
select throws_ok($$select public.resolve_attention('checkout_session:cs_test_att_a', '  ', 'ops')$$, '22023',
  'a note saying why is required to resolve checkout_session:cs_test_att_a', 'an empty note is refused');
select throws_ok($$select public.resolve_attention('checkout_session:cs_test_att_a', null, 'ops')$$, '22023', null,
  'so is no note');
select throws_ok($$select public.resolve_attention('checkout_session:cs_test_att_a', 'refunded by phone', '')$$, '22023', null,
  'and nobody resolving it');
select throws_ok($$select public.resolve_attention('checkout_session:cs_test_nobody', 'refunded', 'ops')$$, 'P0002',
  'no attention item checkout_session:cs_test_nobody', 'an unknown id is refused');
select throws_ok($$select public.resolve_attention('cs_test_att_a', 'refunded', 'ops')$$, 'P0002', null,
  'so is a bare reference without its source');
select tests.clear_authentication();
select is_empty($$select 1 from public.attention_resolutions where item_id like '%att_%'$$, 'nothing was recorded');
select isnt_empty($$select 1 from public.payments_needing_attention where id = 'checkout_session:cs_test_att_a'$$,
  'and the item is still listed');

-- resolve: who and why ----------------------------------------------------------------------

select tests.authenticate_as_service_role();
select is(public.resolve_attention('checkout_session:cs_test_att_a', ' granted by hand after a call ', 'maria') ->> 'resolved_by',
  'maria', 'the service role resolves an item');
select tests.clear_authentication();
select results_eq($$select note, resolved_by, resolved_at = now() from public.attention_resolutions
    where item_id = 'checkout_session:cs_test_att_a'$$,
  $$values ('granted by hand after a call', 'maria', true)$$, 'who and why are kept');
select is_empty($$select 1 from public.payments_needing_attention where id = 'checkout_session:cs_test_att_a'$$,
  'a resolved item leaves the list');
select tests.authenticate_as_service_role();
select throws_ok($$select public.resolve_attention('checkout_session:cs_test_att_a', 'again', 'maria')$$, 'P0002',
  'attention item checkout_session:cs_test_att_a is already resolved', 'resolving it twice is refused');
select tests.clear_authentication();
select results_eq($$select note from public.attention_resolutions where item_id = 'checkout_session:cs_test_att_a'$$,
  $$values ('granted by hand after a call')$$, 'and keeps the first why');

-- a contradiction: resolving it marks the contradiction resolved too
select is(pg_temp.buy(:'bo', 'b'), 'recorded', 'bo buys the lesson');
select is(public.handle_stripe_event(tests.event('evt_att_b2', 'checkout.session.completed',
    tests.checkout_session('cs_test_att_b', :'bo', :'joins', 1200, p_payment_intent => 'pi_att_other'), 1700000050)),
  'rejected:contradiction', 'a claim naming another payment intent contradicts it');
select (select 'contradiction:' || c.id from public.checkout_session_contradictions as c where c.checkout_session_id = 'cs_test_att_b') as contradiction \gset
select results_eq($$select id, what, email from public.payments_needing_attention where source = 'contradiction' and reference = 'cs_test_att_b'$$,
  format($$values (%L, 'Stripe said something else about a paid session: payment_intent', 'att_bo@example.com')$$, :'contradiction'),
  'the contradiction is listed under its own id');
select tests.authenticate_as_service_role();
select lives_ok(format($$select public.resolve_attention(%L, 'the second intent was a test', 'maria')$$, :'contradiction'),
  'resolving the contradiction');
select tests.clear_authentication();
select isnt(resolved_at, null, 'sets its resolved_at') from public.checkout_session_contradictions where checkout_session_id = 'cs_test_att_b';
select is_empty($$select 1 from public.payments_needing_attention where reference = 'cs_test_att_b'$$, 'and it leaves the list');

-- items that settle leave by themselves ------------------------------------------------------

-- a payment for a lesson already owned: listed, then a full refund takes it off
select is(public.handle_stripe_event(tests.event('evt_att_b3', 'checkout.session.completed',
    tests.checkout_session('cs_test_att_b3', :'bo', :'joins', 1200, p_payment_intent => 'pi_att_b3'), 1700000100)),
  'already_owned', 'bo pays again for the lesson he owns');
select results_eq($$select what from public.payments_needing_attention where id = 'checkout_session:cs_test_att_b3'$$,
  $$values ('Paid for a lesson they already owned')$$, 'the second payment is listed');
select is(public.handle_stripe_event(tests.event('evt_att_b3r', 'charge.refunded', tests.refunded_charge('pi_att_b3', 1200, 1200), 1700000200)),
  'ignored:no_change', 'the operator refunds it in Stripe');
select is_empty($$select 1 from public.payments_needing_attention where id = 'checkout_session:cs_test_att_b3'$$,
  'a full refund takes it off the list');

-- a refund that came before its purchase: listed after an hour, gone once the late webhook lands
select is(public.handle_stripe_event(tests.event('evt_att_c1', 'charge.refunded', tests.refunded_charge('pi_att_c', 1200, 1200), 1700000200)),
  'deferred', 'a refund of a payment not yet known is kept');
update public.stripe_events set received_at = received_at - interval '2 hours' where id = 'evt_att_c1';
select isnt_empty($$select 1 from public.payments_needing_attention where id = 'stripe_event:evt_att_c1'$$,
  'after an hour it is listed');
select is(pg_temp.buy(:'cy', 'c'), 'recorded', 'the purchase''s webhook arrives late');
select is_empty($$select 1 from public.payments_needing_attention where id = 'stripe_event:evt_att_c1'$$,
  'the refund applies and leaves the list by itself');

-- refund and dispute contradicting each other ------------------------------------------------

select is(pg_temp.buy(:'di', 'd'), 'recorded', 'di buys the lesson');
select is(public.handle_stripe_event(tests.event('evt_att_d1', 'charge.refunded', tests.refunded_charge('pi_att_d', 1200, 1200), 1700000100)),
  'revoked', 'it is refunded in full');
select is_empty($$select 1 from public.payments_needing_attention where reference = 'cs_test_att_d'$$,
  'a refund alone needs nobody');
select is(public.handle_stripe_event(tests.event('evt_att_d2', 'charge.dispute.created', tests.dispute('pi_att_d'), 1700000200)),
  'ignored:no_change', 'then the card holder disputes it anyway');
select results_eq($$select id, reason, what, email, amount_total, since from public.payments_needing_attention where reference = 'cs_test_att_d'$$,
  $$values ('refund_dispute:cs_test_att_d:dispute_open', 'refunded_and_dispute_open', 'Disputed after a full refund', 'att_di@example.com',
    1200::bigint, to_timestamp(1700000200))$$,
  'a dispute of a payment refunded in full is listed, since the dispute');
select is(public.handle_stripe_event(tests.event('evt_att_d3', 'charge.dispute.closed', tests.dispute('pi_att_d', 'won'), 1700000300)),
  'ignored:no_change', 'the shop wins it with the refund as evidence');
select is_empty($$select 1 from public.payments_needing_attention where reference = 'cs_test_att_d'$$,
  'a dispute won leaves the list by itself');

-- resolved while open, then lost: a new item
select is(pg_temp.buy(:'cy', 'f'), 'already_owned', 'cy pays again for the lesson');
select is(public.handle_stripe_event(tests.event('evt_att_f1', 'charge.refunded', tests.refunded_charge('pi_att_f', 1200, 1200), 1700000100)),
  'ignored:no_change', 'the second payment is refunded in full');
select is(public.handle_stripe_event(tests.event('evt_att_f2', 'charge.dispute.created', tests.dispute('pi_att_f'), 1700000200)),
  'ignored:no_change', 'and disputed anyway');
select tests.authenticate_as_service_role();
select lives_ok($$select public.resolve_attention('refund_dispute:cs_test_att_f:dispute_open', 'evidence sent', 'maria')$$,
  'the operator answers the dispute and resolves the item');
select tests.clear_authentication();
select is_empty($$select 1 from public.payments_needing_attention where reference = 'cs_test_att_f'$$,
  'it leaves the list');
select is(public.handle_stripe_event(tests.event('evt_att_f3', 'charge.dispute.closed', tests.dispute('pi_att_f', 'lost'), 1700000400)),
  'ignored:no_change', 'then the dispute is lost');
select results_eq($$select id, reason, suggested_action from public.payments_needing_attention where reference = 'cs_test_att_f'$$,
  $$values ('refund_dispute:cs_test_att_f:dispute_lost', 'refunded_and_dispute_lost',
    'Ask the learner or the card issuer to return the second repayment; then resolve it')$$,
  'a dispute lost after a full refund is a new item, whatever was resolved before: the learner was repaid twice');

-- refunds adding up to more than was charged
select is(pg_temp.buy(:'ada', 'e'), 'recorded', 'ada buys the lesson');
select is(public.handle_stripe_event(tests.event('evt_att_e1', 'charge.refunded', tests.refunded_charge('pi_att_e', 1500, 1500), 1700000100)),
  'revoked', 'a charge says 1500 was refunded of the 1200 paid');
select results_eq($$select reason, what from public.payments_needing_attention where reference = 'cs_test_att_e'$$,
  $$values ('refunded_over_charge', 'Refunds add up to 1500, more than the 1200 charged')$$, 'it is listed');

-- unmatched paid sessions (reconcile, the return page) --------------------------------------

select tests.authenticate_as_service_role();
select is(public.sync_checkout_session(jsonb_set(tests.checkout_session('cs_test_att_u', :'ada', :'joins', 1200,
    p_payment_intent => 'pi_att_u'), '{metadata,user_id}', '"not-a-uuid"')),
  'rejected:bad_metadata', 'reconcile reads back a paid session whose metadata cannot be read');
select is(public.sync_checkout_session(jsonb_set(tests.checkout_session('cs_test_att_u', :'ada', :'joins', 1200,
    p_payment_intent => 'pi_att_u'), '{metadata,user_id}', '"not-a-uuid"')),
  'rejected:bad_metadata', 'and again on its next run');
select tests.clear_authentication();
select results_eq($$select id, what, email, amount_total, stripe_payment_intent_id from public.payments_needing_attention
    where reference = 'cs_test_att_u'$$,
  $$values ('unmatched_session:cs_test_att_u', 'Paid but not recorded: its metadata names no learner or lesson the shop can read',
    null::text, 1200::bigint, 'pi_att_u')$$,
  'it is listed once, with the payment intent to refund');
select is(public.handle_stripe_event(tests.event('evt_att_u1', 'charge.refunded', tests.refunded_charge('pi_att_u', 1200, 1200), 1700000200)),
  'deferred', 'the operator refunds it');
update public.stripe_events set received_at = received_at - interval '2 hours' where id = 'evt_att_u1';
select is_empty($$select 1 from public.payments_needing_attention where reference in ('cs_test_att_u', 'evt_att_u1')$$,
  'refunded in full, it leaves the list, and its refund is not listed as a payment nobody knows');

-- the summary for monitoring ----------------------------------------------------------------

select tests.authenticate_as_service_role();
select results_eq($$select open_items, oldest_age from public.attention_summary()$$,
  $$select count(*)::integer, now() - min(since) from public.payments_needing_attention$$,
  'attention_summary counts the list and says how old its oldest item is');
select tests.clear_authentication();

select * from finish();
rollback;
