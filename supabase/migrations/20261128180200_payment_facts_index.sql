-- An index for the revocations settle_purchase looks up, so no cached plan scans every event.
--
-- settle_purchase joins a purchase's payment intents to the refund and dispute events stored
-- for them. A connection that planned that join while stripe_events was empty kept a plan that
-- reads the whole table, and a pooled connection's CPU per purchase then grew with every event
-- stored (`make bench`, cold_plan_drift: 1.6 to 3.0 ms over 10,000 purchases). This index holds
-- only the events that state a revocation, so it stays small and any plan finds them by
-- payment intent.

-- =============================================================================================
-- indexes
-- =============================================================================================

create index stripe_events_payment_facts_idx on public.stripe_events (payment_intent_id)
where payment_fact in ('refund', 'dispute_opened', 'dispute_won', 'dispute_lost');
