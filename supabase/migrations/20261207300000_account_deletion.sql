-- Deleting a learner's account keeps their payments for the operator's books.
--
-- checkout_sessions is the payment record (amounts, dates, Stripe ids, refunds and disputes):
-- its user_id becomes nullable and `on delete set null`, so deleting the auth user leaves each
-- payment in place, no longer pointing at a person. Access (purchased_lessons) and reading
-- progress (lesson_progress) still go with the user (`on delete cascade`). The purchase rules
-- grant nothing to nobody: settle_purchase does nothing for a null learner, and a session of a
-- deleted account that is paid (or settled) afterwards is rejected as `account_deleted` (listed
-- for a refund by payments_needing_attention when money was taken) or, already decided before
-- the deletion, answers its verdict again without granting.
--
-- Written by `make migration NAME=account_deletion` (supabase db diff --use-pg-delta, Supabase
-- CLI 2.117.0) from supabase/schemas.

set local check_function_bodies = off;

-- =============================================================================================
-- tables
-- =============================================================================================

alter table public.checkout_sessions
  drop constraint checkout_sessions_user_id_fkey;

alter table public.checkout_sessions
  alter column user_id drop not null;


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
    elsif v_row.user_id is null then
      -- the learner deleted their account before paying: nothing is granted, and a payment is
      -- listed for a refund (payments_needing_attention)
      v_reason := 'account_deleted';
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
  if v_row.user_id is null then
    -- decided before the learner deleted their account: the same verdict, nothing granted
    return case when v_row.fulfilment = 'already_owned' then 'already_owned' else 'duplicate' end;
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
  if p_user_id is null then
    return; -- a deleted account's payment: nobody to grant to
  end if;
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

alter table public.checkout_sessions
  add constraint checkout_sessions_user_id_fkey foreign key (user_id) references auth.users (id) on delete set null;
