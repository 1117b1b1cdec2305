-- Invoices for learners who need one: the paid invoice's page beside the receipt.
--
-- With CHECKOUT_INVOICES=true (default off: Stripe charges for invoices) the sidecar creates
-- Checkout Sessions with invoice_creation[enabled]=true, and Stripe finalizes an invoice paid by
-- the session's payment. Its invoice.paid event is handled only as far as the link needs: the
-- invoice's hosted_invoice_url is kept on the event (stripe_events.invoice_url, under the
-- receipt_url rule: https, or the offline stand-in's own pages in test mode; anything else is
-- dropped when the event is stored) and put on the Checkout Session whose `invoice` names it
-- (checkout_sessions.invoice_id, invoice_url), in whichever order the two arrive. purchase_list()
-- gains invoice_url (a column cannot be added to a function's result with `create or replace`,
-- so it is dropped and made again, with its grants). Nothing about access depends on it.

-- =============================================================================================
-- tables
-- =============================================================================================

alter table public.stripe_events
add column invoice_url public.receipt_url;

alter table public.stripe_events
add constraint stripe_events_live_invoice_url_https
check (invoice_url is null or not livemode or invoice_url like 'https://%') not valid;

alter table public.stripe_events validate constraint stripe_events_live_invoice_url_https;

alter table public.checkout_sessions
add column invoice_id text,
add column invoice_url public.receipt_url;

alter table public.checkout_sessions
add constraint checkout_sessions_invoice_format check (invoice_id ~ '^in_[A-Za-z0-9_]+$') not valid;

alter table public.checkout_sessions validate constraint checkout_sessions_invoice_format;

-- =============================================================================================
-- indexes
-- =============================================================================================

-- a session naming its invoice finds the invoice's page (private.settle_payment_record)
create index stripe_events_invoice_idx on public.stripe_events (object_id)
where invoice_url is not null;

create index checkout_sessions_invoice_idx on public.checkout_sessions (invoice_id)
where invoice_id is not null;

-- =============================================================================================
-- functions
-- =============================================================================================

-- Store a verified event with the facts the purchase rules need. Returns 'new', 'retry' (an
-- earlier attempt failed with an error and is processed again) or 'duplicate'. Concurrent
-- callers with one event id serialise on the primary key: the second waits for the first and
-- then sees its row. checkout_session_id is the object's id only when that is a Checkout
-- Session id (object_id keeps it either way).
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

-- Re-derive the payment record of the sessions paid with one payment intent (normally one)
-- from every event stored for it, so that any arrival order ends the same: how it was paid and
-- its receipt (from the newest charge event that says), what has been refunded and when that
-- total was reached (private.refund_timeline: refunds that failed or were canceled do not
-- count; a full refund counts as the whole amount even if its payload was cleared before the
-- amount was taken out), and its disputes (each by id: lost once any event says
-- lost, won once closed otherwise, open until then). The record is what the Purchases page
-- shows; access is settle_purchase's alone. The caller holds the payment intent's lock.
create or replace function private.settle_payment_record(p_payment_intent text)
returns void
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_method record;
  v_refund record;
  v_dispute_status text;
begin
  if p_payment_intent is null then
    return;
  end if;

  select e.payment_method_type, e.card_brand, e.card_last4, e.receipt_url into v_method
  from public.stripe_events as e
  where
    e.payment_intent_id = p_payment_intent
    and (e.payment_method_type is not null or e.card_last4 is not null or e.receipt_url is not null)
    and e.outcome is distinct from 'error'
  order by e.created desc, e.id desc
  limit 1;

  select t.in_full, t.amount_refunded as amount, t.refunded_since as created into v_refund
  from private.refund_timeline(
    p_payment_intent,
    (select pg_catalog.max(s.amount_total) from public.checkout_sessions as s where s.stripe_payment_intent_id = p_payment_intent)
  ) as t
  order by t.step desc
  limit 1;

  select case
    when pg_catalog.bool_or(d.status = 'open') then 'open'
    when pg_catalog.bool_or(d.status = 'lost') then 'lost'
    when pg_catalog.bool_or(d.status = 'won') then 'won'
  end into v_dispute_status
  from (
    select case
      when pg_catalog.bool_or(e.payment_fact = 'dispute_lost') then 'lost'
      when pg_catalog.bool_or(e.payment_fact = 'dispute_won') then 'won'
      else 'open'
    end as status
    from public.stripe_events as e
    where
      e.payment_intent_id = p_payment_intent
      and e.payment_fact in ('dispute_opened', 'dispute_won', 'dispute_lost')
      and e.outcome is distinct from 'error'
    group by e.object_id
  ) as d;

  update public.checkout_sessions as s
  set
    payment_method_type = v_method.payment_method_type,
    card_brand = v_method.card_brand,
    card_last4 = v_method.card_last4,
    receipt_url = v_method.receipt_url,
    amount_refunded = n.amount_refunded,
    refunded_at = n.refunded_at,
    dispute_status = v_dispute_status
  from (
    select r.session_id, r.amount_refunded, case when r.amount_refunded > 0 then v_refund.created end as refunded_at
    from (
      select
        s2.id as session_id,
        case
          when v_refund.in_full then greatest(v_refund.amount, s2.amount_total)
          else coalesce(v_refund.amount, 0)
        end as amount_refunded
      from public.checkout_sessions as s2
      where s2.stripe_payment_intent_id = p_payment_intent
    ) as r
  ) as n
  where
    s.id = n.session_id
    and (s.payment_method_type, s.card_brand, s.card_last4, s.receipt_url, s.amount_refunded, s.refunded_at, s.dispute_status)
    is distinct from
    (v_method.payment_method_type, v_method.card_brand, v_method.card_last4, v_method.receipt_url,
     n.amount_refunded, n.refunded_at, v_dispute_status);

  -- the paid invoice's page (invoice_creation), if its invoice.paid came before the session
  update public.checkout_sessions as s
  set
    invoice_url = (
      select e.invoice_url from public.stripe_events as e
      where e.object_id = s.invoice_id and e.invoice_url is not null
      order by e.created desc, e.id desc
      limit 1
    )
  where s.stripe_payment_intent_id = p_payment_intent and s.invoice_id is not null and s.invoice_url is null;
