-- prune_stripe_event_payloads: buyers' details leave stripe_events once an event is processed
-- and old enough; failed and deferred events keep theirs; and nothing a refund, a dispute, a
-- redelivery, reconcile or the attention list needs is lost.
begin;
select plan(38);

\set joins '00000000-0000-4000-8000-000000000002'
\set rls '00000000-0000-4000-8000-000000000003'
\set webhooks '00000000-0000-4000-8000-000000000004'
\set euros '00000000-0000-4000-8000-000000000005'
\set yen '00000000-0000-4000-8000-000000000006'

create function pg_temp.can_read(p_user uuid, p_lesson uuid)
returns boolean
language plpgsql
as $$
declare
  v_readable boolean;
begin
  perform tests.authenticate_as(p_user);
  execute 'select exists (select 1 from public.lesson_content where lesson_id = $1)' into v_readable using p_lesson;
  perform tests.clear_authentication();
  return v_readable;
end;
$$;
grant execute on function pg_temp.can_read(uuid, uuid) to authenticated;

-- structure and privileges --------------------------------------------------------------------

select is_definer('public', 'prune_stripe_event_payloads', array['interval']);
select function_privs_are('public', 'prune_stripe_event_payloads', array['interval'], 'anon', array[]::text[]);
select function_privs_are('public', 'prune_stripe_event_payloads', array['interval'], 'authenticated', array[]::text[]);
select function_privs_are('public', 'prune_stripe_event_payloads', array['interval'], 'service_role', array['EXECUTE']);

-- fixtures: purchases, a dispute opened, a rejected payment, a deferred refund, a failed event --

select tests.create_user('kept@example.com') as kept \gset
select tests.create_user('other@example.com') as other \gset

select public.handle_stripe_event(tests.event('evt_ret_1', 'checkout.session.completed',
  jsonb_set(tests.checkout_session('cs_test_ret_1', :'kept', :'joins', 1200, p_payment_intent => 'pi_ret_1'),
    '{customer_details}', '{"name": "Ada Buyer", "email": "ada@example.com"}'), 1700000000));
select public.handle_stripe_event(tests.event('evt_ret_2', 'checkout.session.completed',
  tests.checkout_session('cs_test_ret_2', :'kept', :'rls', 2500, p_payment_intent => 'pi_ret_2'), 1700000000));
select public.handle_stripe_event(tests.event('evt_ret_2d', 'charge.dispute.created', tests.dispute('pi_ret_2'), 1700000100));
select public.handle_stripe_event(tests.event('evt_ret_3', 'checkout.session.completed',
  tests.checkout_session('cs_test_ret_3', :'kept', :'webhooks', 1900, p_payment_intent => 'pi_ret_3'), 1700000000));
select public.handle_stripe_event(tests.event('evt_ret_4', 'checkout.session.completed',
  tests.checkout_session('cs_test_ret_4', :'other', 'a0000000-0000-4000-8000-00000000dead', 1200), 1700000000));
select public.handle_stripe_event(tests.event('evt_ret_5r', 'charge.refunded',
  tests.refunded_charge('pi_ret_5', 1500, 1500), 1700000200));
select public.handle_stripe_event(tests.event('evt_ret_6', 'checkout.session.completed',
  jsonb_set(tests.checkout_session('cs_test_ret_6', :'other', :'rls', 2500), '{amount_total}', '"lots"'), 1700000000));
select public.handle_stripe_event(tests.event('evt_ret_7', 'checkout.session.completed',
  tests.checkout_session('cs_test_ret_7', :'other', :'yen', 1800, 'jpy', p_payment_intent => 'pi_ret_7'), 1700000000));

-- all but evt_ret_7 were processed 31 days ago
update public.stripe_events set processed_at = now() - interval '31 days'
where id like 'evt_ret_%' and id <> 'evt_ret_7';

