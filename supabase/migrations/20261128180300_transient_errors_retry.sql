-- A transient failure while applying an event rolls the whole call back instead of being stored.
--
-- process_event keeps an event whose effects fail with `error` on its row, and the sidecar
-- acknowledges it (the same body would fail again; `reconcile` and a redelivery apply it
-- again). A lock timeout, a deadlock or a serialization failure is different: it says nothing
-- about the event and the same call succeeds a moment later. Those now leave the sub-
-- transaction as they came, so the call fails, nothing is stored, and the sidecar retries it or
-- answers 503 so that Stripe redelivers at once rather than the event waiting for reconcile.
-- (query_canceled, from statement_timeout or the sidecar's call timeout, already escapes: a
-- PL/pgSQL `others` handler never catches it.)

-- =============================================================================================
-- functions
-- =============================================================================================

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
      when v_type in ('charge.refunded', 'charge.dispute.created', 'charge.dispute.closed') then
        private.apply_revocation(v_type, v_object)
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