end;
$$;

-- Validate a Checkout Session (paid, pending, open or expired) against what is stored (or,
-- for a session never seen, against the lesson price) and apply it. Returns the outcome word.
-- p_source and p_event_id say where the claim came from, for a contradiction's record. The
-- caller has stored the event (if any) and handles errors.
create or replace function private.apply_checkout_session(
  p_session jsonb,
  p_seen_at timestamptz,
  p_source text,
  p_event_id text default null
)
returns text
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_refs record := private.session_refs(p_session);
  v_session_id text := v_refs.session_id;
  v_user_id uuid := v_refs.user_id;
  v_lesson_id uuid := v_refs.lesson_id;
  v_amount bigint := (p_session ->> 'amount_total')::bigint;
  v_currency text := pg_catalog.lower(p_session ->> 'currency');
  v_payment_intent text := nullif(p_session ->> 'payment_intent', '');
  v_customer text := nullif(p_session ->> 'customer', '');
  v_invoice text := private.json_word(p_session -> 'invoice', '^in_[A-Za-z0-9_]+$');
  v_status text := private.session_status(p_session);
  v_paid boolean := p_session ->> 'payment_status' = 'paid';
  v_row public.checkout_sessions;
  v_before public.purchased_lessons;
  v_contradicts text[];
  v_reason text;
  v_fulfilment text;
