-- Stripe event payloads are kept 30 days after the event is processed, then cleared.
--
-- stripe_events.payload holds buyers' names and emails (the Checkout Session's
-- customer_details, the charge's billing details). Nothing reads it once an event is
-- processed: the purchase rules, the attention list and reconcile use the facts extracted
-- when the event was stored (ids, payment_fact, amount, currency) and the event id. So
-- prune_stripe_event_payloads clears the payload of events processed long enough ago and
-- keeps everything else (payload_cleared_at records when; events.sql). Events that failed
-- (error) or wait for their purchase (deferred) keep it until they apply: a failed event is
-- applied again from its stored body.

-- =============================================================================================
-- functions
-- =============================================================================================

-- security definer: clears rows of a table no API role may write, as its owner, so the
-- sidecar (service_role) and a pg_cron job get the same result; callable by service_role
-- (and the owner, who schedules it) only.
create or replace function public.prune_stripe_event_payloads(p_older_than interval default interval '30 days')
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_cleared integer;
begin
  if p_older_than is null or p_older_than < interval '0 seconds' then
    raise exception 'p_older_than must be an interval of zero or more, not %', coalesce(p_older_than::text, 'null')
      using errcode = '22023';
  end if;

  update public.stripe_events as e
  set payload = null, payload_cleared_at = pg_catalog.now()
  where
    e.payload is not null
    and e.processed_at <= pg_catalog.now() - p_older_than
    and e.outcome is not null
    and e.outcome not in ('error', 'deferred');
  get diagnostics v_cleared = row_count;
  return v_cleared;
end;
$$;

comment on function public.prune_stripe_event_payloads(interval) is
'Clear the payload of events processed more than p_older_than ago (default 30 days), except failed or deferred ones; returns how many.';

-- A learner who deletes their account keeps no name or email in the shop's books: when the
-- deletion sets their payments' user_id to null (purchases.sql, `on delete set null`), the
-- payloads of those payments' processed events are cleared at once, as the 30-day pruning
-- would clear them later (failed or deferred events keep theirs until they apply, as there).
-- security definer: it runs inside Supabase Auth's delete of the user (as supabase_auth_admin)
-- and clears rows of a table no API role may write, as its owner. A trigger function: nobody
-- calls it.
create or replace function private.forget_buyer_details()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.stripe_events as e
  set payload = null, payload_cleared_at = pg_catalog.now()
  where
    e.payload is not null
    and e.outcome is not null
    and e.outcome not in ('error', 'deferred')
    and (e.checkout_session_id = new.id or e.payment_intent_id = new.stripe_payment_intent_id);
  return null;
end;
$$;

comment on function private.forget_buyer_details() is
'Clear the payloads (buyers'' names and emails) of a payment''s processed events once its learner''s account is deleted.';

create trigger checkout_sessions_forget_buyer_details
after update of user_id on public.checkout_sessions
for each row
when (old.user_id is not null and new.user_id is null)
execute function private.forget_buyer_details();

-- =============================================================================================
-- grants
-- =============================================================================================

revoke execute on function public.prune_stripe_event_payloads(interval) from public, anon, authenticated;
grant execute on function public.prune_stripe_event_payloads(interval) to service_role;
revoke all on function private.forget_buyer_details() from public, anon, authenticated, service_role;
