-- The Stripe event log: every verified event, stored before it is acted on.
--
-- The primary key is the idempotency guard: a redelivered event finds its row and is a
-- duplicate. When an event is stored, everything a later decision needs is taken out of its
-- payload once: the object's id (the dispute id), what the event says about its payment
-- intent, and the amount and currency a Checkout Session event claims. The purchase rules,
-- the attention list and reconcile read those columns, never the payload, which holds buyers'
-- names and emails and is cleared once no longer needed (retention.sql).
--
-- A Checkout Session id is the domain public.checkout_session_id, declared here because the
-- event log is the first table to hold one; every later column holding one (purchases.sql)
-- is of that domain, and the functions test a text against the domain itself through
-- private.is_checkout_session_id. (The sidecar's own definition is sidecar/stripe_ids.py; both
-- are tested against tests/cases/checkout_session_ids.json.)
--
-- An event's outcome is one of the known outcome words, and the reason an event was ignored or
-- rejected has a column of its own, outcome_reason. The functions still answer the same words
-- ('rejected:amount_mismatch'): private.finish_event splits a word once, as it stores it.

-- =============================================================================================
-- domains
-- =============================================================================================

-- Checkout Session id, e.g. cs_test_a1YS1URlnyQCN5fUUduORoQ7Pw41PJqDWkIVQCpJPqkfIhd6tVY8XB1OLY;
-- at most 250 characters after cs_ (what the indexes on these columns take)
create domain public.checkout_session_id as text
constraint checkout_session_id_format check (value ~ '^cs_[A-Za-z0-9_]{1,250}$');

comment on domain public.checkout_session_id is
'A Stripe Checkout Session id (cs_…): the one SQL definition of its shape.';

