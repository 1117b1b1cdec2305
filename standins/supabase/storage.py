"""`/storage/v1`: Storage as storage-api answers it, with the files in one directory.

What a caller may see is decided by Postgres, as storage-api decides it: the lookup behind
a signed URL runs in a transaction as the caller (`set local role`, `request.jwt.claims`), so
`storage.objects`' RLS policies pass or hide the object. Serving a signed URL and finishing
an upload run as the stand-in's own database user (storage-api's superuser). A signed URL's
token is an HS256 JWT with the project's secret, claims `url` ("<bucket>/<name>"), `scope`
("download"), `iat` and `exp`, as `signObjectUrl` signs it. No API key is needed here: the
gateway routes /storage/v1 without key-auth, so a signed URL works in a `<video src>`.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import jwt
import psycopg
from litestar import Request, Response, Router, get, head, post, put
from litestar.datastructures import UploadFile
from litestar.exceptions import HTTPException
from litestar.response import Stream
from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from standins.supabase import storage_files, tokens
from standins.supabase.config import StandInConfig
from standins.supabase.database import UNREACHABLE, transaction
from standins.supabase.gateway import ConfigDep, caller, signing_keys
from standins.supabase.storage_errors import (
    StorageError,
    access_denied,
    entity_too_large,
    invalid_jwt,
    invalid_key,
    invalid_mime_type,
    invalid_parameter,
    invalid_request,
    invalid_signature,
    jwt_message,
    key_already_exists,
    no_such_bucket,
    no_such_key,
    not_found_route,
    storage_error,
)

AnyRequest = Request[Any, Any, Any]
PREFIX = "/storage/v1"
# The Supabase CLI's default `[storage] file_size_limit` ("50MiB"), storage-api's global limit.
FILE_SIZE_LIMIT = 50 * 1024 * 1024
DOWNLOAD_SCOPE = "download"
# storage-api signs URLs with the project's JWT secret (urlSigningKey), whatever signs sessions
URL_SIGNING_ALGORITHM = "HS256"
_MAX_EXPIRES_IN = (2**53 - 1) // 1000  # assertValidNumericJWTExpiration's bound, less now
_RESERVED = frozenset(";/?:@&=+$,#")  # what JavaScript's decodeURI leaves encoded


# -- the request's object address --------------------------------------------------------


def _decode_component(text: str, url: str) -> str:
    """decodeURIComponent, as Fastify's router decodes a path parameter."""
    if re.search(r"%(?![0-9A-Fa-f]{2})", text):
        raise invalid_request(f"'{url}' is not a valid url component")
    try:
        return unquote(text, errors="strict")
    except UnicodeDecodeError:
        raise invalid_request(f"'{url}' is not a valid url component") from None


def decode_uri(text: str) -> str:
    """JavaScript's decodeURI: escapes of reserved characters (`%2F`, `%3F`, …) stay."""
    out: list[str] = []
    pending = bytearray()
    for piece in re.split(r"(%[0-9A-Fa-f]{2})", text):
        if piece.startswith("%") and len(piece) == 3:
            byte = int(piece[1:], 16)
            if byte < 0x80 and chr(byte) in _RESERVED:
                out.append(pending.decode("utf-8", "replace") + piece)
                pending.clear()
            else:
                pending.append(byte)
            continue
        if piece:
            out.append(pending.decode("utf-8", "replace") + piece)
            pending.clear()
    out.append(pending.decode("utf-8", "replace"))
    return "".join(out)


def object_address(request: AnyRequest, route: str) -> tuple[str, str, str]:
    """(bucket, object name, the raw `bucket/name` as sent) from the path after `route`."""
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    url = raw_path.decode("latin-1")
    rest = url[len(PREFIX + route) :]
    bucket, _, name = rest.partition("/")
    return _decode_component(bucket, url), _decode_component(name, url), rest


# -- the caller and the database ----------------------------------------------------------


