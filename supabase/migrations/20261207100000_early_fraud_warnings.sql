-- Early fraud warnings acted on (issue 17).
--
-- Stripe sends radar.early_fraud_warning.created/.updated when a card issuer reports a charge
-- as likely fraud, before any dispute; `actionable` is true while the charge is neither
-- refunded nor disputed, and Stripe advises refunding those to avoid the dispute and its fee.
-- Until now they were stored and ignored. Now (supabase/schemas/fraud_warnings.sql):
--
-- * early_fraud_warnings keeps each warning and what the shop decided: 'refund' or 'list'
--   (with the reason). settle_purchase decides it while it replays a purchase's facts in
--   Stripe's order, so a warning before, between or after the payment, its refunds and
--   disputes ends the same: an actionable warning on the granting payment, neither refunded nor
--   disputed, with EFW_AUTO_REFUND on, ends access (purchased_lessons.revoked_reason) and asks
--   for one refund; anything else is listed in payments_needing_attention;
-- * early_fraud_warning_refunds holds one refund per payment intent (its primary key), which
--   the sidecar claims (claim_early_fraud_warning_refunds), asks Stripe for with the key
--   efw-refund-<warning id>, and records (finish_early_fraud_warning_refund);
-- * handle_early_fraud_warning is the webhook's call for these events (it carries
--   EFW_AUTO_REFUND); a warning for a payment nobody knows is 'deferred' until it lands;
-- * purchase_list() gains refund_reason (checkout_sessions.refund_reason), so the Purchases page
--   can say "Refunded (flagged by the card issuer)".
--
-- Warnings stored before this migration stay as they were (ignored): none is acted on late.

set local check_function_bodies = off;

drop view public.payments_needing_attention;

drop function public.purchase_list();

create table public.early_fraud_warning_refunds (
  payment_intent_id      text                     not null,
  early_fraud_warning_id text                     not null,
  charge_id              text                     not null,
  amount                 bigint                   not null,
  currency               text                     not null,
  idempotency_key        text                     generated always as (('efw-refund-'::text || early_fraud_warning_id)) stored,
  claimed_at             timestamp with time zone,
  attempts               integer                  not null default 0,
  refund_id              text,
  requested_at           timestamp with time zone,
  refused_code           text,
  created_at             timestamp with time zone not null default now(),
  constraint early_fraud_warning_refunds_amount_range check ((amount > 0)),
  constraint early_fraud_warning_refunds_currency_format check ((currency ~ '^[a-z]{3}$'::text)),
  constraint early_fraud_warning_refunds_payment_intent_format check ((payment_intent_id ~ '^pi_[A-Za-z0-9_]{1,250}$'::text)),
  constraint early_fraud_warning_refunds_pkey primary key (payment_intent_id),
  constraint early_fraud_warning_refunds_refund_format check ((refund_id ~ '^re_[A-Za-z0-9_]+$'::text)),
  constraint early_fraud_warning_refunds_refund_id_key unique (refund_id),
  constraint early_fraud_warning_refunds_refused_format check ((refused_code ~ '^[a-z_]{1,100}$'::text)),
  constraint early_fraud_warning_refunds_requested_has_time check (((refund_id is null) = (requested_at is null))),
  constraint early_fraud_warning_refunds_settled_once check (((refund_id is null) or (refused_code is null)))
);

alter table public.early_fraud_warning_refunds
  enable row level security;

