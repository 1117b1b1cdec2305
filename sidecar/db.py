"""The sidecar's whole interface to the database: call one SQL function, get its JSON back.

`Database` is the port; `PsycopgDatabase` is the direct-connection adapter. A PostgREST
(supabase-py) adapter fits the same port: `rpc(name, args)` with the function's named
arguments, returning the function's result decoded to Python objects (jsonb → dict/list,
text → str, null → None). Callers never see a driver type or a driver error: an unreachable
database is `DatabaseUnavailable`, whatever the adapter.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

import psycopg
import structlog
from psycopg import errors, sql
from psycopg.rows import tuple_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from sidecar.errors import DatabaseUnavailable

log = structlog.get_logger("sidecar.db")

# A serialization failure or deadlock rolled the whole call back, so running it again is safe.
_ROLLBACK_RETRIES = 2
_ROLLED_BACK = (errors.SerializationFailure, errors.DeadlockDetected, errors.TransactionRollback)


@runtime_checkable
class Database(Protocol):
    async def rpc(self, name: str, args: Mapping[str, object]) -> object:
        """Call `public.<name>` with named arguments; return its result as Python objects."""
        ...

    async def ping(self) -> None:
        """Raise DatabaseUnavailable unless the database answers now."""
        ...


def rpc_query(name: str, args: Mapping[str, object]) -> sql.Composed:
    """`select public.<name>(<arg> => %s, …)`, every name quoted as an identifier."""
    named = sql.SQL(", ").join(
        sql.SQL("{} => {}").format(sql.Identifier(arg), sql.Placeholder()) for arg in args
    )
    return sql.SQL("select {}({})").format(sql.Identifier("public", name), named)


def _adapt(value: object) -> object:
    # dicts and lists are Stripe objects or JSON documents: always sent as jsonb.
    return Jsonb(value) if isinstance(value, dict | list) else value


class PsycopgDatabase:
    """`Database` over a psycopg 3 async pool; every call is its own autocommit transaction."""

    def __init__(
        self,
        url: str,
        *,
        min_size: int = 1,
        max_size: int = 10,
        prepare_threshold: int | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.pool: AsyncConnectionPool[psycopg.AsyncConnection[tuple[object, ...]]] = (
            AsyncConnectionPool(
                url,
                open=False,
                min_size=min_size,
                max_size=max_size,
                timeout=timeout,
                # A connection cut while idle in the pool is found here, not by a request.
                check=AsyncConnectionPool.check_connection,
                kwargs={
                    "autocommit": True,
                    "prepare_threshold": prepare_threshold,
                    "row_factory": tuple_row,
                    "connect_timeout": max(2, int(timeout)),
                    "application_name": "lesson-shop-sidecar",
                },
                name="sidecar",
            )
        )

    async def open(self) -> None:
        # wait=False: start even while the database is down; /readyz says so until it is back.
        await self.pool.open(wait=False)

    async def close(self) -> None:
        await self.pool.close()

    async def rpc(self, name: str, args: Mapping[str, object]) -> object:
        query = rpc_query(name, args)
        params = [_adapt(value) for value in args.values()]
        for attempt in range(_ROLLBACK_RETRIES + 1):
            try:
                async with self.pool.connection() as conn:
                    cursor = await conn.execute(query, params)
                    row = await cursor.fetchone()
                    return None if row is None else row[0]
            except _ROLLED_BACK:
                if attempt == _ROLLBACK_RETRIES:
                    log.warning("database_call_rolled_back", function=name, attempts=attempt + 1)
                    raise DatabaseUnavailable() from None
            except (psycopg.OperationalError, PoolTimeout) as exc:
                log.warning("database_unavailable", function=name, error=type(exc).__name__)
                raise DatabaseUnavailable() from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def ping(self) -> None:
        try:
            async with self.pool.connection() as conn:
                await conn.execute("select 1")
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise DatabaseUnavailable() from exc
