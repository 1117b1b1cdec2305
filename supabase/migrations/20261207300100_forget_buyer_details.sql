-- Deleting an account clears the buyer's details from the stored Stripe events at once.
--
-- stripe_events.payload holds buyers' names and emails; prune_stripe_event_payloads clears it
-- 30 days after processing. When Supabase Auth deletes a learner, their payments' user_id is set
-- null (20261207300000_account_deletion); this trigger then clears the payloads of those
-- payments' processed events straight away, so the books keep amounts, dates and Stripe ids
-- and nothing that names the person. Failed or deferred events keep theirs until they apply.
--
-- Written by `make migration NAME=forget_buyer_details` (supabase db diff --use-pg-delta,
-- Supabase CLI 2.117.0) from supabase/schemas.

set local check_function_bodies = off;

create or replace function private.forget_buyer_details()
  returns trigger
  language plpgsql
  security definer
  set search_path to ''
  as $function$
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
$function$;

create trigger checkout_sessions_forget_buyer_details
  after update of user_id on public.checkout_sessions
  for each row
  when (((old.user_id is not null) and (new.user_id is null)))
  execute function private.forget_buyer_details();

comment on function private.forget_buyer_details() is
'Clear the payloads (buyers'' names and emails) of a payment''s processed events once its learner''s account is deleted.';

revoke all on function private.forget_buyer_details() from public, anon, authenticated, service_role;
