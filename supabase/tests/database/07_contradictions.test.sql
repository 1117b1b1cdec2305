-- A contradicting fact never rewrites a fact that granted access. For every entry point
-- (webhook events, record_purchase with and without an event, sync_checkout_session,
-- attach_checkout_session, a delayed payment failing) and every field that decided ownership,
-- a granted session contradicted: the claim is refused, stored and listed, the session and the
-- purchase are unchanged, and a refund of the original payment still ends access.
begin;
select plan(503);

\set joins '00000000-0000-4000-8000-000000000002'
\set rls '00000000-0000-4000-8000-000000000003'
\set webhooks '00000000-0000-4000-8000-000000000004'
\set euros '00000000-0000-4000-8000-000000000005'

-- Can the learner read the lesson's content, through RLS, as the frontend would?
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

-- The stored facts of a session that decided ownership.
create function pg_temp.session_facts(p_id text)
returns text
language sql
as $$
  select row(s.user_id, s.lesson_id, s.amount_total, s.currency, s.status, s.payment_status, s.paid_at,
    s.stripe_payment_intent_id, s.stripe_customer_id, s.fulfilment)::text
  from public.checkout_sessions as s where s.id = p_id;
$$;

-- One claim contradicting a granted session, through one entry point, checked five ways.
create function pg_temp.contradiction_case(p_entry text, p_field text)
returns setof text
language plpgsql
as $$
declare
  v_tag text := replace(p_entry || '_' || p_field, '.', '_');
  v_label text := p_entry || ' / ' || p_field;
  v_user uuid := tests.create_user(v_tag || '@example.com');
  v_other uuid := tests.create_user('other_' || v_tag || '@example.com');
  v_lesson uuid := '00000000-0000-4000-8000-000000000002';
  v_sid text := 'cs_test_k_' || v_tag;
  v_pi text := 'pi_k_' || v_tag;
  v_granted jsonb;
  v_claim jsonb;
  v_facts text;
  v_outcome text;
begin
  v_granted := jsonb_set(tests.checkout_session(v_sid, v_user, v_lesson, 1200, p_payment_intent => v_pi),
    '{customer}', to_jsonb('cus_k_' || v_tag));
  perform public.handle_stripe_event(tests.event('evt_k_' || v_tag, 'checkout.session.completed', v_granted, 1700000000));
  v_facts := pg_temp.session_facts(v_sid);

  v_claim := case p_field
    when 'amount_total' then jsonb_set(v_granted, '{amount_total}', '1')
    when 'currency' then jsonb_set(v_granted, '{currency}', '"eur"')
    when 'payment_intent' then jsonb_set(v_granted, '{payment_intent}', to_jsonb('pi_k_other_' || v_tag))
    when 'customer' then jsonb_set(v_granted, '{customer}', to_jsonb('cus_k_other_' || v_tag))
    when 'user_id' then jsonb_set(jsonb_set(v_granted, '{metadata,user_id}', to_jsonb(v_other::text)),
      '{client_reference_id}', to_jsonb(v_other::text))
    when 'lesson_id' then jsonb_set(v_granted, '{metadata,lesson_id}', '"00000000-0000-4000-8000-000000000004"')
    when 'client_reference_id' then jsonb_set(v_granted, '{client_reference_id}', to_jsonb(v_other::text))
    when 'metadata' then jsonb_set(v_granted, '{metadata,user_id}', '"not-a-uuid"')
    when 'no_lesson_metadata' then v_granted #- '{metadata,lesson_id}'
    when 'mode' then jsonb_set(v_granted, '{mode}', '"subscription"')
    when 'status' then jsonb_set(jsonb_set(v_granted, '{status}', '"expired"'), '{payment_status}', '"unpaid"')
    when 'payment_status' then jsonb_set(v_granted, '{payment_status}', '"no_payment_required"')
  end;
  if p_entry in ('attach', 'expired') then
    v_claim := jsonb_set(jsonb_set(v_claim, '{status}', to_jsonb(case p_entry when 'attach' then 'open' else 'expired' end)),
      '{payment_status}', '"unpaid"');
  end if;

  v_outcome := case p_entry
    when 'completed' then
      public.handle_stripe_event(tests.event('evt_k2_' || v_tag, 'checkout.session.completed', v_claim, 1700000050))
    when 'async_succeeded' then
      public.handle_stripe_event(tests.event('evt_k2_' || v_tag, 'checkout.session.async_payment_succeeded', v_claim, 1700000050))
    when 'expired' then
      public.handle_stripe_event(tests.event('evt_k2_' || v_tag, 'checkout.session.expired', v_claim, 1700000050))
    when 'record_purchase' then
      public.record_purchase(v_claim, tests.event('evt_k2_' || v_tag, 'checkout.session.completed', v_claim, 1700000050))
    when 'record_purchase_on_return' then public.record_purchase(v_claim)
    when 'sync' then public.sync_checkout_session(v_claim)
    when 'attach' then (select a ->> 'outcome' || ':' || (a ->> 'reason') from public.attach_checkout_session(v_claim) as a)
  end;

  return next is(v_outcome, 'rejected:contradiction', v_label || ': the claim is refused as a contradiction');
  return next is(pg_temp.session_facts(v_sid), v_facts, v_label || ': the session''s facts are unchanged');
  return next ok(exists (
    select 1 from public.payments_needing_attention as a
    where a.source = 'contradiction' and a.reference = v_sid and a.user_id = v_user
  ), v_label || ': it is listed for an operator');
  return next ok(exists (
    select 1 from public.purchased_lessons as p
    where p.user_id = v_user and p.lesson_id = v_lesson and p.status = 'paid'
      and p.stripe_checkout_session_id = v_sid and p.stripe_payment_intent_id = v_pi
  ) and pg_temp.can_read(v_user, v_lesson), v_label || ': the purchase stands');
  return next is(public.handle_stripe_event(tests.event('evt_k3_' || v_tag, 'charge.refunded',
    tests.refunded_charge(v_pi, 1200, 1200), 1700000100)), 'revoked',
    v_label || ': a full refund of the original payment revokes');
  return next ok(not pg_temp.can_read(v_user, v_lesson) and not pg_temp.can_read(v_other, v_lesson),
    v_label || ': and nobody reads the lesson any more');
