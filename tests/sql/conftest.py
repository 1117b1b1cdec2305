"""Fixtures for driving the purchase functions directly, as the sidecar's service role does."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest

JOINS = uuid.UUID("00000000-0000-4000-8000-000000000002")  # 1200 usd
RLS = uuid.UUID("00000000-0000-4000-8000-000000000003")  # 2500 usd
YEN = uuid.UUID("00000000-0000-4000-8000-000000000006")  # 1800 jpy
PRICES = {JOINS: (1200, "usd"), RLS: (2500, "usd"), YEN: (1800, "jpy")}


def connect(url: str) -> psycopg.Connection[tuple[object, ...]]:
    """A connection acting as the sidecar: role service_role, autocommit per call."""
    conn = psycopg.connect(url, autocommit=True)
    conn.execute("set role service_role")
    return conn


@pytest.fixture
def service_connection(database_url: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    with connect(database_url) as conn:
        yield conn


@pytest.fixture
def make_user(database_url: str) -> Callable[[], uuid.UUID]:
    """Create a learner in auth.users, as Supabase Auth would."""

    def create() -> uuid.UUID:
        user_id = uuid.uuid4()
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(
                "insert into auth.users (id, aud, role, email, created_at) "
                "values (%s, 'authenticated', 'authenticated', %s, now())",
                (user_id, f"{user_id}@example.com"),
            )
        return user_id

    return create
