-- Refunds as Stripe runs them now (refund.created, refund.updated, refund.failed): a pending
-- refund ends access and, if it fails or is canceled, gives it back exactly once, whatever order
-- its events (and charge.refunded) are delivered in; partial refunds that add up to the whole
-- payment end access; refund then rebuy; Purchases leaves failed refunds out; an unknown refund
-- or one naming another payment changes nothing and is listed for an operator.
begin;
select plan(65);

\set joins '00000000-0000-4000-8000-000000000002'
\set rls '00000000-0000-4000-8000-000000000003'
\set webhooks '00000000-0000-4000-8000-000000000004'

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

-- The lesson's access as lesson_catalog() tells the learner.
create function pg_temp.access(p_user uuid, p_slug text)
returns text
language plpgsql
as $$
declare
  v_access text;
begin
  perform tests.authenticate_as(p_user);
  execute 'select access::text from public.lesson_catalog() where slug = $1' into v_access using p_slug;
  perform tests.clear_authentication();
  return v_access;
end;
$$;
grant execute on function pg_temp.access(uuid, text) to authenticated;

-- One Purchases row (status, refunded amount, refunded at) as the learner reads it.
create function pg_temp.row_of(p_user uuid, p_session text)
returns text
language plpgsql
as $$
declare
  v_row text;
begin
  perform tests.authenticate_as(p_user);
  execute 'select row(status, refunded_amount, extract(epoch from refunded_at)::bigint)::text
    from public.purchase_list() where id = $1' into v_row using p_session;
  perform tests.clear_authentication();
  return v_row;
end;
$$;
grant execute on function pg_temp.row_of(uuid, text) to authenticated;

-- A paid purchase of the lesson at 1700000000.
create function pg_temp.buy(p_user uuid, p_lesson uuid, p_amount bigint, p_tag text, p_at bigint default 1700000000)
returns text
language sql
as $$
  select public.handle_stripe_event(tests.event('evt_rf_' || p_tag, 'checkout.session.completed',
    tests.checkout_session('cs_test_rf_' || p_tag, p_user, p_lesson, p_amount, p_payment_intent => 'pi_rf_' || p_tag), p_at));
$$;

-- A refund event.
create function pg_temp.refund_event(p_event text, p_type text, p_refund text, p_tag text, p_amount bigint, p_status text,
  p_refund_created bigint, p_at bigint)
returns text
language sql
as $$
  select public.handle_stripe_event(tests.event(p_event, p_type,
    tests.refund(p_refund, 'pi_rf_' || p_tag, p_amount, p_status, p_refund_created), p_at));
$$;

select tests.create_user('rf_a@example.com') as a \gset
select tests.create_user('rf_b@example.com') as b \gset
select tests.create_user('rf_c@example.com') as c \gset
select tests.create_user('rf_d@example.com') as d \gset
select tests.create_user('rf_e@example.com') as e \gset
select tests.create_user('rf_f@example.com') as f \gset
select tests.create_user('rf_g@example.com') as g \gset
select tests.create_user('rf_i@example.com') as i \gset
select tests.create_user('rf_j@example.com') as j \gset

-- a pending refund that fails, delivered in Stripe's order ---------------------------------

select pg_temp.buy(:'a', :'joins', 1200, 'a');
select is(pg_temp.refund_event('evt_rf_a1', 'refund.created', 're_rf_a', 'a', 1200, 'pending', 1700000100, 1700000100),
  'revoked', 'a pending refund of the whole payment ends access');
select is(pg_temp.access(:'a', 'joins-without-fear'), 'refunded', 'the lesson says refunded');
select ok(not pg_temp.can_read(:'a', :'joins'), 'and cannot be read');
select is(pg_temp.row_of(:'a', 'cs_test_rf_a'), '(refunded,1200,1700000100)', 'Purchases shows the refund');
select is(pg_temp.refund_event('evt_rf_a2', 'refund.updated', 're_rf_a', 'a', 1200, 'failed', 1700000100, 1700000500),
  'restored', 'the refund failing gives access back');
select is(pg_temp.refund_event('evt_rf_a3', 'refund.failed', 're_rf_a', 'a', 1200, 'failed', 1700000100, 1700000500),
  'ignored:no_change', 'refund.failed after refund.updated changes nothing more');
select is(pg_temp.refund_event('evt_rf_a3', 'refund.failed', 're_rf_a', 'a', 1200, 'failed', 1700000100, 1700000500),
  'duplicate', 'and its redelivery is a duplicate');