create table public.early_fraud_warnings (
  id                text                     not null,
  charge_id         text                     not null,
  payment_intent_id text,
  actionable        boolean                  not null,
  fraud_type        text,
  created           timestamp with time zone not null,
  auto_refund       boolean                  not null,
  received_at       timestamp with time zone not null default now(),
  action            text,
  action_reason     text,
  decided_at        timestamp with time zone,
  resolved_at       timestamp with time zone,
  constraint early_fraud_warnings_action_check check ((action = any(array['refund'::text, 'list'::text]))),
  constraint early_fraud_warnings_action_reason_check
    check
    ((action_reason = any(array['not_actionable'::text, 'already_refunded'::text, 'already_disputed'::text, 'auto_refund_off'::text, 'not_granted'::text,
    'unknown_charge'::text]))),
  constraint early_fraud_warnings_charge_format check ((charge_id ~ '^(ch|py)_[A-Za-z0-9_]{1,250}$'::text)),
  constraint early_fraud_warnings_decided_has_time check (((action is null) = (decided_at is null))),
  constraint early_fraud_warnings_fraud_type_format check ((fraud_type ~ '^[a-z_]{1,50}$'::text)),
  constraint early_fraud_warnings_id_format check ((id ~ '^issfr_[A-Za-z0-9_]{1,250}$'::text)),
  constraint early_fraud_warnings_payment_intent_format check ((payment_intent_id ~ '^pi_[A-Za-z0-9_]{1,250}$'::text)),
  constraint early_fraud_warnings_pkey primary key (id),
  constraint early_fraud_warnings_reason_when_listed check (((action = 'list'::text) = (action_reason is not null)))
);

alter table public.early_fraud_warnings
  enable row level security;

alter table public.checkout_sessions
  add column refund_reason text;

alter table public.purchased_lessons
  add column revoked_reason text;

create or replace function private.apply_early_fraud_warning (
  p_object jsonb
)
  returns text
  language plpgsql
  set search_path to ''
  as $function$
declare
  v_id text := private.json_word(p_object -> 'id', '^issfr_[A-Za-z0-9_]{1,250}$');
  v_charge text := coalesce(
    private.json_word(p_object -> 'charge', '^(ch|py)_[A-Za-z0-9_]{1,250}$'),
    private.json_word(p_object -> 'charge' -> 'id', '^(ch|py)_[A-Za-z0-9_]{1,250}$')
  );
  v_payment_intent text := coalesce(
    private.json_word(p_object -> 'payment_intent', '^pi_[A-Za-z0-9_]{1,250}$'),
    private.json_word(p_object -> 'payment_intent' -> 'id', '^pi_[A-Za-z0-9_]{1,250}$')
  );
  v_auto_refund boolean := coalesce(nullif(pg_catalog.current_setting('lesson_shop.efw_auto_refund', true), '')::boolean, true);
  v_purchase record;
  v_before text;
  v_after text;
  v_outcome text;
  v_action text;
