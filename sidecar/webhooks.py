"""Stripe's webhook: verify the signature on the raw bytes, then hand the event to SQL in one call.

Every signed body ends one of two ways: refused with 400 before anything is stored, or stored
(with `error` when SQL cannot apply it, listed in `payments_needing_attention` and applied
again on redelivery or by `sidecar reconcile`). Never a 5xx for the body itself: Stripe would
redeliver it for three days to the same answer. 5xx means the database cannot be reached (503),
or Stripe failed to make a refund an early fraud warning asks for (502, sidecar.fraud_refunds),
and Stripe retrying is then what should happen.

The body is read as Postgres will read it: parsed once by a strict parser (no NaN, no
Infinity, no lone surrogate, no number a float cannot hold, bounded nesting), its event shape
checked, and the verified text itself handed to SQL as jsonb.
"""

from __future__ import annotations

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

from sidecar.db import ArgumentsRefused, Database, JsonText
from sidecar.errors import (
    BadSignature,
    DatabaseUnavailable,
    PayloadTooLarge,
    PaymentProviderError,
    RequestTimeout,
    error_responses,
)
from sidecar.fraud_refunds import ask_for_fraud_refunds
from sidecar.logging import annotate
from sidecar.settings import Settings
from sidecar.stripe_client import STRIPE_API_VERSION
from sidecar.stripe_ids import is_checkout_session_id

log = structlog.get_logger("sidecar.webhooks")

MAX_WEBHOOK_BYTES = 1024 * 1024
TOLERANCE_SECONDS = 300
# What store_event insists on, and what fits its indexes: anything else is not Stripe's.
EVENT_ID = re.compile(r"evt_[A-Za-z0-9_]{1,250}")
EVENT_TYPE = re.compile(r"[a-z0-9_]+(\.[a-z0-9_]+)*")
MAX_TYPE_LENGTH = 250
MAX_ID_LENGTH = 250
# Stripe's `created` is whole seconds since 1970; past 9999-12-31 Postgres cannot store it.
MAX_CREATED = 253_402_300_799
# Only an api_version of this shape (or a Checkout Session id) is repeated in a log line.
API_VERSION = re.compile(r"[0-9A-Za-z._-]{1,64}")
# Early fraud warnings: SQL decides them under EFW_AUTO_REFUND (handle_early_fraud_warning).
EARLY_FRAUD_WARNING_TYPES = (
    "radar.early_fraud_warning.created",
    "radar.early_fraud_warning.updated",
)
# After a warning's own events (their redeliveries too: that is how a refund Stripe failed to
# make is asked again) a refund an early fraud warning decided may be due, and after a paid
# session that a warning waiting for it ended at once (SQL answers 'revoked'). Other events,
# and every redelivered purchase, cost no extra SQL call.
_CHECKOUT_PAID = ("checkout.session.completed", "checkout.session.async_payment_succeeded")


def may_owe_a_fraud_refund(event_type: str, outcome: object) -> bool:
    """Whether SQL may have a refund for Stripe after this event's outcome."""
    if event_type in EARLY_FRAUD_WARNING_TYPES:
        return outcome != "error"
    return event_type in _CHECKOUT_PAID and outcome == "revoked"


_decoder = msgspec.json.Decoder()


class WebhookReceipt(msgspec.Struct):
    received: bool
    outcome: str


