-- A paid session an early fraud warning waited for answers 'revoked', not 'recorded'.
--
-- A warning delivered before its purchase is deferred; when the purchase lands,
-- settle_purchase ends it at once and asks for its refund. apply_checkout_session now says so
-- ('revoked'), so the webhook asks Stripe for that refund only then: a new purchase or a
-- redelivered one costs no extra SQL call (the duplicates path stays one call).

set local check_function_bodies = off;

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
  -- an early fraud warning that waited for this purchase ended it at once, and asks for its
  -- refund: 'revoked' tells the webhook to ask Stripe now (fraud_warnings.sql)
  if exists (
    select 1 from public.purchased_lessons as p
    where p.stripe_checkout_session_id = v_session_id and p.revoked_reason = 'early_fraud_warning'
  ) then
    return 'revoked';
  end if;
  return 'recorded';
end;
$function$;
