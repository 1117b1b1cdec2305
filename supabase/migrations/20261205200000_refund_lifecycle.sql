-- Refunds as Stripe runs them now: refund.created, refund.updated and refund.failed.
--
-- Since API version 2024-10-28 Stripe sends refund.created, refund.updated and refund.failed
-- for every refund, and a refund may be `pending` (with a pending_reason) for days and then
-- fail, or be canceled. Until now only charge.refunded counted, and a refund that failed after
-- it had ended access never gave access back. Now:
--
-- * a refund event is stored with its refund's status, amount and created time
--   (stripe_events.refund_status, refund_amount, refund_created), taken out of the payload as
--   the charge facts are, so they outlive it;
-- * private.refund_timeline replays a payment intent's refunds in Stripe's order: each refund by
--   id (live while pending or succeeded; failed or canceled is final) and the most the
--   charge said it had refunded, less the refunds that failed since. What has been refunded is the larger,
--   so any subset of the events, in any arrival order, ends where Stripe's order ends;
-- * settle_purchase reads from it when a payment became refunded in full (a full refund, or
--   partial refunds that add up to it, pending or succeeded) and when a failure or cancellation
--   made it stop being so: the lesson is the learner's again, exactly once, however the events
--   come; settle_payment_record reads what has been refunded from it, so the Purchases page
--   leaves failed refunds out;
-- * apply_refund_event handles the refund events: a refund whose id an earlier event tied to
--   another payment intent is 'rejected:refund_mismatch' (listed, changes nothing); a refund
--   of a payment nobody knows is 'deferred' as charge.refunded is, and is listed in
--   payments_needing_attention once it has waited an hour;
-- * a paid session leaves the attention list when its payment record says it was refunded in
--   full (no longer on any charge.refunded), so it comes back if the refund fails.
--
-- Refund events stored before this migration (stored and ignored) have their facts taken out
-- of their payloads, and the payment records and purchases they touch are derived again.

-- =============================================================================================
-- tables
-- =============================================================================================

alter table public.stripe_events
add column refund_status text,
add column refund_amount bigint,
add column refund_created timestamptz;

alter table public.stripe_events
add constraint stripe_events_refund_facts_format check (
  refund_status in ('pending', 'requires_action', 'succeeded', 'failed', 'canceled')
  and refund_amount >= 0
) not valid;

alter table public.stripe_events validate constraint stripe_events_refund_facts_format;

-- =============================================================================================
-- indexes
-- =============================================================================================

-- A refund's lifecycle is read back by payment intent (private.refund_timeline, with the
-- partial index's own predicate so that any plan uses it), and a refund's id is checked against
-- the payment intent its first event named (private.apply_refund_event).
create index stripe_events_refunds_idx on public.stripe_events (payment_intent_id)
  where payment_fact in ('refund', 'partial_refund') or refund_status is not null;
create index stripe_events_refund_object_idx on public.stripe_events (object_id)
  where refund_status is not null;

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
    refund_status, refund_amount, refund_created
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
      pg_catalog.to_timestamp(private.json_amount(v_object -> 'created')::double precision) end
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

