"""Stripe's bracket form encoding, parsed back into nested params."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from standins.stripe.errors import StripeError
from standins.stripe.forms import parse_form


def test_nested_hashes_and_indexed_lists() -> None:
    body = urlencode(
        [
            ("mode", "payment"),
            ("metadata[user_id]", "u-1"),
            ("metadata[lesson_id]", "l-1"),
            ("line_items[1][quantity]", "2"),
            ("line_items[0][quantity]", "1"),
            ("line_items[0][price_data][product_data][name]", "Knots & splices"),
            ("line_items[0][price_data][unit_amount]", "1999"),
            ("line_items[1][price_data][currency]", "usd"),
        ]
    )
    assert parse_form(body) == {
        "mode": "payment",
        "metadata": {"user_id": "u-1", "lesson_id": "l-1"},
        "line_items": [
            {
                "quantity": "1",
                "price_data": {"product_data": {"name": "Knots & splices"}, "unit_amount": "1999"},
            },
            {"quantity": "2", "price_data": {"currency": "usd"}},
        ],
    }


def test_empty_brackets_append_and_indexes_sort_numerically() -> None:
    assert parse_form("expand[]=line_items&expand[]=payment_intent") == {
        "expand": ["line_items", "payment_intent"]
    }
    pairs = "&".join(f"types[{i}]=t{i}" for i in (10, 2, 0, 1))
    assert parse_form(pairs)["types"] == ["t0", "t1", "t2", "t10"]


def test_literal_brackets_and_blank_values_survive() -> None:
    raw = "success_url=https%3A%2F%2Fx%2Fs%3Fid%3D%7BCHECKOUT_SESSION_ID%7D&metadata[note]="
    assert parse_form(raw.encode()) == {
        "success_url": "https://x/s?id={CHECKOUT_SESSION_ID}",
        "metadata": {"note": ""},
    }


def test_a_key_cannot_be_both_a_value_and_a_hash() -> None:
    with pytest.raises(StripeError) as error:
        parse_form("metadata=x&metadata[a]=b")
    assert error.value.status == 400
    assert error.value.param == "metadata[a]"
    with pytest.raises(StripeError):
        parse_form("metadata[a]=b&metadata=x")
