"""`POST /v1/webhooks/stripe` as a plain ASGI function, ahead of Litestar.

Stripe's webhook is the sidecar's busiest route and needs nothing Litestar offers (no
parameters to validate, no dependencies, one JSON answer). Litestar's routing, request and
response objects, exception handlers and the generic request middleware took about a third of
a webhook's CPU; here the same steps run directly:

- the request id and the one log line of `sidecar.logging.request_context_middleware` (same
  fields; the handler's fields are passed to the line instead of bound to the context);
- the body deadline of `sidecar.limits` (408, connection closed) and Litestar's body limit
  (413 for a Content-Length over it, before reading, or once the streamed bytes pass it; 400
  for a Content-Length that is not a number);
- `sidecar.webhooks.receive_stripe_event` (what the Litestar handler calls too), its errors
  answered as `sidecar.errors` answers them.

Every other request (another path or method, a trailing slash) goes on to Litestar, whose
`WebhookController` still documents the route in the OpenAPI document.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

import msgspec
import stripe
import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from sidecar.db import Database
from sidecar.errors import (
    BadRequest,
    ErrorBody,
    PayloadTooLarge,
    RequestTimeout,
    SidecarError,
    log_sidecar_error,
    log_unexpected,
)
from sidecar.logging import SAFE_REQUEST_ID, access_log
from sidecar.settings import Settings
from sidecar.webhooks import MAX_WEBHOOK_BYTES, receive_stripe_event

__all__ = ["PATH", "webhook_route"]

PATH = "/v1/webhooks/stripe"

log = structlog.get_logger("sidecar.webhook_route")
_encode = msgspec.json.Encoder().encode
_JSON = (b"content-type", b"application/json")
_CLOSE = (b"connection", b"close")


class ClientDisconnected(Exception):
    """The client went away before its body was complete (Litestar answers this with 500)."""


def webhook_route(
    app: ASGIApp,
    settings: Settings,
    database: Callable[[], Database],
    stripe_client: Callable[[], stripe.StripeClient],
) -> ASGIApp:
    """`app` with POST /v1/webhooks/stripe answered before it; `database()` and
    `stripe_client()` are read per request (the lifespan opens them after the app is built)."""
    secret = settings.stripe_webhook_secret
    body_timeout = settings.request_body_timeout
    efw_auto_refund = settings.efw_auto_refund

    async def route(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope["path"] != PATH or scope["method"] != "POST":
            await app(scope, receive, send)
            return
        started = time.perf_counter()
        # the first of each, as Litestar's headers and request_context_middleware read them
        signature: str | None = None
        request_id: str | None = None
        length_header: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"stripe-signature":
                if signature is None:
                    signature = value.decode("latin-1")
            elif name == b"x-request-id":
                if request_id is None:
                    request_id = value.decode("latin-1")
            elif name == b"content-length" and length_header is None:
                length_header = value
        if request_id is None or not SAFE_REQUEST_ID.fullmatch(request_id):
            request_id = uuid.uuid4().hex
        tokens = structlog.contextvars.bind_contextvars(request_id=request_id)
        fields: dict[str, object] = {}
        extra_header: tuple[bytes, bytes] | None = None
        status = 500
        try:
            try:
                raw = await read_body(receive, length_header, body_timeout)
                receipt = await receive_stripe_event(
                    raw,
                    signature,
                    secret,
                    database(),
                    fields,
                    stripe_client=stripe_client(),
                    efw_auto_refund=efw_auto_refund,
                )
                status, body = 200, _encode(receipt)
            except SidecarError as exc:
                if isinstance(exc, RequestTimeout):
                    log.warning("request_body_timeout", path=PATH, seconds=body_timeout)
                    # a client too slow to send its body is not read any further
                    extra_header = _CLOSE
                log_sidecar_error(exc)
                status, body = exc.status_code, _encode(ErrorBody(error=exc.detail))
            except Exception as exc:  # answered 500, as Litestar's handler answers it
                log_unexpected(exc)
                status, body = 500, _encode(ErrorBody(error=SidecarError().detail))
            headers = [
                _JSON,
                (b"content-length", str(len(body)).encode()),
                (b"x-request-id", request_id.encode()),
            ]
            if extra_header is not None:
                headers.append(extra_header)
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body, "more_body": False})
        finally:
            access_log.info(
                "request",
                method="POST",
                path=PATH,
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
                **fields,
            )
            structlog.contextvars.reset_contextvars(**tokens)

    return route


async def read_body(receive: Receive, length_header: bytes | None, seconds: float) -> bytes:
    """The whole body within `seconds`, at most MAX_WEBHOOK_BYTES (as Litestar bounds it)."""
    if length_header is not None:
        try:
            announced = int(length_header)
        except ValueError:
            raise BadRequest() from None
        if announced > MAX_WEBHOOK_BYTES:
            raise PayloadTooLarge()
    chunks: list[bytes] = []
    total = 0
    try:
        async with asyncio.timeout(seconds):
            while True:
                message = await receive()
                if message["type"] == "http.request":
                    chunk = message.get("body", b"")
                    if chunk:
                        total += len(chunk)
                        if total > MAX_WEBHOOK_BYTES:
                            raise PayloadTooLarge()
                        chunks.append(chunk)
                    if not message.get("more_body", False):
                        break
                elif message["type"] == "http.disconnect":
                    raise ClientDisconnected()
    except TimeoutError:
        late = f"The request body did not arrive within {seconds:g} seconds."
        raise RequestTimeout(late) from None
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)
