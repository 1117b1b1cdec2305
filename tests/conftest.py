"""Shared fixtures: one freshly built throwaway database per test session.

The database lives on the server named by TEST_DATABASE_URL (default: the local server on
127.0.0.1:5432) and is built exactly as production is (platform shim, migrations, seed).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import psycopg
import pytest

from devstack import database


def admin_url() -> str:
    return os.environ.get("TEST_DATABASE_URL", database.DEFAULT_ADMIN_URL)


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """URL of a throwaway database built from the migrations and seed, dropped at the end."""
    url = admin_url()
    try:
        psycopg.connect(url, connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        pytest.exit(
            f"No Postgres at TEST_DATABASE_URL={url!r} ({exc}). Start one, or point "
            "TEST_DATABASE_URL at a server where this user may create databases.",
            returncode=2,
        )
    with database.throwaway(url) as built:
        yield built


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