-- The refunds of one payment intent, replayed in Stripe's time order: one row each time what
-- has been refunded (amount_refunded) or whether that is the whole payment (in_full) changes,
-- with `fact` 'refund' when it became refunded in full and 'refund_failed' when it stopped
-- being so (a refund failed or was canceled). Since API version 2024-10-28 Stripe sends
-- refund.created, refund.updated and refund.failed for every refund, and a refund may be
-- pending for days and then fail; charge.refunded says what the charge had refunded when it
-- was sent (its amount_refunded), without naming the refunds. So two sources are combined:
--   * each refund by id, from its events: live (pending, requires_action or succeeded) until
--     an event says failed or canceled, which is final. A pending refund counts: the shop
--     asked for the money to go back, and Stripe holds it against what can be refunded.
--   * the most the charge said it had refunded (charge.refunded's amount_refunded), less
--     every refund that failed after that and was created no later (so was counted in it),
--     plus every live refund created after it.
-- What has been refunded is the larger of the two, so any subset of the events, in any order
-- of arrival, gives the answer the same events replayed in Stripe's order give. Within one
-- second a refund's creation comes before a charge.refunded, and that before a failure (a
-- refund cannot fail before it is counted). Refund events rejected as another payment's are
-- left out, as are events that failed to apply (they are applied again later).
create or replace function private.refund_timeline(p_payment_intent text, p_amount bigint)
returns table (
  step integer, occurred_at timestamptz, amount_refunded bigint, in_full boolean, fact text, refunded_since timestamptz
)
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
  v_event record;
  v_claim bigint := 0;
  v_claim_full boolean := false;
  v_claim_at timestamptz;
  -- refund id → {"amount", "created" (epoch seconds), "failed"}
  v_refunds jsonb := '{}'::jsonb;
  v_refund jsonb;
  v_live bigint;
  v_live_after bigint;
  v_amount bigint := 0;
  v_full boolean := false;
  -- each time the total rose: to what, and when
  v_rises bigint[] := '{}'::bigint[];
  v_rise_times timestamptz[] := '{}'::timestamptz[];
begin
  step := 0;
  for v_event in
    select e.id, e.created, e.payment_fact, e.amount_refunded, e.object_id, e.refund_status, e.refund_amount,
      e.refund_created
    from public.stripe_events as e
    where
      e.payment_intent_id = p_payment_intent
      and (e.payment_fact in ('refund', 'partial_refund') or e.refund_status is not null)
      and (e.outcome is null or e.outcome not in ('error', 'rejected'))
    order by
      e.created,
      case when e.refund_status in ('failed', 'canceled') then 2 when e.refund_status is null then 1 else 0 end,
      e.id
  loop
    if v_event.refund_status is null then
      -- charge.refunded: what the charge had refunded when the event was sent. A smaller
      -- amount than one already counted says nothing a refund event has not: only a failure
      -- takes a refund back, and failures come as refund events.
      if coalesce(v_event.amount_refunded, 0) >= v_claim then
        v_claim := coalesce(v_event.amount_refunded, 0);
        v_claim_at := v_event.created;
      end if;
      v_claim_full := v_claim_full or v_event.payment_fact = 'refund';
    elsif v_event.object_id is not null then
      v_refund := coalesce(
        v_refunds -> v_event.object_id,
        pg_catalog.jsonb_build_object(
          'amount', coalesce(v_event.refund_amount, 0),
          'created', extract(epoch from coalesce(v_event.refund_created, v_event.created)),
          'failed', false
        )
      );
      if v_event.refund_status in ('failed', 'canceled') and not (v_refund ->> 'failed')::boolean then
        v_refund := v_refund || '{"failed": true}'::jsonb;
        if v_claim_at is not null and (v_refund ->> 'created')::numeric <= extract(epoch from v_claim_at) then
          v_claim := greatest(v_claim - (v_refund ->> 'amount')::bigint, 0);
          v_claim_full := false;
        end if;
      end if;
      v_refunds := v_refunds || pg_catalog.jsonb_build_object(v_event.object_id, v_refund);
    end if;

    select
      coalesce(pg_catalog.sum((r.value ->> 'amount')::bigint), 0),
      coalesce(pg_catalog.sum((r.value ->> 'amount')::bigint) filter (
        where v_claim_at is null or (r.value ->> 'created')::numeric > extract(epoch from v_claim_at)
      ), 0)
    into v_live, v_live_after
    from pg_catalog.jsonb_each(v_refunds) as r
    where not (r.value ->> 'failed')::boolean;

    amount_refunded := greatest(v_claim + v_live_after, v_live);
    in_full := v_claim_full or coalesce(amount_refunded >= p_amount, false);
    if (amount_refunded, in_full) is distinct from (v_amount, v_full) then
      step := step + 1;
      occurred_at := v_event.created;
      fact := case when in_full and not v_full then 'refund' when v_full and not in_full then 'refund_failed' end;
      -- when what is refunded now was refunded: the time it rose to this, or, after a failure
      -- took some back, the last time it rose to no more than what is left
      if amount_refunded > v_amount then
        v_rises := v_rises || amount_refunded;
        v_rise_times := v_rise_times || v_event.created;
        refunded_since := v_event.created;
      elsif amount_refunded < v_amount then
        refunded_since := coalesce(
          (
            select r.rose_at from rows from (pg_catalog.unnest(v_rises), pg_catalog.unnest(v_rise_times)) as r (amount, rose_at)
            where r.amount <= amount_refunded order by r.rose_at desc limit 1
          ),
          v_rise_times[1]
        );
      end if;
      if amount_refunded = 0 then
        refunded_since := null;
      end if;
      v_amount := amount_refunded;
      v_full := in_full;
      return next;
    end if;
  end loop;
