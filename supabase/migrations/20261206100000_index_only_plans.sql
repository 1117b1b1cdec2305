-- Plans that cannot go stale: the sidecar's functions price sequential scans out.
--
-- These functions look rows up by key, and a pooled connection keeps the plans it made for
-- them (PL/pgSQL's, and the foreign-key checks'). On a young table that has been ANALYZEd (a
-- deploy's first ANALYZE, or autovacuum's on a table of a few rows) reading the whole table is
-- the cheaper plan, and a connection that cached it kept it as the table grew: `make bench`
-- (cold_plan_drift_analysed) measured CPU per purchase climbing from 3.6 to 11 ms over 3,000
-- purchases, with 19 of the 43 statements of a purchase scanning whole tables
-- (checkout_sessions, for the foreign key of purchased_lessons, among them). With sequential
-- scans priced out, every plan finds its rows through an index whatever the statistics said
-- when it was made, at no cost per call (plan_cache_mode = force_custom_plan also fixed it, at
-- about a third more CPU per purchase: it plans every statement on every call). The setting
-- holds for everything a call runs, nested functions and triggers included.

-- =============================================================================================
-- functions
-- =============================================================================================

alter function public.begin_checkout(uuid, uuid) set enable_seqscan = off;
alter function public.attach_checkout_session(jsonb) set enable_seqscan = off;
alter function public.checkout_session_for_user(uuid, text) set enable_seqscan = off;
alter function public.record_purchase(jsonb, jsonb) set enable_seqscan = off;
alter function public.revoke_purchase(jsonb, jsonb) set enable_seqscan = off;
alter function public.handle_stripe_event(jsonb) set enable_seqscan = off;
alter function public.sync_checkout_session(jsonb) set enable_seqscan = off;
