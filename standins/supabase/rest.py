"""`/rest/v1`: tables, views and functions, each request run as PostgREST runs it.

One transaction per request: `set local role` to the JWT's role, the claims in
`request.jwt.claims` (what auth.uid() and auth.jwt() read), then the query, so that grants
and RLS decide exactly as they do behind the real PostgREST: a write the caller may not do
is refused by Postgres itself (42501), and embedded rows pass the caller's policies. A GET
or HEAD runs read-only, as there. Query strings parse with PostgREST's grammar
(`grammar.py`) into one query (`reads.py`, `writes.py`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

import jwt
import psycopg
from litestar import Request, Response, Router, delete, get, head, patch, post, put
from litestar.di import Provide
from litestar.params import FromPath
from psycopg import AsyncConnection, sql

from standins.supabase import queries, reads, schema_cache, tokens, writes
from standins.supabase.config import StandInConfig
from standins.supabase.database import UNREACHABLE, transaction
from standins.supabase.errors import RestError
from standins.supabase.gateway import CallerDep, ConfigDep, caller, signing_keys
from standins.supabase.grammar import Query, parse_query
from standins.supabase.signing import SigningKeys

AnyRequest = Request[Any, Any, Any]
JSON = "application/json"
OBJECT = "application/vnd.pgrst.object+json"
ARRAY = "application/vnd.pgrst.array+json"


def claims_of(token: str, keys: SigningKeys) -> dict[str, Any]:
    """The verified JWT claims, or PostgREST's 401 (PGRST303 expired, PGRST301 otherwise)."""
    try:
        claims = keys.verify(token)
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
    if exc.sqlstate is None and isinstance(exc, psycopg.DataError):
        # A value Postgres cannot hold (a NUL byte) is refused before it is sent; PostgREST
        # sends it and Postgres answers this.
        return RestError(400, "22021", 'invalid byte sequence for encoding "UTF8": 0x00')
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
    if schema and schema != schema_cache.SCHEMA:
        raise RestError(
            406,
            "PGRST106",
            f"Invalid schema: {schema}",
            hint=f"Only the following schemas are exposed: {schema_cache.SCHEMA}",
        )


# -- request headers ---------------------------------------------------------------------


@dataclass(frozen=True)
class Preferences:
    count: bool
    returns: str | None  # "representation" / "minimal" / "headers-only"
    resolution: str | None  # "merge-duplicates" / "ignore-duplicates"
    missing_default: bool
    max_affected: int | None  # only with handling=strict, as PostgREST
    applied: tuple[str, ...]


# The preferences PostgREST knows and the values it accepts (None: any value).
_KNOWN_PREFERENCES: dict[str, tuple[str, ...] | None] = {
    "count": ("exact", "planned", "estimated"),
    "return": ("representation", "minimal", "headers-only"),
    "resolution": ("merge-duplicates", "ignore-duplicates"),
    "missing": ("default", "null"),
    "handling": ("strict", "lenient"),
    "tx": ("commit", "rollback"),
    "params": ("single-object",),
    "timezone": None,
    "max-affected": None,
}


def preferences(request: AnyRequest) -> Preferences:
    """`Prefer` as PostgREST reads it: the first value of each known preference. Unknown or
    invalid ones are ignored, unless `handling=strict` asks for 400 PGRST122. `tx` is
    ignored (PostgREST's default `db-tx-end = commit`, as on hosted Supabase);
    `count=planned|estimated` are counted exactly here."""
    found: dict[str, str] = {}
    invalid: list[str] = []
    for header in request.headers.getall("prefer", []):
        for item in header.split(","):
            if not item.strip():
                continue
            key, equals, value = (part.strip() for part in item.strip().partition("="))
            allowed = _KNOWN_PREFERENCES.get(key, ())
            valid = (
                bool(equals) and key in _KNOWN_PREFERENCES and (allowed is None or value in allowed)
            )
            if key == "max-affected" and not value.isascii():
                valid = False
            if key == "max-affected" and valid:
                valid = value.isdigit()
            if not valid:
                invalid.append(item.strip())
            else:
                found.setdefault(key, value)
    strict = found.get("handling") == "strict"
    if strict and invalid:
        raise RestError(
            400,
            "PGRST122",
            "Invalid preferences given with handling=strict",
            details="Invalid preferences: " + ", ".join(invalid),
        )
    applied = [
        f"{key}={found[key]}"
        for key in ("return", "count", "resolution", "missing", "handling", "max-affected")
        if key in found and (key != "max-affected" or strict)
    ]
    max_affected = int(found["max-affected"]) if strict and "max-affected" in found else None
    return Preferences(
        count="count" in found,
        returns=found.get("return"),
        resolution=found.get("resolution"),
        missing_default=found.get("missing") == "default",
        max_affected=max_affected,
        applied=tuple(applied),
    )


