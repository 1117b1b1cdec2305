"""The stand-in's connection pool, and one transaction per request on it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from standins.supabase.config import StandInConfig

# What "the database cannot be reached" looks like from here, whichever API is asked.
UNREACHABLE = (psycopg.OperationalError, PoolTimeout)


def make_pool(config: StandInConfig) -> AsyncConnectionPool[AsyncConnection[Any]]:
    return AsyncConnectionPool(
        config.database_url,
        open=False,
        min_size=1,
        max_size=config.pool_max_size,
        timeout=config.pool_timeout,
        check=AsyncConnectionPool.check_connection,
        kwargs={
            "autocommit": True,
            "connect_timeout": max(2, int(config.pool_timeout)),
            "application_name": "devstack-supabase",
        },
        name="devstack-supabase",
    )


@asynccontextmanager
async def transaction(
    pool: AsyncConnectionPool[AsyncConnection[Any]],
) -> AsyncIterator[AsyncConnection[Any]]:
    """A connection inside BEGIN … COMMIT (rolled back if the block raises)."""
    async with pool.connection() as conn, conn.transaction():
        yield conn