def caller_claims(request: AnyRequest, config: StandInConfig) -> dict[str, Any]:
    """The caller's verified JWT, or AccessDenied: the gateway first (an API key, an `sb_` key
    turned into a token of its role), then the token as storage-api verifies it."""
    token = caller(request, config).token
    try:
        claims = signing_keys(request).verify(token)
    except jwt.PyJWTError as exc:
        raise access_denied(jwt_message(exc)) from None
    if claims.get("role") not in tokens.API_ROLES:
        raise access_denied("Access denied: Invalid role")
    return claims


def _database_error(exc: psycopg.Error) -> StorageError:
    """storage-api's StorageBackendError.fromDBError for what these queries can meet."""
    if exc.sqlstate == "42501":
        message = str(exc.diag.message_primary or exc)
        if "row-level security" in message:
            message = "new row violates row-level security policy"
        return access_denied(message)
    if exc.sqlstate == "23505":
        return key_already_exists()
    return StorageError(500, "DatabaseError", "Database error", error="DatabaseError")


@asynccontextmanager
async def _database(request: AnyRequest) -> AsyncIterator[AsyncConnection[Any]]:
    try:
        async with transaction(request.app.state.pool) as conn:
            yield conn
    except UNREACHABLE:
        raise StorageError(500, "DatabaseError", "Database is not reachable") from None
    except psycopg.Error as exc:
        raise _database_error(exc) from None


async def _as_caller(
    conn: AsyncConnection[Any], request: AnyRequest, claims: dict[str, Any]
) -> None:
    """storage-api's per-request scope: the JWT's role and claims, set locally."""
    await conn.execute(sql.SQL("set local role {}").format(sql.Identifier(claims["role"])))
    await conn.execute(
        "select set_config('request.jwt.claims', %s, true),"
        " set_config('request.jwt.claim.role', %s, true),"
        " set_config('request.jwt.claim.sub', %s, true),"
        " set_config('request.method', %s, true), set_config('request.path', %s, true)",
        (
            json.dumps(claims),
            claims["role"],
            str(claims.get("sub") or ""),
            request.method,
            request.url.path.removeprefix(PREFIX),
        ),
    )


async def _find_object(conn: AsyncConnection[Any], bucket: str, name: str) -> dict[str, Any] | None:
    if "\0" in bucket:  # no bucket can be named so; Postgres would refuse the literal
        return None
    cursor = conn.cursor(row_factory=dict_row)
    await cursor.execute(
        "select id, version, metadata from storage.objects"
        " where name = %s and bucket_id = %s limit 1",
        (name, bucket),
    )
    return await cursor.fetchone()


def _root(config: StandInConfig) -> Path:
    if config.storage_dir is None:
        raise StorageError(500, "InternalError", "The stand-in has no storage directory")
    return Path(config.storage_dir)


# -- signed URLs ----------------------------------------------------------------------------


def _expires_in(body: object) -> int:
    """The body as storage-api's schema takes it (Ajv coercing "60" to 60), then
    assertValidNumericJWTExpiration."""
    if not isinstance(body, dict):
        raise invalid_request("body must be object")
    if "expiresIn" not in body:
        raise invalid_request("body must have required property 'expiresIn'")
    value = body["expiresIn"]
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]+(\.0*)?", value.strip()):
        value = int(float(value))
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid_request("body/expiresIn must be integer")
    if value < 1:
        raise invalid_request("body/expiresIn must be >= 1")
    if value > _MAX_EXPIRES_IN - int(time.time()):
        raise invalid_parameter("expiresIn")
    return value


@post("/object/sign/{path:path}", status_code=200)
async def sign_object(request: AnyRequest, config: ConfigDep) -> dict[str, str]:
    """A signed URL for an object the caller may select (RLS on storage.objects)."""
    bucket, name, raw = object_address(request, "/object/sign/")
    try:
        body = json.loads(await request.body() or b"null")
    except ValueError:
        raise invalid_request("Body is not valid JSON") from None
    expires_in = _expires_in(body)
    claims = caller_claims(request, config)
    storage_files.must_be_valid_key(name)
    async with _database(request) as conn:
        await _as_caller(conn, request, claims)
        if await _find_object(conn, bucket, name) is None:
            raise no_such_key()
    url = decode_uri(raw)
    issued = tokens.now()
    token = jwt.encode(
        {"url": url, "scope": DOWNLOAD_SCOPE, "iat": issued, "exp": issued + expires_in},
        config.jwt_secret,
        URL_SIGNING_ALGORITHM,
        headers={"typ": None},
    )
    return {"signedURL": f"/object/sign/{url}?token={token}"}