@dataclass(frozen=True)
class Media:
    single: bool
    strip_nulls: bool

    @property
    def content_type(self) -> str:
        base = OBJECT if self.single else JSON
        if self.strip_nulls:
            base = f"{OBJECT if self.single else ARRAY}; nulls=stripped"
        return f"{base}; charset=utf-8"


def media(request: AnyRequest) -> Media:
    """The JSON flavour asked for by `Accept`, or PostgREST's 406 PGRST107."""
    accept = request.headers.get("accept", "").strip()
    if not accept:
        return Media(single=False, strip_nulls=False)
    offered = [part.strip() for part in accept.split(",") if part.strip()]
    for entry in offered:
        kind, *params = (p.strip() for p in entry.split(";"))
        stripped = "nulls=stripped" in (p.replace(" ", "") for p in params)
        kind = kind.lower()
        if kind in (JSON, "*/*", "application/*"):
            return Media(single=False, strip_nulls=False)
        if kind in (OBJECT, "application/vnd.pgrst.object"):
            return Media(single=True, strip_nulls=stripped)
        if kind == ARRAY:
            return Media(single=False, strip_nulls=stripped)
    raise RestError(
        406,
        "PGRST107",
        "None of these media types are available: " + ", ".join(e.split(";")[0] for e in offered),
    )


@dataclass(frozen=True)
class Page:
    limit: int | None
    offset: int


def page_of(request: AnyRequest, query: Query) -> Page:
    """limit/offset intersected with a `Range: a-b` header (GET only), as PostgREST does."""
    root = query.level()
    lower, upper = root.offset, (None if root.limit is None else root.offset + root.limit - 1)
    if root.limit == 0:
        return Page(0, root.offset)
    header = request.headers.get("range", "").strip()
    # PostgREST's rangeParse: `a-b` or `a-` in ASCII digits, anything else is ignored
    asked = re.fullmatch(r"([0-9]+)-([0-9]*)", header)
    if request.method == "GET" and asked:  # RFC 9110: Range only on GET, as PostgREST
        first, last = int(asked[1]), (int(asked[2]) if asked[2] else None)
        if last is not None and last < first:
            raise RestError(
                416,
                "PGRST103",
                "Requested range not satisfiable",
                details="The lower boundary must be lower than or equal to the upper "
                "boundary in the Range header.",
            )
        lower = max(lower, first)
        if last is not None:
            upper = last if upper is None else min(upper, last)
    if upper is None:
        return Page(None, lower)
    if upper < lower:
        # the header and limit/offset do not meet: PostgREST's empty range
        raise RestError(
            416,
            "PGRST103",
            "Requested range not satisfiable",
            details="Limit should be greater than or equal to zero.",
        )
    return Page(max(0, upper - lower + 1), lower)


# -- running a request -------------------------------------------------------------------


async def as_role(conn: AsyncConnection[Any], request: AnyRequest, claims: dict[str, Any]) -> None:
    await conn.execute(sql.SQL("set local role {}").format(sql.Identifier(claims["role"])))
    await conn.execute(
        "select set_config('request.jwt.claims', %s, true),"
        " set_config('request.method', %s, true), set_config('request.path', %s, true)",
        (json.dumps(claims), request.method, request.url.path),
    )


Work = Callable[[AsyncConnection[Any], dict[str, Any]], Awaitable["Result"]]


