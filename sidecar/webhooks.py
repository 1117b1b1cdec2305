"""Stripe's webhook: verify the signature on the raw bytes, then hand the event to SQL in one call.

Nothing is stored for a request that fails verification. A verified event is stored and acted
on by `handle_stripe_event` in one transaction; its outcome word is the answer. When the
database cannot be reached, or SQL kept the event but could not apply it (`error`), the answer
is 5xx so that Stripe delivers it again.
"""

from __future__ import annotations

import json
import re
import time
from typing import Annotated, Any

import msgspec
import stripe
import structlog
from litestar import Controller, Request, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import HeaderParameter

from sidecar.db import Database
from sidecar.errors import (
    BadSignature,
    DatabaseUnavailable,
    PayloadTooLarge,
    SidecarError,
    error_responses,
)
from sidecar.logging import milliseconds_since
from sidecar.payments import STRIPE_API_VERSION
from sidecar.settings import Settings

log = structlog.get_logger("sidecar.webhooks")

MAX_WEBHOOK_BYTES = 1024 * 1024
TOLERANCE_SECONDS = 300
EVENT_ID = re.compile(r"evt_[A-Za-z0-9_]+")


class WebhookReceipt(msgspec.Struct):
    received: bool
    outcome: str


class EventNotProcessed(SidecarError):
    status_code = 500
    code = "event_not_processed"
    message = "The event was stored but could not be applied; it will be retried."


def verified_event(raw: bytes, signature: str | None, secret: str) -> dict[str, Any]:
    """The event in `raw`, if Stripe signed it within ±TOLERANCE_SECONDS; else BadSignature."""
    if not signature:
        raise BadSignature("The Stripe-Signature header is missing.", code="missing_signature")
    try:
        # construct_event = verify_header + parse into a StripeObject; SQL wants the plain
        # JSON, so verify with the same check and parse once.
        stripe.WebhookSignature.verify_header(raw, signature, secret, TOLERANCE_SECONDS)
    except stripe.SignatureVerificationError:
        raise BadSignature() from None
    except UnicodeDecodeError:
        raise BadSignature("The payload is not UTF-8 JSON.", code="invalid_payload") from None
    # Stripe's check only refuses old timestamps; a signature from the future is refused too.
    timestamps = [
        int(part[2:])
        for part in signature.split(",")
        if part.startswith("t=") and part[2:].isdigit()
    ]
    if not timestamps or timestamps[0] > time.time() + TOLERANCE_SECONDS:
        raise BadSignature()
    try:
        event = json.loads(raw)
    except ValueError:
        raise BadSignature("The payload is not JSON.", code="invalid_payload") from None
    if not _looks_like_event(event):
        raise BadSignature("The payload is not a Stripe event.", code="invalid_payload")
    return event  # type: ignore[no-any-return]


def _looks_like_event(event: object) -> bool:
    # The same shape private.store_event insists on, checked here so bad input is a 400.
    return (
        isinstance(event, dict)
        and event.get("object") == "event"
        and isinstance(event.get("id"), str)
        and EVENT_ID.fullmatch(event["id"]) is not None
        and isinstance(event.get("type"), str)
        and isinstance(event.get("created"), int | float)
        and not isinstance(event.get("created"), bool)
        and isinstance(event.get("data"), dict)
        and isinstance(event["data"].get("object"), dict)
    )


class WebhookController(Controller):
    path = "/v1/webhooks"
    tags = ["webhooks"]  # noqa: RUF012 - Litestar reads these as class attributes

    @post(
        "/stripe",
        operation_id="receiveStripeEvent",
        status_code=200,
        request_max_body_size=MAX_WEBHOOK_BYTES,
        responses=error_responses(
            BadSignature, PayloadTooLarge, EventNotProcessed, DatabaseUnavailable
        ),
    )
    async def receive_event(
        self,
        request: Request[Any, Any, State],
        settings: NamedDependency[Settings],
        database: NamedDependency[Database],
        stripe_signature: Annotated[
            str | None,
            HeaderParameter(
                name="Stripe-Signature",
                required=False,
                description="t=<unix time>,v1=<HMAC-SHA256 of '<t>.<raw body>'>, as Stripe sends",
            ),
        ] = None,
    ) -> WebhookReceipt:
        """Verify a Stripe event and apply it in the database (stored first, once)."""
        started = time.perf_counter()
        # Litestar refuses a Content-Length over request_max_body_size before reading and
        # counts the bytes as they stream in (413, answered as payload_too_large).
        raw = await request.body()
        try:
            event = verified_event(raw, stripe_signature, settings.stripe_webhook_secret)
        except BadSignature as exc:
            log.warning("webhook_refused", code=exc.detail.code, bytes=len(raw))
            raise
        bound = log.bind(event_id=event["id"], event_type=event["type"])
        if event.get("api_version") not in (None, STRIPE_API_VERSION):
            # payloads follow the endpoint's API version; SQL reads the pinned version's shape
            bound.warning(
                "event_api_version_differs",
                api_version=event.get("api_version"),
                expected=STRIPE_API_VERSION,
            )
        session_id = event["data"]["object"].get("id")
        if event["data"]["object"].get("object") == "checkout.session":
            bound = bound.bind(session_id=session_id)
        outcome = await database.rpc("handle_stripe_event", {"p_event": event})
        bound.info("webhook_handled", outcome=outcome, duration_ms=milliseconds_since(started))
        if outcome == "error":
            raise EventNotProcessed()
        return WebhookReceipt(received=True, outcome=str(outcome))