end;
$$;

-- Re-derive the ownership row of one (learner, lesson) from its facts, in Stripe's time order:
-- paid checkout sessions, full refunds and disputes of their payment intents (the session's
-- own and any a contradiction claimed). The caller holds the learner+lesson lock. Also writes
-- each paid session's fulfilment.
create or replace function private.settle_purchase(p_user_id uuid, p_lesson_id uuid)
returns void
language plpgsql
security invoker
set search_path = ''
as $$
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
      select s.id as session_id, s.stripe_payment_intent_id as payment_intent_id, s.paid_at, s.amount_total
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
end;
$$;

-- A refund or dispute: re-derive every purchase whose session's payment intent it names (its
-- own, or one a contradiction claimed). Before any such purchase is paid it is kept
-- ('deferred') and settle_purchase applies it when the purchase lands.
create or replace function private.apply_revocation(p_event_type text, p_object jsonb)
returns text
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_payment_intent text := nullif(p_object ->> 'payment_intent', '');
  v_purchase record;
  v_before record;
  v_after record;
  v_word text;
  v_outcome text;
begin
  if v_payment_intent is null then
    return 'ignored:no_payment_intent';
  end if;

  perform private.lock('payment_intent', v_payment_intent);
  for v_purchase in
    select s.user_id, s.lesson_id
    from public.checkout_sessions as s
    where s.stripe_payment_intent_id = v_payment_intent and s.payment_status = 'paid'
    union
    select s.user_id, s.lesson_id
    from public.checkout_session_contradictions as c
    join public.checkout_sessions as s on s.id = c.checkout_session_id
    where c.payment_intent_id = v_payment_intent and s.payment_status = 'paid'
    -- one lock order for every caller
    order by user_id, lesson_id
  loop
    perform private.lock('purchase', v_purchase.user_id::text || ':' || v_purchase.lesson_id::text);
    select p.status, p.stripe_checkout_session_id as session_id into v_before
    from public.purchased_lessons as p
    where p.user_id = v_purchase.user_id and p.lesson_id = v_purchase.lesson_id;
    perform private.settle_purchase(v_purchase.user_id, v_purchase.lesson_id);
    select p.status, p.stripe_checkout_session_id as session_id into v_after
    from public.purchased_lessons as p
    where p.user_id = v_purchase.user_id and p.lesson_id = v_purchase.lesson_id;

    v_word := case
      when (v_before.status, v_before.session_id) is not distinct from (v_after.status, v_after.session_id)
        then 'ignored:no_change'
      when v_after.status = 'paid' and v_before.status <> 'paid' then 'restored'
      -- the purchase this event is about ended, even if a later payment now grants the lesson
      else 'revoked'
    end;
    -- one event may touch several purchases: an ending outweighs a restoring, which outweighs none
    v_outcome := case
      when 'revoked' in (v_outcome, v_word) then 'revoked'
      when 'restored' in (v_outcome, v_word) then 'restored'
      else v_word
    end;
  end loop;

  -- A partial refund changes no access by itself (partial refunds that add up to the whole
  -- payment do, through the timeline), nor does one before its purchase: the timeline reads it
  -- when the purchase lands.
  if p_event_type = 'charge.refunded' and private.payment_fact(p_event_type, p_object) <> 'refund'
    and (v_outcome is null or v_outcome = 'ignored:no_change')
  then
    return 'ignored:partial_refund';
  end if;
  -- kept, and applied by settle_purchase when the purchase lands
  return coalesce(v_outcome, 'deferred');
