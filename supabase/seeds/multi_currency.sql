-- A second storefront's prices, applied after seed.sql: two of the demo lessons sold in euros
-- and in yen (a zero-decimal currency: 1800 is ¥1,800), so the tests cover what each lesson's
-- own currency changes (prices, Checkout amounts, refunds, the Purchases page). The default
-- storefront sells in one currency; this file is for the tests and `SEED_CURRENCIES=multi make dev`.

update public.lessons set currency = 'eur', price_cents = 1500
where id = '00000000-0000-4000-8000-000000000005';

update public.lessons set currency = 'jpy', price_cents = 1800
where id = '00000000-0000-4000-8000-000000000006';
