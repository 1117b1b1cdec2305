-- Promotion codes: their words, and what they took off, per code and per lesson.
--
-- A Checkout Session opened with allow_promotion_codes (the sidecar's CHECKOUT_PROMOTION_CODES)
-- lets the learner type a code; the paid session reports only the code's id and its coupon's
-- (discounts[0]) and what it took off (total_details.amount_discount), which the purchase
-- rules record on the session (purchases.sql: amount_discount, promotion_code_id, coupon_id,
-- amount_paid). The words a learner typed ("FALL20") come from Stripe's promotion_code.created
-- and .updated events, kept here once their payloads are cleared. promotion_code_sales sums
-- the paid sessions per code and lesson for the operator. A code never changes which lesson
-- is granted: the purchase rules check the session's metadata and its price before discounts.

-- =============================================================================================
-- tables
-- =============================================================================================

create table public.promotion_codes (
  -- Promotion code id, e.g. promo_1Pgc79B7WZ01zgkWNy4mn5NX
  id text primary key constraint promotion_codes_id_format check (id ~ '^promo_[A-Za-z0-9_]{1,250}$'),
  -- the customer-facing code, e.g. FALL20
  code text not null constraint promotion_codes_code_format check (code ~ '^[A-Za-z0-9-]+$' and length(code) <= 500),
  -- Coupon id, e.g. Z4OV52SU
  coupon_id text constraint promotion_codes_coupon_format check (coupon_id ~ '^[A-Za-z0-9_-]{1,250}$'),
  active boolean not null,
  -- Stripe's created time of the newest event that described the code (an older one, arriving
  -- late, changes nothing)
  described_at timestamptz not null,
  updated_at timestamptz not null default now()
);

comment on table public.promotion_codes is
'Promotion codes as Stripe''s promotion_code events describe them: the words a learner typed, by id.';

-- =============================================================================================
-- triggers
-- =============================================================================================

create trigger promotion_codes_touch_updated_at
before update on public.promotion_codes
for each row execute function private.touch_updated_at();

-- =============================================================================================
-- row level security
-- =============================================================================================

alter table public.promotion_codes enable row level security;

-- A learner reads the words of a code they paid with (purchase_list() shows them).
create policy "learners read the promotion codes they used"
on public.promotion_codes
for select
to authenticated
using (
  exists (
    select 1 from public.checkout_sessions as s
    where s.promotion_code_id = promotion_codes.id and s.user_id = (select auth.uid())
  )
);

-- =============================================================================================
-- functions
-- =============================================================================================

-- A promotion_code.created or .updated event: keep the code's words, coupon and active flag,
-- unless a newer event already described it. The coupon is promotion.coupon since API
-- 2025-09-30 and the embedded coupon object before.
create or replace function private.apply_promotion_code(p_object jsonb, p_created timestamptz)
returns text
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_id text := private.json_word(p_object -> 'id', '^promo_[A-Za-z0-9_]{1,250}$');
  v_code text := private.json_word(p_object -> 'code', '^[A-Za-z0-9-]+$');
begin
  if v_id is null or v_code is null or pg_catalog.length(v_code) > 500 then
    return 'ignored:not_a_promotion_code';
  end if;
  insert into public.promotion_codes as c (id, code, coupon_id, active, described_at)
  values (
    v_id,
    v_code,
    coalesce(
      private.json_word(p_object -> 'promotion' -> 'coupon', '^[A-Za-z0-9_-]{1,250}$'),
      private.json_word(p_object -> 'coupon' -> 'id', '^[A-Za-z0-9_-]{1,250}$')
    ),
    coalesce((p_object ->> 'active')::boolean, true),
    p_created
  )
  on conflict (id) do update
  set
    code = excluded.code,
    coupon_id = coalesce(excluded.coupon_id, c.coupon_id),
    active = excluded.active,
    described_at = excluded.described_at
  where c.described_at <= excluded.described_at;
  return 'applied';
end;
$$;

revoke all on function private.apply_promotion_code(jsonb, timestamptz)
from public, anon, authenticated, service_role;

-- =============================================================================================
-- views
-- =============================================================================================

-- Paid Checkout Sessions summed per promotion code and lesson (lesson_id null: the code's
-- total over all lessons; promotion_code_id null: sessions paid without a code), in each
-- currency: how many, the price before discounts, what the codes took off, what was charged,
-- what has been refunded since, and the net (charged less refunded). Every paid session counts,
-- granted or not (a charge for a lesson already owned is money taken until refunded).
create view public.promotion_code_sales
with (security_invoker = true)
as
select
  s.promotion_code_id,
  c.code,
  s.coupon_id,
  s.lesson_id,
  l.slug,
  s.currency,
  count(*) as purchases,
  sum(s.amount_total)::bigint as amount_subtotal,
  sum(s.amount_discount)::bigint as amount_discount,
  sum(s.amount_paid)::bigint as amount_paid,
  sum(s.amount_refunded)::bigint as amount_refunded,
  sum(s.amount_paid - least(s.amount_refunded, s.amount_paid))::bigint as amount_net
from public.checkout_sessions as s
inner join public.lessons as l on s.lesson_id = l.id
left join public.promotion_codes as c on s.promotion_code_id = c.id
where s.payment_status = 'paid'
group by grouping sets (
  (s.promotion_code_id, c.code, s.coupon_id, s.currency, s.lesson_id, l.slug),
  (s.promotion_code_id, c.code, s.coupon_id, s.currency)
);

comment on view public.promotion_code_sales is
'Paid sessions per promotion code and lesson (lesson_id null: the code over all lessons): count, discount, charged, refunded, net.';

-- =============================================================================================
-- grants: service_role only
-- =============================================================================================

revoke all on public.promotion_codes from anon, authenticated;
grant select on public.promotion_codes to authenticated;
grant all on public.promotion_codes to service_role;

revoke all on public.promotion_code_sales from public, anon, authenticated;
grant select on public.promotion_code_sales to service_role;
