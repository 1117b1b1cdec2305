-- Structure and privileges: tables, columns, RLS, policies, function security and who may call what.
begin;
select plan(93);

-- tables and columns ------------------------------------------------------------------------

select tables_are('public',
  array['lessons', 'lesson_content', 'purchased_lessons', 'checkout_sessions', 'stripe_events',
        'checkout_session_contradictions', 'lesson_media', 'lesson_progress', 'promotion_codes',
        'attention_resolutions', 'unmatched_checkout_sessions', 'early_fraud_warnings',
        'early_fraud_warning_refunds'],
  'public holds exactly the shop''s tables');

select columns_are('public', 'lessons',
  array['id', 'slug', 'title', 'description', 'price_cents', 'currency', 'published',
        'stripe_price_id', 'created_at', 'updated_at', 'display_order', 'outline', 'minutes', 'level',
        'author', 'preview', 'cover_path', 'cover_alt']);
select columns_are('public', 'lesson_content', array['lesson_id', 'body', 'updated_at']);
select columns_are('public', 'purchased_lessons',
  array['id', 'user_id', 'lesson_id', 'status', 'amount_total', 'currency',
        'stripe_checkout_session_id', 'stripe_payment_intent_id', 'stripe_customer_id',
        'purchased_at', 'refunded_at', 'disputed_at', 'updated_at', 'revoked_reason']);
select columns_are('public', 'checkout_sessions',
  array['id', 'user_id', 'lesson_id', 'amount_total', 'currency', 'status', 'payment_status', 'url',
        'stripe_payment_intent_id', 'stripe_customer_id', 'expires_at', 'paid_at', 'synced_at', 'fulfilment',
        'created_at', 'updated_at', 'payment_method_type', 'card_brand', 'card_last4', 'receipt_url',
        'amount_refunded', 'refunded_at', 'dispute_status', 'invoice_id', 'invoice_url', 'amount_discount',
        'promotion_code_id', 'coupon_id', 'amount_paid', 'needs_attention', 'refund_reason']);
select columns_are('public', 'stripe_events',
  array['id', 'type', 'created', 'livemode', 'api_version', 'received_at', 'processed_at', 'outcome',
        'outcome_reason', 'error', 'checkout_session_id', 'payment_intent_id', 'payload', 'object_id', 'payment_fact',
        'amount_total', 'currency', 'payload_cleared_at', 'payment_method_type', 'card_brand', 'card_last4',
        'receipt_url', 'amount_refunded', 'refund_status', 'refund_amount', 'refund_created', 'invoice_url',
        'unsettled']);
select columns_are('public', 'checkout_session_contradictions',
  array['id', 'checkout_session_id', 'stripe_event_id', 'source', 'fields', 'claimed', 'payment_intent_id',
        'received_at', 'resolved_at']);
select columns_are('public', 'early_fraud_warnings',
  array['id', 'charge_id', 'payment_intent_id', 'actionable', 'fraud_type', 'created', 'auto_refund', 'received_at',
        'action', 'action_reason', 'decided_at', 'resolved_at']);
select columns_are('public', 'early_fraud_warning_refunds',
  array['payment_intent_id', 'early_fraud_warning_id', 'charge_id', 'amount', 'currency', 'idempotency_key',
        'claimed_at', 'attempts', 'refund_id', 'requested_at', 'refused_code', 'created_at']);
select col_is_pk('public', 'early_fraud_warning_refunds', 'payment_intent_id',
  'one early-fraud-warning refund per payment intent, however many warnings name it');

-- keys and constraints ----------------------------------------------------------------------

select col_is_pk('public', 'stripe_events', 'id', 'the event id is the idempotency guard');
select col_is_unique('public', 'purchased_lessons', array['user_id', 'lesson_id'], 'one ownership row per learner and lesson');
select col_is_unique('public', 'purchased_lessons', array['stripe_checkout_session_id'], 'a session grants at most one row');
select fk_ok('public', 'purchased_lessons', 'user_id', 'auth', 'users', 'id');
select fk_ok('public', 'purchased_lessons', 'lesson_id', 'public', 'lessons', 'id');
select fk_ok('public', 'checkout_sessions', 'user_id', 'auth', 'users', 'id');
select fk_ok('public', 'checkout_sessions', 'lesson_id', 'public', 'lessons', 'id');
select fk_ok('public', 'lesson_content', 'lesson_id', 'public', 'lessons', 'id');
select col_is_unique('public', 'lessons', array['slug']);

