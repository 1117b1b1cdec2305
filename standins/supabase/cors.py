"""CORS as a Supabase project answers it: Kong's `cors` plugin (default config, on every
/auth/v1, /rest/v1 and /storage/v1 route, as supabase/docker's kong.yml routes them) in front
of the services' own CORS headers (storage-api adds none of its own).

- A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) is answered by
  the gateway itself, before the API key is checked: 200, `Access-Control-Allow-Origin: *`,
  Kong's default method list, and the requested headers echoed as allowed.
- Every other response gets `Access-Control-Allow-Origin: *` from the gateway; when the
  request carried an `Origin`, the service's own headers come through too: PostgREST
  exposes `Content-Range` and friends, GoTrue exposes `X-Supabase-Api-Version`.
"""

from __future__ import annotations

from typing import Any, cast

from litestar.types import ASGIApp, Message, Receive, Scope, Send

# kong/plugins/cors/handler.lua: the methods sent when `config.methods` is not set
KONG_METHODS = b"GET,HEAD,PUT,PATCH,POST,DELETE,OPTIONS,TRACE,CONNECT"
# PostgREST.Cors: corsExposedHeaders
POSTGREST_EXPOSED = (
    b"Content-Encoding, Content-Location, Content-Range, Content-Type, Date, Location, "
    b"Server, Transfer-Encoding, Range-Unit"
)
# supabase/auth internal/api/api.go: cors.Options (rs/cors)
GOTRUE_HEADERS = (
    (b"access-control-allow-credentials", b"true"),
    (b"access-control-expose-headers", b"X-Total-Count, Link, X-Supabase-Api-Version"),
    (b"vary", b"Origin"),
)


def _service(path: str) -> str | None:
    if path.startswith("/rest/v1/"):
        return "rest"
    if path.startswith("/auth/v1/"):
        return "auth"
    if path.startswith("/storage/v1/"):
        return "storage"
    return None


def gateway_cors(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        http: dict[str, Any] = cast(dict[str, Any], scope)
        service = _service(http["path"]) if http["type"] == "http" else None
        if service is None:
            await app(scope, receive, send)
            return
        headers = {name.lower(): value for name, value in http["headers"]}
        origin = headers.get(b"origin")
        if http["method"] == "OPTIONS" and origin and headers.get(b"access-control-request-method"):
            answer = [
                (b"access-control-allow-origin", b"*"),
                (b"access-control-allow-methods", KONG_METHODS),
                (b"content-length", b"0"),
            ]
            requested = headers.get(b"access-control-request-headers")
            if requested:
                answer.append((b"access-control-allow-headers", requested))
            start = {"type": "http.response.start", "status": 200, "headers": answer}
            await send(cast(Message, start))
            await send(cast(Message, {"type": "http.response.body", "body": b""}))
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() != b"access-control-allow-origin"
                ]
                if origin:
                    if service == "rest":
                        kept.append((b"access-control-expose-headers", POSTGREST_EXPOSED))
                    elif service == "auth":
                        kept.extend(GOTRUE_HEADERS)
                kept.append((b"access-control-allow-origin", b"*"))
                message = cast(Message, {**message, "headers": kept})
            await send(message)

        await app(scope, receive, send_with_cors)

    return middleware