-- A charge's receipt page, e.g. https://pay.stripe.com/receipts/payment/CAcaFwoV…, shown to the
-- learner as a link (never as HTML). https only, except the offline Stripe stand-in's own
-- pages on this machine (http://127.0.0.1:12111/…, http://localhost:12111/…); a live-mode event
-- may not use even those (stripe_events_live_receipt_url_https, private.receipt_url). No
-- spaces, quotes or angle brackets, at most 2,048 characters.
create domain public.receipt_url as text
constraint receipt_url_format check (
  length(value) <= 2048
  and (
    value ~ '^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[^[:space:][:cntrl:]"<>\\`]*)?$'
    or value ~ '^http://(127\.0\.0\.1|localhost)(:[0-9]{1,5})?(/[^[:space:][:cntrl:]"<>\\`]*)?$'
  )
);

comment on domain public.receipt_url is
'A Stripe receipt link: https, or the offline stand-in''s http://127.0.0.1 / localhost in test mode only.';

-- =============================================================================================
-- tables
-- =============================================================================================

create table public.stripe_events (
  -- Event id, e.g. evt_1Pgc76B7WZ01zgkWwyRHS12y
  id text primary key constraint stripe_events_id_format check (id ~ '^evt_[A-Za-z0-9_]+$'),
  type text not null,
  -- Stripe's created time of the event
  created timestamptz not null,
  livemode boolean not null default false,
  api_version text,
  received_at timestamptz not null default now(),
  processed_at timestamptz,
  -- what applying the event did: one of the outcome words (null until processed). Text with a
  -- CHECK rather than an enum, as every other status in this schema: a new word is added by
  -- replacing the constraint in the migration whose function first writes it, whereas an enum
  -- value added by `alter type … add value` cannot be used in the transaction that adds it (a
  -- migration of its own, before) and can never be removed.
  outcome text
    constraint stripe_events_outcome_check
    check (
      outcome in (
        'recorded', 'duplicate', 'already_owned', 'pending', 'failed', 'expired', 'revoked', 'restored',
        'deferred', 'applied', 'ignored', 'rejected', 'error'
      )
    ),
  error text,
  -- Checkout Session id the event is about, e.g. cs_test_a1YS1URlnyQCN5fU… (null when the
  -- event's object is not a Checkout Session; object_id keeps the object's id either way)
  checkout_session_id public.checkout_session_id,
  -- PaymentIntent id the event is about, e.g. pi_3MtwBwLkdIwHu7ix28a3tqPa
  payment_intent_id text,
  -- the event as Stripe sent it; null once cleared by prune_stripe_event_payloads
  payload jsonb,
  -- id of the event's object: Checkout Session cs_test_a1…, Charge ch_3MtwBw…, Dispute dp_1Mt…
  object_id text,
  -- what the event says about its payment intent (null when it says nothing that revokes):
  -- 'refund' (charge fully refunded), 'partial_refund', 'dispute_opened', 'dispute_won'
  -- (won or inquiry closed) or 'dispute_lost'
  payment_fact text
    constraint stripe_events_payment_fact_check
    check (payment_fact in ('refund', 'partial_refund', 'dispute_opened', 'dispute_won', 'dispute_lost')),
  -- amount and currency a Checkout Session event claims (shown to an operator when it is rejected)
  amount_total bigint,
  currency text,
  -- when the payload was cleared (null while it is kept)
  payload_cleared_at timestamptz,
  -- why the event was ignored or rejected, e.g. 'amount_mismatch' (null for the other outcomes,
  -- and for an event ignored only because the shop does not handle its type); last, as it was
  -- added after the others (a column's place in the dump is its position)
  outcome_reason text,
  -- what a charge event says about the charge (null for other objects), taken out when it is
  -- stored so that the Purchases page keeps them once the payload is cleared: Stripe's
  -- payment_method_details.type (e.g. 'card'), the card's brand ('visa') and last4 ('4242'),
  -- the receipt_url, and amount_refunded (what has been refunded of the charge so far)
  payment_method_type text,
  card_brand text,
  card_last4 text,
  receipt_url public.receipt_url,
  amount_refunded bigint,
  -- what a refund event (refund.created, refund.updated, refund.failed, charge.refund.updated)
  -- says about its refund (object_id, e.g. re_3MtwBwLkdIwHu7ix0Y7ATkpS; null for other
  -- objects): its status ('pending', 'requires_action', 'succeeded', 'failed' or 'canceled'),
  -- amount and Stripe's created time of the refund itself (not of the event)
  refund_status text,
  refund_amount bigint,
  refund_created timestamptz,
  -- invoice.paid of a Checkout post-payment invoice: its hosted_invoice_url (the page a learner
  -- opens for the invoice), under the receipt_url rule (private.receipt_url)
  invoice_url public.receipt_url,
  -- whether the event still needs work: it failed (error), waits for its purchase (deferred) or
  -- was rejected. Derived here so that the partial index of these events filters on this
  -- column, not on outcome: recording the usual outcomes ('recorded', 'applied', …) then changes
  -- no indexed column, and finish_event's update is HOT (no new index entries)
  unsettled boolean generated always as (coalesce(outcome in ('error', 'deferred', 'rejected'), false)) stored,
  constraint stripe_events_payload_kept_or_cleared check ((payload is null) = (payload_cleared_at is not null)),
  constraint stripe_events_outcome_reason_check check (
    outcome_reason is null or (outcome_reason ~ '^[a-z_]+$' and outcome in ('ignored', 'rejected'))
  ),
  constraint stripe_events_rejected_has_reason check (outcome <> 'rejected' or outcome_reason is not null),
  constraint stripe_events_live_receipt_url_https check (receipt_url is null or not livemode or receipt_url like 'https://%'),
  constraint stripe_events_live_invoice_url_https check (invoice_url is null or not livemode or invoice_url like 'https://%'),
  constraint stripe_events_charge_facts_format check (
    payment_method_type ~ '^[a-z0-9_]{1,50}$'
    and card_brand ~ '^[a-z0-9_]{1,30}$'
    and card_last4 ~ '^[0-9]{4}$'
    and amount_refunded >= 0
  ),
  constraint stripe_events_refund_facts_format check (
    refund_status in ('pending', 'requires_action', 'succeeded', 'failed', 'canceled')
    and refund_amount >= 0
  )
);

comment on table public.stripe_events is 'Every verified Stripe event, stored before it is acted on. The primary key is the idempotency guard.';
comment on column public.stripe_events.payload is
'The event as Stripe sent it (buyers'' names and emails): cleared by prune_stripe_event_payloads once processed.';
comment on column public.stripe_events.outcome is
'What applying the event did (null until processed); why it was ignored or rejected is in outcome_reason.';
comment on column public.stripe_events.payment_fact is
'What the event says about payment_intent_id; the purchase rules read this, never the payload.';

-- =============================================================================================
-- indexes: every column a purchase function filters on
-- =============================================================================================

create index stripe_events_payment_intent_idx on public.stripe_events (payment_intent_id)
  where payment_intent_id is not null;
create index stripe_events_checkout_session_idx on public.stripe_events (checkout_session_id)
  where checkout_session_id is not null;
-- failed, deferred and rejected events (payments_needing_attention)
create index stripe_events_unsettled_idx on public.stripe_events (received_at)
  where unsettled;

-- settle_purchase joins a purchase's payment intents to the refund and dispute events stored
-- for them. A connection that planned that join while stripe_events was empty kept a plan that
-- reads the whole table, and a pooled connection's CPU per purchase then grew with every event
-- stored (`make bench`, cold_plan_drift: 1.6 to 3.0 ms over 10,000 purchases). This index holds
-- only the events that state a revocation, so it stays small and any plan finds them by
-- payment intent.
create index stripe_events_payment_facts_idx on public.stripe_events (payment_intent_id)
  where payment_fact in ('refund', 'dispute_opened', 'dispute_won', 'dispute_lost');

-- A refund's lifecycle is read back by payment intent (private.refund_timeline, with the
-- partial index's own predicate so that any plan uses it), and a refund's id is checked against
-- the payment intent its first event named (private.apply_refund_event).
create index stripe_events_refunds_idx on public.stripe_events (payment_intent_id)
  where payment_fact in ('refund', 'partial_refund') or refund_status is not null;
create index stripe_events_refund_object_idx on public.stripe_events (object_id)
  where refund_status is not null;
-- a session naming its invoice finds the invoice's page (private.settle_payment_record)
create index stripe_events_invoice_idx on public.stripe_events (object_id)
  where invoice_url is not null;

-- =============================================================================================
-- row level security
-- =============================================================================================

alter table public.stripe_events enable row level security;

-- no policies: written by the purchase functions, read by service_role only

-- =============================================================================================
-- private helpers: storing an event and recording its outcome
-- =============================================================================================

-- Whether p_text is a Checkout Session id, asked of the domain itself so that its pattern is
-- written once (pg_input_is_valid, which would ask without an exception block, is Postgres 16+).
create or replace function private.is_checkout_session_id(p_text text)
returns boolean
language plpgsql
immutable
security invoker
set search_path = ''
as $$
begin
  perform p_text::public.checkout_session_id;
  return p_text is not null;
exception
  when check_violation then
    return false;
end;
$$;

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

-- A charge's receipt_url if it may be shown as a link: a public.receipt_url, and https when
-- the event is live (the stand-in's local http pages are for test mode only); null otherwise,
-- so a bad URL is dropped and the event is still stored.
create or replace function private.receipt_url(p_url text, p_livemode boolean)
returns text
language plpgsql
immutable
security invoker
set search_path = ''
as $$
begin
  perform p_url::public.receipt_url;
  return case when p_livemode and p_url not like 'https://%' then null else p_url end;
exception
  when check_violation then
    return null;
end;
$$;

-- The text at p_value when it matches p_pattern, else null (a payload's oddities must not stop
-- the event being stored).
create or replace function private.json_word(p_value jsonb, p_pattern text)
returns text
language sql
immutable
security invoker
set search_path = ''
as $$
  select case when pg_catalog.jsonb_typeof(p_value) = 'string' and p_value #>> '{}' ~ p_pattern then p_value #>> '{}' end;
$$;

-- Store a verified event with the facts the purchase rules need. Returns 'new', 'retry' (an
-- earlier attempt failed with an error and is processed again) or 'duplicate'. Concurrent
-- callers with one event id serialise on the primary key: the second waits for the first and
-- then sees its row. checkout_session_id is the object's id only when that is a Checkout
-- Session id (object_id keeps it either way).
--
-- A redelivery is read first: an event whose outcome is stored, and is not an error, is a
-- duplicate without a lock, a transaction id or a WAL record (a row lock cost each duplicate
-- all three, and a WAL flush at commit). Only a failed event is locked, and its outcome read
-- again under the lock, so that of two concurrent redeliveries one retries it and the other,
-- once the first has committed, sees what it recorded.
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
  v_is_refund boolean := v_object ->> 'object' = 'refund';
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
    payment_method_type, card_brand, card_last4, receipt_url, amount_refunded,
    refund_status, refund_amount, refund_created, invoice_url
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
      private.json_amount(v_object -> 'amount_refunded') end,
    case when v_is_refund then
      private.json_word(v_object -> 'status', '^(pending|requires_action|succeeded|failed|canceled)$') end,
    case when v_is_refund and private.json_amount(v_object -> 'amount') >= 0 then
      private.json_amount(v_object -> 'amount') end,
    case when v_is_refund and private.json_amount(v_object -> 'created') between 0 and 253402300799 then
      pg_catalog.to_timestamp(private.json_amount(v_object -> 'created')::double precision) end,
    case when v_object ->> 'object' = 'invoice' and p_event ->> 'type' = 'invoice.paid' then
      private.receipt_url(private.json_word(v_object -> 'hosted_invoice_url', '.'), v_livemode) end
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

-- The outcome of applying a stored event: the word the webhook answers, or 'error' with the
-- SQLSTATE and message. A word such as 'rejected:amount_mismatch' is stored split: the word
-- before the colon in outcome, the reason after it in outcome_reason.
create or replace function private.finish_event(p_event_id text, p_outcome text, p_error text default null)
returns void
language sql
security invoker
set search_path = ''
as $$
  update public.stripe_events
  set
    outcome = pg_catalog.split_part(p_outcome, ':', 1),
    outcome_reason = case
      when pg_catalog.strpos(p_outcome, ':') > 0 then pg_catalog.substr(p_outcome, pg_catalog.strpos(p_outcome, ':') + 1)
    end,
    error = p_error,
    processed_at = pg_catalog.now()
  where id = p_event_id;
$$;

revoke all on function
  private.is_checkout_session_id(text),
  private.payment_fact(text, jsonb),
  private.json_amount(jsonb),
  private.receipt_url(text, boolean),
  private.json_word(jsonb, text),
  private.store_event(jsonb),
  private.finish_event(text, text, text)
from public, anon, authenticated, service_role;

-- =============================================================================================
-- grants: service_role only
-- =============================================================================================

revoke all on public.stripe_events from anon, authenticated;
grant all on public.stripe_events to service_role;