def _verify_token(token: str, bucket: str, name: str, config: StandInConfig) -> dict[str, Any]:
    """verifyObjectSignature: signature and expiry (jose's), scope, then the path."""
    try:
        payload: dict[str, Any] = jwt.decode(
            token,
            config.jwt_secret,
            algorithms=[URL_SIGNING_ALGORITHM],
            options={"verify_aud": False, "verify_iat": False},
        )
    except jwt.PyJWTError as exc:
        raise invalid_jwt(jwt_message(exc)) from None
    scope = payload.get("scope")
    if not (scope == DOWNLOAD_SCOPE or (scope is None and "upsert" not in payload)):
        raise invalid_signature(f"Token is not scoped for {DOWNLOAD_SCOPE}")
    if payload.get("url") != f"{bucket}/{name}":
        raise invalid_signature()
    return payload


def _http_date(seconds: float) -> str:
    return formatdate(seconds, usegmt=True)


def _content_disposition(download: str) -> str:
    if download == "":
        return "attachment;"
    encoded = quote(download, safe="-_.!~*'()")
    return f"attachment; filename={encoded}; filename*=UTF-8''{encoded}"


def _not_modified(request: AnyRequest, etag: str, mtime: float) -> bool:
    if request.headers.get("if-none-match") and request.headers["if-none-match"] == etag:
        return True
    since = request.headers.get("if-modified-since")
    if since:
        try:
            return int(mtime * 1000) <= parsedate_to_datetime(since).timestamp() * 1000
        except (TypeError, ValueError):
            return False
    return False


async def _serve(request: AnyRequest, config: ConfigDep) -> Response[Any]:
    bucket, name, _ = object_address(request, "/object/sign/")
    token = request.query_params.get("token")
    if token is None:
        raise invalid_request("querystring must have required property 'token'")
    payload = _verify_token(token, bucket, name, config)
    token_bucket, _, token_name = str(payload["url"]).partition("/")
    storage_files.must_be_valid_key(token_name)
    async with _database(request) as conn:
        found = await _find_object(conn, token_bucket, token_name)
    if found is None:
        raise no_such_key()
    # a signed URL's response carries its expiry instead of Cache-Control
    expiry = {"Expires": _http_date(float(payload.get("exp") or 0))}
    return _render(request, config, token_bucket, token_name, found, expiry)


def _render(
    request: AnyRequest,
    config: StandInConfig,
    bucket: str,
    name: str,
    found: dict[str, Any],
    caching: dict[str, str],
) -> Response[Any]:
    """storage-api's asset renderer: the object's bytes, with Range and conditional GETs."""
    version = found["version"]
    relative = f"{bucket}/{name}" + (f"/{version}" if version else "")
    path = storage_files.resolve(_root(config), relative)
    try:
        stat = path.stat()
        if not path.is_file():
            raise FileNotFoundError(relative)
    except OSError:
        # the renderer's answer when the backend has no such file
        return Response(
            content={
                "error": "Not found",
                "message": "The resource was not found",
                "statusCode": "404",
                "code": "NoSuchKey",
            },
            status_code=400,
            headers={"Cache-Control": "no-store"},
        )
    metadata = found["metadata"] if isinstance(found["metadata"], dict) else {}
    mimetype = str(metadata.get("mimetype") or "application/octet-stream")
    etag = str(metadata.get("eTag") or f'"{stat.st_mtime_ns // 1000:x}-{stat.st_size:x}"')
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Type": "text/plain" if "text/html" in mimetype else mimetype,
        "ETag": etag,
        "X-Robots-Tag": "none",
        "Last-Modified": _http_date(stat.st_mtime),
        **caching,
    }
    if "download" in request.query_params:
        headers["Content-Disposition"] = _content_disposition(request.query_params["download"])
    if _not_modified(request, etag, stat.st_mtime):
        return Response(content=b"", status_code=304, headers=headers | {"Content-Length": "0"})
    status, first, last = 200, 0, stat.st_size - 1
    asked = request.headers.get("range")
    if asked:
        first, last = storage_files.parse_range(asked, stat.st_size)
        status = 206
        headers["Content-Range"] = f"bytes {first}-{last}/{stat.st_size}"
    headers["Content-Length"] = str(max(0, last - first + 1))
    if request.method == "HEAD" or last < first:
        return Response(content=b"", status_code=status, headers=headers)
    return Stream(storage_files.read(path, first, last), status_code=status, headers=headers)