end;
$$;

-- every entry point × every field that decided ownership (6 assertions each) ----------------

select pg_temp.contradiction_case(e.entry, f.field)
from
  (values ('completed'), ('async_succeeded'), ('record_purchase'), ('record_purchase_on_return'), ('sync'))
  as e (entry)
cross join
  (values ('amount_total'), ('currency'), ('payment_intent'), ('customer'), ('user_id'), ('lesson_id'),
    ('client_reference_id'), ('metadata'), ('no_lesson_metadata'), ('mode'), ('status'), ('payment_status'))
  as f (field);

-- expired events and the attach after creation carry no payment: the fields they can contradict
select pg_temp.contradiction_case(e.entry, f.field)
from
  (values ('expired'), ('attach')) as e (entry)
cross join
  (values ('amount_total'), ('currency'), ('payment_intent'), ('customer'), ('user_id'), ('lesson_id'),
    ('client_reference_id'), ('metadata'), ('mode')) as f (field);

-- the example: a second completed event with another amount, payment intent and customer ----

select tests.create_user('example@example.com') as learner \gset
select jsonb_set(tests.checkout_session('cs_test_k_example', :'learner', :'rls', 2500, p_payment_intent => 'pi_k_example'),
  '{customer}', '"cus_k_example"') as granted \gset
select is(public.handle_stripe_event(tests.event('evt_kx_1', 'checkout.session.completed', :'granted', 1700000000)),
  'recorded', 'example: the session is recorded and the lesson granted');
select is(public.handle_stripe_event(tests.event('evt_kx_2', 'checkout.session.completed',
  :'granted'::jsonb || '{"amount_total": 1, "payment_intent": "pi_k_example_2", "customer": "cus_k_example_2"}', 1700000010)),
  'rejected:contradiction', 'example: the contradicting event is refused');
select results_eq($$select fulfilment, stripe_payment_intent_id, stripe_customer_id from public.checkout_sessions where id = 'cs_test_k_example'$$,
  $$values ('granted', 'pi_k_example', 'cus_k_example')$$, 'example: fulfilment, payment intent and customer are untouched');
