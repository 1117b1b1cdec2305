"""One currency per storefront by default; the tests' databases add euros and yen.

`make dev` builds with `currencies="one"` (seed.sql alone: every published lesson in US
dollars); the tests' throwaway databases apply supabase/seeds/multi_currency.sql on top, and
keep every lesson, its slug and its price, so only the currency of two lessons differs.
"""

from __future__ import annotations

import psycopg
import pytest

from devstack import database
from tests.conftest import admin_url

CATALOGUE = "select slug, price_cents, currency from public.lessons where published order by slug"


def catalogue(url: str) -> list[tuple[str, int, str]]:
    with psycopg.connect(url) as conn:
        return [(str(s), int(p), str(c)) for s, p, c in conn.execute(CATALOGUE).fetchall()]


def test_the_default_storefront_sells_in_one_currency_and_the_tests_in_three(
    database_url: str,
) -> None:
    with database.throwaway(admin_url(), currencies="one") as url:
        one = catalogue(url)
    assert {currency for _, _, currency in one} == {"usd"}
    multi = catalogue(database_url)
    assert {currency for _, _, currency in multi} == {"usd", "eur", "jpy"}
    assert [(slug, price) for slug, price, _ in multi] == [(slug, price) for slug, price, _ in one]
    assert ("indexes-explained", 1800, "jpy") in multi
    assert ("transactions-and-isolation", 1500, "eur") in multi


def test_an_unknown_storefront_is_refused_before_anything_is_built() -> None:
    with pytest.raises(ValueError, match="currencies must be one of one, multi"):
        database.build("postgresql://nowhere.invalid/none", currencies="several")
