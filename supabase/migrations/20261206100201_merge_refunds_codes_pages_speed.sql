-- One definition for the objects four lines of work changed at once.
--
-- Refunds as Stripe runs them (20261205200000…), promotion codes (20261205500000), lesson pages
-- (20261205600000) and the speed work (20261206100000…) were written side by side, and each
-- migration carries whole bodies of functions the others changed too, so the last one applied
-- would undo the others' changes. This migration makes each object what supabase/schemas says,
-- which holds all of them: apply_checkout_session, process_event (refund.*, invoice.paid and
-- promotion_code.* events), session_contradictions, settle_payment_record (refunds in full are
-- counted against what was charged, after any code), settle_purchase, store_event (duplicates
-- read first), lesson_catalog() (the caller's sessions and purchases read once, in the
-- operator's display order), purchase_list() (invoice_url, amount_discount, promotion_code) and
-- payments_needing_attention (the generated needs_attention and unsettled columns, deferred
-- events listed after an hour, refunds in full against what was charged).
-- Written by `make migration NAME=merge_refunds_codes_pages_speed`: supabase db diff
-- --use-pg-delta (Supabase CLI 2.117.0) from a database built by supabase db push to one built
-- from supabase/schemas; the grants the re-created view and function would take by default are
-- revoked as the schema declares.

set local check_function_bodies = off;

drop view public.payments_needing_attention;

drop function public.purchase_list();

create or replace function private.apply_checkout_session (
  p_session  jsonb,
  p_seen_at  timestamp with time zone,
  p_source   text,
  p_event_id text                     default null::text
)
  returns text
  language plpgsql
  set search_path to ''
  as $function$
declare
  v_refs record := private.session_refs(p_session);
  v_session_id text := v_refs.session_id;
  v_user_id uuid := v_refs.user_id;
  v_lesson_id uuid := v_refs.lesson_id;
  -- the price before any discount: what the purchase rules check (session_amounts)
  v_amounts record := private.session_amounts(p_session);
  v_amount bigint := v_amounts.subtotal;
  v_currency text := pg_catalog.lower(p_session ->> 'currency');
  v_payment_intent text := nullif(p_session ->> 'payment_intent', '');
  v_customer text := nullif(p_session ->> 'customer', '');
  v_invoice text := private.json_word(p_session -> 'invoice', '^in_[A-Za-z0-9_]+$');
  v_status text := private.session_status(p_session);
  v_paid boolean := private.session_paid(p_session);
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
    elsif not v_amounts.coherent then
      v_reason := 'amount_mismatch';
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

  if p_session ->> 'payment_status' = 'no_payment_required' and not v_paid then
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
    fulfilment = case when v_reason is not null then 'rejected:' || v_reason else s.fulfilment end,
    -- what a promotion code took off, as the session says until it is paid (a code may be
    -- applied and changed on the hosted page); a rejected session records none
    amount_discount = case
      when s.payment_status = 'paid' then s.amount_discount when v_reason is null then v_amounts.discount else 0
    end,
    promotion_code_id = case
      when s.payment_status = 'paid' then s.promotion_code_id when v_reason is null then v_amounts.promotion_code_id
    end,
    coupon_id = case
      when s.payment_status = 'paid' then s.coupon_id when v_reason is null then v_amounts.coupon_id
    end
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
$function$;

create or replace function private.process_event (
  p_event jsonb
)
  returns text
  language plpgsql
  set search_path to ''
  as $function$
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
      when v_type in ('promotion_code.created', 'promotion_code.updated') then
        private.apply_promotion_code(v_object, pg_catalog.to_timestamp((p_event ->> 'created')::double precision))
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
$function$;

create or replace function private.session_contradictions (
  p_row         public.checkout_sessions,
  p_session     jsonb,
  p_with_status boolean
)
  returns text[]
  language plpgsql
  stable
  set search_path to ''
  as $function$
declare
  v_refs record := private.session_refs(p_session);
  v_payment_intent text := nullif(p_session ->> 'payment_intent', '');
  v_customer text := nullif(p_session ->> 'customer', '');
  v_decided boolean := p_row.payment_status = 'paid' or p_row.fulfilment like 'rejected:%';
  v_amounts record := private.session_amounts(p_session);
  v_fields text[] := '{}'::text[];
begin
  if v_refs.problem is not null then
    v_fields := v_fields || case v_refs.problem
      when 'user_mismatch' then 'client_reference_id'
      when 'not_a_payment' then 'mode'
      else 'metadata'
    end;
  end if;
  if v_payment_intent <> p_row.stripe_payment_intent_id
    or (v_decided and p_row.stripe_payment_intent_id is null and v_payment_intent is not null)
  then
    v_fields := v_fields || 'payment_intent'::text;
  end if;
  if v_customer <> p_row.stripe_customer_id
    or (v_decided and p_row.stripe_customer_id is null and v_customer is not null)
  then
    v_fields := v_fields || 'customer'::text;
  end if;
  if v_decided or not p_with_status then
    if v_refs.problem is null and p_row.fulfilment is distinct from 'rejected:session_mismatch' then
      if v_refs.user_id <> p_row.user_id then
        v_fields := v_fields || 'user_id'::text;
      end if;
      if v_refs.lesson_id <> p_row.lesson_id then
        v_fields := v_fields || 'lesson_id'::text;
      end if;
    end if;
    if v_amounts.subtotal is distinct from p_row.amount_total then
      v_fields := v_fields || 'amount_total'::text;
    end if;
    if pg_catalog.lower(p_session ->> 'currency') is distinct from p_row.currency then
      v_fields := v_fields || 'currency'::text;
    end if;
  end if;
  if p_with_status and p_row.payment_status = 'paid' then
    if private.session_status(p_session) in ('open', 'expired') then
      v_fields := v_fields || 'status'::text;
    end if;
    if p_session ->> 'payment_status' = 'no_payment_required'
      and not private.session_paid(p_session)
      and p_row.fulfilment is distinct from 'rejected:no_payment_required'
    then
      v_fields := v_fields || 'payment_status'::text;
    end if;
    -- what a code took off is fixed once paid (a rejected session recorded none)
    if private.session_paid(p_session)
      and p_row.fulfilment not like 'rejected:%'
      and (v_amounts.discount, v_amounts.promotion_code_id, v_amounts.coupon_id)
      is distinct from (p_row.amount_discount, p_row.promotion_code_id, p_row.coupon_id)
    then
      v_fields := v_fields || 'discounts'::text;
    end if;
  end if;
  return v_fields;
end;
$function$;

create or replace function private.settle_payment_record (
  p_payment_intent text
)
  returns void
  language plpgsql
  set search_path to ''
  as $function$
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
    -- what was charged, after any promotion code: refunds adding up to it are a refund in full
    (select pg_catalog.max(s.amount_paid) from public.checkout_sessions as s where s.stripe_payment_intent_id = p_payment_intent)
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
          when v_refund.in_full then greatest(v_refund.amount, s2.amount_total - s2.amount_discount)
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
$function$;

create or replace function private.settle_purchase (
  p_user_id   uuid,
  p_lesson_id uuid
)
  returns void
  language plpgsql
  set search_path to ''
  as $function$
declare
  v_fact record;
  v_current public.checkout_sessions;
  v_status text;
  v_purchased_at timestamptz;
  v_refunded_at timestamptz;
  v_disputed_at timestamptz;
  -- the granting payment's disputes, by dispute id: 'open', 'won' or 'lost'
  v_disputes jsonb := '{}'::jsonb;
  -- earlier payments whose refund failed after the lesson was bought again
  v_paid_twice text[] := '{}'::text[];
  -- the granting payment's payment intents (its own, or one a contradiction claimed) now
  -- refunded in full: access comes back only when no refund of any of them stands
  v_refunded_intents jsonb := '{}'::jsonb;
begin
  for v_fact in
    with payments as (
      -- what was charged (a promotion code's discount is never refunded): refunds adding up to it are in full
      select s.id as session_id, s.stripe_payment_intent_id as payment_intent_id, s.paid_at, s.amount_paid as amount_total
      from public.checkout_sessions as s
      where
        s.user_id = p_user_id
        and s.lesson_id = p_lesson_id
        and s.payment_status = 'paid'
        and (s.fulfilment is null or s.fulfilment not like 'rejected:%')
    ),
    payment_intents as (
      select p.session_id, p.payment_intent_id, p.paid_at, p.amount_total from payments as p
      where p.payment_intent_id is not null
      union
      select p.session_id, c.payment_intent_id, p.paid_at, p.amount_total
      from payments as p
      join public.checkout_session_contradictions as c on c.checkout_session_id = p.session_id
      where c.payment_intent_id is not null
    )
    select
      'payment' as kind, p.paid_at as occurred_at, 2 as rank, p.session_id as ref, p.session_id,
      null as dispute_id, null as payment_intent_id
    from payments as p
    union all
    -- Stripe's times are whole seconds. A revocation never precedes its own payment, and one
    -- of an earlier payment comes before a new payment made in the same second (a refund,
    -- then a repurchase). A dispute's close may sort before its open: each dispute is tracked
    -- by its id below, so the order of the two does not matter.
    select
      e.payment_fact,
      greatest(e.created, i.paid_at),
      case when e.created > i.paid_at then 0 else 3 end,
      e.id, i.session_id,
      case when e.payment_fact like 'dispute_%' then e.object_id end,
      i.payment_intent_id
    from public.stripe_events as e
    join payment_intents as i on i.payment_intent_id = e.payment_intent_id
    where
      e.payment_fact in ('dispute_opened', 'dispute_won', 'dispute_lost')
      and e.outcome is distinct from 'error'
    union all
    -- refunds: when the payment became refunded in full, and when a refund's failure or
    -- cancellation made it stop being so (ordered within a second as the timeline found them)
    select
      r.fact, greatest(r.occurred_at, i.paid_at),
      case when r.occurred_at > i.paid_at then 0 else 3 end,
      pg_catalog.to_char(r.step, 'FM0000000000'), i.session_id, null, i.payment_intent_id
    from payment_intents as i
    cross join lateral private.refund_timeline(i.payment_intent_id, i.amount_total) as r
    where r.fact is not null
    order by occurred_at, rank, ref
  loop
    if v_fact.kind = 'payment' then
      if v_status is distinct from 'paid' then
        select * into v_current from public.checkout_sessions where id = v_fact.session_id;
        v_status := 'paid';
        v_purchased_at := v_fact.occurred_at;
        v_refunded_at := null;
        v_disputed_at := null;
        v_disputes := '{}'::jsonb;
        v_refunded_intents := '{}'::jsonb;
        update public.checkout_sessions set fulfilment = 'granted'
        where id = v_fact.session_id and fulfilment is distinct from 'granted';
      elsif v_current.id <> v_fact.session_id then
        update public.checkout_sessions set fulfilment = 'already_owned'
        where id = v_fact.session_id and fulfilment is distinct from 'already_owned';
      end if;
    elsif v_fact.kind = 'refund_failed' and v_status = 'paid' and v_current.id <> v_fact.session_id then
      -- the refund of an earlier payment failed after the learner had bought the lesson again:
      -- they paid twice, and the earlier payment is listed for a refund (already_owned)
      v_paid_twice := v_paid_twice || v_fact.session_id;
    elsif v_current.id = v_fact.session_id then
      if v_fact.kind = 'refund' then
        v_refunded_intents := v_refunded_intents || pg_catalog.jsonb_build_object(v_fact.payment_intent_id, true);
        if v_status in ('paid', 'disputed') then
          v_status := 'refunded';
          v_refunded_at := v_fact.occurred_at;
          v_disputed_at := null;
        end if;
      elsif v_fact.kind = 'refund_failed' then
        -- the refund failed or was canceled: the money stayed with the shop, so the lesson is
        -- the learner's again (paused instead while a dispute of the payment is open or lost)
        v_refunded_intents := v_refunded_intents - v_fact.payment_intent_id;
        if v_status = 'refunded' and v_refunded_intents = '{}'::jsonb then
          v_refunded_at := null;
          if exists (
            select 1 from pg_catalog.jsonb_each_text(v_disputes) as d where d.value in ('open', 'lost')
          ) then
            v_status := 'disputed';
            v_disputed_at := v_fact.occurred_at;
          else
            v_status := 'paid';
          end if;
        end if;
      else
        if v_fact.kind = 'dispute_lost' then
          v_disputes := v_disputes || pg_catalog.jsonb_build_object(v_fact.dispute_id, 'lost');
        elsif v_fact.kind = 'dispute_won' then
          -- a dispute lost stays lost, whatever a later event says
          if v_disputes ->> v_fact.dispute_id is distinct from 'lost' then
            v_disputes := v_disputes || pg_catalog.jsonb_build_object(v_fact.dispute_id, 'won');
          end if;
        elsif not v_disputes ? v_fact.dispute_id then
          v_disputes := v_disputes || pg_catalog.jsonb_build_object(v_fact.dispute_id, 'open');
        end if;
        -- access stays revoked while any dispute of the payment is open, or was lost
        if v_status <> 'refunded' then
          if exists (
            select 1 from pg_catalog.jsonb_each_text(v_disputes) as d where d.value in ('open', 'lost')
          ) then
            if v_status = 'paid' then
              v_status := 'disputed';
              v_disputed_at := v_fact.occurred_at;
            end if;
          elsif v_status = 'disputed' then
            v_status := 'paid';
            v_disputed_at := null;
          end if;
        end if;
      end if;
    end if;
  end loop;

  if v_status is null then
    return;
  end if;
  if pg_catalog.cardinality(v_paid_twice) > 0 then
    update public.checkout_sessions set fulfilment = 'already_owned'
    where id = any(v_paid_twice) and fulfilment is distinct from 'already_owned';
  end if;

  insert into public.purchased_lessons as p (
    user_id, lesson_id, status, amount_total, currency, stripe_checkout_session_id,
    stripe_payment_intent_id, stripe_customer_id, purchased_at, refunded_at, disputed_at
  )
  values (
    p_user_id, p_lesson_id, v_status, v_current.amount_total, v_current.currency, v_current.id,
    v_current.stripe_payment_intent_id, v_current.stripe_customer_id, v_purchased_at,
    v_refunded_at, v_disputed_at
  )
  on conflict (user_id, lesson_id) do update
  set
    status = excluded.status,
    amount_total = excluded.amount_total,
    currency = excluded.currency,
    stripe_checkout_session_id = excluded.stripe_checkout_session_id,
    stripe_payment_intent_id = excluded.stripe_payment_intent_id,
    stripe_customer_id = excluded.stripe_customer_id,
    purchased_at = excluded.purchased_at,
    refunded_at = excluded.refunded_at,
    disputed_at = excluded.disputed_at
  where (p.status, p.stripe_checkout_session_id, p.purchased_at, p.refunded_at, p.disputed_at)
    is distinct from
    (excluded.status, excluded.stripe_checkout_session_id, excluded.purchased_at,
     excluded.refunded_at, excluded.disputed_at);

  -- refunds and disputes that waited for this purchase have now been applied
  update public.stripe_events as e
  set
    outcome = case when e.type = 'charge.dispute.closed' or e.refund_status is not null then 'applied' else 'revoked' end,
    processed_at = pg_catalog.now()
  where
    e.outcome = 'deferred'
    and e.payment_intent_id in (
      select s.stripe_payment_intent_id from public.checkout_sessions as s
      where s.user_id = p_user_id and s.lesson_id = p_lesson_id and s.stripe_payment_intent_id is not null
      union all
      select c.payment_intent_id
      from public.checkout_session_contradictions as c
      join public.checkout_sessions as s on s.id = c.checkout_session_id
      where s.user_id = p_user_id and s.lesson_id = p_lesson_id and c.payment_intent_id is not null
    );
end;
$function$;

create or replace function private.store_event (
  p_event jsonb
)
  returns text
  language plpgsql
  set search_path to ''
  as $function$
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
$function$;

create or replace function public.lesson_catalog()
  returns table (
    id                uuid,
    slug              text,
    title             text,
    description       text,
    price_cents       bigint,
    currency          text,
    owned             boolean,
    pending           boolean,
    access            public.lesson_access,
    access_changed_at timestamp with time zone
  )
  language plpgsql
  stable
  set search_path to ''
  as $function$
#variable_conflict use_column
begin
  -- The caller's own sessions and purchases are read once each (a few rows through the
  -- (user_id, lesson_id) indexes) and joined to the lessons, rather than looked up lesson by
  -- lesson: a catalogue of 1,000 lessons made a thousand index probes and aggregates per call
  -- (`make bench`, rls_lesson_catalog).
  return query
  with mine as (
    select
      s.lesson_id,
      pg_catalog.bool_or(s.status = 'processing' or (s.status = 'open' and s.expires_at > pg_catalog.now())) as pending,
      pg_catalog.max(s.created_at) filter (where s.status = 'processing') as processing_since,
      -- the status of the caller's latest session that reached payment
      (pg_catalog.array_agg(s.status order by s.created_at desc, s.id desc)
        filter (where s.status in ('processing', 'complete', 'failed')))[1] as last_paying_status
    from public.checkout_sessions as s
    where s.user_id = (select auth.uid())
    group by s.lesson_id
  ),
  held as (
    select p.lesson_id, p.status, p.purchased_at, p.refunded_at, p.disputed_at,
      g.dispute_status as granting_dispute_status
    from public.purchased_lessons as p
    inner join public.checkout_sessions as g on p.stripe_checkout_session_id = g.id
    where p.user_id = (select auth.uid())
  )
  select
    l.id,
    l.slug,
    l.title,
    l.description,
    l.price_cents,
    l.currency,
    coalesce(p.status = 'paid', false) as owned,
    coalesce(mine.pending, false) as pending,
    decided.access,
    case decided.access
      when 'owned' then p.purchased_at
      when 'processing' then mine.processing_since
      when 'refunded' then p.refunded_at
      when 'disputed' then p.disputed_at
      when 'dispute_lost' then p.disputed_at
    end as access_changed_at
  from public.lessons as l
  left join held as p on l.id = p.lesson_id
  left join mine on l.id = mine.lesson_id
  cross join lateral (
    select case
      when l.price_cents = 0 then 'free'
      when p.status = 'paid' then 'owned'
      when mine.processing_since is not null then 'processing'
      when p.status = 'disputed' and p.granting_dispute_status is distinct from 'lost' then 'disputed'
      when mine.last_paying_status = 'failed' then 'failed'
      when p.status = 'refunded' then 'refunded'
      when p.status = 'disputed' then 'dispute_lost'
      else 'available'
    end::public.lesson_access as access
  ) as decided
  where l.published
  order by l.display_order, l.created_at, l.slug;
end;
$function$;

create or replace function public.purchase_list()
  returns table (
    id                   text,
    lesson_id            uuid,
    slug                 text,
    title                text,
    amount_total         bigint,
    currency             text,
    status               public.payment_state,
    occurred_at          timestamp with time zone,
    payment_method_type  text,
    payment_method_brand text,
    payment_method_last4 text,
    payment_reference    text,
    refunded_amount      bigint,
    refunded_at          timestamp with time zone,
    receipt_url          text,
    invoice_url          text,
    amount_discount      bigint,
    promotion_code       text
  )
  language plpgsql
  stable
  set search_path to ''
  as $function$
#variable_conflict use_column
begin
  return query
  select
    s.id::text,
    s.lesson_id,
    l.slug,
    l.title,
    s.amount_paid,
    s.currency,
    case
      when s.status = 'processing' then 'processing'
      when s.status = 'failed' then 'failed'
      when s.dispute_status = 'open' then 'disputed'
      when s.dispute_status = 'lost' then 'dispute_lost'
      when s.amount_refunded > 0 and s.amount_refunded >= s.amount_paid then 'refunded'
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
    s.invoice_url::text,
    nullif(s.amount_discount, 0),
    (select c.code from public.promotion_codes as c where c.id = s.promotion_code_id)
  from public.checkout_sessions as s
  inner join public.lessons as l on s.lesson_id = l.id
  where s.user_id = (select auth.uid()) and (s.payment_status = 'paid' or s.status in ('processing', 'failed'))
  order by coalesce(s.paid_at, s.created_at) desc, s.id desc;
end;
$function$;

create view public.payments_needing_attention
with (security_invoker = true)
as
select
  'checkout_session' as source,
  s.id as reference,
  s.fulfilment as reason,
  s.user_id,
  s.lesson_id,
  s.amount_total,
  s.currency,
  s.stripe_payment_intent_id,
  s.paid_at as since
from public.checkout_sessions as s
where
  -- paid and not granted (purchases.sql), unless refunded in full (what was charged)
  s.needs_attention
  and s.amount_refunded < s.amount_paid
union all
select
  'stripe_event' as source,
  -- the outcome word with its reason, e.g. 'rejected:amount_mismatch', then any error
  e.id as reference,
  coalesce(e.outcome, 'unprocessed') || coalesce(':' || e.outcome_reason, '') || coalesce(': ' || e.error, '') as reason,
  null as user_id,
  null as lesson_id,
  e.amount_total,
  e.currency,
  e.payment_intent_id,
  e.received_at as since
from public.stripe_events as e
where
  e.unsettled
  and (
    e.outcome = 'error'
    or (e.outcome = 'rejected' and e.outcome_reason <> 'contradiction')
    or (e.outcome = 'deferred' and e.received_at < pg_catalog.now() - interval '1 hour')
  )
  and not exists (
    select 1 from public.checkout_sessions as s
    where s.id = e.checkout_session_id and s.fulfilment like 'rejected:%'
  )
union all
select
  'contradiction' as source,
  c.checkout_session_id as reference,
  'contradiction:' || pg_catalog.array_to_string(c.fields, ',') as reason,
  s.user_id,
  s.lesson_id,
  (c.claimed ->> 'amount_total')::bigint as amount_total,
  c.claimed ->> 'currency' as currency,
  c.payment_intent_id as stripe_payment_intent_id,
  c.received_at as since
from public.checkout_session_contradictions as c
inner join public.checkout_sessions as s on c.checkout_session_id = s.id
where c.resolved_at is null;

comment on function public.purchase_list() is 'The caller''s payments (Purchases page), newest first: one row per Checkout Session that reached payment, its status in words.';

comment on view public.payments_needing_attention is 'Paid but not granted (rejected, charged twice), failed events, and contradicting claims: each needs an operator.';

revoke all on function public.purchase_list() from public;

grant execute on function public.purchase_list() to authenticated, postgres, service_role;

grant delete, insert, references, select, trigger, truncate, update on table public.payments_needing_attention to postgres, service_role;


revoke all on function public.purchase_list() from anon;

revoke all on table public.payments_needing_attention from anon;

revoke all on table public.payments_needing_attention from authenticated;