select is(pg_temp.access(:'a', 'joins-without-fear'), 'owned', 'the lesson is owned again');
select ok(pg_temp.can_read(:'a', :'joins'), 'and readable');
select is(pg_temp.row_of(:'a', 'cs_test_rf_a'), '(paid,,)', 'Purchases leaves the failed refund out: paid, nothing refunded');
select is((select count(*)::integer from public.stripe_events where payment_intent_id = 'pi_rf_a' and outcome = 'restored'),
  1, 'access was given back exactly once');
select results_eq($$select status, refunded_at from public.purchased_lessons where stripe_checkout_session_id = 'cs_test_rf_a'$$,
  $$values ('paid', null::timestamptz)$$, 'the ownership row is paid with no refund date');

-- the same, delivered backwards -----------------------------------------------------------

select pg_temp.buy(:'b', :'joins', 1200, 'b');
select is(pg_temp.refund_event('evt_rf_b3', 'refund.failed', 're_rf_b', 'b', 1200, 'failed', 1700000100, 1700000500),
  'ignored:no_change', 'refund.failed first: the refund never stood, nothing changes');
select ok(pg_temp.can_read(:'b', :'joins'), 'the lesson stays readable');
select is(pg_temp.refund_event('evt_rf_b2', 'refund.updated', 're_rf_b', 'b', 1200, 'failed', 1700000100, 1700000500),
  'ignored:no_change', 'refund.updated (failed) changes nothing');
select is(pg_temp.refund_event('evt_rf_b1', 'refund.created', 're_rf_b', 'b', 1200, 'pending', 1700000100, 1700000100),
  'ignored:no_change', 'the late refund.created of a refund known to have failed changes nothing');
select ok(pg_temp.can_read(:'b', :'joins'), 'the lesson was readable throughout');
select is(pg_temp.access(:'b', 'joins-without-fear'), 'owned', 'and owned');
select is(pg_temp.row_of(:'b', 'cs_test_rf_b'), '(paid,,)', 'Purchases: paid, nothing refunded');
select is((select count(*)::integer from public.stripe_events where payment_intent_id = 'pi_rf_b' and outcome in ('revoked', 'restored')),
  0, 'access was never taken, so never given back');

-- a refund that succeeded at once (charge.refunded) and then failed, in both orders ----------

select pg_temp.buy(:'c', :'joins', 1200, 'c');
select is(public.handle_stripe_event(tests.event('evt_rf_c1', 'charge.refunded', tests.charge('pi_rf_c', 1200, 1200), 1700000100)),
  'revoked', 'charge.refunded (refunded in full) ends access');
select is(pg_temp.refund_event('evt_rf_c2', 'refund.created', 're_rf_c', 'c', 1200, 'succeeded', 1700000100, 1700000100),
  'ignored:no_change', 'its refund.created changes nothing more');
select is(pg_temp.refund_event('evt_rf_c3', 'refund.failed', 're_rf_c', 'c', 1200, 'failed', 1700000100, 1700000900),
  'restored', 'the refund failing later gives access back');
select ok(pg_temp.can_read(:'c', :'joins'), 'the lesson is readable again');
select is(pg_temp.row_of(:'c', 'cs_test_rf_c'), '(paid,,)', 'Purchases: paid, the failed refund left out');

select pg_temp.buy(:'d', :'joins', 1200, 'd');
select is(pg_temp.refund_event('evt_rf_d3', 'refund.failed', 're_rf_d', 'd', 1200, 'failed', 1700000100, 1700000900),
  'ignored:no_change', 'refund.failed before charge.refunded: nothing to give back yet');
select is(public.handle_stripe_event(tests.event('evt_rf_d1', 'charge.refunded', tests.charge('pi_rf_d', 1200, 1200), 1700000100)),
  'ignored:no_change', 'the earlier charge.refunded, delivered late, ends nothing: its refund failed since');
select is(pg_temp.refund_event('evt_rf_d2', 'refund.created', 're_rf_d', 'd', 1200, 'succeeded', 1700000100, 1700000100),
  'ignored:no_change', 'nor does its refund.created');
select ok(pg_temp.can_read(:'d', :'joins'), 'the lesson was readable throughout');
select is(pg_temp.row_of(:'d', 'cs_test_rf_d'), pg_temp.row_of(:'c', 'cs_test_rf_c'),
  'both orders end with the same Purchases row');
select is((select row(status, refunded_at, disputed_at, purchased_at)::text from public.purchased_lessons where user_id = :'d'),
  (select row(status, refunded_at, disputed_at, purchased_at)::text from public.purchased_lessons where user_id = :'c'),
  'and the same ownership row');

