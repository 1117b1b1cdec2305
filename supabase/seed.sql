-- Demo lessons for local development and tests (`supabase db reset`, the devstack).
-- Nothing here is something a production database must have.
--
-- A small SQL school: one free lesson to start with, five paid ones, all in US dollars (one
-- currency per storefront), and one not yet published. The tests sell two of them in euros and
-- yen too (supabase/seeds/multi_currency.sql). Covers are files: devstack/media.py makes them,
-- uploads them to the public bucket lesson-covers and sets each lesson's cover and alt text.

insert into public.lessons
  (id, slug, title, description, price_cents, currency, published,
   display_order, outline, minutes, level, author, preview)
values
  ('00000000-0000-4000-8000-000000000001', 'welcome-to-sql', 'Welcome to SQL',
   'Tables, rows and your first query. Free, and the best place to start.', 0, 'usd', true,
   10, array['Tables and rows', 'Your first select', 'Filtering with where'], 8, 'beginner', 'Ada Lindqvist',
   ''),
  ('00000000-0000-4000-8000-000000000002', 'joins-without-fear', 'Joins without fear',
   'Inner, left and lateral joins, drawn and explained, with the mistakes everyone makes once.', 1200, 'usd', true,
   20, array['What a join does', 'Inner joins', 'Left joins and the missing rows', 'Lateral joins', 'Exercises'],
   25, 'beginner', 'Ada Lindqvist',
   $md$## What a join does

A join puts two tables side by side and keeps the pairs of rows that belong together. Every
join in this lesson is drawn as two columns of rows with lines between the pairs it keeps.$md$),
  ('00000000-0000-4000-8000-000000000003', 'row-level-security', 'Row level security in practice',
   'Policies that keep each learner''s rows their own, and how to prove they do.', 2500, 'usd', true,
   30, array['Why RLS', 'One policy per role and operation', 'Indexes for policies', 'Testing policies with pgTAP'],
   40, 'intermediate', 'Tomás Ferreira',
   $md$## Why RLS

An application that checks permissions in its own code has to get every query right. Row
level security puts the rule next to the data, so a forgotten `where` cannot leak a row.$md$),
  ('00000000-0000-4000-8000-000000000004', 'stripe-webhooks', 'Stripe webhooks that never lose a payment',
   'Signatures, retries, idempotency and events that arrive out of order.', 1900, 'usd', true,
   40, array['Verify, then store', 'Idempotency', 'Out-of-order events', 'Refunds and disputes'],
   35, 'advanced', 'Tomás Ferreira',
   $md$## Verify, then store

A webhook is a stranger knocking. Before anything else, check that Stripe signed the exact
bytes you received, and store the event before acting on it.$md$),
  ('00000000-0000-4000-8000-000000000005', 'transactions-and-isolation', 'Transactions and isolation',
   'Read committed, repeatable read and serializable, each shown with a real anomaly.', 1500, 'usd', true,
   50, array['What a transaction promises', 'Read committed', 'Repeatable read', 'Serializable'],
   30, 'intermediate', 'Ada Lindqvist',
   $md$## What a transaction promises

All of it or none of it, and as if nobody else were there. The second promise has levels,
and this lesson shows what each level lets through.$md$),
  ('00000000-0000-4000-8000-000000000006', 'indexes-explained', 'Indexes, explained',
   'B-trees, partial and covering indexes, and how to read a query plan.', 1800, 'usd', true,
   60, array['How a B-tree finds a row', 'Partial indexes', 'Covering indexes', 'Reading explain'],
   30, 'intermediate', 'Kenji Watanabe',
   $md$## How a B-tree finds a row

An index is a sorted copy of some columns with a pointer back to each row. Finding a row is
a walk down a short tree instead of a read of the whole table.$md$),
  ('00000000-0000-4000-8000-000000000007', 'unreleased-partitioning', 'Partitioning',
   'Splitting one large table into many, and when it is worth it.', 3000, 'usd', false,
   70, array['Range, list and hash', 'Pruning', 'Maintenance'], 45, 'advanced', 'Kenji Watanabe',
   '')