@dataclass(frozen=True)
class Result:
    body: bytes | None
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    media_type: str = f"{JSON}; charset=utf-8"


async def run(request: AnyRequest, config: StandInConfig, gate: Any, work: Work) -> Result:
    """`work(conn, claims)` in one transaction as the caller; a RestError it raises rolls
    the transaction back (a singular response that found 0 or many rows, for example)."""
    claims = claims_of(gate.token, signing_keys(request))
    role = str(claims["role"])
    try:
        async with transaction(request.app.state.pool) as conn:
            if request.method in ("GET", "HEAD"):
                await conn.execute("set transaction read only")
            return await work(conn, claims)
    except UNREACHABLE:
        raise RestError(
            503, "PGRST001", "Database client error. Retrying the connection."
        ) from None
    except psycopg.Error as exc:
        raise database_error(exc, role) from None


def respond(request: AnyRequest, result: Result) -> Response[bytes]:
    body = b"" if request.method == "HEAD" or result.body is None else result.body
    return Response(
        content=body,
        status_code=result.status,
        media_type=result.media_type,
        headers=dict(result.headers),
    )


def headers_only(response: Response[bytes]) -> Response[None]:
    return Response(
        content=None,
        status_code=response.status_code,
        media_type=response.media_type,
        headers=dict(response.headers),
    )


def content_range(lower: int, rows: int, total: int | None) -> str:
    """PostgREST's `Content-Range`: `0-5/6`, `0-5/*` uncounted, `*/0` when empty."""
    upper = lower + rows - 1
    span = f"{lower}-{upper}" if total != 0 and lower <= upper else "*"
    return f"{span}/{'*' if total is None else total}"


async def read_rows(
    conn: AsyncConnection[Any],
    request: AnyRequest,
    claims: dict[str, Any],
    query: Query,
    source: reads.Source,
    keys: list[schema_cache.ForeignKey],
    *,
    location: str | None = None,
    prepare: sql.Composable | None = None,
    extra: sql.Composable | None = None,
) -> tuple[Result, int, Any]:
    """Rows of `source` as the query asks, shaped by `Accept` and `Prefer: count`; how
    many rows the page holds; and the value of `extra`, a scalar SQL expression."""
    want = media(request)
    prefs = preferences(request)
    page = page_of(request, query)
    statement = reads.read_sql(
        query,
        source,
        keys,
        reads.Shape(count=prefs.count, strip_nulls=want.strip_nulls),
        limit=page.limit,
        offset=page.offset,
        extra=extra,
    )
    if prepare is not None:
        statement = sql.SQL("{} {}").format(prepare, statement)
    await as_role(conn, request, claims)
    cursor = await conn.execute(statement)
    row = await cursor.fetchone()
    assert row is not None
    array, first, rows, total, extra_value = row
    headers = [("Content-Range", content_range(page.offset, rows, total))]
    if location is not None:
        headers.append(("Content-Location", location))
    count_applied = tuple(p for p in prefs.applied if p.startswith("count="))
    if count_applied:
        headers.append(("Preference-Applied", ", ".join(count_applied)))
    status = 200
    if total is not None:
        if page.offset > total:
            raise RestError(
                416,
                "PGRST103",
                "Requested range not satisfiable",
                details=f"An offset of {page.offset} was requested, but there are only "
                f"{total} rows.",
            )
        if rows < total:
            status = 206
    if want.single:
        if rows != 1:
            raise singular(rows)
        return Result(first.encode(), status, tuple(headers), want.content_type), rows, extra_value
    return Result(array.encode(), status, tuple(headers), want.content_type), rows, extra_value


def singular(rows: int) -> RestError:
    return RestError(
        406,
        "PGRST116",
        "Cannot coerce the result to a single JSON object",
        details=f"The result contains {rows} rows",
    )


def canonical_location(table: str, request: AnyRequest) -> str:
    params = sorted(request.query_params.multi_items())
    return f"/{table}" + (f"?{urlencode(params)}" if params else "")


# -- tables ------------------------------------------------------------------------------


async def _known_table(conn: AsyncConnection[Any], table: str) -> list[schema_cache.ForeignKey]:
    if not await schema_cache.relation_exists(conn, table):
        raise schema_cache.table_not_found(table)
    return await schema_cache.foreign_keys(conn)


