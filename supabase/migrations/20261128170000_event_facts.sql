-- Each Stripe event's fact, extracted into columns when the event is stored.
--
-- The purchase rules used to read refunds and disputes back out of stripe_events.payload each
-- time a purchase was re-derived. The payload holds buyers' names and emails and is cleared
-- once it is no longer needed (see the event retention migration), so everything a later
-- decision needs is now taken out of it once, when the event is stored: the object's id (the
-- dispute id), what the event says about its payment intent, and the amount and currency a
-- Checkout Session event claims. Rows stored before this migration are filled in from their
-- payload here.

-- =============================================================================================
-- columns
-- =============================================================================================

alter table public.stripe_events
-- id of the event's object: Checkout Session cs_test_a1…, Charge ch_3MtwBw…, Dispute dp_1Mt…
add column object_id text,
-- what the event says about its payment intent (null when it says nothing that revokes):
-- 'refund' (charge fully refunded), 'partial_refund', 'dispute_opened', 'dispute_won'
-- (won or inquiry closed) or 'dispute_lost'
add column payment_fact text
constraint stripe_events_payment_fact_check
check (payment_fact in ('refund', 'partial_refund', 'dispute_opened', 'dispute_won', 'dispute_lost')),
-- amount and currency a Checkout Session event claims (shown to an operator when it is rejected)
add column amount_total bigint,
add column currency text;

comment on column public.stripe_events.payment_fact is
'What the event says about payment_intent_id; the purchase rules read this, never the payload.';

-- =============================================================================================
-- functions
-- =============================================================================================

-- The fact a Stripe event states about its payment intent, from its type and object. Reads
-- only booleans and strings, so no payload can make it fail.
create or replace function private.payment_fact(p_type text, p_object jsonb)
returns text
language sql
immutable
security invoker
set search_path = ''
as $$
  select case
    when p_type = 'charge.refunded' and p_object -> 'refunded' = 'true'::jsonb then 'refund'
    when p_type = 'charge.refunded' then 'partial_refund'
    when p_type = 'charge.dispute.created' then 'dispute_opened'
    when p_type = 'charge.dispute.closed' and p_object ->> 'status' in ('won', 'warning_closed') then 'dispute_won'
    when p_type = 'charge.dispute.closed' then 'dispute_lost'
  end;
$$;

-- An amount in a currency's minor unit, or null when the JSON value is not a whole number
-- that fits (a payload's oddities must not stop the event being stored).
create or replace function private.json_amount(p_value jsonb)
returns bigint
language sql
immutable
security invoker
set search_path = ''
as $$
  select case
    when pg_catalog.jsonb_typeof(p_value) = 'number' and p_value::text ~ '^-?[0-9]{1,18}$'
      then (p_value::text)::bigint
  end;
$$;

-- Store a verified event with the facts the purchase rules need. Returns 'new', 'retry' (an
-- earlier attempt failed with an error and is processed again) or 'duplicate'. Concurrent
-- callers with one event id serialise on the primary key: the second waits for the first and
-- then sees its row.
create or replace function private.store_event(p_event jsonb)
returns text
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_object jsonb := p_event -> 'data' -> 'object';
  v_is_session boolean := v_object ->> 'object' = 'checkout.session';
  v_previous text;
begin
  if p_event ->> 'object' is distinct from 'event'
    or coalesce(p_event ->> 'id', '') !~ '^evt_[A-Za-z0-9_]+$'
    or p_event ->> 'type' is null
    or pg_catalog.jsonb_typeof(p_event -> 'created') is distinct from 'number'
    or pg_catalog.jsonb_typeof(v_object) is distinct from 'object'
  then
    raise exception 'not a Stripe event' using errcode = '22023';
  end if;

  insert into public.stripe_events (
    id, type, created, livemode, api_version, checkout_session_id, payment_intent_id,
    object_id, payment_fact, amount_total, currency, payload
  )
  values (
    p_event ->> 'id',
    p_event ->> 'type',
    pg_catalog.to_timestamp((p_event ->> 'created')::double precision),
    coalesce((p_event ->> 'livemode')::boolean, false),
    p_event ->> 'api_version',
    case when v_is_session then v_object ->> 'id' end,
    nullif(v_object ->> 'payment_intent', ''),
    v_object ->> 'id',
    private.payment_fact(p_event ->> 'type', v_object),
    case when v_is_session then private.json_amount(v_object -> 'amount_total') end,
    case when v_is_session then pg_catalog.lower(v_object ->> 'currency') end,
    p_event
  )
  on conflict (id) do nothing;

  if found then
    return 'new';
  end if;

  select e.outcome into v_previous from public.stripe_events as e where e.id = p_event ->> 'id' for update;
  if v_previous = 'error' then
    update public.stripe_events set error = null where id = p_event ->> 'id';
    return 'retry';
  end if;
  return 'duplicate';
end;
$$;

revoke all on function
  private.payment_fact(text, jsonb),
  private.json_amount(jsonb),
  private.store_event(jsonb)
from public, anon, authenticated, service_role;

-- =============================================================================================
-- data: events stored before this migration
-- =============================================================================================

update public.stripe_events as e
set
  object_id = e.payload -> 'data' -> 'object' ->> 'id',
  payment_fact = private.payment_fact(e.type, e.payload -> 'data' -> 'object'),
  amount_total = case
    when e.checkout_session_id is not null
      then private.json_amount(e.payload -> 'data' -> 'object' -> 'amount_total')
  end,
  currency = case
    when e.checkout_session_id is not null then pg_catalog.lower(e.payload -> 'data' -> 'object' ->> 'currency')
  end;
