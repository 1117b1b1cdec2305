-- Test helpers shared by every file in this folder. Unlike the other files this one commits:
-- it installs pgTAP and the `tests` schema once, before the others run in name order.
-- Everything here is `create … if not exists` / `create or replace`, so running it twice is safe.

create extension if not exists pgtap with schema extensions;

create schema if not exists tests;
grant usage on schema tests to anon, authenticated, service_role;

-- A learner in auth.users, as Supabase Auth would create one (callable by the test's own
-- superuser session only).
create or replace function tests.create_user(p_email text)
returns uuid
language sql
set search_path = ''
as $$
  insert into auth.users (id, aud, role, email, email_confirmed_at, raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
  values (gen_random_uuid(), 'authenticated', 'authenticated', p_email, now(),
    '{"provider": "email", "providers": ["email"]}', '{}', now(), now())
  returning id;
$$;

-- Act as a signed-in learner for the rest of the transaction, as PostgREST would.
create or replace function tests.authenticate_as(p_user_id uuid)
returns void
language sql
set search_path = ''
as $$
  select
    set_config('request.jwt.claims',
      json_build_object('sub', p_user_id, 'role', 'authenticated', 'aud', 'authenticated')::text, true),
    set_config('role', 'authenticated', true);
$$;

-- Act as a visitor with the anon key.
create or replace function tests.authenticate_as_anon()
returns void
language sql
set search_path = ''
as $$
  select
    set_config('request.jwt.claims', '{"role": "anon"}', true),
    set_config('role', 'anon', true);
$$;

-- Act as the sidecar with the service role key.
create or replace function tests.authenticate_as_service_role()
returns void
language sql
set search_path = ''
as $$
  select
    set_config('request.jwt.claims', '{"role": "service_role"}', true),
    set_config('role', 'service_role', true);
$$;

-- Back to the test's own superuser session.
create or replace function tests.clear_authentication()
returns void
language sql
set search_path = ''
as $$
  select set_config('request.jwt.claims', '', true), set_config('role', 'postgres', true);
$$;

-- A Checkout Session object shaped like Stripe's, for the given learner and lesson.
create or replace function tests.checkout_session(
  p_id text,
  p_user_id uuid,
  p_lesson_id uuid,
  p_amount bigint,
  p_currency text default 'usd',
  p_payment_status text default 'paid',
  p_status text default 'complete',
  p_payment_intent text default null
)
returns jsonb
language sql
set search_path = ''
as $$
  select jsonb_build_object(
    'id', p_id,
    'object', 'checkout.session',
    'mode', 'payment',
    'status', p_status,
    'payment_status', p_payment_status,
    'amount_total', p_amount,
    'currency', p_currency,
    'client_reference_id', p_user_id,
    'metadata', jsonb_build_object('user_id', p_user_id, 'lesson_id', p_lesson_id),
    'payment_intent', coalesce(p_payment_intent, 'pi_' || substr(p_id, 4)),
    'customer', null,
    'url', case when p_status = 'open' then 'https://checkout.stripe.com/c/pay/' || p_id end,
    'created', extract(epoch from now())::bigint - 60,
    'expires_at', extract(epoch from now())::bigint + 86400
  );
$$;

-- A Stripe event wrapping an object.
create or replace function tests.event(p_id text, p_type text, p_object jsonb, p_created bigint default null)
returns jsonb
language sql
set search_path = ''
as $$
  select jsonb_build_object(
    'id', p_id,
    'object', 'event',
    'type', p_type,
    'created', coalesce(p_created, extract(epoch from now())::bigint),
    'livemode', false,
    'api_version', '2024-06-20',
    'data', jsonb_build_object('object', p_object)
  );
$$;

-- A charge after a refund (full when p_amount_refunded = p_amount).
create or replace function tests.refunded_charge(p_payment_intent text, p_amount bigint, p_amount_refunded bigint)
returns jsonb
language sql
set search_path = ''
as $$
  select jsonb_build_object(
    'id', 'ch_' || substr(p_payment_intent, 4),
    'object', 'charge',
    'payment_intent', p_payment_intent,
    'amount', p_amount,
    'amount_refunded', p_amount_refunded,
    'refunded', p_amount_refunded >= p_amount
  );
$$;

-- A succeeded card charge as charge.succeeded carries it, shaped like Stripe's example charge
-- (/work/shared/stripe, fixtures3.json: payment_method_details.card with brand and last4, a
-- receipt_url), for a payment intent; amount_refunded and refunded as after a refund.
create or replace function tests.charge(
  p_payment_intent text,
  p_amount bigint,
  p_amount_refunded bigint default 0,
  p_receipt_url text default 'https://pay.stripe.com/receipts/payment/CAcaFwoVYWNjdF8xUGdhZlRCN1daMDF6Z2tXKI_ei7UGMgZv2S_KfiY6LCJrxC7awazgQA9I88krZKw5uuCkZ5Nup2tomEtAbSpdfzjVZHO3ZYP5KFZP',
  p_brand text default 'visa',
  p_last4 text default '4242'
)
returns jsonb
language sql
set search_path = ''
as $$
  select jsonb_build_object(
    'id', 'ch_' || substr(p_payment_intent, 4),
    'object', 'charge',
    'amount', p_amount,
    'amount_captured', p_amount,
    'amount_refunded', p_amount_refunded,
    'captured', true,
    'currency', 'usd',
    'livemode', false,
    'paid', true,
    'payment_intent', p_payment_intent,
    'payment_method', 'pm_' || substr(p_payment_intent, 4),
    'payment_method_details', jsonb_build_object(
      'card', jsonb_build_object(
        'brand', p_brand, 'country', 'US', 'exp_month', 8, 'exp_year', 2030, 'funding', 'credit',
        'last4', p_last4, 'network', p_brand, 'wallet', null
      ),
      'type', 'card'
    ),
    'receipt_url', p_receipt_url,
    'refunded', p_amount_refunded >= p_amount,
    'status', 'succeeded'
  );
$$;

-- A dispute on a payment intent's charge.
create or replace function tests.dispute(p_payment_intent text, p_status text default 'needs_response')
returns jsonb
language sql
set search_path = ''
as $$
  select jsonb_build_object(
    'id', 'dp_' || substr(p_payment_intent, 4),
    'object', 'dispute',
    'charge', 'ch_' || substr(p_payment_intent, 4),
    'payment_intent', p_payment_intent,
    'status', p_status
  );
$$;

-- A refund of a payment intent's charge as the refund.* events carry it, shaped like Stripe's
-- example refund: pending (with its pending_reason), succeeded, failed (with failure_reason)
-- or canceled.
create or replace function tests.refund(
  p_id text,
  p_payment_intent text,
  p_amount bigint,
  p_status text,
  p_created bigint default 1700000000
)
returns jsonb
language sql
set search_path = ''
as $$
  select jsonb_strip_nulls(jsonb_build_object(
    'id', p_id,
    'object', 'refund',
    'amount', p_amount,
    'charge', 'ch_' || substr(p_payment_intent, 4),
    'created', p_created,
    'currency', 'usd',
    'metadata', '{}'::jsonb,
    'payment_intent', p_payment_intent,
    'reason', 'requested_by_customer',
    'status', p_status,
    'pending_reason', case when p_status = 'pending' then 'processing' end,
    'failure_reason', case when p_status = 'failed' then 'expired_or_canceled_card' end,
    'failure_balance_transaction', case when p_status = 'failed' then 'txn_' || substr(p_id, 4) end
  ));
$$;

-- An early fraud warning on a payment intent's charge as radar.early_fraud_warning.* carries it,
-- shaped like Stripe's example (fixtures3.json), with the charge's payment_intent.
create or replace function tests.early_fraud_warning(
  p_id text,
  p_payment_intent text,
  p_actionable boolean default true,
  p_created bigint default 1700000100
)
returns jsonb
language sql
set search_path = ''
as $$
  select jsonb_build_object(
    'id', p_id,
    'object', 'radar.early_fraud_warning',
    'actionable', p_actionable,
    'charge', 'ch_' || substr(p_payment_intent, 4),
    'created', p_created,
    'fraud_type', 'made_with_stolen_card',
    'livemode', false,
    'payment_intent', p_payment_intent
  );
$$;

-- Nothing here may write for an API role: the role switchers only change the caller's own
-- session, and the Stripe-shaped builders only build JSON.
revoke all on all functions in schema tests from public;
grant execute on all functions in schema tests to anon, authenticated, service_role;
revoke execute on function tests.create_user(text) from anon, authenticated, service_role;

select plan(1);
select has_schema('tests', 'test helpers are installed');
select * from finish();