begin
  if v_refs.problem = 'not_a_checkout_session' then
    return private.refusal(v_paid, v_refs.problem);
  end if;

  perform private.lock('checkout_session', v_session_id);
  if v_payment_intent is not null then
    perform private.lock('payment_intent', v_payment_intent);
  end if;

  select * into v_row from public.checkout_sessions where id = v_session_id;
  if found then
    perform private.lock('purchase', v_row.user_id::text || ':' || v_row.lesson_id::text);
    v_contradicts := private.session_contradictions(v_row, p_session, true);
    if pg_catalog.cardinality(v_contradicts) > 0 then
      return private.record_contradiction(v_row, p_session, v_contradicts, p_source, p_event_id);
    end if;
    if v_row.payment_status = 'paid' or v_row.fulfilment like 'rejected:%' then
      -- decided: the same claims again, so the same verdict
      v_reason := case when v_row.fulfilment like 'rejected:%' then pg_catalog.substr(v_row.fulfilment, 10) end;
    elsif v_user_id <> v_row.user_id or v_lesson_id <> v_row.lesson_id then
      v_reason := 'session_mismatch';
    elsif v_amount is distinct from v_row.amount_total then
      v_reason := 'amount_mismatch';
    elsif v_currency is distinct from v_row.currency then
      v_reason := 'currency_mismatch';
    end if;
  else
    if v_refs.problem = 'not_a_lesson_checkout' then
      return 'ignored:not_a_lesson_checkout';
    end if;
    if v_refs.problem is not null then
      return private.refusal(v_paid, v_refs.problem);
    end if;
    perform private.lock('purchase', v_user_id::text || ':' || v_lesson_id::text);
    -- a session we have no row for (its attach never ran): check it against the lesson price
    v_reason := private.price_problem(p_session, v_user_id, v_lesson_id);
    if v_reason in ('unknown_lesson', 'unknown_user') then
      return private.refusal(v_paid, v_reason);
    end if;
    insert into public.checkout_sessions (
      id, user_id, lesson_id, amount_total, currency, status, expires_at, created_at
    )
    values (
      v_session_id, v_user_id, v_lesson_id, coalesce(v_amount, 0),
      coalesce(v_currency, (select l.currency from public.lessons as l where l.id = v_lesson_id)),
      'open',
      coalesce(pg_catalog.to_timestamp((p_session ->> 'expires_at')::double precision), pg_catalog.now()),
      coalesce(pg_catalog.to_timestamp((p_session ->> 'created')::double precision), pg_catalog.now())
    )
    returning * into v_row;
  end if;

  if p_session ->> 'payment_status' = 'no_payment_required' then
    v_reason := coalesce(v_reason, 'no_payment_required');
  end if;
  -- its invoice.paid may be stored at this very moment (apply_invoice_event takes this lock)
  if v_invoice is not null then
    perform private.lock('invoice', v_invoice);
  end if;

  update public.checkout_sessions as s
  set
    -- a payment is the last word, even on a session we had already taken for expired
    status = case
      when v_paid then 'complete'
      when private.session_status_rank(v_status) > private.session_status_rank(s.status) then v_status
      else s.status
    end,
    payment_status = case when v_paid then 'paid' else s.payment_status end,
    paid_at = case when v_paid then least(s.paid_at, p_seen_at) else s.paid_at end,
    stripe_payment_intent_id = coalesce(s.stripe_payment_intent_id, v_payment_intent),
    stripe_customer_id = coalesce(s.stripe_customer_id, v_customer),
    invoice_id = coalesce(s.invoice_id, v_invoice),
    url = case when v_status = 'open' then s.url end,
    -- a session first rejected keeps the claims it was rejected for, so that the same
    -- claims again are no contradiction and different ones are
    amount_total = case when s.fulfilment is null and v_reason is not null then coalesce(v_amount, s.amount_total)
      else s.amount_total end,
    currency = case when s.fulfilment is null and v_reason is not null then coalesce(v_currency, s.currency)
      else s.currency end,
    -- decided once: a rejected session never grants, paid or not
    fulfilment = case when v_reason is not null then 'rejected:' || v_reason else s.fulfilment end
  where s.id = v_session_id;

  -- a charge event may have come first: its facts join the session's record now
  if v_payment_intent is not null then
    perform private.settle_payment_record(v_payment_intent);
  end if;

  if v_reason is not null then
    return private.refusal(v_paid, v_reason);
  end if;
  if not v_paid then
    return case v_status when 'open' then 'ignored:still_open' when 'expired' then 'expired' else 'pending' end;
  end if;

  select * into v_before from public.purchased_lessons where user_id = v_row.user_id and lesson_id = v_row.lesson_id;
  perform private.settle_purchase(v_row.user_id, v_row.lesson_id);
  select s.fulfilment into v_fulfilment from public.checkout_sessions as s where s.id = v_session_id;

  if v_fulfilment = 'already_owned' then
    return 'already_owned';
  end if;
  if v_before.stripe_checkout_session_id is not distinct from v_session_id then
    return 'duplicate';
  end if;
  return 'recorded';
end;
$$;

-- invoice.paid of a Checkout post-payment invoice (invoice_creation): its hosted page, kept on
-- the event when it was stored (invoice_url: the receipt_url rule, https or the stand-in's own
-- pages in test mode), is put on the session whose `invoice` it is, for the Purchases page.
-- Nothing about access depends on it. A session that names the invoice later picks the page up
-- then (settle_payment_record); an invoice no session names is someone else's, or early.
create or replace function private.apply_invoice_event(p_event_id text, p_object jsonb)
returns text
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_invoice text := private.json_word(p_object -> 'id', '^in_[A-Za-z0-9_]+$');
  v_url text;
begin
  if v_invoice is null then
    return 'ignored:not_an_invoice';
  end if;
  select e.invoice_url into v_url from public.stripe_events as e where e.id = p_event_id;
  if v_url is null then
    return 'ignored:no_invoice_url';
  end if;
  -- a session naming this invoice may be being recorded at this very moment
  perform private.lock('invoice', v_invoice);
  update public.checkout_sessions as s set invoice_url = v_url
  where s.invoice_id = v_invoice and s.invoice_url is distinct from v_url;
  if found or exists (select 1 from public.checkout_sessions as s where s.invoice_id = v_invoice) then
    return 'applied';
  end if;
  return 'ignored:unknown_invoice';
end;
$$;

