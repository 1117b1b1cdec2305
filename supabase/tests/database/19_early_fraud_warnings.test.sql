-- Early fraud warnings: for each warning × state of its payment, what the shop ends with.
-- An actionable warning on the granting payment ends access and asks for one refund (however
-- many warnings and redeliveries); anything else changes nothing and is listed; a warning
-- before its purchase waits and ends where it would have; the refund's own events count once.
begin;
select plan(73);

\set joins '00000000-0000-4000-8000-000000000002'

-- Can the learner read the lesson's content, through RLS, as the frontend would?
create function pg_temp.can_read(p_user uuid)
returns boolean
language plpgsql
as $$
declare
  v_readable boolean;
begin
  perform tests.authenticate_as(p_user);
  execute 'select exists (select 1 from public.lesson_content where lesson_id = $1)'
    into v_readable using '00000000-0000-4000-8000-000000000002'::uuid;
  perform tests.clear_authentication();
  return v_readable;
end;
$$;
grant execute on function pg_temp.can_read(uuid) to authenticated;

-- The learner's Purchases row for the session: (status, refunded amount, refund_reason).
create function pg_temp.row_of(p_user uuid, p_session text)
returns text
language plpgsql
as $$
declare
  v_row text;
begin
  perform tests.authenticate_as(p_user);
  execute 'select row(status, refunded_amount, refund_reason)::text from public.purchase_list() where id = $1'
    into v_row using p_session;
  perform tests.clear_authentication();
  return v_row;
end;
$$;
grant execute on function pg_temp.row_of(uuid, text) to authenticated;

-- A paid purchase of the lesson (payment intent pi_efw_<tag>).
create function pg_temp.buy(p_user uuid, p_tag text, p_at bigint default 1700000000)
returns text
language sql
as $$
  select public.handle_stripe_event(tests.event('evt_efw_buy_' || p_tag, 'checkout.session.completed',
    tests.checkout_session('cs_test_efw_' || p_tag, p_user, '00000000-0000-4000-8000-000000000002'::uuid, 1200,
      p_payment_intent => 'pi_efw_' || p_tag), p_at));
$$;

-- A warning event on the tag's payment, as the webhook hands it over.
create function pg_temp.warn(
  p_event text, p_tag text, p_warning text, p_actionable boolean default true, p_created bigint default 1700000100,
  p_auto_refund boolean default true, p_type text default 'radar.early_fraud_warning.created'
)
returns text
language sql
as $$
  select public.handle_early_fraud_warning(
    tests.event(p_event, p_type, tests.early_fraud_warning(p_warning, 'pi_efw_' || p_tag, p_actionable, p_created), p_created),
    p_auto_refund);
$$;

-- The end state of a tag's payment: purchase status and why, each warning's decision, the
-- refund rows and the attention list's words for it.
create function pg_temp.state(p_tag text)
returns text
language sql
as $$
  select concat_ws(' | ',
    coalesce((select p.status || coalesce('/' || p.revoked_reason, '') from public.purchased_lessons as p
      where p.stripe_payment_intent_id = 'pi_efw_' || p_tag), 'no purchase'),
    coalesce((select string_agg(coalesce(w.action, 'waiting') || coalesce(':' || w.action_reason, ''), ',' order by w.id)
      from public.early_fraud_warnings as w where w.payment_intent_id = 'pi_efw_' || p_tag), 'no warning'),
    (select count(*) || ' refund' from public.early_fraud_warning_refunds as r where r.payment_intent_id = 'pi_efw_' || p_tag),
    coalesce((select string_agg(a.reason, ',' order by a.reason) from public.payments_needing_attention as a
      where a.stripe_payment_intent_id = 'pi_efw_' || p_tag), 'not listed'));
$$;

select tests.create_user('efw_a@example.com') as a \gset
select tests.create_user('efw_b@example.com') as b \gset
select tests.create_user('efw_c@example.com') as c \gset
select tests.create_user('efw_d@example.com') as d \gset
select tests.create_user('efw_e@example.com') as e \gset
select tests.create_user('efw_f@example.com') as f \gset
select tests.create_user('efw_g@example.com') as g \gset
select tests.create_user('efw_h@example.com') as h \gset
select tests.create_user('efw_i@example.com') as i \gset

-- granted: an actionable warning ends access and asks for one refund -----------------------

select pg_temp.buy(:'a', 'a');
select ok(pg_temp.can_read(:'a'), 'a bought the lesson and reads it');
select is(pg_temp.warn('evt_efw_a1', 'a', 'issfr_efw_a1'), 'revoked', 'an actionable warning on the granting payment ends access');
select ok(not pg_temp.can_read(:'a'), 'at once');
select is(pg_temp.state('a'), 'refunded/early_fraud_warning | refund | 1 refund | not listed',
  'refunded because of the warning, one refund asked for, nothing for an operator');