on conflict (id) do nothing;

insert into public.lesson_content (lesson_id, body)
values
  ('00000000-0000-4000-8000-000000000001', $md$A table is a set of rows. Start with: select * from lessons where published;

## Tables and rows

A table has named columns, and each row has a value for every column. Rows have no order of
their own: a query says which order it wants.

## Your first select

```sql
select title, price_cents
from lessons
where published
order by title;
```

`select` names the columns, `from` the table, and `order by` the order.

## Filtering with where

`where` keeps the rows for which its condition is true. A condition can compare columns with
values (`price_cents = 0`) or with each other.$md$),
  ('00000000-0000-4000-8000-000000000002', $md$An inner join keeps the rows that match on both sides; a left join keeps every row on the left.

## What a join does

A join puts two tables side by side and keeps the pairs of rows that belong together.

## Inner joins

```sql
select l.title, p.purchased_at
from lessons as l
join purchased_lessons as p on p.lesson_id = l.id;
```

Lessons nobody bought do not appear: an inner join keeps only pairs.

## Left joins and the missing rows

```sql
select l.title, count(p.user_id) as buyers
from lessons as l
left join purchased_lessons as p on p.lesson_id = l.id
group by l.title;
```

Every lesson appears; those nobody bought have `null` on the right, so `count(p.user_id)`
counts 0 for them.

## Lateral joins

A lateral subquery may read the row it is joined to, which makes "the latest purchase of each
lesson" one query.

## Exercises

1. List every learner with the number of lessons they own.
2. Find the lessons nobody has bought.$md$),
  ('00000000-0000-4000-8000-000000000003', $md$Enable RLS on every table, write one policy per role and operation, index what policies filter on.

## Why RLS

Row level security puts the rule next to the data.

## One policy per role and operation

```sql
create policy "learners read their own purchases"
on purchased_lessons for select to authenticated
using ((select auth.uid()) = user_id);
```

## Indexes for policies

A policy is a `where` clause on every query: index the columns it filters on.

## Testing policies with pgTAP

Set the role and the JWT claims, then assert what each role sees.$md$),
  ('00000000-0000-4000-8000-000000000004', $md$Verify the signature on the raw body, store the event, then act on it in one transaction.

## Verify, then store

Check the `Stripe-Signature` header against the exact bytes received.

## Idempotency

Stripe delivers an event at least once. Store its id with a unique key and act only the first
time.

## Out-of-order events

A refund can arrive before the payment it refunds. Record what each event says and decide from
everything known so far.

## Refunds and disputes

A full refund ends access; a dispute pauses it until the bank decides.$md$),
  ('00000000-0000-4000-8000-000000000005', $md$Under read committed each statement sees what committed before it began.

## What a transaction promises

All of it or none of it, and as if nobody else were there.

## Read committed

Two statements in one transaction may see different data.

## Repeatable read

A snapshot for the whole transaction; a concurrent update makes yours fail rather than lose.

## Serializable

The result is as if the transactions ran one after another, or one of them fails and is
retried.$md$),
  ('00000000-0000-4000-8000-000000000006', $md$A partial index covers only the rows its predicate selects.

## How a B-tree finds a row

A short walk down a sorted tree.

## Partial indexes

```sql
create index lessons_published_idx on lessons (published) where published;
```

## Covering indexes

`include` columns let a query answer from the index alone.

## Reading explain

`explain (analyze, buffers)` shows what the plan did, not only what it expected.$md$),
  ('00000000-0000-4000-8000-000000000007', $md$Declarative partitioning splits one table into many.

## Range, list and hash

## Pruning

## Maintenance$md$)
on conflict (lesson_id) do nothing;

-- The demo lessons' media (files in the lesson-media bucket and their lesson_media rows) are
-- made and uploaded by devstack/media.py with the secret key, as an operator would upload them.
