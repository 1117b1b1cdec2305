-- Demo lessons for local development and tests (`supabase db reset`, the devstack).
-- Nothing here is something a production database must have.

insert into public.lessons (id, slug, title, description, price_cents, currency, published)
values
  ('00000000-0000-4000-8000-000000000001', 'welcome-to-sql', 'Welcome to SQL',
   'A free first lesson: tables, rows and your first select.', 0, 'usd', true),
  ('00000000-0000-4000-8000-000000000002', 'joins-without-fear', 'Joins without fear',
   'Inner, left and lateral joins, drawn and explained.', 1200, 'usd', true),
  ('00000000-0000-4000-8000-000000000003', 'row-level-security', 'Row level security in practice',
   'Policies that protect each learner''s rows, and how to test them.', 2500, 'usd', true),
  ('00000000-0000-4000-8000-000000000004', 'stripe-webhooks', 'Stripe webhooks that never lose a payment',
   'Signatures, retries, idempotency and out-of-order events.', 1900, 'usd', true),
  ('00000000-0000-4000-8000-000000000005', 'transactions-en-euros', 'Transactions and isolation',
   'Read committed, repeatable read and serializable, with real anomalies.', 1500, 'eur', true),
  ('00000000-0000-4000-8000-000000000006', 'indexes-in-yen', 'Indexes, explained in yen',
   'B-trees, partial and covering indexes; priced in a zero-decimal currency.', 1800, 'jpy', true),
  ('00000000-0000-4000-8000-000000000007', 'unreleased-partitioning', 'Partitioning (coming soon)',
   'Not published yet: visible to nobody but the service role.', 3000, 'usd', false)
on conflict (id) do nothing;

insert into public.lesson_content (lesson_id, body)
values
  ('00000000-0000-4000-8000-000000000001',
   'A table is a set of rows. Start with: select * from lessons where published;'),
  ('00000000-0000-4000-8000-000000000002',
   'An inner join keeps the rows that match on both sides; a left join keeps every row on the left.'),
  ('00000000-0000-4000-8000-000000000003',
   'Enable RLS on every table, write one policy per role and operation, index what policies filter on.'),
  ('00000000-0000-4000-8000-000000000004',
   'Verify the signature on the raw body, store the event, then act on it in one transaction.'),
  ('00000000-0000-4000-8000-000000000005',
   'Under read committed each statement sees what committed before it began.'),
  ('00000000-0000-4000-8000-000000000006',
   'A partial index covers only the rows its predicate selects.'),
  ('00000000-0000-4000-8000-000000000007',
   'Declarative partitioning splits one table into many.')
on conflict (lesson_id) do nothing;

-- The demo lessons' media (files in the lesson-media bucket and their lesson_media rows) are
-- made and uploaded by devstack/media.py with the secret key, as an operator would upload them.