-- every column holding a Checkout Session id is of the one domain that defines its shape
select col_type_is('public', 'checkout_sessions', 'id', 'public', 'checkout_session_id', 'checkout_sessions.id is a checkout_session_id');
select col_type_is('public', 'purchased_lessons', 'stripe_checkout_session_id', 'public', 'checkout_session_id', 'purchased_lessons.stripe_checkout_session_id is a checkout_session_id');
select col_type_is('public', 'stripe_events', 'checkout_session_id', 'public', 'checkout_session_id', 'stripe_events.checkout_session_id is a checkout_session_id');
select col_type_is('public', 'checkout_session_contradictions', 'checkout_session_id', 'public', 'checkout_session_id', 'checkout_session_contradictions.checkout_session_id is a checkout_session_id');

-- every column holding a receipt link is of the one domain that says which links may be shown
select col_type_is('public', 'checkout_sessions', 'receipt_url', 'public', 'receipt_url', 'checkout_sessions.receipt_url is a receipt_url');
select col_type_is('public', 'stripe_events', 'receipt_url', 'public', 'receipt_url', 'stripe_events.receipt_url is a receipt_url');

-- every foreign key and policy column is the leading column of some index
select is_empty($$
  select c.conrelid::regclass::text || '.' || a.attname
  from pg_constraint c
  join pg_attribute a on a.attrelid = c.conrelid and a.attnum = c.conkey[1]
  where c.contype = 'f' and c.connamespace = 'public'::regnamespace
    and not exists (
      select 1 from pg_index i where i.indrelid = c.conrelid and i.indkey[0] = c.conkey[1]
    )
$$, 'every foreign key is indexed');

-- row level security ------------------------------------------------------------------------

select is_empty($$
  select relname from pg_class
  where relnamespace = 'public'::regnamespace and relkind = 'r' and not relrowsecurity
$$, 'RLS is enabled on every table in public');

select policies_are('public', 'lessons',
  array['visitors read published lessons', 'learners read published lessons and lessons they bought']);
select policies_are('public', 'lesson_content',
  array['visitors read free lesson content', 'learners read free or owned lesson content']);
select policies_are('public', 'purchased_lessons', array['learners read their own purchases']);
select policies_are('public', 'checkout_sessions', array['learners read their own checkout sessions']);
select policies_are('public', 'stripe_events', array[]::name[], 'stripe_events has no policies: service_role only');
select policies_are('public', 'promotion_codes', array['learners read the promotion codes they used']);
select policies_are('public', 'checkout_session_contradictions', array[]::name[],
  'checkout_session_contradictions has no policies: service_role only');
select policies_are('public', 'early_fraud_warnings', array[]::name[], 'early_fraud_warnings has no policies: service_role only');
select policies_are('public', 'early_fraud_warning_refunds', array[]::name[],
  'early_fraud_warning_refunds has no policies: service_role only');

select policy_cmd_is('public', 'purchased_lessons', 'learners read their own purchases', 'select', 'learners only select purchases');
select policy_roles_are('public', 'purchased_lessons', 'learners read their own purchases', array['authenticated']);
select policy_roles_are('public', 'checkout_sessions', 'learners read their own checkout sessions', array['authenticated']);
select policy_roles_are('public', 'lessons', 'visitors read published lessons', array['anon']);
select is_empty($$
  select policyname from pg_policies where schemaname = 'public' and (cmd = 'ALL' or 'public' = any(roles))
$$, 'no policy is for all commands or for every role');
select is_empty($$
  select policyname from pg_policies
  where schemaname = 'public'
    and replace(coalesce(qual, '') || coalesce(with_check, ''), '( SELECT auth.uid() AS uid)', '') like '%auth.uid()%'
$$, 'every call of auth.uid() in a policy is wrapped in a subselect (evaluated once per statement)');

-- functions: security and search_path -------------------------------------------------------

select is_definer('public', 'record_purchase', array['jsonb', 'jsonb']);
select is_definer('public', 'revoke_purchase', array['jsonb', 'jsonb']);
select is_definer('public', 'handle_stripe_event', array['jsonb']);
select is_definer('public', 'handle_early_fraud_warning', array['jsonb', 'boolean']);
select is_definer('public', 'claim_early_fraud_warning_refunds', array['text']);
select is_definer('public', 'finish_early_fraud_warning_refund', array['text', 'text', 'text']);
select is_definer('public', 'sync_checkout_session', array['jsonb']);
select is_definer('public', 'begin_checkout', array['uuid', 'uuid']);
select is_definer('public', 'attach_checkout_session', array['jsonb']);
select is_definer('public', 'checkout_session_for_user', array['uuid', 'text']);
select isnt_definer('public', 'lesson_catalog', array[]::text[]);
select hasnt_function('public', 'purchase_history', array[]::text[], 'purchase_list() is the one payment record; purchase_history() is gone');
select isnt_definer('public', 'purchase_list', array[]::text[]);

select is_empty($$
  select p.oid::regprocedure::text from pg_proc p
  where p.pronamespace in ('public'::regnamespace, 'private'::regnamespace)
    and not coalesce(p.proconfig @> array['search_path=""'], false)
$$, 'every function in public and private pins search_path to empty');

-- privileges: who may execute what ----------------------------------------------------------

