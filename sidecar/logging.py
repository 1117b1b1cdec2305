"""JSON log lines: one per request, carrying its request id and what the handler did.

Handlers `annotate` the request's line with what identifies their work (event id, checkout
session id, outcome) instead of writing lines of their own; a line of its own is for what an
operator must see apart (a refusal, a failure). Nothing here ever logs a header value other
than X-Request-ID, a body, a token or a secret.
"""

from __future__ import annotations

import datetime
import logging
import re
import sys
import time
import uuid
from typing import Any, TextIO

import msgspec
import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "x-request-id"
# A caller's request id is honoured only when it is short and plain, so it cannot forge log lines.
SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

access_log = structlog.get_logger("sidecar.access")

# msgspec renders a log line in a fraction of the standard library's time, as bytes (written
# as they are when the stream has a binary buffer); anything it does not know is its str()
_encode_line = msgspec.json.Encoder(enc_hook=str).encode
_UTC = datetime.UTC


def _utc_now(_: Any, __: str, event_dict: structlog.types.EventDict) -> structlog.types.EventDict:
    # a datetime msgspec writes as RFC 3339 ("2026-12-03T16:39:14.659133Z", as structlog's
    # TimeStamper(fmt="iso", utc=True) would), without formatting it in Python first
    event_dict["timestamp"] = datetime.datetime.now(_UTC)
    return event_dict


def _json_bytes(_: Any, __: str, event_dict: structlog.types.EventDict) -> bytes:
    return _encode_line(event_dict)


def _json_text(_: Any, __: str, event_dict: structlog.types.EventDict) -> str:
    return _encode_line(event_dict).decode()


def configure_logging(level: str = "INFO", stream: TextIO = sys.stdout) -> None:
    """structlog → JSON lines on `stream`; the standard library (uvicorn, psycopg) to the same."""
    numeric_level = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    # Lines of our own are rendered to bytes and written with one write and flush each (a
    # line per request is on every request's path); a text-only stream gets str.
    binary = getattr(stream, "buffer", None)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            _utc_now,
            structlog.processors.format_exc_info,
            _json_text if binary is None else _json_bytes,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=(
            structlog.PrintLoggerFactory(stream)
            if binary is None
            else structlog.BytesLoggerFactory(binary)
        ),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processor=structlog.processors.JSONRenderer(),
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric_level)
    # uvicorn's own access log would duplicate ours (and carry query strings).
    logging.getLogger("uvicorn.access").disabled = True
    # httpx and stripe-python log every Stripe call at INFO (three lines per checkout, each
    # rendered by the standard library's JSON): the request's own line and the warnings that
    # carry Stripe's request id say what matters; LOG_LEVEL=DEBUG shows them again.
    for chatty in ("httpx", "stripe"):
        logging.getLogger(chatty).setLevel(
            logging.WARNING if numeric_level >= logging.INFO else logging.NOTSET
        )


def annotate(**fields: object) -> None:
    """Add `fields` to the current request's log line (written when the response is sent)."""
    structlog.contextvars.bind_contextvars(**fields)


def milliseconds_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def request_context_middleware(app: ASGIApp) -> ASGIApp:
    """Binds a request id (the caller's X-Request-ID or a new one), returns it, logs one line."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        incoming = next(
            (
                value.decode("latin-1")
                for name, value in scope["headers"]
                if name == b"x-request-id"
            ),
            "",
        )
        request_id = incoming if SAFE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        status = 500

        async def send_with_request_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() != b"x-request-id"
                ]
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        started = time.perf_counter()
        before = structlog.contextvars.get_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await app(scope, receive, send_with_request_id)
        finally:
            access_log.info(
                "request",
                method=scope.get("method"),
                path=scope["path"],
                status=status,
                duration_ms=milliseconds_since(started),
            )
            # what this request bound (its id, the handler's annotations) ends with it
            structlog.contextvars.clear_contextvars()
            structlog.contextvars.bind_contextvars(**before)

    return middleware
