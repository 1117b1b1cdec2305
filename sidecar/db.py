"""The sidecar's whole interface to the database: call one SQL function, get its JSON back.

`Database` is the port; `PsycopgDatabase` is the direct-connection adapter and
`SupabaseDatabase` the PostgREST one (supabase-py with the service role key). Both take
`rpc(name, args)` with the function's named arguments and return its result decoded to
Python objects (jsonb → dict/list, text → str, null → None), and `call(function, args)` for
a function answering JSON of a known shape (`sidecar.contracts`), returning that shape's
typed object or raising `UnexpectedResult`. Callers never see a driver type or a driver
error for an outage: an unreachable database is `DatabaseUnavailable`, whatever the adapter.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol, TypeVar, cast, runtime_checkable

import httpx
import psycopg
import structlog
from postgrest.exceptions import APIError
from psycopg import errors, sql
from psycopg.rows import tuple_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from sidecar.contracts import JsonFunction
from sidecar.errors import DatabaseUnavailable
from supabase import AsyncClient, AsyncClientOptions, acreate_client

log = structlog.get_logger("sidecar.db")

T = TypeVar("T")

# A serialization failure or deadlock rolled the whole call back, so running it again is safe.
_ROLLBACK_RETRIES = 2
_ROLLED_BACK = (errors.SerializationFailure, errors.DeadlockDetected, errors.TransactionRollback)


class ArgumentsRefused(Exception):
    """Postgres refused the call's arguments: a data exception (SQLSTATE class 22, such as
    JSON jsonb cannot hold or a timestamp out of range) or a program limit (class 54, such
    as a value too long for an index). Nothing was written; the same call fails again.

    Only the SQLSTATE is kept: the driver's message and CONTEXT quote the data.
    """

    def __init__(self, function: str, sqlstate: str) -> None:
        self.function = function
        self.sqlstate = sqlstate
        super().__init__(f"{function} refused its arguments (SQLSTATE {sqlstate})")


def _refused_arguments(sqlstate: str | None) -> bool:
    return sqlstate is not None and sqlstate[:2] in ("22", "54")


@runtime_checkable
class Database(Protocol):
    async def rpc(self, name: str, args: Mapping[str, object]) -> object:
        """Call `public.<name>` with named arguments; return its result as Python objects."""
        ...

    async def call(self, function: JsonFunction[T], args: Mapping[str, object]) -> T:
        """Call a function answering JSON; return it decoded as the function's contract says
        (UnexpectedResult for a shape the contract does not know)."""
        ...

    async def ping(self) -> None:
        """Raise DatabaseUnavailable unless the database answers now."""
        ...


class OwnedDatabase(Database, Protocol):
    """An adapter the app opens in its lifespan and closes after it."""

    async def open(self) -> None: ...

    async def close(self) -> None: ...


def rpc_query(name: str, args: Mapping[str, object], *, as_text: bool = False) -> sql.Composed:
    """`select public.<name>(<arg> => %s, …)`, every name quoted as an identifier; with
    `as_text`, the result cast to text (JSON that msgspec decodes straight into its type)."""
    named = sql.SQL(", ").join(
        sql.SQL("{} => {}").format(sql.Identifier(arg), sql.Placeholder()) for arg in args
    )
    cast_to = sql.SQL("::text" if as_text else "")
    return sql.SQL("select {}({}){}").format(sql.Identifier("public", name), named, cast_to)


@functools.lru_cache(maxsize=64)
def rpc_text(name: str, arg_names: tuple[str, ...], *, as_text: bool = False) -> bytes:
    # Rendered once per function and argument names (a handful in all): the same bytes object
    # each call also hits psycopg's own cache of parsed queries.
    return rpc_query(name, dict.fromkeys(arg_names), as_text=as_text).as_bytes(None)


def without_nul(value: Any) -> Any:
    """`value` with every U+0000 in its strings replaced by U+FFFD.

    Postgres text and jsonb cannot hold U+0000; a Stripe object carrying one (a name a buyer
    typed) would otherwise fail to store and be redelivered forever.
    """
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_nul(item) for item in value]
    return value


# A \u0000 escape preceded by an even number of backslashes (an odd number would make it the
# text "\u0000" after an escaped backslash).
_NUL_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")


@dataclass(frozen=True, slots=True)
class JsonText:
    """A JSON document already checked and parsed: `text` as received, `value` as parsed.

    The psycopg adapter sends `text` as jsonb untouched (Postgres parses it once, no
    re-serialising; only NUL escapes become U+FFFD, as `without_nul` does for objects);
    the PostgREST adapter sends `value`.
    """

    text: str
    value: Any


def _as_is(text: str) -> str:
    return text


def _adapt(value: object) -> object:
    if isinstance(value, JsonText):
        text = value.text
        if "\\u0000" in text:
            text = _NUL_ESCAPE.sub(r"\1\\ufffd", text)
        return Jsonb(text, dumps=_as_is)
    # dicts and lists are Stripe objects or JSON documents: always sent as jsonb.
    return Jsonb(without_nul(value)) if isinstance(value, dict | list) else without_nul(value)


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
        call_timeout: float = 10.0,
    ) -> None:
        self._call_timeout = call_timeout
        self._checking: asyncio.Task[None] | None = None
        self.pool: AsyncConnectionPool[psycopg.AsyncConnection[tuple[object, ...]]] = (
            AsyncConnectionPool(
                url,
                open=False,
                min_size=min_size,
                max_size=max_size,
                timeout=timeout,
                # No check on each checkout (it cost a round trip per request): a connection
                # that died while idle fails its request with DatabaseUnavailable (503, Stripe
                # redelivers), and that failure has the whole pool checked at once (below).
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
        if self._checking is not None:
            self._checking.cancel()
        await self.pool.close()

    async def rpc(self, name: str, args: Mapping[str, object]) -> object:
        return await self._fetch(name, rpc_text(name, tuple(args)), args)

    async def call(self, function: JsonFunction[T], args: Mapping[str, object]) -> T:
        query = rpc_text(function.name, tuple(args), as_text=True)
        text = await self._fetch(function.name, query, args)
        return function.decode_json(cast(str | None, text))

    async def _fetch(self, name: str, query: bytes, args: Mapping[str, object]) -> object:
        """The first column of the one row `query` answers, with retries and outage handling."""
        params = [_adapt(value) for value in args.values()]
        for attempt in range(_ROLLBACK_RETRIES + 1):
            try:
                async with self.pool.connection() as conn:
                    # On timeout psycopg cancels the statement in the server (its transaction
                    # rolls back) before the connection goes back to the pool.
                    async with asyncio.timeout(self._call_timeout):
                        cursor = await conn.execute(query, params)
                        row = await cursor.fetchone()
                    return None if row is None else row[0]
            except TimeoutError:
                log.warning("database_call_timed_out", function=name, seconds=self._call_timeout)
                raise DatabaseUnavailable() from None
            except _ROLLED_BACK:
                if attempt == _ROLLBACK_RETRIES:
                    log.warning("database_call_rolled_back", function=name, attempts=attempt + 1)
                    raise DatabaseUnavailable() from None
            except psycopg.Error as exc:
                # before OperationalError: psycopg counts program limits (54) among those
                if _refused_arguments(exc.sqlstate):
                    raise ArgumentsRefused(name, str(exc.sqlstate)) from None
                if not isinstance(exc, psycopg.OperationalError | PoolTimeout):
                    raise
                log.warning("database_unavailable", function=name, error=type(exc).__name__)
                self._check_idle_connections()
                raise DatabaseUnavailable() from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def ping(self) -> None:
        try:
            async with self.pool.connection() as conn:
                await conn.execute("select 1")
        except (psycopg.OperationalError, PoolTimeout) as exc:
            self._check_idle_connections()
            raise DatabaseUnavailable() from exc

    def _check_idle_connections(self) -> None:
        """After a failure, replace every broken idle connection now, in the background, so
        one outage costs one 503 per request in flight rather than one per pooled connection."""
        if self._checking is None or self._checking.done():
            self._checking = asyncio.get_running_loop().create_task(self._check_pool())

    async def _check_pool(self) -> None:
        with contextlib.suppress(psycopg.Error, PoolTimeout):
            await self.pool.check()


# PostgREST's answers when it cannot reach Postgres (PGRST000-002, 503; PGRST003, 504 pool
# timeout), the status code supabase-py reports for a gateway's non-JSON error page, and a lock
# timeout (55P03, which psycopg also counts among operational errors): the call stored nothing.
_POSTGREST_UNAVAILABLE = frozenset(
    {"PGRST000", "PGRST001", "PGRST002", "PGRST003", "502", "503", "504", "520", "55P03"}
)
# Postgres rolled the whole call back; PostgREST passes the SQLSTATE through.
_POSTGREST_ROLLED_BACK = frozenset({"40001", "40P01"})


def _json_default(value: object) -> object:
    if isinstance(value, JsonText):
        # a strict parse leaves no raw U+0000 in the text: only an escape can put one in
        return without_nul(value.value) if "\\u0000" in value.text else value.value
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def json_args(args: Mapping[str, object]) -> dict[str, Any]:
    """The arguments as the JSON PostgREST takes (uuids and dates as their text)."""
    encoded = json.dumps(without_nul(dict(args)), default=_json_default)
    return cast(dict[str, Any], json.loads(encoded))


class SupabaseDatabase:
    """`Database` over PostgREST with supabase-py's async client and the service role key.

    One httpx client of its own (closed with the adapter) and supabase-py's own retries off:
    an outage must come back as `DatabaseUnavailable` at once, so the webhook answers 503 and
    Stripe retries, rather than hang in a client retry loop.
    """

    def __init__(self, url: str, secret_key: str, *, timeout: float = 5.0) -> None:
        self._url = url
        self._key = secret_key
        self._http = httpx.AsyncClient(timeout=timeout)
        self._client: AsyncClient | None = None

    async def open(self) -> None:
        options = AsyncClientOptions(
            httpx_client=self._http,
            auto_refresh_token=False,
            persist_session=False,
            postgrest_client_retry=False,
        )
        self._client = await acreate_client(self._url, self._key, options)

    async def close(self) -> None:
        await self._http.aclose()

    @property
    def client(self) -> AsyncClient:
        if self._client is None:
            raise RuntimeError("SupabaseDatabase.open() was not awaited")
        return self._client

    async def rpc(self, name: str, args: Mapping[str, object]) -> object:
        try:
            params = json_args(args)
        except RecursionError:
            # JSON nested deeper than Python can re-serialise: what Postgres calls a stack
            # depth limit (54001), and the same arguments would fail again
            raise ArgumentsRefused(name, "54001") from None
        for attempt in range(_ROLLBACK_RETRIES + 1):
            try:
                response = await self.client.rpc(name, params).execute()
                return response.data
            except RecursionError:
                raise ArgumentsRefused(name, "54001") from None
            except httpx.TransportError as exc:
                log.warning("database_unavailable", function=name, error=type(exc).__name__)
                raise DatabaseUnavailable() from None
            except APIError as exc:
                if _refused_arguments(exc.code):
                    raise ArgumentsRefused(name, str(exc.code)) from None
                if exc.code in _POSTGREST_UNAVAILABLE:
                    log.warning("database_unavailable", function=name, error=exc.code)
                    raise DatabaseUnavailable() from None
                if exc.code not in _POSTGREST_ROLLED_BACK:
                    raise
                if attempt == _ROLLBACK_RETRIES:
                    log.warning("database_call_rolled_back", function=name, attempts=attempt + 1)
                    raise DatabaseUnavailable() from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def call(self, function: JsonFunction[T], args: Mapping[str, object]) -> T:
        return function.decode_value(await self.rpc(function.name, args))

    async def ping(self) -> None:
        """A one-row read through PostgREST: answers only when PostgREST and Postgres both do."""
        try:
            await self.client.table("lessons").select("id").limit(1).execute()
        except httpx.TransportError as exc:
            raise DatabaseUnavailable() from exc
        except APIError as exc:
            raise DatabaseUnavailable() from exc