-- partial refunds that add up to the whole payment, then one of them fails -----------------

select pg_temp.buy(:'e', :'webhooks', 1900, 'e');
select is(pg_temp.refund_event('evt_rf_e1', 'refund.created', 're_rf_e1', 'e', 500, 'succeeded', 1700000100, 1700000100),
  'ignored:no_change', 'a partial refund keeps access');
select is(pg_temp.row_of(:'e', 'cs_test_rf_e'), '(partly_refunded,500,1700000100)', 'Purchases: partly refunded, 500');
select is(pg_temp.refund_event('evt_rf_e2', 'refund.created', 're_rf_e2', 'e', 1400, 'pending', 1700000200, 1700000200),
  'revoked', 'a second partial refund bringing the total to the whole payment ends access');
select is(pg_temp.access(:'e', 'stripe-webhooks'), 'refunded', 'the lesson says refunded');
select is(pg_temp.row_of(:'e', 'cs_test_rf_e'), '(refunded,1900,1700000200)', 'Purchases: refunded, 1900 on the second date');
select is(pg_temp.refund_event('evt_rf_e3', 'refund.failed', 're_rf_e2', 'e', 1400, 'failed', 1700000200, 1700000300),
  'restored', 'the second refund failing gives access back');
select is(pg_temp.row_of(:'e', 'cs_test_rf_e'), '(partly_refunded,500,1700000100)',
  'Purchases: partly refunded again, on the date of the 500 that stands; the failed 1400 left out');
select ok(pg_temp.can_read(:'e', :'webhooks'), 'the lesson is readable again');

-- partial then full through charge.refunded alone (an endpoint not sent refund.* events) ---

select pg_temp.buy(:'j', :'webhooks', 1900, 'j');
select is(public.handle_stripe_event(tests.event('evt_rf_j1', 'charge.refunded', tests.charge('pi_rf_j', 1900, 500), 1700000100)),
  'ignored:partial_refund', 'a partial charge.refunded keeps access');
select is(public.handle_stripe_event(tests.event('evt_rf_j2', 'charge.refunded', tests.charge('pi_rf_j', 1900, 1900), 1700000200)),
  'revoked', 'the charge refunded in full by a second refund ends access');
select is(pg_temp.row_of(:'j', 'cs_test_rf_j'), '(refunded,1900,1700000200)', 'Purchases: refunded in full');

-- refund, then rebuy; then the first refund fails: paid twice, listed ----------------------

select pg_temp.buy(:'f', :'rls', 2500, 'f1');
select is(pg_temp.refund_event('evt_rf_f1r', 'refund.created', 're_rf_f1', 'f1', 2500, 'pending', 1700000100, 1700000100),
  'revoked', 'a pending refund ends access');
select is(public.begin_checkout(:'f', :'rls') ->> 'action', 'create', 'the refunded lesson may be bought again');
select is(pg_temp.buy(:'f', :'rls', 2500, 'f2', 1700000300), 'recorded', 'the rebuy is recorded');
select is(pg_temp.access(:'f', 'row-level-security'), 'owned', 'and the lesson is owned again');
select is(pg_temp.refund_event('evt_rf_f1x', 'refund.failed', 're_rf_f1', 'f1', 2500, 'failed', 1700000100, 1700000400),
  'ignored:no_change', 'the first refund failing after the rebuy changes no access');
select results_eq($$select id::text, fulfilment from public.checkout_sessions where id in ('cs_test_rf_f1', 'cs_test_rf_f2') order by id$$,
  $$values ('cs_test_rf_f1', 'already_owned'), ('cs_test_rf_f2', 'granted')$$,
  'the first payment now charged for a lesson already owned');
select isnt_empty($$select 1 from public.payments_needing_attention where reference = 'cs_test_rf_f1' and reason = 'already_owned'$$,
  'and is listed for an operator to refund');
select is(pg_temp.row_of(:'f', 'cs_test_rf_f1'), '(paid,,)', 'Purchases shows both payments as paid');

-- a refund canceled -------------------------------------------------------------------------

select pg_temp.buy(:'g', :'joins', 1200, 'g');
select is(pg_temp.refund_event('evt_rf_g1', 'refund.created', 're_rf_g', 'g', 1200, 'requires_action', 1700000100, 1700000100),
  'revoked', 'a refund awaiting action ends access');
select is(pg_temp.refund_event('evt_rf_g2', 'refund.updated', 're_rf_g', 'g', 1200, 'canceled', 1700000100, 1700000200),
  'restored', 'canceled, it gives access back');

-- an unknown refund, and one naming another payment ---------------------------------------

