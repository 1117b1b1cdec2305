-- lesson_access gains the states that say why a lesson is not the caller's.
--
-- lesson_catalog() now tells 'disputed' (access paused while the bank reviews a dispute),
-- 'failed' (the last payment failed), 'refunded' and 'dispute_lost' apart from 'available'
-- (20261204100100_payment_record.sql). The values are added to the existing type rather than
-- the type being replaced: lesson_catalog() returns it (a new type would mean dropping the
-- function first), and the frontend's generated types know it by this name. A value added by
-- `alter type … add value` cannot be used in the transaction that adds it, so this migration
-- only adds them; the next one uses them. Each goes before 'available', so the labels stay in
-- the order lesson_catalog() decides them.

-- =============================================================================================
-- types
-- =============================================================================================

alter type public.lesson_access add value 'disputed' before 'available';
alter type public.lesson_access add value 'failed' before 'available';
alter type public.lesson_access add value 'refunded' before 'available';
alter type public.lesson_access add value 'dispute_lost' before 'available';

comment on type public.lesson_access is
'Why a lesson is or is not the caller''s: free, owned, processing, disputed, failed, refunded, dispute_lost or available.';