end;
$$;

-- A refund event (refund.created, refund.updated, refund.failed, charge.refund.updated): the
-- refund's status joins its payment intent's timeline (refund_timeline), which may end access
-- (a refund in full, or partial refunds adding up to it) or give it back (a refund that failed
-- or was canceled), exactly as charge.refunded does. A refund belongs to the payment intent its
-- first event named: a later event naming another is a contradiction, stored, listed for an
-- operator ('rejected:refund_mismatch') and left out of every timeline. A refund of a payment
-- nobody knows is kept ('deferred') and listed once it has waited an hour
-- (payments_needing_attention).
create or replace function private.apply_refund_event(p_event_type text, p_object jsonb)
returns text
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_refund_id text := p_object ->> 'id';
  v_payment_intent text := nullif(p_object ->> 'payment_intent', '');
begin
  if coalesce(v_refund_id, '') !~ '^re_[A-Za-z0-9_]+$' then
    return 'rejected:not_a_refund';
  end if;
  if v_payment_intent is null then
    return 'ignored:no_payment_intent';
  end if;
  -- two events of one refund naming different payment intents must not both pass the check
  perform private.lock('refund', v_refund_id);
  if exists (
    select 1 from public.stripe_events as e
    where
      e.object_id = v_refund_id
      and e.refund_status is not null
      and e.payment_intent_id is distinct from v_payment_intent
      and (e.outcome is null or e.outcome not in ('error', 'rejected'))
  ) then
    return 'rejected:refund_mismatch';
  end if;
  return private.apply_charge_event(p_event_type, p_object);
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

-- =============================================================================================
-- views
-- =============================================================================================

create or replace view public.payments_needing_attention
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
  s.payment_status = 'paid'
  and s.fulfilment <> 'granted'
  and s.amount_refunded < s.amount_total
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
  (
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

-- =============================================================================================
-- grants
-- =============================================================================================

revoke all on function
  private.refund_timeline(text, bigint),
  private.apply_refund_event(text, jsonb)
from public, anon, authenticated, service_role;

-- =============================================================================================
-- data: refund events stored before this migration
-- =============================================================================================

update public.stripe_events as e
set
  refund_status = private.json_word(
    e.payload -> 'data' -> 'object' -> 'status', '^(pending|requires_action|succeeded|failed|canceled)$'
  ),
  refund_amount = case when private.json_amount(e.payload -> 'data' -> 'object' -> 'amount') >= 0 then
    private.json_amount(e.payload -> 'data' -> 'object' -> 'amount') end,
  refund_created = case
    when private.json_amount(e.payload -> 'data' -> 'object' -> 'created') between 0 and 253402300799 then
      pg_catalog.to_timestamp(private.json_amount(e.payload -> 'data' -> 'object' -> 'created')::double precision)
  end
where e.payload -> 'data' -> 'object' ->> 'object' = 'refund';

do $$
declare
  v_row record;
begin
  for v_row in
    select distinct e.payment_intent_id from public.stripe_events as e
    where e.refund_status is not null and e.payment_intent_id is not null
  loop
    perform private.settle_payment_record(v_row.payment_intent_id);
  end loop;
  for v_row in
    select distinct s.user_id, s.lesson_id
    from public.stripe_events as e
    inner join public.checkout_sessions as s on e.payment_intent_id = s.stripe_payment_intent_id
    where e.refund_status is not null and s.payment_status = 'paid'
  loop
    perform private.settle_purchase(v_row.user_id, v_row.lesson_id);
  end loop;
end;
$$;