select results_eq($$select early_fraud_warning_id, charge_id, amount, currency, idempotency_key
  from public.early_fraud_warning_refunds where payment_intent_id = 'pi_efw_a'$$,
  $$values ('issfr_efw_a1', 'ch_efw_a', 1200::bigint, 'usd', 'efw-refund-issfr_efw_a1')$$,
  'the refund is of the whole payment, keyed by the warning');

-- duplicate and second warnings: still one refund
select is(pg_temp.warn('evt_efw_a1', 'a', 'issfr_efw_a1'), 'duplicate', 'the same event again is a duplicate');
select is(pg_temp.warn('evt_efw_a2', 'a', 'issfr_efw_a1', false, 1700000200, p_type => 'radar.early_fraud_warning.updated'),
  'applied', 'its .updated (no longer actionable once refunded) changes nothing');
select is(pg_temp.warn('evt_efw_a3', 'a', 'issfr_efw_a3', true, 1700000300), 'applied',
  'a second warning for the same charge changes nothing more');
select is(pg_temp.state('a'), 'refunded/early_fraud_warning | refund,refund | 1 refund | not listed',
  'both warnings decided refund, still one refund, nothing listed');

-- the sidecar claims it once, records Stripe's refund, and the refund's events count once
select tests.authenticate_as_service_role();
select is(jsonb_array_length(public.claim_early_fraud_warning_refunds('evt_efw_a1')), 1, 'the warning event''s refund is claimed');
select is(public.claim_early_fraud_warning_refunds('evt_efw_a3'), '[]'::jsonb, 'a second claim meanwhile gets nothing');
select is(public.claim_early_fraud_warning_refunds(null), '[]'::jsonb, 'nor does reconcile''s sweep');
select is(public.finish_early_fraud_warning_refund('pi_efw_a'), 'released', 'Stripe failing releases the claim');
select is(public.claim_early_fraud_warning_refunds('evt_efw_a3') -> 0 ->> 'idempotency_key', 'efw-refund-issfr_efw_a1',
  'the retry claims it again, with the same idempotency key');
select is(public.finish_early_fraud_warning_refund('pi_efw_a', 're_efw_a'), 'requested', 'the refund id is recorded');
select is(public.finish_early_fraud_warning_refund('pi_efw_a', 're_efw_a'), 'requested', 'recording it again is harmless');
select throws_ok($$select public.finish_early_fraud_warning_refund('pi_efw_a', 're_efw_other')$$, '23505', null,
  'a second refund id for the payment is refused');
select is(public.claim_early_fraud_warning_refunds('evt_efw_a1'), '[]'::jsonb, 'a refund recorded is never claimed again');
select tests.clear_authentication();

select is(public.handle_stripe_event(tests.event('evt_efw_a4', 'charge.refunded', tests.charge('pi_efw_a', 1200, 1200), 1700000400)),
  'ignored:no_change', 'the refund''s charge.refunded ends nothing more');
select is(public.handle_stripe_event(tests.event('evt_efw_a5', 'refund.created',
  tests.refund('re_efw_a', 'pi_efw_a', 1200, 'succeeded', 1700000400), 1700000400)),
  'ignored:no_change', 'nor its refund.created');
select is(pg_temp.row_of(:'a', 'cs_test_efw_a'), '(refunded,1200,early_fraud_warning)',
  'Purchases: refunded once (1200, not 2400), flagged by the card issuer');
select results_eq($$select status, refunded_at from public.purchased_lessons where stripe_payment_intent_id = 'pi_efw_a'$$,
  $$values ('refunded', to_timestamp(1700000100))$$, 'access ended when the warning was created');
select is(public.handle_stripe_event(tests.event('evt_efw_a6', 'refund.failed',
  tests.refund('re_efw_a', 'pi_efw_a', 1200, 'failed', 1700000400), 1700000900)),
  'ignored:no_change', 'the refund failing gives no access back');
select ok(not pg_temp.can_read(:'a'), 'the lesson stays closed');
select is(pg_temp.state('a'), 'refunded/early_fraud_warning | refund,refund | 1 refund | early_fraud_warning:refund_failed',
  'and the failed refund is listed for an operator');

-- before the completion: the warning waits, then ends where it would have ---------------------