create temporary table attention_before as
select * from public.payments_needing_attention where reference like '%_ret_%';
create temporary table purchases_before as
select * from public.purchased_lessons where user_id in (:'kept', :'other');

-- prune --------------------------------------------------------------------------------------

select tests.authenticate_as_service_role();
select throws_ok($$select public.prune_stripe_event_payloads(interval '-1 day')$$, '22023', null,
  'a negative age is refused');
select throws_ok($$select public.prune_stripe_event_payloads(null)$$, '22023', null, 'so is none');
select ok(public.prune_stripe_event_payloads() >= 5, 'the five events processed over 30 days ago are pruned');
select is(public.prune_stripe_event_payloads(), 0, 'pruning again clears nothing more');
select tests.clear_authentication();

select results_eq($$select id from public.stripe_events where id like 'evt_ret_%' and payload is null order by id$$,
  array['evt_ret_1', 'evt_ret_2', 'evt_ret_2d', 'evt_ret_3', 'evt_ret_4'], 'their payloads are cleared');
select is_empty($$select 1 from public.stripe_events where id like 'evt_ret_%' and payload::text like '%ada@example.com%'$$,
  'the buyer''s name and email are gone');
select results_eq($$select payload is not null from public.stripe_events where id in ('evt_ret_5r', 'evt_ret_6', 'evt_ret_7') order by id$$,
  array[true, true, true], 'a deferred refund, a failed event and a recent event keep theirs');
select results_eq($$select type, outcome, created, checkout_session_id, payment_intent_id, object_id, payment_fact, payload_cleared_at is not null
  from public.stripe_events where id = 'evt_ret_2d'$$,
  $$values ('charge.dispute.created', 'revoked', to_timestamp(1700000100), null::public.checkout_session_id, 'pi_ret_2', 'dp_ret_2', 'dispute_opened', true)$$,
  'a pruned event keeps its type, outcome, times and the ids SQL took out of it');
-- the view has no order of its own: a pruned row may move in the heap, so both sides are sorted
select results_eq('select * from public.payments_needing_attention where reference like ''%_ret_%'' order by source, reference',
  'select * from attention_before order by source, reference', 'the attention list is the same after pruning');

-- every purchase re-derived from the pruned facts ends where it was
select private.settle_purchase(p.user_id, p.lesson_id) from purchases_before as p;
select results_eq('select * from public.purchased_lessons where user_id in (' || quote_literal(:'kept') || ', ' || quote_literal(:'other') || ') order by id',
  'select * from purchases_before order by id', 're-deriving every purchase from pruned events changes nothing');

-- after pruning: redeliveries, replays, refunds and disputes still end access right ----------

select is(public.handle_stripe_event(tests.event('evt_ret_1', 'checkout.session.completed',
  tests.checkout_session('cs_test_ret_1', :'kept', :'joins', 1200, p_payment_intent => 'pi_ret_1'), 1700000000)),
  'duplicate', 'Stripe redelivering a pruned event: duplicate');
select results_eq($$select payload is null, outcome from public.stripe_events where id = 'evt_ret_1'$$,
  $$values (true, 'recorded')$$, 'and the stored event is left as it was');
select is(public.sync_checkout_session(tests.checkout_session('cs_test_ret_1', :'kept', :'joins', 1200, p_payment_intent => 'pi_ret_1')),
  'duplicate', 'reconcile reading the session back: duplicate');
select is(public.handle_stripe_event(tests.event('evt_ret_1r', 'charge.refunded', tests.refunded_charge('pi_ret_1', 1200, 1200), 1700000300)),
  'revoked', 'a refund of a purchase whose events were pruned revokes');
select ok(not pg_temp.can_read(:'kept', :'joins'), 'and the lesson is no longer readable');

select ok(not pg_temp.can_read(:'kept', :'rls'), 'the disputed purchase stays unreadable');
select is(public.handle_stripe_event(tests.event('evt_ret_2w', 'charge.dispute.closed', tests.dispute('pi_ret_2', 'won'), 1700000400)),
  'restored', 'the dispute opened in a pruned event, won: restored (its id came from the stored column)');