async def _read_table(
    request: AnyRequest, config: ConfigDep, gate: CallerDep, table: str
) -> Response[bytes]:
    _check_profile(request, "accept-profile")
    query = parse_query(list(request.query_params.multi_items()))

    async def work(conn: AsyncConnection[Any], claims: dict[str, Any]) -> Result:
        keys = await _known_table(conn, table)
        source = reads.Source(sql.Identifier(schema_cache.SCHEMA, table), table, table)
        location = canonical_location(table, request)
        result, _, _ = await read_rows(
            conn, request, claims, query, source, keys, location=location
        )
        return result

    return respond(request, await run(request, config, gate, work))


@get("/{table:str}")
async def read_table(
    request: AnyRequest, config: ConfigDep, gate: CallerDep, table: FromPath[str]
) -> Response[bytes]:
    """Rows of a table or view in public: select (with embedding), filters, order, range."""
    return await _read_table(request, config, gate, table)


@head("/{table:str}")
async def read_table_head(
    request: AnyRequest, config: ConfigDep, gate: CallerDep, table: FromPath[str]
) -> Response[None]:
    """The headers a GET would answer (counts in Content-Range), without the body."""
    return headers_only(await _read_table(request, config, gate, table))


async def _write(
    request: AnyRequest, config: ConfigDep, gate: CallerDep, table: str, kind: str
) -> Response[bytes]:
    _check_profile(request, "content-profile")
    query = parse_query(list(request.query_params.multi_items()))
    raw = await request.body() if kind != "delete" else b""
    rows = writes.payload(raw, "update" if kind == "put" else kind)
    prefs = preferences(request)
    want = media(request)
    represent = prefs.returns == "representation"
    resolution = "merge-duplicates" if kind == "put" else prefs.resolution

    async def work(conn: AsyncConnection[Any], claims: dict[str, Any]) -> Result:
        keys = await _known_table(conn, table)
        statement_kind, statement_query = kind, query
        if kind == "put":
            key = await schema_cache.primary_key(conn, table)
            statement_query = writes.put_query(query, rows[0], key)
            statement_kind = "insert"
        elif resolution and query.on_conflict is None:
            # an upsert without on_conflict merges on the primary key
            key = await schema_cache.primary_key(conn, table)
            statement_query = replace(query, on_conflict=key or None)
        mutation = writes.mutation_sql(
            table,
            statement_kind,
            statement_query,
            rows,
            resolution,
            returning_rows=represent,
            missing_default=prefs.missing_default,
        )
        if represent:
            source = reads.Source(sql.Identifier(writes.SOURCE), table, table)
            shown = writes.representation_query(query)
            inserted_sql = writes.INSERTED_SQL if kind in ("insert", "put") else None
            result, written, inserted = await read_rows(
                conn, request, claims, shown, source, keys, prepare=mutation, extra=inserted_sql
            )
        else:
            await as_role(conn, request, claims)
            statement = sql.SQL("{} select count(*) from {}").format(
                mutation, sql.Identifier(writes.SOURCE)
            )
            cursor = await conn.execute(statement)
            counted = await cursor.fetchone()
            written = int(counted[0]) if counted else 0
            if want.single and written != 1:
                raise singular(written)
            result = Result(None)
            inserted = None
        mutated = kind in ("update", "delete")
        if prefs.max_affected is not None and mutated and written > prefs.max_affected:
            raise RestError(
                400,
                "PGRST124",
                "Query result exceeds max-affected preference constraint",
                details=f"The query affects {written} rows",
            )
        total = written if prefs.count else None
        span = content_range(0, written, total) if kind == "update" else content_range(1, 0, total)
        headers = [] if kind == "put" else [("Content-Range", span)]
        if prefs.applied:
            headers.append(("Preference-Applied", ", ".join(prefs.applied)))
        status = 200 if represent else 204
        if kind == "insert":
            # PostgREST: 201, but 200 when a merge-duplicates upsert inserted nothing
            merged_only = resolution == "merge-duplicates" and inserted == 0
            status = 200 if merged_only else 201
        elif kind == "put" and represent:
            status = 201 if inserted else 200
        return Result(result.body, status, tuple(headers), result.media_type)

    return respond(request, await run(request, config, gate, work))