select is(pg_temp.warn('evt_efw_b1', 'b', 'issfr_efw_b1'), 'deferred', 'a warning for a payment nobody knows waits');
select is(pg_temp.state('b'), 'no purchase | waiting | 0 refund | not listed', 'nothing decided, nothing granted');
select is(pg_temp.buy(:'b', 'b'), 'revoked', 'the purchase lands and is ended at once (revoked: the refund is due)');
select ok(not pg_temp.can_read(:'b'), 'and never opens the lesson');
select is(pg_temp.state('b'), 'refunded/early_fraud_warning | refund | 1 refund | not listed', 'the same end state as after it');
select is((select outcome from public.stripe_events where id = 'evt_efw_b1'), 'applied', 'the waiting event is applied');
select tests.authenticate_as_service_role();
select is(public.claim_early_fraud_warning_refunds('evt_efw_buy_b') -> 0 ->> 'early_fraud_warning', 'issfr_efw_b1',
  'the completion event''s delivery claims the refund');
select tests.clear_authentication();

-- a warning for a charge nobody ever knows: listed once it has waited an hour ---------------

select is(pg_temp.warn('evt_efw_u1', 'unknown', 'issfr_efw_u1'), 'deferred', 'an unknown charge''s warning waits');
update public.stripe_events set received_at = received_at - interval '2 hours' where id = 'evt_efw_u1';
select is(pg_temp.state('unknown'), 'no purchase | waiting | 0 refund | deferred', 'after an hour it is listed, nothing granted');
select is(public.handle_early_fraud_warning(tests.event('evt_efw_u2', 'radar.early_fraud_warning.created',
  tests.early_fraud_warning('issfr_efw_u2', 'pi_x') - 'payment_intent', 1700000100)), 'applied',
  'a warning naming no payment intent is stored');
select results_eq($$select reason from public.payments_needing_attention where reference = 'issfr_efw_u2'$$,
  $$values ('early_fraud_warning:unknown_charge')$$, 'and listed at once');

-- already refunded ---------------------------------------------------------------------------

select pg_temp.buy(:'c', 'c');
select public.handle_stripe_event(tests.event('evt_efw_c1', 'charge.refunded', tests.charge('pi_efw_c', 1200, 1200), 1700000050));
select is(pg_temp.warn('evt_efw_c2', 'c', 'issfr_efw_c2', false), 'applied', 'a warning on a refunded charge (not actionable)');
select is(pg_temp.state('c'), 'refunded | list:not_actionable | 0 refund | early_fraud_warning:not_actionable',
  'no second refund, listed');
select is(pg_temp.warn('evt_efw_c3', 'c', 'issfr_efw_c3', true), 'applied', 'even one still marked actionable');
select is(pg_temp.state('c'), 'refunded | list:not_actionable,list:already_refunded | 0 refund | early_fraud_warning:already_refunded,early_fraud_warning:not_actionable',
  'is no refund: already refunded, listed');

-- disputed -----------------------------------------------------------------------------------

select pg_temp.buy(:'d', 'd');
select public.handle_stripe_event(tests.event('evt_efw_d1', 'charge.dispute.created', tests.dispute('pi_efw_d'), 1700000050));
select is(pg_temp.warn('evt_efw_d2', 'd', 'issfr_efw_d2'), 'applied', 'a warning on a disputed charge');
select is(pg_temp.state('d'), 'disputed | list:already_disputed | 0 refund | early_fraud_warning:already_disputed',
  'no refund (Stripe refuses one), listed');
select is(public.handle_stripe_event(tests.event('evt_efw_d3', 'charge.dispute.closed', tests.dispute('pi_efw_d', 'won'), 1700000500)),
  'restored', 'the dispute won gives access back');
select ok(pg_temp.can_read(:'d'), 'the warning did not take it');

-- a dispute older than the warning, delivered after it ---------------------------------------

select pg_temp.buy(:'e', 'e');
select is(pg_temp.warn('evt_efw_e1', 'e', 'issfr_efw_e1'), 'revoked', 'the warning first: refund decided');
select is(public.handle_stripe_event(tests.event('evt_efw_e2', 'charge.dispute.created', tests.dispute('pi_efw_e'), 1700000050)),
  'revoked', 'a dispute opened before the warning arrives late (access stays ended, now by the dispute)');
select is(pg_temp.state('e'), 'disputed | list:already_disputed | 0 refund | early_fraud_warning:already_disputed',
  'the warning is decided again as Stripe''s order says: disputed, no refund to ask for');

-- the same, once the sidecar has asked Stripe: the refund stands -----------------------------

select pg_temp.buy(:'f', 'f');
select pg_temp.warn('evt_efw_f1', 'f', 'issfr_efw_f1');
select tests.authenticate_as_service_role();
select is(jsonb_array_length(public.claim_early_fraud_warning_refunds('evt_efw_f1')), 1, 'claimed: Stripe is being asked');
select tests.clear_authentication();
select public.handle_stripe_event(tests.event('evt_efw_f2', 'charge.dispute.created', tests.dispute('pi_efw_f'), 1700000050));
select is(pg_temp.state('f'), 'refunded/early_fraud_warning | refund | 1 refund | not listed',
  'a refund asked of Stripe is never taken back');
