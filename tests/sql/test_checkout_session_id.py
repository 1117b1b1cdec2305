"""SQL's Checkout Session id (the public.checkout_session_id domain, and the helper the
functions ask it through) against the cases every language shares."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from tests.cases import load

CASES = load("checkout_session_ids")


@pytest.fixture(scope="module")
def conn(database_url: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    with psycopg.connect(database_url, autocommit=True) as connection:
        yield connection


def domain_accepts(conn: psycopg.Connection[tuple[object, ...]], text: str) -> bool:
    try:
        conn.execute("select %s::text::public.checkout_session_id", (text,))
    except psycopg.errors.CheckViolation:
        return False
    return True


def helper_says(conn: psycopg.Connection[tuple[object, ...]], text: str | None) -> object:
    row = conn.execute("select private.is_checkout_session_id(%s)", (text,)).fetchone()
    assert row is not None
    return row[0]


@pytest.mark.parametrize("session_id", CASES["valid"])
def test_a_valid_checkout_session_id_is_accepted(
    conn: psycopg.Connection[tuple[object, ...]], session_id: str
) -> None:
    assert domain_accepts(conn, session_id)
    assert helper_says(conn, session_id) is True


@pytest.mark.parametrize("session_id", CASES["invalid"])
def test_an_invalid_checkout_session_id_is_refused(
    conn: psycopg.Connection[tuple[object, ...]], session_id: str
) -> None:
    assert not domain_accepts(conn, session_id)
    assert helper_says(conn, session_id) is False


def test_null_is_no_checkout_session_id(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    assert helper_says(conn, None) is False