begin
  if v_id is null or v_charge is null or pg_catalog.jsonb_typeof(p_object -> 'created') is distinct from 'number' then
    return 'ignored:not_an_early_fraud_warning';
  end if;
  if v_payment_intent is not null then
    perform private.lock('payment_intent', v_payment_intent);
  end if;

  insert into public.early_fraud_warnings as w (
    id, charge_id, payment_intent_id, actionable, fraud_type, created, auto_refund, action, action_reason, decided_at
  )
  values (
    v_id, v_charge, v_payment_intent,
    coalesce(p_object -> 'actionable' = 'true'::jsonb, false),
    private.json_word(p_object -> 'fraud_type', '^[a-z_]{1,50}$'),
    pg_catalog.to_timestamp(private.json_amount(p_object -> 'created')::double precision),
    v_auto_refund,
    -- naming no payment intent, it can never be matched to a purchase
    case when v_payment_intent is null then 'list' end,
    case when v_payment_intent is null then 'unknown_charge' end,
    case when v_payment_intent is null then pg_catalog.now() end
  )
  on conflict (id) do update
  set
    actionable = w.actionable or excluded.actionable,
    fraud_type = coalesce(excluded.fraud_type, w.fraud_type)
  where (w.actionable or excluded.actionable, coalesce(excluded.fraud_type, w.fraud_type))
    is distinct from (w.actionable, w.fraud_type);

  if v_payment_intent is null then
    return 'applied';
  end if;
  select w.payment_intent_id into v_payment_intent from public.early_fraud_warnings as w where w.id = v_id;

  for v_purchase in
    select distinct s.user_id, s.lesson_id
    from public.checkout_sessions as s
    where s.stripe_payment_intent_id = v_payment_intent and s.payment_status = 'paid'
    order by s.user_id, s.lesson_id
  loop
    perform private.lock('purchase', v_purchase.user_id::text || ':' || v_purchase.lesson_id::text);
    select p.status into v_before from public.purchased_lessons as p
    where p.user_id = v_purchase.user_id and p.lesson_id = v_purchase.lesson_id;
    perform private.settle_purchase(v_purchase.user_id, v_purchase.lesson_id);
    select p.status into v_after from public.purchased_lessons as p
    where p.user_id = v_purchase.user_id and p.lesson_id = v_purchase.lesson_id;
    v_outcome := case
      when v_outcome = 'revoked' or (v_before = 'paid' and v_after <> 'paid') then 'revoked'
      else 'applied'
    end;
  end loop;

  if v_outcome is null then
    -- kept; settle_purchase decides it when the purchase lands
    return 'deferred';
  end if;
  -- paid, but by a session that never granted (rejected): settle_purchase never sees it
  select w.action into v_action from public.early_fraud_warnings as w where w.id = v_id;
  if v_action is null then
    update public.early_fraud_warnings
    set action = 'list', action_reason = 'not_granted', decided_at = pg_catalog.now()
    where id = v_id;
  end if;
  return v_outcome;
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
      when v_type in ('radar.early_fraud_warning.created', 'radar.early_fraud_warning.updated') then
        private.apply_early_fraud_warning(v_object)
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

create or replace function private.settle_early_fraud_warnings (
  p_user_id   uuid,
  p_lesson_id uuid,
  p_warnings  jsonb,
  p_refunds   jsonb
)
  returns void
  language plpgsql
  set search_path to ''
  as $function$
begin
  update public.early_fraud_warnings as w
  set
    action = d.action,
    action_reason = d.reason,
    decided_at = coalesce(w.decided_at, pg_catalog.now())
  from (
    select
      e.key as id,
      case when e.value = 'refund' then 'refund' else 'list' end as action,
      nullif(e.value, 'refund') as reason
    from pg_catalog.jsonb_each_text(p_warnings) as e
  ) as d
  where w.id = d.id and (w.action, w.action_reason) is distinct from (d.action, d.reason);

  update public.checkout_sessions as s
  set refund_reason = case when p_refunds ? s.id then 'early_fraud_warning' end
  where
    s.user_id = p_user_id
    and s.lesson_id = p_lesson_id
    and s.refund_reason is distinct from (case when p_refunds ? s.id then 'early_fraud_warning' end);

  insert into public.early_fraud_warning_refunds as r (payment_intent_id, early_fraud_warning_id, charge_id, amount, currency)
  select s.stripe_payment_intent_id, w.id, w.charge_id, s.amount_paid, s.currency
  from pg_catalog.jsonb_each_text(p_refunds) as f
  join public.checkout_sessions as s on s.id = f.key
  join public.early_fraud_warnings as w on w.id = f.value
  where s.stripe_payment_intent_id is not null and s.amount_paid > 0
  on conflict (payment_intent_id) do update
  set early_fraud_warning_id = excluded.early_fraud_warning_id, charge_id = excluded.charge_id
  where
    r.claimed_at is null and r.refund_id is null and r.refused_code is null
    and r.early_fraud_warning_id <> excluded.early_fraud_warning_id;

  delete from public.early_fraud_warning_refunds as r
  using public.checkout_sessions as s
  where
    s.user_id = p_user_id
    and s.lesson_id = p_lesson_id
    and r.payment_intent_id = s.stripe_payment_intent_id
    and not p_refunds ? s.id
    and r.claimed_at is null and r.refund_id is null and r.refused_code is null;
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
  -- an early fraud warning ended the granting payment's access (a failed refund gives none back)
  v_fraud boolean := false;
  v_warning public.early_fraud_warnings;
  -- each warning's decision: warning id → 'refund' or the reason it is listed
  v_warnings jsonb := '{}'::jsonb;
  -- sessions whose payment a warning refunds: session id → the deciding (earliest) warning id
  v_fraud_refunds jsonb := '{}'::jsonb;
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
    union all
    -- early fraud warnings of a payment's own payment intent (after a refund or dispute of the
    -- same second, which it then finds)
    select
      'early_fraud_warning', greatest(w.created, p.paid_at),
      case when w.created > p.paid_at then 0 else 3 end,
      w.id, p.session_id, null, w.payment_intent_id
    from payments as p
    join public.early_fraud_warnings as w on w.payment_intent_id = p.payment_intent_id
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