select ok(pg_temp.can_read(:'kept', :'rls'), 'the learner reads the lesson again');

select is(public.handle_stripe_event(tests.event('evt_ret_3d', 'charge.dispute.created', tests.dispute('pi_ret_3'), 1700000100)),
  'revoked', 'a dispute of a pruned purchase revokes');
select is(public.handle_stripe_event(tests.event('evt_ret_3l', 'charge.dispute.closed', tests.dispute('pi_ret_3', 'lost'), 1700000400)),
  'ignored:no_change', 'lost, it stays revoked');
select tests.authenticate_as_service_role();
select ok(public.prune_stripe_event_payloads(interval '0 seconds') >= 5, 'pruning everything processed, at once');
select tests.clear_authentication();
select is_empty($$select id from public.stripe_events where id like 'evt_ret_%' and payload is not null
  and outcome not in ('error', 'deferred')$$, 'leaves no processed event of ours with a payload');
select is(public.handle_stripe_event(tests.event('evt_ret_3w', 'charge.dispute.closed', tests.dispute('pi_ret_3', 'won'), 1700000500)),
  'ignored:no_change', 'a later event saying that dispute was won changes nothing, though every event before it was pruned');
select ok(not pg_temp.can_read(:'kept', :'webhooks'), 'the lost dispute still keeps the lesson unreadable');

select is(public.handle_stripe_event(tests.event('evt_ret_5', 'checkout.session.completed',
  tests.checkout_session('cs_test_ret_5', :'kept', :'euros', 1500, 'eur', p_payment_intent => 'pi_ret_5'), 1700000100)),
  'recorded', 'the purchase a kept deferred refund waited for lands');
select results_eq($$select outcome, payload is not null from public.stripe_events where id = 'evt_ret_5r'$$,
  $$values ('revoked', true)$$, 'the refund applies (its payload is pruned only later, with the others)');
select ok(not pg_temp.can_read(:'kept', :'euros'), 'and ends access');

select is(public.handle_stripe_event(tests.event('evt_ret_1b', 'checkout.session.completed',
  tests.checkout_session('cs_test_ret_1b', :'kept', :'joins', 1200, p_payment_intent => 'pi_ret_1b'), 1700000600)),
  'recorded', 'buying again after a pruned refund is recorded');
select ok(pg_temp.can_read(:'kept', :'joins'), 'and grants the lesson again');
select is(public.handle_stripe_event(tests.event('evt_ret_1x', 'checkout.session.completed',
  jsonb_set(tests.checkout_session('cs_test_ret_1b', :'kept', :'joins', 1200, p_payment_intent => 'pi_ret_1b'),
    '{payment_intent}', '"pi_ret_1z"'), 1700000700)),
  'rejected:contradiction', 'a contradiction after pruning is still refused');
select is(public.handle_stripe_event(tests.event('evt_ret_1br', 'charge.refunded', tests.refunded_charge('pi_ret_1b', 1200, 1200), 1700000800)),
  'revoked', 'and the refund of the original payment still ends access');

select is(public.handle_stripe_event(tests.event('evt_ret_6', 'checkout.session.completed',
  jsonb_set(tests.checkout_session('cs_test_ret_6', :'other', :'rls', 2500), '{amount_total}', '"lots"'), 1700000000)),
  'error', 'a failed event is kept whole and retried from its stored body');
select results_eq($$select outcome, payload is not null from public.stripe_events where id = 'evt_ret_6'$$,
  $$values ('error', true)$$, 'and keeps its payload until it applies');
select isnt_empty($$select 1 from public.payments_needing_attention where reference = 'evt_ret_4' and amount_total = 1200$$,
  'a rejected payment keeps its amount on the attention list after its payload is gone');

select * from finish();
rollback;
