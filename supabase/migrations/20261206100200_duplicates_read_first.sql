-- Duplicates read first: a redelivered event writes nothing.
--
-- store_event locked a stored event's row (select … for update) before deciding it was a
-- duplicate, so every redelivery took a transaction id, wrote a WAL record and waited for a WAL
-- flush at commit. It now reads the stored outcome first, and only a failed event (outcome
-- 'error', to be applied again) is locked and read again under the lock. Measured with
-- `make bench` (wal_bytes_per_duplicate): 88 bytes of WAL per duplicate before, 0 after.

-- =============================================================================================
-- functions
-- =============================================================================================

create or replace function private.store_event(p_event jsonb)
returns text
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_object jsonb := p_event -> 'data' -> 'object';
  v_is_session boolean := v_object ->> 'object' = 'checkout.session';
  v_is_charge boolean := v_object ->> 'object' = 'charge';
  v_method jsonb := v_object -> 'payment_method_details';
  v_livemode boolean := coalesce((p_event ->> 'livemode')::boolean, false);
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

  select e.outcome into v_previous from public.stripe_events as e where e.id = p_event ->> 'id';
  if found and v_previous is distinct from 'error' then
    return 'duplicate';
  end if;

  insert into public.stripe_events (
    id, type, created, livemode, api_version, checkout_session_id, payment_intent_id,
    object_id, payment_fact, amount_total, currency, payload,
    payment_method_type, card_brand, card_last4, receipt_url, amount_refunded
  )
  values (
    p_event ->> 'id',
    p_event ->> 'type',
    pg_catalog.to_timestamp((p_event ->> 'created')::double precision),
    v_livemode,
    p_event ->> 'api_version',
    case when v_is_session and private.is_checkout_session_id(v_object ->> 'id') then v_object ->> 'id' end,
    nullif(v_object ->> 'payment_intent', ''),
    v_object ->> 'id',
    private.payment_fact(p_event ->> 'type', v_object),
    case when v_is_session then private.json_amount(v_object -> 'amount_total') end,
    case when v_is_session then pg_catalog.lower(v_object ->> 'currency') end,
    p_event,
    case when v_is_charge then private.json_word(v_method -> 'type', '^[a-z0-9_]{1,50}$') end,
    case when v_is_charge then private.json_word(v_method -> 'card' -> 'brand', '^[a-z0-9_]{1,30}$') end,
    case when v_is_charge then private.json_word(v_method -> 'card' -> 'last4', '^[0-9]{4}$') end,
    case when v_is_charge then private.receipt_url(private.json_word(v_object -> 'receipt_url', '.'), v_livemode) end,
    case when v_is_charge and private.json_amount(v_object -> 'amount_refunded') >= 0 then
      private.json_amount(v_object -> 'amount_refunded') end
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