create or replace function public.claim_early_fraud_warning_refunds (
  p_event_id text default null::text
)
  returns jsonb
  language plpgsql
  security definer
  set search_path to ''
  set enable_seqscan to 'off'
  as $function$
declare
  v_payment_intent text;
  v_claimed jsonb;
begin
  perform private.assert_read_committed();
  if p_event_id is not null then
    select coalesce(e.payment_intent_id, w.payment_intent_id) into v_payment_intent
    from public.stripe_events as e
    left join public.early_fraud_warnings as w on w.id = e.object_id
    where e.id = p_event_id;
    if v_payment_intent is null then
      return '[]'::jsonb;
    end if;
  end if;

  with claimed as (
    update public.early_fraud_warning_refunds as r
    set claimed_at = pg_catalog.now(), attempts = r.attempts + 1
    where
      r.refund_id is null
      and r.refused_code is null
      and (r.claimed_at is null or r.claimed_at < pg_catalog.now() - interval '2 minutes')
      and (v_payment_intent is null or r.payment_intent_id = v_payment_intent)
    returning r.*
  )
  select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
    'payment_intent', c.payment_intent_id,
    'charge', c.charge_id,
    'early_fraud_warning', c.early_fraud_warning_id,
    'amount', c.amount,
    'currency', c.currency,
    'idempotency_key', c.idempotency_key
  ) order by c.created_at), '[]'::jsonb) into v_claimed
  from claimed as c;
  return v_claimed;
end;
$function$;

create or replace function public.finish_early_fraud_warning_refund (
  p_payment_intent text,
  p_refund_id      text default null::text,
  p_refused_code   text default null::text
)
  returns text
  language plpgsql
  security definer
  set search_path to ''
  set enable_seqscan to 'off'
  as $function$
declare
  v_row public.early_fraud_warning_refunds;
begin
  perform private.assert_read_committed();
  if p_refund_id is not null and p_refused_code is not null then
    raise exception 'a refund is either made or refused, not both' using errcode = '22023';
  end if;
  if p_refund_id !~ '^re_[A-Za-z0-9_]{1,250}$' then
    raise exception 'not a refund id' using errcode = '22023';
  end if;
  select * into v_row from public.early_fraud_warning_refunds as r where r.payment_intent_id = p_payment_intent for update;
  if not found then
    raise exception 'no early fraud warning refund for this payment intent' using errcode = 'P0002';
  end if;
  if p_refund_id is not null then
    if v_row.refund_id is not null and v_row.refund_id <> p_refund_id then
      raise exception 'payment intent % already has refund %', p_payment_intent, v_row.refund_id using errcode = '23505';
    end if;
    update public.early_fraud_warning_refunds
    set refund_id = p_refund_id, requested_at = coalesce(requested_at, pg_catalog.now()), claimed_at = null
    where payment_intent_id = p_payment_intent;
    return 'requested';
  end if;
  if p_refused_code is not null and v_row.refund_id is null then
    update public.early_fraud_warning_refunds
    set refused_code = p_refused_code, claimed_at = null
    where payment_intent_id = p_payment_intent;
    return 'refused';
  end if;
  update public.early_fraud_warning_refunds set claimed_at = null
  where payment_intent_id = p_payment_intent and refund_id is null;
  return 'released';
