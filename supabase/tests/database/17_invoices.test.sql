-- Invoices (CHECKOUT_INVOICES): invoice.paid puts the paid invoice's page on its Checkout
-- Session, before or after the session arrives; purchase_list() shows it; a link that may not be
-- shown is dropped; other invoice events and unknown invoices change nothing, nor does any of
-- it touch access.
begin;
select plan(16);

\set joins '00000000-0000-4000-8000-000000000002'
\set rls '00000000-0000-4000-8000-000000000003'
\set webhooks '00000000-0000-4000-8000-000000000004'

select tests.create_user('iv_a@example.com') as a \gset
select tests.create_user('iv_b@example.com') as b \gset

-- A Checkout post-payment invoice as Stripe sends it in invoice.* events.
create function pg_temp.invoice(p_id text, p_url text, p_status text default 'paid')
returns jsonb
language sql
as $$
  select jsonb_build_object('id', p_id, 'object', 'invoice', 'status', p_status, 'hosted_invoice_url', p_url,
    'amount_paid', 1200, 'currency', 'usd', 'customer', null, 'invoice_pdf', null);
$$;

-- A paid session naming its invoice.
create function pg_temp.paid_with_invoice(p_tag text, p_user uuid, p_lesson uuid, p_amount bigint)
returns text
language sql
as $$
  select public.handle_stripe_event(tests.event('evt_iv_' || p_tag, 'checkout.session.completed',
    jsonb_set(tests.checkout_session('cs_test_iv_' || p_tag, p_user, p_lesson, p_amount, p_payment_intent => 'pi_iv_' || p_tag),
      '{invoice}', to_jsonb('in_iv_' || p_tag)), 1700000000));
$$;

-- The invoice link of one Purchases row, as its learner reads it.
create function pg_temp.invoice_url(p_user uuid, p_session text)
returns text
language plpgsql
as $$
declare
  v_url text;
begin
  perform tests.authenticate_as(p_user);
  execute 'select invoice_url from public.purchase_list() where id = $1' into v_url using p_session;
  perform tests.clear_authentication();
  return v_url;
end;
$$;
grant execute on function pg_temp.invoice_url(uuid, text) to authenticated;

select has_column('public', 'checkout_sessions', 'invoice_url', 'sessions keep their invoice''s page');

-- invoice.paid before its session, as Checkout sends them ----------------------------------

select is(public.handle_stripe_event(tests.event('evt_iv_1i', 'invoice.paid',
  pg_temp.invoice('in_iv_1', 'https://invoice.stripe.com/i/acct_1Pgaf/test_YWNjdF8xUGdh'), 1700000000)),
  'ignored:unknown_invoice', 'an invoice.paid no session names yet is kept and changes nothing');
select is(pg_temp.paid_with_invoice('1', :'a', :'joins', 1200), 'recorded', 'then its session is recorded');
select is(pg_temp.invoice_url(:'a', 'cs_test_iv_1'), 'https://invoice.stripe.com/i/acct_1Pgaf/test_YWNjdF8xUGdh',
  'and Purchases shows the invoice''s page');

-- invoice.paid after its session ------------------------------------------------------------

select pg_temp.paid_with_invoice('2', :'a', :'rls', 2500);
select is(pg_temp.invoice_url(:'a', 'cs_test_iv_2'), null, 'no invoice link before invoice.paid');
select is(public.handle_stripe_event(tests.event('evt_iv_2f', 'invoice.finalized',
  pg_temp.invoice('in_iv_2', 'https://invoice.stripe.com/i/acct_1Pgaf/test_2', 'open'), 1700000001)),
  'ignored', 'invoice.finalized is stored and ignored');
select is(pg_temp.invoice_url(:'a', 'cs_test_iv_2'), null, 'and gives no link');
select is(public.handle_stripe_event(tests.event('evt_iv_2i', 'invoice.paid',
  pg_temp.invoice('in_iv_2', 'http://127.0.0.1:12111/i/in_iv_2'), 1700000002)),
  'applied', 'invoice.paid after its session is applied');
select is(pg_temp.invoice_url(:'a', 'cs_test_iv_2'), 'http://127.0.0.1:12111/i/in_iv_2',
  'the stand-in''s own page is shown in test mode');
select is(public.handle_stripe_event(tests.event('evt_iv_2i', 'invoice.paid',
  pg_temp.invoice('in_iv_2', 'http://127.0.0.1:12111/i/in_iv_2'), 1700000002)),
  'duplicate', 'a redelivery is a duplicate');

-- links that may not be shown ----------------------------------------------------------------

select pg_temp.paid_with_invoice('3', :'b', :'joins', 1200);
select is(public.handle_stripe_event(tests.event('evt_iv_3i', 'invoice.paid',
  pg_temp.invoice('in_iv_3', 'javascript:alert(1)'), 1700000002)),
  'ignored:no_invoice_url', 'a link that is not https is dropped');
select is(public.handle_stripe_event(tests.event('evt_iv_3j', 'invoice.paid',
  pg_temp.invoice('in_iv_3', 'http://invoice.example.com/i/x'), 1700000003)),
  'ignored:no_invoice_url', 'so is plain http elsewhere than the stand-in');
select is(public.handle_stripe_event(jsonb_set(tests.event('evt_iv_3k', 'invoice.paid',
  pg_temp.invoice('in_iv_3', 'http://127.0.0.1:12111/i/in_iv_3'), 1700000004), '{livemode}', 'true')),
  'ignored:no_invoice_url', 'and the stand-in''s page in a live-mode event');
select is(pg_temp.invoice_url(:'b', 'cs_test_iv_3'), null, 'Purchases shows no link, never a broken one');

-- nothing about access depends on it ----------------------------------------------------------

select tests.authenticate_as(:'b');
select is((select access::text from public.lesson_catalog() where slug = 'joins-without-fear'), 'owned',
  'the lesson is owned, invoice or not');
select is_empty($$select 1 from public.purchase_list() where id like 'cs_test_iv_1%' or id like 'cs_test_iv_2%'$$,
  'another learner sees none of the invoices');
select tests.clear_authentication();

select * from finish();
rollback;
