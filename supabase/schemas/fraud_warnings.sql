-- Early fraud warnings: the card issuer says a charge is likely fraud, before any dispute.
--
-- Stripe sends radar.early_fraud_warning.created (and .updated) with `actionable`: true while
-- the charge is neither refunded nor disputed. Stripe's advice is to refund an actionable
-- warning, which avoids the dispute and its fee. The shop does so, once per payment:
--
--   * an actionable warning on the payment that granted a lesson, with EFW_AUTO_REFUND on (the
--     sidecar's setting, default on; kept on the warning as it was when the warning came): access
--     ends at once (purchased_lessons.revoked_reason 'early_fraud_warning') and the payment is
--     refunded in full. early_fraud_warning_refunds holds one row per payment intent (its primary
--     key): however many warnings and redeliveries come, there is one refund to ask for, asked with
--     the idempotency key of the warning that decided it (efw-refund-<warning id>). The sidecar
--     claims the row (a row lock and a two-minute lease: one caller asks Stripe at a time), asks
--     Stripe, and records the refund id; the refund's own events then end in the state they
--     would (the refund lifecycle in purchase_rules.sql), counting the payment refunded once.
--   * anything else is listed for an operator (payments_needing_attention) and changes nothing:
--     a warning that is not actionable, one for a payment already refunded or disputed when it
--     was created, one with EFW_AUTO_REFUND off (the learner keeps the lesson until an operator
--     decides), one for a payment that did not grant a lesson (rejected, charged twice), one
--     naming no payment intent, and one whose refund Stripe refused or that failed.
--
-- The decision is taken by settle_purchase (purchase_rules.sql), which replays a purchase's
-- facts in Stripe's time order, so a warning delivered before, between or after the payment,
-- its refunds and its disputes ends where Stripe's order ends. A warning for a payment nobody
-- knows yet waits ('deferred', as refunds and disputes do) and is decided when the purchase
-- lands. One thing is not re-derived: once the sidecar has claimed a refund it has been asked
-- of Stripe, and the payment's warnings stay decided 'refund'.

-- =============================================================================================
-- tables
-- =============================================================================================

create table public.early_fraud_warnings (
  -- Early fraud warning id, e.g. issfr_1Pgc79B7WZ01zgkWxwDzEIPX
  id text primary key constraint early_fraud_warnings_id_format check (id ~ '^issfr_[A-Za-z0-9_]{1,250}$'),
  -- Charge id the issuer warned about, e.g. ch_3MtwBwLkdIwHu7ix28a3tqPa
  charge_id text not null constraint early_fraud_warnings_charge_format check (charge_id ~ '^(ch|py)_[A-Za-z0-9_]{1,250}$'),
  -- PaymentIntent id of the charge, e.g. pi_3MtwBwLkdIwHu7ix28a3tqPa (null: the warning named none)
  payment_intent_id text constraint early_fraud_warnings_payment_intent_format check (
    payment_intent_id ~ '^pi_[A-Za-z0-9_]{1,250}$'
  ),
  -- whether any event said it was actionable: Stripe turns it false once the charge is refunded
  -- or disputed, which the purchase's own facts already say
  actionable boolean not null,
  -- Stripe's fraud_type, e.g. 'made_with_stolen_card'
  fraud_type text constraint early_fraud_warnings_fraud_type_format check (fraud_type ~ '^[a-z_]{1,50}$'),
  -- Stripe's created time of the warning
  created timestamptz not null,
  -- EFW_AUTO_REFUND as it was when the warning first came
  auto_refund boolean not null,
  received_at timestamptz not null default now(),
  -- what the shop does about it: 'refund' (access ended, the payment refunded once) or 'list'
  -- (an operator decides; action_reason says why); null while its payment is unknown
  action text constraint early_fraud_warnings_action_check check (action in ('refund', 'list')),
  action_reason text constraint early_fraud_warnings_action_reason_check check (
    action_reason in (
      'not_actionable', 'already_refunded', 'already_disputed', 'auto_refund_off', 'not_granted', 'unknown_charge'
    )
  ),
  decided_at timestamptz,
  -- set by an operator once a listed warning is dealt with; it then leaves the attention list
  resolved_at timestamptz,
  constraint early_fraud_warnings_reason_when_listed check ((action = 'list') = (action_reason is not null)),
  constraint early_fraud_warnings_decided_has_time check ((action is null) = (decided_at is null))
);

comment on table public.early_fraud_warnings is
'Card issuers'' early fraud warnings and what the shop decided: refund once (access ends) or list for an operator.';

create table public.early_fraud_warning_refunds (
  -- PaymentIntent id refunded, e.g. pi_3MtwBwLkdIwHu7ix28a3tqPa: one refund per payment, however
  -- many warnings name it
  payment_intent_id text primary key constraint early_fraud_warning_refunds_payment_intent_format check (
    payment_intent_id ~ '^pi_[A-Za-z0-9_]{1,250}$'
  ),
  -- Early fraud warning id that decided it, e.g. issfr_1Pgc79B7WZ01zgkWxwDzEIPX (the earliest one;
  -- fixed once claimed): the refund's idempotency key and metadata name it
  early_fraud_warning_id text not null references public.early_fraud_warnings (id),
  -- Charge id, e.g. ch_3MtwBwLkdIwHu7ix28a3tqPa
  charge_id text not null,
  -- what was charged (minor units) and its currency: the refund is of all of it
  amount bigint not null constraint early_fraud_warning_refunds_amount_range check (amount > 0),
  currency text not null constraint early_fraud_warning_refunds_currency_format check (currency ~ '^[a-z]{3}$'),
  idempotency_key text generated always as ('efw-refund-' || early_fraud_warning_id) stored,
  -- a sidecar is asking Stripe since then (a lease: after two minutes another may ask again,
  -- with the same idempotency key)
  claimed_at timestamptz,
  attempts integer not null default 0,
  -- Refund id Stripe answered, e.g. re_3MtwBwLkdIwHu7ix0Y7ATkpS, and when
  refund_id text unique constraint early_fraud_warning_refunds_refund_format check (refund_id ~ '^re_[A-Za-z0-9_]+$'),
  requested_at timestamptz,
  -- Stripe refused it for good (its error code, e.g. 'charge_already_refunded', 'charge_disputed')
  refused_code text constraint early_fraud_warning_refunds_refused_format check (refused_code ~ '^[a-z_]{1,100}$'),
  created_at timestamptz not null default now(),
  constraint early_fraud_warning_refunds_requested_has_time check ((refund_id is null) = (requested_at is null)),
  constraint early_fraud_warning_refunds_settled_once check (refund_id is null or refused_code is null)
);

comment on table public.early_fraud_warning_refunds is
'The one refund an early fraud warning asks for per payment: claimed by the sidecar, asked of Stripe once (idempotency key), its id recorded.';

-- =============================================================================================
-- indexes
-- =============================================================================================

create index early_fraud_warnings_payment_intent_idx on public.early_fraud_warnings (payment_intent_id)
  where payment_intent_id is not null;
-- the attention list
create index early_fraud_warnings_unresolved_idx on public.early_fraud_warnings (received_at)
  where resolved_at is null;
create index early_fraud_warning_refunds_warning_idx on public.early_fraud_warning_refunds (early_fraud_warning_id);
-- refunds still to ask for (claim_early_fraud_warning_refunds)
create index early_fraud_warning_refunds_due_idx on public.early_fraud_warning_refunds (created_at)
  where refund_id is null and refused_code is null;

-- =============================================================================================
-- row level security
-- =============================================================================================

alter table public.early_fraud_warnings enable row level security;
alter table public.early_fraud_warning_refunds enable row level security;

-- no policies: written by the purchase functions, read by service_role only

-- =============================================================================================
-- private functions
-- =============================================================================================

-- A radar.early_fraud_warning.* event: store the warning (a redelivery or .updated adds to it),
-- then re-derive every purchase its payment intent paid for, which decides it. 'revoked' when
-- that ended access, 'applied' when it changed none, 'deferred' while no paid session names the
-- payment intent (settle_purchase decides it when the purchase lands). The caller sets
-- lesson_shop.efw_auto_refund (handle_early_fraud_warning); unset means on, the default.
create or replace function private.apply_early_fraud_warning(p_object jsonb)
returns text
language plpgsql
security invoker
set search_path = ''
as $$
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
$$;

-- Write what settle_purchase decided for the warnings of one (learner, lesson): each warning's
-- action, the reason the shop refunds each payment it refunds (checkout_sessions.refund_reason,
-- for the Purchases page), and one refund row per such payment, naming its earliest warning.
-- A row nobody has claimed yet follows the decision (it moves to an earlier warning, or goes
-- when the decision no longer refunds: a dispute older than the warning arrived late); a
-- claimed one stays, as Stripe has been asked. p_warnings: warning id → 'refund' or the reason
-- it is listed; p_refunds: session id → the warning that refunds its payment. The caller
-- holds the learner+lesson lock.
create or replace function private.settle_early_fraud_warnings(
  p_user_id uuid,
  p_lesson_id uuid,
  p_warnings jsonb,
  p_refunds jsonb
)
returns void
language plpgsql
security invoker
set search_path = ''
as $$
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
$$;

revoke all on function
  private.apply_early_fraud_warning(jsonb),
  private.settle_early_fraud_warnings(uuid, uuid, jsonb, jsonb)
from public, anon, authenticated, service_role;

-- =============================================================================================
-- public functions: the sidecar's interface (service_role only)
-- =============================================================================================

-- security definer: writes tables that no API role may write; callable by service_role only.
create or replace function public.handle_early_fraud_warning(p_event jsonb, p_auto_refund boolean default true)
returns text
language plpgsql
security definer
set search_path = ''
set enable_seqscan = off
as $$
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
$$;

comment on function public.handle_early_fraud_warning(jsonb, boolean) is
'The webhook''s call for radar.early_fraud_warning.*: store the event, decide the warning under EFW_AUTO_REFUND, return the outcome word.';

-- The refunds early fraud warnings ask for that nobody is asking Stripe for now, claimed for
-- two minutes: those of one event's payment intent (the warning's, or the session's of a
-- checkout event that landed a purchase a warning waited for), or with p_event_id null every
-- one (reconcile). Each as {payment_intent, charge, early_fraud_warning, amount, currency,
-- idempotency_key}. Two callers at once: the row lock lets one claim it, the other gets none.
-- security definer: writes a table no API role may write; callable by service_role only.
create or replace function public.claim_early_fraud_warning_refunds(p_event_id text default null)
returns jsonb
language plpgsql
security definer
set search_path = ''
set enable_seqscan = off
as $$
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
$$;