end;
$function$;

create or replace function public.handle_early_fraud_warning (
  p_event       jsonb,
  p_auto_refund boolean default true
)
  returns text
  language plpgsql
  security definer
  set search_path to ''
  set enable_seqscan to 'off'
  as $function$
begin
  perform private.assert_read_committed();
  if p_event ->> 'type' not in ('radar.early_fraud_warning.created', 'radar.early_fraud_warning.updated') then
    raise exception 'handle_early_fraud_warning takes radar.early_fraud_warning.* events, not %',
      p_event ->> 'type' using errcode = '22023';
  end if;
  if p_auto_refund is null then
    raise exception 'p_auto_refund must be true or false' using errcode = '22004';
  end if;
  -- read by private.apply_early_fraud_warning, for this transaction only
  perform pg_catalog.set_config('lesson_shop.efw_auto_refund', p_auto_refund::text, true);
  return private.receive_event(p_event);
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
    promotion_code       text,
    refund_reason        text
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
    (select c.code from public.promotion_codes as c where c.id = s.promotion_code_id),
    s.refund_reason
  from public.checkout_sessions as s
  inner join public.lessons as l on s.lesson_id = l.id
  where s.user_id = (select auth.uid()) and (s.payment_status = 'paid' or s.status in ('processing', 'failed'))
  order by coalesce(s.paid_at, s.created_at) desc, s.id desc;
end;
$function$;

alter table public.checkout_sessions
  add constraint checkout_sessions_refund_reason_check check ((refund_reason = 'early_fraud_warning'::text));

alter table public.early_fraud_warning_refunds
  add constraint early_fraud_warning_refunds_early_fraud_warning_id_fkey foreign key (early_fraud_warning_id) references public.early_fraud_warnings(id);

alter table public.purchased_lessons
  add constraint purchased_lessons_revoked_reason_check check ((revoked_reason = 'early_fraud_warning'::text));

alter table public.purchased_lessons
  add constraint purchased_lessons_revoked_reason_not_paid check (((revoked_reason is null) or (status <> 'paid'::text)));

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
where c.resolved_at is null
union all
-- early fraud warnings an operator must decide (fraud_warnings.sql): listed ones (not
-- actionable, already refunded or disputed, EFW_AUTO_REFUND off, a payment that granted
-- nothing, no payment intent) and those whose refund Stripe refused or that failed, until an
-- operator sets resolved_at. A warning whose payment is unknown waits as its event does
-- ('deferred', listed above after an hour).
select
  'early_fraud_warning' as source,
  w.id as reference,
  'early_fraud_warning:' || case
    when r.refused_code is not null then 'refund_refused:' || r.refused_code
    when w.action = 'refund' then 'refund_failed'
    else w.action_reason
  end as reason,
  s.user_id,
  s.lesson_id,
  s.amount_paid as amount_total,
  s.currency,
  w.payment_intent_id as stripe_payment_intent_id,
  w.received_at as since
from public.early_fraud_warnings as w
left join public.early_fraud_warning_refunds as r
  on w.payment_intent_id = r.payment_intent_id and w.id = r.early_fraud_warning_id
left join lateral (
  select
    s1.user_id,
    s1.lesson_id,
    s1.amount_paid,
    s1.currency
  from public.checkout_sessions as s1
  where s1.stripe_payment_intent_id = w.payment_intent_id and s1.payment_status = 'paid'
  order by s1.paid_at
  limit 1
) as s on true
where
  w.resolved_at is null
  and (
    w.action = 'list'
    or r.refused_code is not null
    -- the refund was made and has failed or been canceled since: the money stayed, access ended
    or exists (
      select 1 from public.stripe_events as e
      where e.object_id = r.refund_id and e.refund_status in ('failed', 'canceled')
    )
  );

