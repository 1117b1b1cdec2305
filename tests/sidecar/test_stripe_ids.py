"""The sidecar's Checkout Session id pattern against the cases every language shares."""

from __future__ import annotations

import pytest

from sidecar.stripe_ids import is_checkout_session_id
from tests.cases import load

CASES = load("checkout_session_ids")


@pytest.mark.parametrize("session_id", CASES["valid"])
def test_a_valid_checkout_session_id_is_accepted(session_id: str) -> None:
    assert is_checkout_session_id(session_id)


@pytest.mark.parametrize("session_id", CASES["invalid"])
def test_an_invalid_checkout_session_id_is_refused(session_id: str) -> None:
    assert not is_checkout_session_id(session_id)


@pytest.mark.parametrize("value", [None, 1, b"cs_test_a1", ["cs_test_a1"]])
def test_anything_but_a_string_is_refused(value: object) -> None:
    assert not is_checkout_session_id(value)