comment on function public.claim_early_fraud_warning_refunds(text) is
'Claim (for two minutes) the early-fraud-warning refunds due for one event''s payment intent, or all with null.';

-- What Stripe answered a claimed refund: its id (recorded; the claim ends), a code it refused
-- with for good (recorded and listed for an operator), or neither (the call failed: the claim
-- is released so that Stripe's redelivery asks again, with the same idempotency key). Returns
-- 'requested', 'refused' or 'released'. A second, different refund id for one payment is an
-- error: one idempotency key cannot have made two refunds.
-- security definer: writes a table no API role may write; callable by service_role only.
create or replace function public.finish_early_fraud_warning_refund(
  p_payment_intent text,
  p_refund_id text default null,
  p_refused_code text default null
)
returns text
language plpgsql
security definer
set search_path = ''
set enable_seqscan = off
as $$
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
$$;

comment on function public.finish_early_fraud_warning_refund(text, text, text) is
'Record Stripe''s answer to a claimed early-fraud-warning refund: its id, a refusal code, or neither (release the claim).';

-- =============================================================================================
-- grants: service_role only
-- =============================================================================================

-- read-only even for service_role: the functions above are their only writers, and an operator
-- closes a listed warning with resolve_attention (attention.sql), which keeps who and why
revoke all on public.early_fraud_warnings, public.early_fraud_warning_refunds
from public, anon, authenticated, service_role;
grant select on public.early_fraud_warnings, public.early_fraud_warning_refunds to service_role;

revoke execute on function
  public.handle_early_fraud_warning(jsonb, boolean),
  public.claim_early_fraud_warning_refunds(text),
  public.finish_early_fraud_warning_refund(text, text, text)
from public, anon, authenticated;

grant execute on function
  public.handle_early_fraud_warning(jsonb, boolean),
  public.claim_early_fraud_warning_refunds(text),
  public.finish_early_fraud_warning_refund(text, text, text)
to service_role;