create index early_fraud_warning_refunds_due_idx on public.early_fraud_warning_refunds using btree (created_at)
  where ((refund_id is null) and (refused_code is null));

create index early_fraud_warning_refunds_warning_idx on public.early_fraud_warning_refunds using btree (early_fraud_warning_id);

create index early_fraud_warnings_payment_intent_idx on public.early_fraud_warnings using btree (payment_intent_id)
  where (payment_intent_id is not null);

create index early_fraud_warnings_unresolved_idx on public.early_fraud_warnings using btree (received_at)
  where (resolved_at is null);

comment on function public.claim_early_fraud_warning_refunds(text) is 'Claim (for two minutes) the early-fraud-warning refunds due for one event''s payment intent, or all with null.';

comment on function public.finish_early_fraud_warning_refund(text, text, text) is 'Record Stripe''s answer to a claimed early-fraud-warning refund: its id, a refusal code, or neither (release the claim).';

comment on function public.handle_early_fraud_warning(jsonb, boolean) is 'The webhook''s call for radar.early_fraud_warning.*: store the event, decide the warning under EFW_AUTO_REFUND, return the outcome word.';

comment on function public.purchase_list() is 'The caller''s payments (Purchases page), newest first: one row per Checkout Session that reached payment, its status in words.';

comment on table public.early_fraud_warning_refunds is 'The one refund an early fraud warning asks for per payment: claimed by the sidecar, asked of Stripe once (idempotency key), its id recorded.';

comment on table public.early_fraud_warnings is 'Card issuers'' early fraud warnings and what the shop decided: refund once (access ends) or list for an operator.';

comment on view public.payments_needing_attention is 'Paid but not granted (rejected, charged twice), failed events, and contradicting claims: each needs an operator.';

revoke all on function private.apply_early_fraud_warning(jsonb) from public;

grant execute on function private.apply_early_fraud_warning(jsonb) to postgres;

revoke all on function private.settle_early_fraud_warnings(uuid, uuid, jsonb, jsonb) from public;

grant execute on function private.settle_early_fraud_warnings(uuid, uuid, jsonb, jsonb) to postgres;

revoke all on function public.claim_early_fraud_warning_refunds(text) from public;

grant execute on function public.claim_early_fraud_warning_refunds(text) to postgres, service_role;

revoke all on function public.finish_early_fraud_warning_refund(text, text, text) from public;

grant execute on function public.finish_early_fraud_warning_refund(text, text, text) to postgres, service_role;

revoke all on function public.handle_early_fraud_warning(jsonb, boolean) from public;

grant execute on function public.handle_early_fraud_warning(jsonb, boolean) to postgres, service_role;

revoke all on function public.purchase_list() from public;

grant execute on function public.purchase_list() to authenticated, postgres, service_role;

grant delete, insert, references, select, trigger, truncate, update on table public.early_fraud_warning_refunds to postgres, service_role;

grant delete, insert, references, select, trigger, truncate, update on table public.early_fraud_warnings to postgres, service_role;

grant delete, insert, references, select, trigger, truncate, update on table public.payments_needing_attention to postgres, service_role;

revoke all on public.early_fraud_warnings, public.early_fraud_warning_refunds from anon, authenticated;

revoke all on public.payments_needing_attention from public, anon, authenticated;

revoke all on function
  private.apply_early_fraud_warning(jsonb),
  private.settle_early_fraud_warnings(uuid, uuid, jsonb, jsonb)
from public, anon, authenticated, service_role;

revoke execute on function
  public.handle_early_fraud_warning(jsonb, boolean),
  public.claim_early_fraud_warning_refunds(text),
  public.finish_early_fraud_warning_refund(text, text, text),
  public.purchase_list()
from public, anon, authenticated;

grant execute on function public.purchase_list() to authenticated, service_role;