select tests.authenticate_as_service_role();
select is(public.finish_early_fraud_warning_refund('pi_efw_f', p_refused_code => 'charge_disputed'), 'refused',
  'Stripe refusing it is recorded');
select tests.clear_authentication();
select is(pg_temp.state('f'), 'refunded/early_fraud_warning | refund | 1 refund | early_fraud_warning:refund_refused:charge_disputed',
  'and listed for an operator');

-- not actionable on a granted payment --------------------------------------------------------

select pg_temp.buy(:'g', 'g');
select is(pg_temp.warn('evt_efw_g1', 'g', 'issfr_efw_g1', false), 'applied', 'a warning that is not actionable');
select ok(pg_temp.can_read(:'g'), 'keeps access');
select is(pg_temp.state('g'), 'paid | list:not_actionable | 0 refund | early_fraud_warning:not_actionable', 'and is listed');

-- EFW_AUTO_REFUND=false ----------------------------------------------------------------------

select pg_temp.buy(:'h', 'h');
select is(pg_temp.warn('evt_efw_h1', 'h', 'issfr_efw_h1', p_auto_refund => false), 'applied', 'with auto-refund off');
select ok(pg_temp.can_read(:'h'), 'an actionable warning keeps access');
select is(pg_temp.state('h'), 'paid | list:auto_refund_off | 0 refund | early_fraud_warning:auto_refund_off',
  'and is listed for the operator to decide');
select is((public.resolve_attention('early_fraud_warning:issfr_efw_h1', 'refunded by hand', 'maria')) ->> 'resolved_by',
  'maria', 'the operator resolves it with the attention tool');
select isnt((select resolved_at from public.early_fraud_warnings where id = 'issfr_efw_h1'), null,
  'which closes the warning');
select is(pg_temp.state('h'), 'paid | list:auto_refund_off | 0 refund | not listed', 'resolved, it leaves the list');

-- a repurchase after a fraud refund grants again ---------------------------------------------

select pg_temp.buy(:'i', 'i');
select pg_temp.warn('evt_efw_i1', 'i', 'issfr_efw_i1');
select is(public.handle_stripe_event(tests.event('evt_efw_i2', 'checkout.session.completed',
  tests.checkout_session('cs_test_efw_i2', :'i', :'joins', 1200, p_payment_intent => 'pi_efw_i2'), 1700000500)),
  'recorded', 'the learner buys it again with another payment');
select ok(pg_temp.can_read(:'i'), 'and reads it');
select is((select revoked_reason from public.purchased_lessons where user_id = :'i'), null, 'no reason left on the new purchase');

-- bad input ----------------------------------------------------------------------------------

select throws_ok($$select public.handle_early_fraud_warning(tests.event('evt_efw_x1', 'charge.refunded',
  tests.charge('pi_efw_x', 1200, 1200)))$$, '22023', null, 'only radar.early_fraud_warning.* events');
select throws_ok($$select public.handle_early_fraud_warning(tests.event('evt_efw_x2', 'radar.early_fraud_warning.created',
  tests.early_fraud_warning('issfr_efw_x2', 'pi_efw_x')), null)$$, '22004', null, 'auto-refund must be true or false');
select is(public.handle_early_fraud_warning(tests.event('evt_efw_x3', 'radar.early_fraud_warning.created',
  tests.early_fraud_warning('issfr_efw_x3', 'pi_efw_x') - 'id')), 'ignored:not_an_early_fraud_warning',
  'a warning without an id is stored and ignored');
select throws_ok($$select public.finish_early_fraud_warning_refund('pi_efw_a', 'not-a-refund')$$, '22023', null,
  'a refund id that is not one is refused');
select throws_ok($$select public.finish_early_fraud_warning_refund('pi_efw_nobody', 're_x')$$, 'P0002', null,
  'a payment with no warning refund is refused');
select is((select count(*)::integer from public.early_fraud_warnings where id in ('issfr_efw_x2', 'issfr_efw_x3')), 0,
  'and none of it stored a warning');

-- roles --------------------------------------------------------------------------------------

select tests.authenticate_as(:'a');
select throws_ok($$select public.claim_early_fraud_warning_refunds(null)$$, '42501', null, 'a learner cannot claim refunds');
select throws_ok($$select 1 from public.early_fraud_warnings$$, '42501', null, 'nor read the warnings');
select tests.clear_authentication();

select tests.authenticate_as_service_role();
select throws_ok($$update public.early_fraud_warnings set resolved_at = now()$$, '42501', null,
  'even the service role closes a warning only through resolve_attention');
select throws_ok($$delete from public.early_fraud_warning_refunds$$, '42501', null,
  'and cannot forget the refund a payment was given');
select tests.clear_authentication();

select * from finish();
rollback;