class SignatureRefused(BadSignature):
    """400 bad_signature, with the reason the log line names."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__()


class InvalidPayload(BadSignature):
    """A correctly signed body that is not a Stripe event Postgres can store (400)."""

    code = "invalid_payload"
    message = "The payload is not a Stripe event."

    def __init__(self, reason: str, message: str | None = None) -> None:
        self.reason = reason
        super().__init__(message)


def signature_parts(header: str) -> tuple[int, list[str]]:
    """The Stripe-Signature header read exactly as stripe-python's verifier reads it.

    `t=` and `v1=` items are split as `WebhookSignature` splits them and the timestamp is
    converted with the same `int()`, so the time checked here is the one that was signed;
    unlike stripe-python (which takes the first), a header with more than one `t=` is refused.
    """
    items = [item.split("=", 2) for item in header.split(",")]
    timestamps = [item for item in items if item[0] == "t"]
    signatures = [item for item in items if item[0] == "v1"]
    if len(timestamps) != 1:
        raise SignatureRefused("not_one_timestamp")
    if not signatures or any(len(item) < 2 for item in (*timestamps, *signatures)):
        raise SignatureRefused("malformed_header")
    try:
        timestamp = int(timestamps[0][1])
    except ValueError:
        raise SignatureRefused("malformed_header") from None
    return timestamp, [item[1] for item in signatures]


def verify_signature(text: str, header: str, secret: str, now: float) -> None:
    """BadSignature unless Stripe signed `text` with `secret` at a time within ±TOLERANCE of now.

    One parse for both checks: stripe-python verifies the HMAC over a header rebuilt from that
    parse, so it cannot read another timestamp than the one whose age was checked here.
    """
    timestamp, signatures = signature_parts(header)
    if abs(timestamp - now) > TOLERANCE_SECONDS:
        raise SignatureRefused("timestamp_outside_tolerance")
    canonical = f"t={timestamp}," + ",".join(f"v1={signature}" for signature in signatures)
    try:
        stripe.WebhookSignature.verify_header(text, canonical, secret, tolerance=None)
    except stripe.SignatureVerificationError:
        raise SignatureRefused("no_matching_signature") from None


def parse_event(raw: bytes) -> dict[str, Any]:
    """The event in a verified body, or InvalidPayload naming why it is not one SQL can store."""
    try:
        event = _decoder.decode(raw)
    except msgspec.DecodeError:  # malformed, NaN/Infinity, lone surrogate, number out of range
        raise InvalidPayload("malformed_json", "The payload is not JSON.") from None
    except RecursionError:
        raise InvalidPayload("nesting_too_deep", "The payload is nested too deeply.") from None
    problem = event_problem(event)
    if problem is not None:
        raise InvalidPayload(problem)
    return event  # type: ignore[no-any-return]


def event_problem(event: object) -> str | None:
    """Why `event` is not a Stripe event private.store_event can store, or None."""
    if not isinstance(event, dict):
        return "not_an_object"
    if event.get("object") != "event":
        return "not_an_event"
    event_id = event.get("id")
    if not isinstance(event_id, str) or EVENT_ID.fullmatch(event_id) is None:
        return "id"
    event_type = event.get("type")
    if (
        not isinstance(event_type, str)
        or len(event_type) > MAX_TYPE_LENGTH
        or EVENT_TYPE.fullmatch(event_type) is None
    ):
        return "type"
    created = event.get("created")
    if not isinstance(created, int) or isinstance(created, bool) or not 0 <= created <= MAX_CREATED:
        return "created"
    if event.get("livemode") not in (None, True, False):
        return "livemode"
    data = event.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        return "data_object"
    obj = data["object"]
    # store_event copies these two into indexed columns
    if obj.get("object") == "checkout.session" and not _short_text(obj.get("id")):
        return "session_id"
    if obj.get("payment_intent") is not None and not _short_text(obj["payment_intent"]):
        return "payment_intent"
    return None


def _short_text(value: object) -> bool:
    return isinstance(value, str) and len(value) <= MAX_ID_LENGTH


class WebhookController(Controller):
    path = "/v1/webhooks"
    tags = ["webhooks"]  # noqa: RUF012 - Litestar reads these as class attributes

    @post(
        "/stripe",
        operation_id="receiveStripeEvent",
        status_code=200,
        request_max_body_size=MAX_WEBHOOK_BYTES,
        responses=error_responses(
            BadSignature, RequestTimeout, PayloadTooLarge, PaymentProviderError, DatabaseUnavailable
        ),
    )
    async def receive_event(
        self,
        request: Request[Any, Any, State],
        settings: NamedDependency[Settings],
        database: NamedDependency[Database],
        stripe_client: NamedDependency[stripe.StripeClient],
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
        # Litestar refuses a Content-Length over request_max_body_size before reading and
        # counts the bytes as they stream in (413, answered as payload_too_large).
        # (`sidecar.webhook_route` answers POST /v1/webhooks/stripe ahead of Litestar with the
        # same steps; this handler serves the route's documentation and a trailing slash.)
        raw = await request.body()
        fields: dict[str, object] = {}
        try:
            return await receive_stripe_event(
                raw,
                stripe_signature,
                settings.stripe_webhook_secret,
                database,
                fields,
                stripe_client=stripe_client,
                efw_auto_refund=settings.efw_auto_refund,
            )
        finally:
            if fields:
                annotate(**fields)


async def receive_stripe_event(
    raw: bytes,
    signature: str | None,
    secret: str,
    database: Database,
    fields: dict[str, object],
    *,
    stripe_client: stripe.StripeClient,
    efw_auto_refund: bool,
) -> WebhookReceipt:
    """Verify `raw`, hand the event to SQL, and say what it did; `fields` gets what identifies
    it (event, session, outcome) for the request's log line, even when this raises.

    Raises BadSignature (400) for a body that is not a correctly signed Stripe event, and what
    the database raises (DatabaseUnavailable: 503).
    """
    try:
        if not signature:
            raise BadSignature("The Stripe-Signature header is missing.", code="missing_signature")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidPayload("not_utf8", "The payload is not UTF-8 JSON.") from None
        verify_signature(text, signature, secret, time.time())
        event = parse_event(raw)
    except BadSignature as exc:
        reason = getattr(exc, "reason", None)
        log.warning("webhook_refused", code=exc.detail.code, reason=reason, bytes=len(raw))
        raise
    fields["event_id"] = event["id"]
    fields["event_type"] = event["type"]
    api_version = event.get("api_version")
    if api_version not in (None, STRIPE_API_VERSION):
        # payloads follow the endpoint's API version; SQL reads the pinned version's shape
        log.warning(
            "event_api_version_differs",
            **fields,
            api_version=(
                api_version
                if isinstance(api_version, str) and API_VERSION.fullmatch(api_version)
                else "unrecognised"
            ),
            expected=STRIPE_API_VERSION,
        )
    obj = event["data"]["object"]
    if obj.get("object") == "checkout.session":
        fields["session_id"] = obj["id"] if is_checkout_session_id(obj["id"]) else "unrecognised"
    # what the database adapter logs during the call (a timeout, an outage) names the event too
    bound = structlog.contextvars.bind_contextvars(**fields)
    try:
        outcome = await apply_event(
            database, JsonText(text, event), efw_auto_refund=efw_auto_refund
        )
    except ArgumentsRefused as exc:
        # store_event could not take it (nothing was written): the same body would be
        # refused again, so it is a 400, not a 5xx for Stripe to retry for days.
        log.warning(
            "webhook_refused", **fields, code="invalid_payload", reason=f"sql_{exc.sqlstate}"
        )
        raise InvalidPayload(f"sql_{exc.sqlstate}") from None
    finally:
        structlog.contextvars.reset_contextvars(**bound)
    if outcome == "error":
        # stored, with SQL's error on the row; payments_needing_attention lists it and a
        # redelivery or `sidecar reconcile` applies it again
        log.warning("webhook_not_applied", **fields, outcome=outcome)
    # the request's one log line carries the event, the session and the outcome
    fields["outcome"] = outcome
    if may_owe_a_fraud_refund(event["type"], outcome):
        # Stripe failing raises PaymentProviderError: 502, and Stripe redelivers the event
        refunds = await ask_for_fraud_refunds(database, stripe_client, event["id"])
        if refunds:
            fields["fraud_refunds"] = refunds
    return WebhookReceipt(received=True, outcome=str(outcome))


async def apply_event(
    database: Database, event: JsonText | dict[str, Any], *, efw_auto_refund: bool
) -> object:
    """Store and apply one verified event in SQL; its outcome word.

    Early fraud warnings go through handle_early_fraud_warning, which takes EFW_AUTO_REFUND;
    everything else through handle_stripe_event. Reconcile replays events the same way.
    """
    parsed = event.value if isinstance(event, JsonText) else event
    if parsed["type"] in EARLY_FRAUD_WARNING_TYPES:
        return await database.rpc(
            "handle_early_fraud_warning", {"p_event": event, "p_auto_refund": efw_auto_refund}
        )
    return await database.rpc("handle_stripe_event", {"p_event": event})