@get("/object/sign/{path:path}")
async def signed_object(request: AnyRequest, config: ConfigDep) -> Response[Any]:
    """An object's bytes for a valid signed-URL token, with Range."""
    return await _serve(request, config)


@head("/object/sign/{path:path}")
async def signed_object_head(request: AnyRequest, config: ConfigDep) -> Response[None]:
    """The headers the GET would answer."""
    answer = await _serve(request, config)
    return Response(content=None, status_code=answer.status_code, headers=dict(answer.headers))


@get("/object/public/{path:path}")
async def public_object(request: AnyRequest, config: ConfigDep) -> Response[Any]:
    """An object in a public bucket, to anyone, with no token (getPublicObject.ts).

    storage-api looks the bucket up with `isPublic: true`, so a private bucket answers
    NoSuchBucket as a missing one does; the object's own cacheControl metadata (what the
    upload's cache-control option set, `max-age=3600` by default) becomes Cache-Control.
    """
    bucket, name, _ = object_address(request, "/object/public/")
    storage_files.must_be_valid_key(name)
    async with _database(request) as conn:
        cursor = await conn.execute(
            "select public from storage.buckets where id = %s", ("" if "\0" in bucket else bucket,)
        )
        row = await cursor.fetchone()
        if row is None or not row[0]:
            raise no_such_bucket()
        found = await _find_object(conn, bucket, name)
    if found is None:
        raise no_such_key()
    metadata = found["metadata"] if isinstance(found["metadata"], dict) else {}
    caching = {"Cache-Control": str(metadata.get("cacheControl") or "max-age=3600")}
    return _render(request, config, bucket, name, found, caching)


# -- uploads -------------------------------------------------------------------------------


async def _body_chunks(request: AnyRequest) -> AsyncIterator[bytes]:
    async for chunk in request.stream():
        yield chunk