select results_eq($$select reason, amount_total, stripe_payment_intent_id from public.payments_needing_attention where reference = 'cs_test_k_example'$$,
  $$values ('contradiction:payment_intent,customer,amount_total', 1::bigint, 'pi_k_example_2')$$,
  'example: the contradiction is listed with what it claimed');
select is_empty($$select 1 from public.payments_needing_attention where reference = 'evt_kx_2'$$,
  'example: and listed once (not again as a rejected event)');
select is(public.handle_stripe_event(tests.event('evt_kx_3', 'charge.refunded', tests.refunded_charge('pi_k_example', 2500, 2500), 1700000020)),
  'revoked', 'example: the full refund of the original payment revokes');
select ok(not pg_temp.can_read(:'learner', :'rls'), 'example: the learner no longer reads the lesson');

-- a refund of the payment intent a contradiction claimed ends access too (money went back) --

select tests.create_user('claimed@example.com') as claimed \gset
select tests.checkout_session('cs_test_k_claimed', :'claimed', :'rls', 2500, p_payment_intent => 'pi_k_claimed') as s_claimed \gset
select public.handle_stripe_event(tests.event('evt_kc_1', 'checkout.session.completed', :'s_claimed', 1700000000));
select is(public.handle_stripe_event(tests.event('evt_kc_r', 'charge.refunded', tests.refunded_charge('pi_k_claimed_2', 2500, 2500), 1700000030)),
  'deferred', 'a refund of a payment intent nobody knows yet is deferred');
select is(public.sync_checkout_session(jsonb_set(:'s_claimed', '{payment_intent}', '"pi_k_claimed_2"')),
  'rejected:contradiction', 'a read-back claiming that payment intent is a contradiction');
select ok(not pg_temp.can_read(:'claimed', :'rls'), 'the deferred refund of the claimed payment now ends access');
select results_eq($$select outcome from public.stripe_events where id = 'evt_kc_r'$$, array['revoked'],
  'and the deferred refund is marked applied');

-- a dispute lost stays lost, whatever a later event says --------------------------------------

select tests.create_user('disputer@example.com') as disputer \gset
select public.handle_stripe_event(tests.event('evt_kd_1', 'checkout.session.completed',
  tests.checkout_session('cs_test_k_dispute', :'disputer', :'joins', 1200, p_payment_intent => 'pi_k_dispute'), 1700000000));
select is(public.handle_stripe_event(tests.event('evt_kd_2', 'charge.dispute.closed', tests.dispute('pi_k_dispute', 'lost'), 1700000100)),
  'revoked', 'a dispute lost revokes');
select is(public.handle_stripe_event(tests.event('evt_kd_3', 'charge.dispute.closed', tests.dispute('pi_k_dispute', 'won'), 1700000200)),
  'ignored:no_change', 'a later event saying the same dispute was won changes nothing');
select ok(not pg_temp.can_read(:'disputer', :'joins'), 'the lesson stays unreadable');

-- a rejected session keeps its verdict -------------------------------------------------------

select tests.create_user('cheap@example.com') as cheap \gset
select tests.checkout_session('cs_test_k_cheap', :'cheap', :'joins', 1, p_payment_intent => 'pi_k_cheap') as s_cheap \gset
select is(public.sync_checkout_session(jsonb_set(jsonb_set(:'s_cheap', '{payment_status}', '"unpaid"'), '{status}', '"open"')),
  'ignored:amount_mismatch', 'an unattached session at the wrong price is ignored while unpaid');
select is(public.sync_checkout_session(:'s_cheap'), 'rejected:amount_mismatch',
  'and rejected once paid, though its claims match what was stored');
select ok(not pg_temp.can_read(:'cheap', :'joins'), 'it grants nothing');
select is(public.handle_stripe_event(tests.event('evt_kr_1', 'checkout.session.completed', :'s_cheap')), 'rejected:amount_mismatch',
  'the same claims again: the same verdict');
select is(public.handle_stripe_event(tests.event('evt_kr_2', 'checkout.session.completed', jsonb_set(:'s_cheap', '{amount_total}', '1200'))),
  'rejected:contradiction', 'the right price claimed afterwards contradicts the verdict and grants nothing');
