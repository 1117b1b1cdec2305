"""Health, routing errors, request ids, logs and the OpenAPI document."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any, TypeVar

import httpx
import psycopg
import pytest
import structlog
from litestar import Litestar

from sidecar.app import create_app
from sidecar.contracts import JsonFunction
from sidecar.db import ArgumentsRefused
from sidecar.errors import DatabaseUnavailable
from sidecar.logging import configure_logging
from sidecar.settings import Settings
from tests.sidecar.conftest import (
    LESSON_JOINS,
    Client,
    bearer,
    checkout_session,
    deliver,
    event,
    running_client,
    running_sidecar,
    signature_header,
    signed,
)

pytestmark = pytest.mark.anyio

T = TypeVar("T")


class ScriptedDatabase:
    """A `Database` whose every call answers `answer` (or raises it): for paths real SQL
    cannot be made to take on demand."""

    def __init__(self, answer: object) -> None:
        self.answer = answer
        self.calls: list[str] = []

    async def rpc(self, name: str, args: Mapping[str, object]) -> object:
        self.calls.append(name)
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer

    async def call(self, function: JsonFunction[T], args: Mapping[str, object]) -> T:
        return function.decode_value(await self.rpc(function.name, args))

    async def ping(self) -> None:
        if isinstance(self.answer, BaseException):
            raise self.answer


async def test_liveness_and_readiness(client: Client) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).json() == {"status": "ready"}


async def test_readiness_is_503_when_the_database_is_down(settings: Settings) -> None:
    async with running_client(settings, ScriptedDatabase(DatabaseUnavailable())) as client:
        live = await client.get("/healthz")
        ready = await client.get("/readyz")
    assert live.status_code == 200
    assert ready.status_code == 503
    assert ready.json()["error"]["code"] == "database_unavailable"


async def test_unknown_route_and_wrong_method_use_the_error_shape(client: Client) -> None:
    missing = await client.get("/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.json() == {"error": {"code": "not_found", "message": "No such route."}}
    wrong = await client.get("/v1/webhooks/stripe")
    assert wrong.status_code == 405
    assert wrong.json()["error"]["code"] == "method_not_allowed"
    assert "POST" in wrong.headers["allow"]


async def test_unexpected_errors_are_500_without_the_exception_text(settings: Settings) -> None:
    broken = ScriptedDatabase(RuntimeError("password=hunter2 in a driver message"))
    async with running_client(settings, broken) as client:
        response = await client.post(
            "/v1/checkout/sessions",
            json={"lesson_id": str(LESSON_JOINS)},
            headers=bearer(uuid.uuid4()),
        )
    assert response.status_code == 500
    assert response.json() == {
        "error": {"code": "internal_error", "message": "Something went wrong on our side."}
    }
    assert "hunter2" not in response.text


@pytest.mark.parametrize(
    "plan",
    [
        {"action": "teleport", "session_id": "cs_test_1", "url": "https://x"},
        {"action": "reuse", "session_id": "cs_test_1"},
        {"action": "refuse", "reason": "out_of_stock"},
        ["reuse"],
        None,
    ],
    ids=["unknown action", "missing field", "unknown refusal", "not an object", "null"],
)
async def test_a_checkout_plan_of_unknown_shape_is_a_500_never_another_plan(
    settings: Settings, plan: object, capsys: pytest.CaptureFixture[str]
) -> None:
    database = ScriptedDatabase(plan)
    async with running_client(settings, database) as client:
        response = await client.post(
            "/v1/checkout/sessions",
            json={"lesson_id": str(LESSON_JOINS)},
            headers=bearer(uuid.uuid4()),
        )
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert database.calls == ["begin_checkout"]  # nothing was opened at Stripe
    assert "UnexpectedResult" in capsys.readouterr().out


async def test_event_sql_could_not_apply_is_200_not_a_retry_storm(settings: Settings) -> None:
    # handle_stripe_event keeps such an event with outcome 'error' (payments_needing_attention
    # lists it; a redelivery or reconcile applies it again). A 5xx would only make Stripe send
    # the same body for three days.
    database = ScriptedDatabase("error")
    paid = event(
        "checkout.session.completed", checkout_session(user_id=uuid.uuid4(), lesson_id=LESSON_JOINS)
    )
    async with running_client(settings, database) as client:
        response = await deliver(client, paid)
    assert response.status_code == 200
    assert response.json() == {"received": True, "outcome": "error"}
    assert database.calls == ["handle_stripe_event"]


async def test_request_id_is_honoured_or_made(client: Client) -> None:
    given = await client.get("/healthz", headers={"X-Request-ID": "req-from-the-edge-42"})
    assert given.headers["x-request-id"] == "req-from-the-edge-42"
    made = await client.get("/healthz")
    assert len(made.headers["x-request-id"]) == 32
    forged = await client.get("/healthz", headers={"X-Request-ID": 'x" injected="1'})
    assert forged.headers["x-request-id"] != 'x" injected="1'
    errored = await client.get("/v1/nothing", headers={"X-Request-ID": "abc"})
    assert errored.headers["x-request-id"] == "abc"


async def test_openapi_documents_every_route_with_operation_ids(client: Client) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    operations = {
        operation["operationId"]: (path, method)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    }
    assert operations == {
        "createCheckoutSession": ("/v1/checkout/sessions", "post"),
        "getCheckoutSession": ("/v1/checkout/sessions/{session_id}", "get"),
        "receiveStripeEvent": ("/v1/webhooks/stripe", "post"),
        "liveness": ("/healthz", "get"),
        "readiness": ("/readyz", "get"),
    }
    create = schema["paths"]["/v1/checkout/sessions"]["post"]
    assert create["description"] == (
        "Open a Checkout Session for one lesson, or hand back the learner's open one."
    )
    assert set(create["responses"]) >= {"200", "201", "401", "404", "409", "422", "502", "503"}
    assert schema["components"]["schemas"]["CheckoutRequest"]["required"] == ["lesson_id"]


def test_oversized_webhook_streamed_without_content_length_is_413(settings: Settings) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b"x" * 65536

    with running_sidecar(settings) as base:
        response = httpx.post(
            f"{base}/v1/webhooks/stripe",
            content=chunks(),
            headers={"Stripe-Signature": signature_header(b"")},
        )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_logs_are_json_lines_with_the_request_context() -> None:
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    try:
        with structlog.contextvars.bound_contextvars(request_id="r-1"):
            structlog.get_logger("sidecar.test").info(
                "webhook_handled", event_id="evt_1", outcome="recorded", duration_ms=1.5
            )
    finally:
        structlog.reset_defaults()
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert line["event"] == "webhook_handled"
    assert line["request_id"] == "r-1"
    assert (line["event_id"], line["outcome"], line["level"]) == ("evt_1", "recorded", "info")
    assert "timestamp" in line


def test_log_lines_on_a_binary_stream_are_the_same_json_lines() -> None:
    # stdout has a binary buffer: lines are rendered to bytes and written there directly
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="utf-8", write_through=True)
    configure_logging("INFO", stream=stream)
    try:
        with structlog.contextvars.bound_contextvars(request_id="r-2"):
            structlog.get_logger("sidecar.test").info("request", path="/x", status=200, n=1.5)
        logging.getLogger("psycopg").warning("from the standard library")
    finally:
        structlog.reset_defaults()
    ours, theirs = (json.loads(line) for line in raw.getvalue().decode().splitlines())
    assert {k: ours[k] for k in ("event", "request_id", "path", "status", "n", "level")} == {
        "event": "request",
        "request_id": "r-2",
        "path": "/x",
        "status": 200,
        "n": 1.5,
        "level": "info",
    }
    assert datetime.fromisoformat(ours["timestamp"]).utcoffset() == timedelta(0)
    assert ours["timestamp"].endswith("Z")
    assert (theirs["event"], theirs["level"]) == ("from the standard library", "warning")


@pytest.mark.parametrize(("level", "shown"), [("INFO", False), ("DEBUG", True)])
def test_stripe_calls_are_not_logged_line_by_line_at_info(level: str, shown: bool) -> None:
    stream = io.StringIO()
    configure_logging(level, stream=stream)
    try:
        logging.getLogger("httpx").info('HTTP Request: POST https://api.stripe.com "200 OK"')
        logging.getLogger("stripe").info("message='Request to Stripe api' method=post")
        logging.getLogger("stripe").warning("a warning still is")
    finally:
        structlog.reset_defaults()
    logged = stream.getvalue()
    assert ("HTTP Request" in logged) is shown
    assert ("Request to Stripe api" in logged) is shown
    assert "a warning still is" in logged


async def test_a_database_error_is_logged_by_sqlstate_never_its_message(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    # a driver error's message and CONTEXT quote the data it choked on
    error = psycopg.errors.InvalidTextRepresentation(
        'invalid input syntax for type uuid: "Zoë CANARY-1"\nCONTEXT:  JSON data, line 1: CANARY-2'
    )
    async with running_client(settings, ScriptedDatabase(error)) as client:
        response = await client.post(
            "/v1/checkout/sessions",
            json={"lesson_id": str(LESSON_JOINS)},
            headers=bearer(uuid.uuid4()),
        )
    logged = capsys.readouterr()
    assert response.status_code == 500
    assert "unhandled_database_error" in logged.out
    assert "CANARY" not in logged.out + logged.err


@pytest.mark.parametrize("sqlstate", ["22P02", "22003", "54000"])
async def test_a_signed_event_postgres_refuses_is_400_naming_the_sqlstate(
    settings: Settings, capsys: pytest.CaptureFixture[str], sqlstate: str
) -> None:
    database = ScriptedDatabase(ArgumentsRefused("handle_stripe_event", sqlstate))
    paid = event(
        "checkout.session.completed", checkout_session(user_id=uuid.uuid4(), lesson_id=LESSON_JOINS)
    )
    async with running_client(settings, database) as client:
        response = await deliver(client, paid)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_payload"
    logged = capsys.readouterr().out
    assert f"reason=sql_{sqlstate}" in logged
    assert paid["id"] in logged


class OutageDatabase(ScriptedDatabase):
    """Logs what the psycopg adapter logs when the database cannot be reached, then raises."""

    async def rpc(self, name: str, args: Mapping[str, object]) -> object:
        self.calls.append(name)
        structlog.get_logger("sidecar.db").warning("database_unavailable", function=name)
        raise DatabaseUnavailable()


@pytest.mark.parametrize("path", ["/v1/webhooks/stripe", "/v1/webhooks/stripe/"])
async def test_what_the_database_logs_during_a_webhook_names_its_event(
    settings: Settings, path: str
) -> None:
    # the plain ASGI route and Litestar's handler (a trailing slash) alike
    paid = event(
        "checkout.session.completed", checkout_session(user_id=uuid.uuid4(), lesson_id=LESSON_JOINS)
    )
    payload, headers = signed(paid)
    async with running_client(settings, OutageDatabase(None)) as client:
        with structlog.testing.capture_logs(
            processors=[structlog.contextvars.merge_contextvars]
        ) as lines:
            response = await client.post(path, content=payload, headers=headers)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "database_unavailable"
    outage = next(line for line in lines if line["event"] == "database_unavailable")
    assert outage["event_id"] == paid["id"]
    assert outage["session_id"] == paid["data"]["object"]["id"]
    assert outage["request_id"] == response.headers["x-request-id"]
    request = next(line for line in lines if line["event"] == "request")
    assert (request["status"], request["event_id"]) == (503, paid["id"])
    assert "event_id" not in structlog.contextvars.get_contextvars()


async def test_a_webhook_logs_one_line_carrying_its_event_session_and_outcome(
    settings: Settings, learner: uuid.UUID
) -> None:
    paid = event(
        "checkout.session.completed", checkout_session(user_id=learner, lesson_id=LESSON_JOINS)
    )
    async with running_client(settings) as client:
        with structlog.testing.capture_logs(
            processors=[structlog.contextvars.merge_contextvars]
        ) as lines:
            response = await deliver(client, paid)
    assert response.json()["outcome"] == "recorded"
    assert len(lines) == 1
    line = lines[0]
    assert (line["event"], line["status"], line["path"]) == ("request", 200, "/v1/webhooks/stripe")
    assert line["event_id"] == paid["id"]
    assert line["session_id"] == paid["data"]["object"]["id"]
    assert (line["event_type"], line["outcome"]) == ("checkout.session.completed", "recorded")
    assert line["request_id"] == response.headers["x-request-id"]
    # what one request bound ends with it
    assert "event_id" not in structlog.contextvars.get_contextvars()


async def asgi_call(
    app: Litestar, path: str, body: list[bytes], headers: list[tuple[bytes, bytes]], *, ends: bool
) -> tuple[int, bytes, list[bytes]]:
    """One POST straight through the ASGI app: `body` in chunks (the last one final when
    `ends`), then only a disconnect; its status, body and header names."""
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": chunk, "more_body": not ends or n < len(body) - 1}
        for n, chunk in enumerate(body)
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"sidecar.test"), *headers],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    await app(scope, receive, send)  # type: ignore[arg-type]
    start, *rest = sent
    names = sorted(name for name, _ in start["headers"])
    return int(start["status"]), b"".join(m.get("body", b"") for m in rest), names


def webhook_requests() -> dict[str, tuple[list[bytes], list[tuple[bytes, bytes]], bool]]:
    paid = event(
        "checkout.session.completed", checkout_session(user_id=uuid.uuid4(), lesson_id=LESSON_JOINS)
    )
    payload, headers = signed(paid)
    signature = (b"stripe-signature", headers["Stripe-Signature"].encode())
    length = (b"content-length", str(len(payload)).encode())
    megabyte = b"x" * (1024 * 1024)
    return {
        "signed event": ([payload], [signature, length], True),
        "in chunks, no length": ([payload[:100], payload[100:]], [signature], True),
        "no signature": ([payload], [length], True),
        "wrong signature": ([payload], [(b"stripe-signature", b"t=1,v1=00"), length], True),
        "not json": ([b"nope"], [(b"stripe-signature", signature_header(b"nope").encode())], True),
        "length over the limit": ([b""], [signature, (b"content-length", b"2000000")], True),
        "streamed over the limit": ([megabyte, b"xx"], [signature], True),
        "length not a number": ([payload], [signature, (b"content-length", b"12a")], True),
        "gone mid-body": ([payload[:100]], [signature], False),
    }


@pytest.mark.parametrize("case", list(webhook_requests()))
async def test_the_plain_webhook_route_answers_as_litestars_handler(
    settings: Settings, case: str
) -> None:
    # POST /v1/webhooks/stripe is the plain ASGI route; with a trailing slash, Litestar's
    # handler answers: the same status, body and headers (the request id apart)
    body, headers, ends = webhook_requests()[case]
    app = create_app(settings, database=ScriptedDatabase("recorded"))
    async with app.lifespan():
        plain = await asgi_call(app, "/v1/webhooks/stripe", body, headers, ends=ends)
        litestar = await asgi_call(app, "/v1/webhooks/stripe/", body, headers, ends=ends)
    assert plain == litestar
    if case == "signed event":
        assert plain[:2] == (200, b'{"received":true,"outcome":"recorded"}')