select function_privs_are('public', 'record_purchase', array['jsonb', 'jsonb'], 'anon', array[]::text[]);
select function_privs_are('public', 'record_purchase', array['jsonb', 'jsonb'], 'authenticated', array[]::text[]);
select function_privs_are('public', 'record_purchase', array['jsonb', 'jsonb'], 'service_role', array['EXECUTE']);
select function_privs_are('public', 'revoke_purchase', array['jsonb', 'jsonb'], 'authenticated', array[]::text[]);
select function_privs_are('public', 'revoke_purchase', array['jsonb', 'jsonb'], 'service_role', array['EXECUTE']);
select function_privs_are('public', 'handle_stripe_event', array['jsonb'], 'anon', array[]::text[]);
select function_privs_are('public', 'handle_stripe_event', array['jsonb'], 'authenticated', array[]::text[]);
select function_privs_are('public', 'handle_stripe_event', array['jsonb'], 'service_role', array['EXECUTE']);
select function_privs_are('public', 'handle_early_fraud_warning', array['jsonb', 'boolean'], 'authenticated', array[]::text[]);
select function_privs_are('public', 'handle_early_fraud_warning', array['jsonb', 'boolean'], 'service_role', array['EXECUTE']);
select function_privs_are('public', 'claim_early_fraud_warning_refunds', array['text'], 'authenticated', array[]::text[]);
select function_privs_are('public', 'claim_early_fraud_warning_refunds', array['text'], 'service_role', array['EXECUTE']);
select function_privs_are('public', 'finish_early_fraud_warning_refund', array['text', 'text', 'text'], 'anon', array[]::text[]);
select function_privs_are('public', 'finish_early_fraud_warning_refund', array['text', 'text', 'text'], 'service_role', array['EXECUTE']);
select function_privs_are('public', 'begin_checkout', array['uuid', 'uuid'], 'authenticated', array[]::text[]);
select function_privs_are('public', 'begin_checkout', array['uuid', 'uuid'], 'service_role', array['EXECUTE']);
select function_privs_are('public', 'lesson_catalog', array[]::text[], 'anon', array['EXECUTE']);
select function_privs_are('public', 'lesson_catalog', array[]::text[], 'authenticated', array['EXECUTE']);
select function_privs_are('public', 'purchase_list', array[]::text[], 'anon', array[]::text[]);
select function_privs_are('public', 'purchase_list', array[]::text[], 'authenticated', array['EXECUTE']);

-- the general rule behind the cases above: no API role but service_role can run a writer
select is_empty($$
  select p.oid::regprocedure::text || ' by ' || r.rolname
  from pg_proc p
  cross join (values ('anon'), ('authenticated'), ('public')) as r (rolname)
  where p.pronamespace = 'public'::regnamespace
    and p.prosecdef
    and (
      (r.rolname = 'public' and exists (select 1 from aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) x where x.grantee = 0))
      or (r.rolname <> 'public' and has_function_privilege(r.rolname, p.oid, 'execute'))
    )
$$, 'no security definer function is executable by public, anon or authenticated');

select is_empty($$
  select p.oid::regprocedure::text from pg_proc p
  where p.pronamespace = 'private'::regnamespace
    and (has_function_privilege('anon', p.oid, 'execute')
      or has_function_privilege('authenticated', p.oid, 'execute')
      or has_function_privilege('service_role', p.oid, 'execute'))
$$, 'no API role can call a private helper directly');

select schema_privs_are('private', 'anon', array[]::text[], 'anon cannot even see the private schema');
select schema_privs_are('private', 'authenticated', array[]::text[]);

-- table privileges: learners never hold a write privilege
select table_privs_are('public', 'purchased_lessons', 'authenticated', array['SELECT']);
select table_privs_are('public', 'purchased_lessons', 'anon', array['SELECT']);
select table_privs_are('public', 'checkout_sessions', 'authenticated', array['SELECT']);
select table_privs_are('public', 'stripe_events', 'authenticated', array[]::text[]);
select table_privs_are('public', 'stripe_events', 'anon', array[]::text[]);
select table_privs_are('public', 'checkout_session_contradictions', 'authenticated', array[]::text[]);
select table_privs_are('public', 'checkout_session_contradictions', 'anon', array[]::text[]);
select table_privs_are('public', 'early_fraud_warnings', 'authenticated', array[]::text[]);
select table_privs_are('public', 'early_fraud_warnings', 'anon', array[]::text[]);
select table_privs_are('public', 'early_fraud_warning_refunds', 'authenticated', array[]::text[]);
select table_privs_are('public', 'early_fraud_warning_refunds', 'anon', array[]::text[]);
select table_privs_are('public', 'lessons', 'authenticated', array['SELECT']);
select table_privs_are('public', 'lesson_content', 'anon', array['SELECT']);

select * from finish();
rollback;