@post("/{table:str}", status_code=201)
async def insert_rows(
    request: AnyRequest, config: ConfigDep, gate: CallerDep, table: FromPath[str]
) -> Response[bytes]:
    """Insert (or upsert with Prefer: resolution=…) the JSON object or array, as the caller."""
    return await _write(request, config, gate, table, "insert")


@patch("/{table:str}")
async def update_rows(
    request: AnyRequest, config: ConfigDep, gate: CallerDep, table: FromPath[str]
) -> Response[bytes]:
    """Update the rows the filters select with the JSON object's columns, as the caller."""
    return await _write(request, config, gate, table, "update")


@delete("/{table:str}", status_code=200)
async def delete_rows(
    request: AnyRequest, config: ConfigDep, gate: CallerDep, table: FromPath[str]
) -> Response[bytes]:
    """Delete the rows the filters select, as the caller."""
    return await _write(request, config, gate, table, "delete")


# -- functions ---------------------------------------------------------------------------


async def _call(
    request: AnyRequest,
    config: ConfigDep,
    gate: CallerDep,
    fn: str,
    args: dict[str, Any],
    query: Query,
) -> Response[bytes]:
    async def work(conn: AsyncConnection[Any], claims: dict[str, Any]) -> Result:
        cursor = await conn.execute(queries.FUNCTIONS_SQL, (schema_cache.SCHEMA, fn))
        overloads = [queries.Function.from_catalog(*row) for row in await cursor.fetchall()]
        function = queries.choose(fn, list(args), overloads)
        invoked = queries.invocation(fn, function, args)
        if function.returns_set and function.returns_rows:
            # PostgREST wraps the call in a FROM so select/filters/order/range apply.
            source = reads.Source(invoked, None, fn)
            result, _, _ = await read_rows(conn, request, claims, query, source, [])
            return result
        await as_role(conn, request, claims)
        cursor = await conn.execute(queries.scalar_call(invoked, function))
        row = await cursor.fetchone()
        text = row[0] if row else None
        body = b"null" if text is None else str(text).encode()
        return Result(body, headers=(("Content-Range", "0-0/*"),))

    return respond(request, await run(request, config, gate, work))


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
    query = parse_query(list(request.query_params.multi_items()))
    return await _call(request, config, gate, fn, args, query)


async def _rpc_read(
    request: AnyRequest, config: ConfigDep, gate: CallerDep, fn: str
) -> Response[bytes]:
    _check_profile(request, "accept-profile")
    query = parse_query(list(request.query_params.multi_items()), rpc_read=True)
    return await _call(request, config, gate, fn, dict(query.arguments), query)


@get("/rpc/{fn:str}")
async def rpc_get(
    request: AnyRequest, config: ConfigDep, gate: CallerDep, fn: FromPath[str]
) -> Response[bytes]:
    """Call public.<fn> read-only; parameters without an operator are its arguments."""
    return await _rpc_read(request, config, gate, fn)


@head("/rpc/{fn:str}")
async def rpc_head(
    request: AnyRequest, config: ConfigDep, gate: CallerDep, fn: FromPath[str]
) -> Response[None]:
    """The headers GET /rpc/<fn> would answer, without the body."""
    return headers_only(await _rpc_read(request, config, gate, fn))


@put("/{table:str}")
async def upsert_row(
    request: AnyRequest, config: ConfigDep, gate: CallerDep, table: FromPath[str]
) -> Response[bytes]:
    """Insert or replace the one row the primary-key filters name with the JSON object."""
    return await _write(request, config, gate, table, "put")


ROUTER = Router(
    path="/rest/v1",
    route_handlers=[
        rpc_post,
        rpc_get,
        rpc_head,
        read_table,
        read_table_head,
        insert_rows,
        update_rows,
        delete_rows,
        upsert_row,
    ],
    dependencies={"gate": Provide(caller, sync_to_thread=False)},
)