-- Run one step for a stored event, recording its outcome; an unexpected error is recorded on
-- the event (which stays stored) instead of losing it, and the event is processed again when
-- Stripe redelivers it.
--
-- A lock timeout, a deadlock or a serialization failure is different: it says nothing about
-- the event and the same call succeeds a moment later. Those leave the sub-transaction as they
-- came, so the call fails, nothing is stored, and the sidecar retries it or answers 503 so
-- that Stripe redelivers at once rather than the event waiting for reconcile. (query_canceled,
-- from statement_timeout or the sidecar's call timeout, escapes too: a PL/pgSQL `others`
-- handler never catches it.)
create or replace function private.process_event(p_event jsonb)
returns text
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_id text := p_event ->> 'id';
  v_type text := p_event ->> 'type';
  v_object jsonb := p_event -> 'data' -> 'object';
  v_outcome text;
  v_state text;
  v_message text;
begin
  begin
    v_outcome := case
      when v_type in (
        'checkout.session.completed', 'checkout.session.async_payment_succeeded', 'checkout.session.expired'
      ) then
        private.apply_checkout_session(
          v_object, pg_catalog.to_timestamp((p_event ->> 'created')::double precision), 'event', v_id
        )
      when v_type = 'checkout.session.async_payment_failed' then
        private.close_checkout_session(v_object, 'failed', v_id)
      when v_type in ('charge.succeeded', 'charge.refunded', 'charge.dispute.created', 'charge.dispute.closed') then
        private.apply_charge_event(v_type, v_object)
      when v_type in ('refund.created', 'refund.updated', 'refund.failed', 'charge.refund.updated') then
        private.apply_refund_event(v_type, v_object)
      when v_type = 'invoice.paid' then
        private.apply_invoice_event(v_id, v_object)
      else 'ignored'
    end;
  exception
    when transaction_rollback or lock_not_available then
      -- transient: fail the whole call (the event is not stored) so that it is retried
      raise;
    when others then
      get stacked diagnostics v_state = returned_sqlstate, v_message = message_text;
      perform private.finish_event(v_id, 'error', v_state || ': ' || left(v_message, 500));
      return 'error';
  end;
  perform private.finish_event(v_id, v_outcome);
  return v_outcome;
end;
$$;

drop function public.purchase_list();

-- The Purchases page: one row per Checkout Session of the caller's that reached payment
-- (processing, failed, or paid, whatever happened to it since), newest first. occurred_at is
-- when it was paid (paid_at), or when a payment still processing or failed was started;
-- payment_method_* and receipt_url are as Stripe reported the charge (null until a charge
-- event came); payment_reference is the PaymentIntent id a learner can quote to support;
-- refunded_amount and refunded_at are null when nothing was refunded; invoice_url is the paid
-- invoice's page when the session was created with an invoice (CHECKOUT_INVOICES), else null
-- (the receipt_url rule: https, or the stand-in's own pages in test mode). id is the Checkout
-- Session id, cast to text: return query takes the declared column type exactly, not the
-- public.checkout_session_id domain (the same for receipt_url and invoice_url).
create function public.purchase_list()
returns table (
  id text,
  lesson_id uuid,
  slug text,
  title text,
  amount_total bigint,
  currency text,
  status public.payment_state,
  occurred_at timestamptz,
  payment_method_type text,
  payment_method_brand text,
  payment_method_last4 text,
  payment_reference text,
  refunded_amount bigint,
  refunded_at timestamptz,
  receipt_url text,
  invoice_url text
)
language plpgsql
stable
security invoker
set search_path = ''
as $$
#variable_conflict use_column
begin
  return query
  select
    s.id::text,
    s.lesson_id,
    l.slug,
    l.title,
    s.amount_total,
    s.currency,
    case
      when s.status = 'processing' then 'processing'
      when s.status = 'failed' then 'failed'
      when s.dispute_status = 'open' then 'disputed'
      when s.dispute_status = 'lost' then 'dispute_lost'
      when s.amount_refunded > 0 and s.amount_refunded >= s.amount_total then 'refunded'
      when s.dispute_status = 'won' then 'dispute_won'
      when s.amount_refunded > 0 then 'partly_refunded'
      else 'paid'
    end::public.payment_state,
    coalesce(s.paid_at, s.created_at),
    s.payment_method_type,
    s.card_brand,
    s.card_last4,
    s.stripe_payment_intent_id,
    nullif(s.amount_refunded, 0),
    s.refunded_at,
    s.receipt_url::text,
    s.invoice_url::text
  from public.checkout_sessions as s
  inner join public.lessons as l on s.lesson_id = l.id
  where s.user_id = (select auth.uid()) and (s.payment_status = 'paid' or s.status in ('processing', 'failed'))
  order by coalesce(s.paid_at, s.created_at) desc, s.id desc;
end;
$$;

comment on function public.purchase_list() is
'The caller''s payments (Purchases page), newest first: one row per Checkout Session that reached payment, its status in words.';

-- =============================================================================================
-- grants
-- =============================================================================================

revoke all on function private.apply_invoice_event(text, jsonb) from public, anon, authenticated, service_role;

revoke execute on function public.purchase_list() from public, anon, authenticated;
grant execute on function public.purchase_list() to authenticated, service_role;
