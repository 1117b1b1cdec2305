-- Content gating and the frontend's readers: free content is open, bought content is readable
-- by its owner while paid, refunded and disputed purchases end access.
begin;
select plan(17);

select tests.create_user('reader@example.com') as reader \gset
\set free '00000000-0000-4000-8000-000000000001'
\set joins '00000000-0000-4000-8000-000000000002'
\set rls '00000000-0000-4000-8000-000000000003'
\set webhooks '00000000-0000-4000-8000-000000000004'
\set unreleased '00000000-0000-4000-8000-000000000007'

select tests.authenticate_as(:'reader');
select results_eq('select lesson_id from public.lesson_content', array[:'free'::uuid],
  'before buying, a learner reads only the free lesson');
select results_eq('select count(*)::int from public.lesson_catalog() where owned', array[0], 'the catalogue shows nothing owned');
select is_empty('select * from public.purchase_list()', 'the Purchases page is empty');
select tests.clear_authentication();

select public.handle_stripe_event(tests.event('evt_gate_1', 'checkout.session.completed',
  tests.checkout_session('cs_test_gate_1', :'reader', :'joins', 1200, p_payment_intent => 'pi_gate_1'), 1700000000));
select public.handle_stripe_event(tests.event('evt_gate_2', 'checkout.session.completed',
  tests.checkout_session('cs_test_gate_2', :'reader', :'rls', 2500, p_payment_intent => 'pi_gate_2'), 1700000100));
select public.handle_stripe_event(tests.event('evt_gate_3', 'checkout.session.completed',
  tests.checkout_session('cs_test_gate_3', :'reader', :'webhooks', 1900, p_payment_intent => 'pi_gate_3'), 1700000200));
-- one refunded, one disputed, one kept
select public.handle_stripe_event(tests.event('evt_gate_4', 'charge.refunded', tests.refunded_charge('pi_gate_2', 2500, 2500), 1700000300));
select public.handle_stripe_event(tests.event('evt_gate_5', 'charge.dispute.created', tests.dispute('pi_gate_3'), 1700000400));

select tests.authenticate_as(:'reader');
select results_eq('select lesson_id from public.lesson_content order by lesson_id', array[:'free'::uuid, :'joins'::uuid],
  'a paid lesson is readable; refunded and disputed ones are not');
select results_eq('select slug from public.lesson_catalog() where owned', array['joins-without-fear'],
  'the catalogue marks only the paid lesson owned');
select results_eq('select count(*)::int from public.lesson_catalog()', array[6], 'the catalogue lists published lessons only');
select results_eq('select slug, status::text from public.purchase_list() order by occurred_at',
  $$values ('joins-without-fear', 'paid'), ('row-level-security', 'refunded'), ('stripe-webhooks', 'disputed')$$,
  'the Purchases page lists every payment with its state');
select results_eq('select slug from public.purchase_list()',
  array['stripe-webhooks', 'row-level-security', 'joins-without-fear'], 'the Purchases page is newest first');
select isnt_empty($$select 1 from public.purchase_list() where slug = 'row-level-security' and refunded_at is not null$$,
  'a refunded payment carries its refund time');
select tests.clear_authentication();

-- a lesson unpublished after purchase stays readable by its owner
select public.handle_stripe_event(tests.event('evt_gate_6', 'checkout.session.completed',
  tests.checkout_session('cs_test_gate_6', :'reader', :'unreleased', 3000), 1700000500));
update public.lessons set published = false where id = :'joins';
select tests.authenticate_as(:'reader');
select isnt_empty(format('select 1 from public.lesson_content where lesson_id = %L', :'joins'),
  'an owner still reads a lesson unpublished after they bought it');
select isnt_empty(format('select 1 from public.lessons where id = %L', :'joins'),
  'and still sees the lesson itself');
select isnt_empty(format('select 1 from public.lesson_content where lesson_id = %L', :'unreleased'),
  'a learner who owns an unpublished lesson reads it');
select tests.clear_authentication();

-- another learner sees none of it
select tests.create_user('other@example.com') as other \gset
select tests.authenticate_as(:'other');
select results_eq('select lesson_id from public.lesson_content', array[:'free'::uuid],
  'another learner reads only the free lesson');
select is_empty(format('select 1 from public.lessons where id = %L', :'joins'),
  'another learner does not see the unpublished lesson');
select is_empty('select * from public.purchase_list()', 'another learner''s Purchases page is empty');

-- pending: an open checkout session shows as pending in the catalogue
select tests.clear_authentication();
insert into public.checkout_sessions (id, user_id, lesson_id, amount_total, currency, url, expires_at)
values ('cs_test_gate_open', :'other', :'rls', 2500, 'usd', 'https://checkout.stripe.com/c/pay/x', now() + interval '1 hour');
select tests.authenticate_as(:'other');
select results_eq('select slug from public.lesson_catalog() where pending', array['row-level-security'],
  'an open checkout shows the lesson as pending for its learner');
select tests.authenticate_as_anon();
select results_eq('select count(*)::int from public.lesson_catalog() where pending or owned', array[0],
  'a visitor owns nothing and has nothing pending');

select tests.clear_authentication();
select * from finish();
rollback;