select is(public.handle_stripe_event(tests.event('evt_rf_u1', 'refund.created',
  tests.refund('re_rf_unknown', 'pi_rf_nobody', 1200, 'pending', 1700000100), 1700000100)),
  'deferred', 'a refund of a payment nobody knows is kept');
select is_empty($$select 1 from public.payments_needing_attention where reference = 'evt_rf_u1'$$,
  'and not listed while its purchase may still be on its way');
update public.stripe_events set received_at = received_at - interval '2 hours' where id = 'evt_rf_u1';
select results_eq($$select source, reason, stripe_payment_intent_id from public.payments_needing_attention where reference = 'evt_rf_u1'$$,
  $$values ('stripe_event', 'deferred', 'pi_rf_nobody')$$, 'listed for an operator once it has waited an hour');

select pg_temp.buy(:'i', :'joins', 1200, 'i1');
select pg_temp.buy(:'i', :'rls', 2500, 'i2');
select is(pg_temp.refund_event('evt_rf_ri1', 'refund.created', 're_rf_i', 'i1', 1200, 'pending', 1700000100, 1700000100),
  'revoked', 'a refund of the first payment ends its access');
select is(pg_temp.refund_event('evt_rf_ri2', 'refund.updated', 're_rf_i', 'i2', 2500, 'succeeded', 1700000100, 1700000200),
  'rejected:refund_mismatch', 'the same refund later naming another payment is refused');
select is(pg_temp.refund_event('evt_rf_ri3', 'refund.failed', 're_rf_i', 'i2', 1200, 'failed', 1700000100, 1700000300),
  'rejected:refund_mismatch', 'whatever it says');
select ok(pg_temp.can_read(:'i', :'rls'), 'the other payment''s lesson is untouched');
select ok(not pg_temp.can_read(:'i', :'joins'), 'and the refunded one stays refunded');
select is(pg_temp.row_of(:'i', 'cs_test_rf_i2'), '(paid,,)', 'the other payment''s record shows no refund');
select set_eq($$select reference, reason from public.payments_needing_attention where reference in ('evt_rf_ri2', 'evt_rf_ri3')$$,
  $$values ('evt_rf_ri2', 'rejected:refund_mismatch'), ('evt_rf_ri3', 'rejected:refund_mismatch')$$,
  'both are listed for an operator');

-- bought, refunded and bought again all in one second (Stripe's times are whole seconds): the
-- refund of the first payment comes before the second payment, in every delivery order, and
-- the repurchase grants
create function pg_temp.same_second(p_tag text, p_order text[])
returns text
language plpgsql
as $fn$
declare
  v_user uuid := tests.create_user('rf_same_' || p_tag || '@example.com');
  v_step text;
begin
  foreach v_step in array p_order loop
    perform case v_step
      when 'a_paid' then public.handle_stripe_event(tests.event('evt_ss_' || p_tag || '_a1', 'checkout.session.completed',
        tests.checkout_session('cs_test_ss_' || p_tag || 'a', v_user, '00000000-0000-4000-8000-000000000002', 1200,
          p_payment_intent => 'pi_ss_' || p_tag || 'a'), 1700000300))
      when 'a_refunded' then public.handle_stripe_event(tests.event('evt_ss_' || p_tag || '_a2', 'charge.refunded',
        tests.refunded_charge('pi_ss_' || p_tag || 'a', 1200, 1200), 1700000300))
      when 'b_paid' then public.handle_stripe_event(tests.event('evt_ss_' || p_tag || '_b1', 'checkout.session.completed',
        tests.checkout_session('cs_test_ss_' || p_tag || 'b', v_user, '00000000-0000-4000-8000-000000000002', 1200,
          p_payment_intent => 'pi_ss_' || p_tag || 'b'), 1700000300))
    end;
  end loop;
  return (select p.status || ' by ' || p.stripe_checkout_session_id from public.purchased_lessons as p where p.user_id = v_user);
end;
$fn$;
select is(pg_temp.same_second('o1', array['a_paid', 'a_refunded', 'b_paid']), 'paid by cs_test_ss_o1b',
  'bought, refunded and bought again in one second: the repurchase grants');
select is(pg_temp.same_second('o2', array['a_paid', 'b_paid', 'a_refunded']), 'paid by cs_test_ss_o2b',
  'the refund delivered after the repurchase: the repurchase grants');
select is(pg_temp.same_second('o3', array['b_paid', 'a_refunded', 'a_paid']), 'paid by cs_test_ss_o3b',
  'delivered backwards: the same');

select * from finish();
rollback;