select ok(not pg_temp.can_read(:'cheap', :'joins'), 'still nothing granted');
select results_eq($$select reason from public.payments_needing_attention where reference = 'cs_test_k_cheap' order by source$$,
  array['rejected:amount_mismatch', 'contradiction:amount_total'], 'the rejection and the contradiction are both listed');

-- one claim read back many times is stored once; an operator resolves it ---------------------

select is(public.sync_checkout_session(jsonb_set(:'s_claimed', '{payment_intent}', '"pi_k_claimed_2"')),
  'rejected:contradiction', 'the return page reading the same contradiction again');
select results_eq($$select count(*)::int from public.checkout_session_contradictions where checkout_session_id = 'cs_test_k_claimed'$$,
  array[1], 'is stored once');
update public.checkout_session_contradictions set resolved_at = now() where checkout_session_id = 'cs_test_k_claimed';
select is_empty($$select 1 from public.payments_needing_attention where reference = 'cs_test_k_claimed'$$,
  'a resolved contradiction leaves the list');

-- a delayed payment failing after the session was paid --------------------------------------

select tests.create_user('failing@example.com') as failing \gset
select tests.checkout_session('cs_test_k_fail', :'failing', :'euros', 1500, 'eur', p_payment_intent => 'pi_k_fail') as s_fail \gset
select public.handle_stripe_event(tests.event('evt_kf_1', 'checkout.session.async_payment_succeeded', :'s_fail', 1700000000));
select is(public.handle_stripe_event(tests.event('evt_kf_2', 'checkout.session.async_payment_failed',
  jsonb_set(:'s_fail', '{payment_status}', '"unpaid"'), 1700000010)), 'rejected:contradiction',
  'async_payment_failed for a paid session is a contradiction');
select results_eq($$select status, payment_status, fulfilment from public.checkout_sessions where id = 'cs_test_k_fail'$$,
  $$values ('complete', 'paid', 'granted')$$, 'the session stays paid and granted');
select ok(pg_temp.can_read(:'failing', :'euros'), 'the learner keeps the lesson they paid for');

-- a contradiction before payment: an unpaid session's payment intent is not replaced ----------

select tests.create_user('pending@example.com') as pending \gset
select tests.checkout_session('cs_test_k_pend', :'pending', :'webhooks', 1900, p_payment_status => 'unpaid', p_payment_intent => 'pi_k_pend') as s_pend \gset
select is(public.handle_stripe_event(tests.event('evt_kp_1', 'checkout.session.completed', :'s_pend', 1700000000)),
  'pending', 'a delayed payment is pending');
select is(public.handle_stripe_event(tests.event('evt_kp_2', 'checkout.session.async_payment_succeeded',
  jsonb_set(jsonb_set(:'s_pend', '{payment_status}', '"paid"'), '{payment_intent}', '"pi_k_pend_2"'), 1700000010)),
  'rejected:contradiction', 'its success naming another payment intent is a contradiction');
select ok(not pg_temp.can_read(:'pending', :'webhooks'), 'and grants nothing');
select is(public.handle_stripe_event(tests.event('evt_kp_3', 'checkout.session.async_payment_succeeded',
  jsonb_set(:'s_pend', '{payment_status}', '"paid"'), 1700000020)), 'recorded', 'the success naming its own payment intent grants');
select is(public.handle_stripe_event(tests.event('evt_kp_4', 'charge.refunded', tests.refunded_charge('pi_k_pend_2', 1900, 1900), 1700000030)),
  'revoked', 'a refund of the payment intent the contradiction claimed ends access too');

-- an event that failed is applied again from what was stored, not from a redelivered body ----

select tests.create_user('retry@example.com') as retrying \gset
select is(public.handle_stripe_event(tests.event('evt_kt_1', 'checkout.session.completed',
  jsonb_set(tests.checkout_session('cs_test_k_retry', :'retrying', :'joins', 1200), '{amount_total}', '"lots"'))),
  'error', 'an event that cannot be applied is stored with an error');
select is(public.handle_stripe_event(tests.event('evt_kt_1', 'checkout.session.completed',
  tests.checkout_session('cs_test_k_retry', :'retrying', :'joins', 1200))),
  'error', 'a body that differs under the same event id does not replace the stored one');
select ok(not pg_temp.can_read(:'retrying', :'joins'), 'and grants nothing');

select * from finish();
rollback;
