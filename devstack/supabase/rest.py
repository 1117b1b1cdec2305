"""`/rest/v1`: function calls and simple table reads, each run as PostgREST runs a request.

One transaction per request: `set local role` to the JWT's role, the claims in
`request.jwt.claims` (what auth.uid() and auth.jwt() read), then the query, so that grants
and RLS decide exactly as they do behind the real PostgREST. A GET runs read-only, as there.
"""

from __future__ import annotations

import json
from typing import Any

import jwt
import psycopg
from litestar import Request, Response, Router, get, post
from litestar.di import Provide
from litestar.params import FromPath
from psycopg import AsyncConnection, sql

from devstack.supabase import queries, tokens
from devstack.supabase.config import StandInConfig
from devstack.supabase.database import UNREACHABLE, transaction
from devstack.supabase.errors import RestError
from devstack.supabase.gateway import CallerDep, ConfigDep, caller

AnyRequest = Request[Any, Any, Any]


def claims_of(token: str, config: StandInConfig) -> dict[str, Any]:
    """The verified JWT claims, or PostgREST's 401 (PGRST303 expired, PGRST301 otherwise)."""
    try:
        claims = tokens.decode(token, config.jwt_secret)
    except jwt.ExpiredSignatureError:
        raise RestError(401, "PGRST303", "JWT expired") from None
    except jwt.PyJWTError:
        raise RestError(401, "PGRST301", "No suitable key or wrong key type") from None
    role = claims.get("role")
    if role not in tokens.API_ROLES:
        # PostgREST's authenticator is granted only these roles; switching to another fails.
        raise RestError(403, "42501", f'permission denied to set role "{role}"')
    return claims


def status_of(sqlstate: str, role: str) -> int:
    """PostgREST's table of SQLSTATE → HTTP status (docs: errors, "SQLSTATE")."""
    exact = {"23503": 409, "23505": 409, "25006": 405, "42883": 404, "42P01": 404, "P0001": 400}
    if sqlstate in exact:
        return exact[sqlstate]
    if sqlstate == "42501":
        return 401 if role == "anon" else 403
    if sqlstate.startswith("PT") and sqlstate[2:].isdigit():
        return int(sqlstate[2:])
    by_class = {"08": 503, "53": 503, "0L": 403, "0P": 403, "28": 403, "42P17": 500}
    for prefix, status in by_class.items():
        if sqlstate.startswith(prefix):
            return status
    server_side = ("09", "25", "2D", "38", "39", "3B", "40", "54", "55", "57", "58", "F0")
    if sqlstate.startswith((*server_side, "HV", "P0", "XX")):
        return 500
    return 400


def database_error(exc: psycopg.Error, role: str) -> RestError:
    diag = exc.diag
    code = exc.sqlstate or "XX000"
    return RestError(
        status_of(code, role),
        code,
        diag.message_primary or str(exc),
        details=diag.message_detail,
        hint=diag.message_hint,
    )


def _check_profile(request: AnyRequest, header: str) -> None:
    schema = request.headers.get(header)
    if schema and schema != queries.SCHEMA:
        raise RestError(
            406,
            "PGRST106",
            f"Invalid schema: {schema}",
            hint=f"Only the following schemas are exposed: {queries.SCHEMA}",
        )


async def _as_role(conn: AsyncConnection[Any], request: AnyRequest, claims: dict[str, Any]) -> None:
    await conn.execute(sql.SQL("set local role {}").format(sql.Identifier(claims["role"])))
    await conn.execute(
        "select set_config('request.jwt.claims', %s, true),"
        " set_config('request.method', %s, true), set_config('request.path', %s, true)",
        (json.dumps(claims), request.method, request.url.path),
    )


async def _run(
    request: AnyRequest,
    config: ConfigDep,
    gate: CallerDep,
    build: Any,
) -> bytes:
    """Run `build(conn)`'s query in one transaction as the caller; the JSON text it returns."""
    claims = claims_of(gate.token, config)
    role = str(claims["role"])
    try:
        async with transaction(request.app.state.pool) as conn:
            if request.method == "GET":
                await conn.execute("set transaction read only")
            query, params = await build(conn)
            await _as_role(conn, request, claims)
            cursor = await conn.execute(query, params)
            row = await cursor.fetchone()
    except UNREACHABLE:
        raise RestError(
            503, "PGRST001", "Database client error. Retrying the connection."
        ) from None
    except psycopg.Error as exc:
        raise database_error(exc, role) from None
    text = row[0] if row else None
    return b"null" if text is None else str(text).encode()


def _json(content: bytes, headers: dict[str, str] | None = None) -> Response[bytes]:
    return Response(
        content=content,
        media_type="application/json; charset=utf-8",
        headers=headers,
    )


async def _call(
    request: AnyRequest, config: ConfigDep, gate: CallerDep, fn: str, args: dict[str, Any]
) -> Response[bytes]:
    async def build(conn: AsyncConnection[Any]) -> tuple[sql.Composed, list[str | None]]:
        cursor = await conn.execute(queries.FUNCTIONS_SQL, (queries.SCHEMA, fn))
        overloads = [queries.Function.from_catalog(*row) for row in await cursor.fetchall()]
        return queries.call(fn, queries.choose(fn, list(args), overloads), args)

    return _json(await _run(request, config, gate, build))


@post("/rpc/{fn:str}", status_code=200)
async def rpc_post(
    request: AnyRequest, config: ConfigDep, gate: CallerDep, fn: FromPath[str]
) -> Response[bytes]:
    """Call public.<fn> with the JSON object's keys as named arguments."""
    _check_profile(request, "content-profile")
    raw = await request.body()
    try:
        args = json.loads(raw) if raw.strip() else {}
    except ValueError:
        args = None
    if not isinstance(args, dict):
        raise RestError(400, "PGRST102", "Empty or invalid json")
    return await _call(request, config, gate, fn, args)


@get("/rpc/{fn:str}")
async def rpc_get(
    request: AnyRequest, config: ConfigDep, gate: CallerDep, fn: FromPath[str]
) -> Response[bytes]:
    """Call public.<fn> read-only with query parameters as named arguments."""
    _check_profile(request, "accept-profile")
    args = {k: v for k, v in request.query_params.items() if k != "apikey"}
    return await _call(request, config, gate, fn, args)


@get("/{table:str}")
async def read_table(
    request: AnyRequest, config: ConfigDep, gate: CallerDep, table: FromPath[str]
) -> Response[bytes]:
    """Rows of a table or view in public, filtered, ordered and limited as PostgREST does."""
    _check_profile(request, "accept-profile")
    params = list(request.query_params.multi_items())

    async def build(conn: AsyncConnection[Any]) -> tuple[sql.Composed, list[object]]:
        cursor = await conn.execute(queries.RELATION_SQL, (queries.SCHEMA, table))
        if await cursor.fetchone() is None:
            raise RestError(
                404,
                "PGRST205",
                f"Could not find the table '{queries.SCHEMA}.{table}' in the schema cache",
            )
        return queries.table_read(table, params)

    content = await _run(request, config, gate, build)
    count = len(json.loads(content))
    # No count was asked for (Prefer: count=…), so the total is "*", as PostgREST writes it.
    content_range = f"0-{count - 1}/*" if count else "*/*"
    return _json(content, {"Content-Range": content_range})


ROUTER = Router(
    path="/rest/v1",
    route_handlers=[rpc_post, rpc_get, read_table],
    dependencies={"gate": Provide(caller, sync_to_thread=False)},
)
