-- A refund, then a repurchase, all in one second, lost the repurchase: a payment made and
-- refunded in the same second as the next payment sorted its refund after that payment (a
-- revocation of its own second came after every payment of the second), so the new payment
-- found the lesson still owned ('already_owned', listed as charged twice) and the refund then
-- ended access. settle_purchase now orders each second as: revocations of payments of earlier
-- seconds, then each payment followed by its own revocations (by paid time, then by when the
-- session was opened). Seen in the e2e suite (purchases.spec: buy, refund, buy again).
--
-- Written by `make migration NAME=same_second_repurchase`: supabase db diff --use-pg-delta (Supabase
-- CLI 2.117.0) from a database built by supabase db push to one built
-- from supabase/schemas.

set local check_function_bodies = off;

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
  -- an early fraud warning ended the granting payment's access (a failed refund gives none back)
  v_fraud boolean := false;
  v_warning public.early_fraud_warnings;
  -- each warning's decision: warning id → 'refund' or the reason it is listed
  v_warnings jsonb := '{}'::jsonb;
  -- sessions whose payment a warning refunds: session id → the deciding (earliest) warning id
  v_fraud_refunds jsonb := '{}'::jsonb;
begin
  if p_user_id is null then
    return; -- a deleted account's payment: nobody to grant to
  end if;
  for v_fact in
    with payments as (
      -- what was charged (a promotion code's discount is never refunded): refunds adding up to it are in full
      select
        s.id as session_id, s.stripe_payment_intent_id as payment_intent_id, s.paid_at, s.amount_paid as amount_total,
        s.created_at
      from public.checkout_sessions as s
      where
        s.user_id = p_user_id
        and s.lesson_id = p_lesson_id
        and s.payment_status = 'paid'
        and (s.fulfilment is null or s.fulfilment not like 'rejected:%')
    ),
    payment_intents as (
      select p.session_id, p.payment_intent_id, p.paid_at, p.amount_total, p.created_at from payments as p
      where p.payment_intent_id is not null
      union
      select p.session_id, c.payment_intent_id, p.paid_at, p.amount_total, p.created_at
      from payments as p
      join public.checkout_session_contradictions as c on c.checkout_session_id = p.session_id
      where c.payment_intent_id is not null
    )
    select
      'payment' as kind, p.paid_at as occurred_at, 2 as rank, p.session_id as ref, p.session_id,
      null as dispute_id, null as payment_intent_id, p.paid_at as payment_paid_at,
      p.created_at as payment_created_at, 1 as within_second
    from payments as p
    union all
    -- Stripe's times are whole seconds. A revocation never precedes its own payment, and one
    -- of an earlier payment comes before a new payment made in the same second (a refund,
    -- then a repurchase), also when the earlier payment was made in that second too: within
    -- a second, each payment is followed by its own revocations before the next payment
    -- (ordered by when each was paid, then by when its session was opened). A dispute's close may sort before its
    -- open: each dispute is tracked by its id below, so the order of the two does not matter.
    select
      e.payment_fact,
      greatest(e.created, i.paid_at),
      case when e.created > i.paid_at then 0 else 3 end,
      e.id, i.session_id,
      case when e.payment_fact like 'dispute_%' then e.object_id end,
      i.payment_intent_id, i.paid_at, i.created_at, case when e.created > i.paid_at then 0 else 1 end
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
      pg_catalog.to_char(r.step, 'FM0000000000'), i.session_id, null, i.payment_intent_id, i.paid_at,
      i.created_at, case when r.occurred_at > i.paid_at then 0 else 1 end
    from payment_intents as i
    cross join lateral private.refund_timeline(i.payment_intent_id, i.amount_total) as r
    where r.fact is not null
    union all
    -- early fraud warnings of a payment's own payment intent (after a refund or dispute of the
    -- same second, which it then finds)
    select
      'early_fraud_warning', greatest(w.created, p.paid_at),
      case when w.created > p.paid_at then 0 else 3 end,
      w.id, p.session_id, null, w.payment_intent_id, p.paid_at, p.created_at,
      case when w.created > p.paid_at then 0 else 1 end
    from payments as p
    join public.early_fraud_warnings as w on w.payment_intent_id = p.payment_intent_id
    -- within a second: revocations of payments of earlier seconds first, then each payment of
    -- the second followed by its own revocations
    order by occurred_at, within_second, payment_paid_at, payment_created_at, session_id, rank, ref
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
        v_fraud := false;
        update public.checkout_sessions set fulfilment = 'granted'
        where id = v_fact.session_id and fulfilment is distinct from 'granted';
      elsif v_current.id <> v_fact.session_id then
        update public.checkout_sessions set fulfilment = 'already_owned'
        where id = v_fact.session_id and fulfilment is distinct from 'already_owned';
      end if;
    elsif v_fact.kind = 'early_fraud_warning' then
      select * into v_warning from public.early_fraud_warnings as w where w.id = v_fact.ref;
      v_warnings := v_warnings || pg_catalog.jsonb_build_object(v_fact.ref, case
        when exists (
          select 1 from public.early_fraud_warning_refunds as r
          where
            r.payment_intent_id = v_fact.payment_intent_id
            and (r.claimed_at is not null or r.refund_id is not null or r.refused_code is not null)
        ) then 'refund'
        when v_current.id <> v_fact.session_id then 'not_granted'
        when v_fraud then 'refund'
        when not v_warning.actionable then 'not_actionable'
        when v_status = 'refunded' then 'already_refunded'
        when v_status = 'disputed'
          or exists (select 1 from pg_catalog.jsonb_each_text(v_disputes) as d where d.value in ('open', 'lost'))
          then 'already_disputed'
        when not v_warning.auto_refund then 'auto_refund_off'
        else 'refund'
      end);
      if v_warnings ->> v_fact.ref = 'refund' then
        if not v_fraud_refunds ? v_fact.session_id then
          v_fraud_refunds := v_fraud_refunds || pg_catalog.jsonb_build_object(v_fact.session_id, v_fact.ref);
        end if;
        if v_current.id = v_fact.session_id and v_status <> 'refunded' then
          v_status := 'refunded';
          v_refunded_at := v_fact.occurred_at;
          v_disputed_at := null;
        end if;
        v_fraud := v_fraud or v_current.id = v_fact.session_id;
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
        -- access an early fraud warning ended stays ended: the refund is listed for an operator
        if v_status = 'refunded' and v_refunded_intents = '{}'::jsonb and not v_fraud then
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
  if v_warnings <> '{}'::jsonb then
    perform private.settle_early_fraud_warnings(p_user_id, p_lesson_id, v_warnings, v_fraud_refunds);
  end if;
  if pg_catalog.cardinality(v_paid_twice) > 0 then
    update public.checkout_sessions set fulfilment = 'already_owned'
    where id = any(v_paid_twice) and fulfilment is distinct from 'already_owned';
  end if;

  insert into public.purchased_lessons as p (
    user_id, lesson_id, status, amount_total, currency, stripe_checkout_session_id,
    stripe_payment_intent_id, stripe_customer_id, purchased_at, refunded_at, disputed_at, revoked_reason
  )
  values (
    p_user_id, p_lesson_id, v_status, v_current.amount_total, v_current.currency, v_current.id,
    v_current.stripe_payment_intent_id, v_current.stripe_customer_id, v_purchased_at,
    v_refunded_at, v_disputed_at, case when v_fraud and v_status = 'refunded' then 'early_fraud_warning' end
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
    disputed_at = excluded.disputed_at,
    revoked_reason = excluded.revoked_reason
  where (p.status, p.stripe_checkout_session_id, p.purchased_at, p.refunded_at, p.disputed_at, p.revoked_reason)
    is distinct from
    (excluded.status, excluded.stripe_checkout_session_id, excluded.purchased_at,
     excluded.refunded_at, excluded.disputed_at, excluded.revoked_reason);

  -- refunds and disputes that waited for this purchase have now been applied
  update public.stripe_events as e
  set
    outcome = case
      when e.type = 'charge.dispute.closed' or e.refund_status is not null or e.type like 'radar.early_fraud_warning.%'
        then 'applied'
      else 'revoked'
    end,
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
