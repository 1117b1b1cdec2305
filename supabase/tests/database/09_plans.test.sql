-- Plans that stay right from an empty start: indexes no cached plan can misuse, and catalogue
-- readers that plan once per connection (see 20261128180000_plan_stable_reads.sql, 20261128180200_payment_facts_index.sql,
-- 20261203110000_catalog_states.sql and 20261206100000_index_only_plans.sql).
begin;
select plan(10);

select has_index('public', 'purchased_lessons', 'purchased_lessons_lesson_user_idx', array['lesson_id', 'user_id'],
  'purchases by lesson carry the learner too');
select hasnt_index('public', 'purchased_lessons', 'purchased_lessons_lesson_id_idx',
  'no lesson-only index on purchases for a cold plan to pick');
select has_index('public', 'checkout_sessions', 'checkout_sessions_lesson_user_idx', array['lesson_id', 'user_id'],
  'sessions by lesson carry the learner too');
select hasnt_index('public', 'checkout_sessions', 'checkout_sessions_lesson_id_idx',
  'no lesson-only index on sessions for a cold plan to pick');
select has_index('public', 'lessons', 'lessons_catalog_order_idx', array['display_order', 'created_at', 'slug'],
  'an index serves the catalogue''s order');

select has_index('public', 'stripe_events', 'stripe_events_payment_facts_idx', array['payment_intent_id'],
  'revocations are found by payment intent through an index of their own');

select function_lang_is('public', 'lesson_catalog', array[]::name[], 'plpgsql', 'lesson_catalog plans once per connection');
select has_index('public', 'checkout_sessions', 'checkout_sessions_payment_intent_idx', array['stripe_payment_intent_id'],
  'a payment record is settled by payment intent through an index');
select function_lang_is('public', 'purchase_list', array[]::name[], 'plpgsql', 'purchase_list plans once per connection');

select is(
  array(
    select p.oid::regprocedure::text
    from pg_catalog.pg_proc as p
    where
      p.oid in (
        'public.begin_checkout(uuid, uuid)'::regprocedure,
        'public.attach_checkout_session(jsonb)'::regprocedure,
        'public.checkout_session_for_user(uuid, text)'::regprocedure,
        'public.record_purchase(jsonb, jsonb)'::regprocedure,
        'public.revoke_purchase(jsonb, jsonb)'::regprocedure,
        'public.handle_stripe_event(jsonb)'::regprocedure,
        'public.sync_checkout_session(jsonb)'::regprocedure
      )
      and not coalesce('enable_seqscan=off' = any(p.proconfig), false)
  ),
  array[]::text[],
  'the sidecar''s functions price sequential scans out, so no cached plan reads a grown table whole'
);

select * from finish();
rollback;