async def _bytes(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _check_mime(mime_type: str, allowed: list[str] | None) -> None:
    """validateMimeType: `type/subtype` against the bucket's list (`type/*` allowed)."""
    if not allowed:
        return
    kind, _, subtype = mime_type.partition("/")
    if not subtype:
        raise invalid_mime_type(mime_type)
    for entry in allowed:
        allowed_kind, _, allowed_subtype = entry.partition("/")
        if allowed_kind == kind and allowed_subtype in ("*", subtype.split("/")[0]):
            return
    raise invalid_mime_type(mime_type)


async def _upload(request: AnyRequest, config: StandInConfig, *, upsert: bool) -> dict[str, str]:
    bucket, name, _ = object_address(request, "/object/")
    claims = caller_claims(request, config)
    if "\0" in bucket:
        raise no_such_bucket()
    async with _database(request) as conn:
        cursor = conn.cursor(row_factory=dict_row)
        await cursor.execute(
            "select id, file_size_limit, allowed_mime_types from storage.buckets where id = %s",
            (bucket,),
        )
        bucket_row = await cursor.fetchone()
    if bucket_row is None:
        raise no_such_bucket()
    limit = FILE_SIZE_LIMIT
    if bucket_row["file_size_limit"]:
        limit = min(limit, int(bucket_row["file_size_limit"]))
    if name.endswith(".emptyFolderPlaceholder"):
        limit = 0
    allowed = None if limit == 0 else bucket_row["allowed_mime_types"]

    content_type = request.headers.get("content-type", "")
    user_metadata: Any = None
    if content_type.startswith("multipart/form-data"):
        form = await request.form()
        files = [value for _, value in form.multi_items() if isinstance(value, UploadFile)]
        if not files:
            raise StorageError(400, "InvalidRequest", "No content provided")
        upload = files[0]
        fields = {key: value for key, value in form.multi_items() if isinstance(value, str)}
        mime_type = fields.get("contentType") or upload.content_type or "application/octet-stream"
        cache_control = (
            f"max-age={fields['cacheControl']}" if fields.get("cacheControl") else "no-cache"
        )
        _check_mime(mime_type, allowed)
        if fields.get("metadata") or fields.get("userMetadata"):
            try:
                user_metadata = json.loads(fields.get("metadata") or fields["userMetadata"])
            except ValueError:
                user_metadata = None
        chunks = _bytes(await upload.read())
    else:
        mime_type = content_type or "application/octet-stream"
        cache_control = request.headers.get("cache-control") or "no-cache"
        _check_mime(mime_type, allowed)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise entity_too_large()
        chunks = _body_chunks(request)

    storage_files.must_be_valid_key(name)
    if len(name.encode()) > storage_files.MAX_KEY_BYTES:
        raise invalid_key(name, "is longer than 1024 bytes")
    owner = claims.get("sub")
    owner_uuid = owner if _is_uuid(owner) else None
    row = {
        "bucket_id": bucket,
        "name": name,
        "owner": owner_uuid,
        "owner_id": owner,
        "user_metadata": Jsonb(user_metadata) if user_metadata is not None else None,
    }

    # canUpload: the insert (or upsert) as the caller, rolled back; RLS and the unique key decide
    async with _database(request) as conn:
        await _as_caller(conn, request, claims)
        async with conn.transaction(force_rollback=True):
            await conn.execute(_write_object(upsert), row | {"version": "1", "metadata": None})

    root = _root(config)
    version = str(uuid.uuid4())
    path = storage_files.version_path(root, bucket, name, version)
    written = await storage_files.write(path, chunks, limit)
    metadata = {
        "eTag": written.etag,
        "size": written.size,
        "mimetype": mime_type,
        "cacheControl": cache_control,
        "lastModified": datetime.fromtimestamp(written.mtime, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z"),
        "contentLength": written.size,
        "httpStatusCode": 200,
    }
    try:
        async with _database(request) as conn:
            cursor = conn.cursor(row_factory=dict_row)
            await cursor.execute(
                "select version from storage.objects where bucket_id = %s and name = %s for update",
                (bucket, name),
            )
            previous = await cursor.fetchone()
            await cursor.execute(
                _write_object(True) + " returning id",
                row | {"version": version, "metadata": Jsonb(metadata)},
            )
            saved = await cursor.fetchone()
    except BaseException:
        storage_files.remove(path)
        raise
    if previous and previous["version"] and previous["version"] != version:
        storage_files.remove(storage_files.version_path(root, bucket, name, previous["version"]))
    return {"Id": str(saved["id"]) if saved else "", "Key": f"{bucket}/{name}"}


def _write_object(upsert: bool) -> str:
    insert = (
        "insert into storage.objects"
        " (bucket_id, name, owner, owner_id, version, metadata, user_metadata)"
        " values (%(bucket_id)s, %(name)s, %(owner)s, %(owner_id)s, %(version)s,"
        " %(metadata)s, %(user_metadata)s)"
    )
    if not upsert:
        return insert
    return insert + (
        " on conflict (name, bucket_id) do update set metadata = excluded.metadata,"
        " user_metadata = excluded.user_metadata, version = excluded.version,"
        " owner = excluded.owner, owner_id = excluded.owner_id, updated_at = now()"
    )


def _is_uuid(value: object) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return value is not None


@post("/object/{path:path}", status_code=200, request_max_body_size=FILE_SIZE_LIMIT + 2**20)
async def create_object(request: AnyRequest, config: ConfigDep) -> dict[str, str]:
    """Upload a new object (`x-upsert: true` replaces one), as the caller's RLS allows."""
    return await _upload(request, config, upsert=request.headers.get("x-upsert") == "true")


@put("/object/{path:path}", status_code=200, request_max_body_size=FILE_SIZE_LIMIT + 2**20)
async def update_object(request: AnyRequest, config: ConfigDep) -> dict[str, str]:
    """Upload an object, replacing the one there (storage-api's PUT upserts)."""
    return await _upload(request, config, upsert=True)


# -- buckets -------------------------------------------------------------------------------


def _timestamp(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


_SORT_COLUMNS = ("id", "name", "created_at", "updated_at")


@get("/bucket")
async def list_buckets(request: AnyRequest, config: ConfigDep) -> list[dict[str, Any]]:
    """The buckets the caller's RLS on storage.buckets lets it see."""
    claims = caller_claims(request, config)
    params = request.query_params
    clauses: list[sql.Composable] = []
    values: list[Any] = []
    if params.get("search"):
        clauses.append(sql.SQL(" where name ilike %s"))
        values.append("%" + re.sub(r"([\\%_])", r"\\\1", params["search"]) + "%")
    column = params.get("sortColumn")
    if column is not None:
        if column not in _SORT_COLUMNS:
            raise invalid_request(
                "querystring/sortColumn must be equal to one of the allowed values"
            )
        order = params.get("sortOrder", "asc")
        if order not in ("asc", "desc"):
            raise invalid_request(
                "querystring/sortOrder must be equal to one of the allowed values"
            )
        clauses.append(sql.SQL(" order by {} {}").format(sql.Identifier(column), sql.SQL(order)))
    for key, minimum in (("limit", 1), ("offset", 0)):
        if key in params:
            text = params[key]
            if not re.fullmatch(r"[0-9]+", text) or int(text) < minimum:
                raise invalid_request(f"querystring/{key} must be integer >= {minimum}")
            clauses.append(sql.SQL(f" {key} %s"))
            values.append(int(text))
    query = sql.SQL(
        "select id, name, owner, public, type::text as type, file_size_limit,"
        " allowed_mime_types, created_at, updated_at from storage.buckets"
    ) + sql.Composed(clauses)
    async with _database(request) as conn:
        await _as_caller(conn, request, claims)
        cursor = conn.cursor(row_factory=dict_row)
        await cursor.execute(query, values)
        rows = await cursor.fetchall()
    # storage-api's response schema serialises a null owner as "" and a null flag as false
    return [
        {
            "id": row["id"],
            "name": row["name"],
            "owner": str(row["owner"] or ""),
            "public": bool(row["public"]),
            "type": row["type"],
            "file_size_limit": row["file_size_limit"],
            "allowed_mime_types": row["allowed_mime_types"],
            "created_at": _timestamp(row["created_at"]),
            "updated_at": _timestamp(row["updated_at"]),
        }
        for row in rows
    ]


def http_error(request: AnyRequest, exc: HTTPException) -> Response[bytes]:
    """What storage-api answers where this app's router refuses: Fastify's not-found
    handler for an unknown route or method, EntityTooLarge for an oversized body."""
    if exc.status_code == 413:
        return storage_error(request, entity_too_large())
    if exc.status_code in (404, 405):
        url = request.scope.get("raw_path", b"").decode("latin-1").removeprefix(PREFIX)
        query = request.scope.get("query_string", b"").decode("latin-1")
        return storage_error(
            request, not_found_route(request.method, url + ("?" + query if query else ""))
        )
    return storage_error(request, StorageError(exc.status_code, "InvalidRequest", str(exc.detail)))


ROUTER = Router(
    path=PREFIX,
    route_handlers=[
        sign_object,
        signed_object,
        signed_object_head,
        public_object,
        create_object,
        update_object,
        list_buckets,
    ],
)
