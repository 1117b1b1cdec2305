"""Stripe-shaped objects for driving the purchase functions directly from Python."""

from __future__ import annotations

import uuid
from typing import Any

JsonObject = dict[str, Any]


def checkout_session(
    session_id: str,
    user_id: uuid.UUID,
    lesson_id: uuid.UUID,
    amount: int,
    currency: str = "usd",
    *,
    paid: bool = True,
    payment_intent: str | None = None,
    customer: str | None = None,
    status: str = "complete",
) -> JsonObject:
    return {
        "id": session_id,
        "object": "checkout.session",
        "mode": "payment",
        "status": status,
        "payment_status": "paid" if paid else "unpaid",
        "amount_total": amount,
        "currency": currency,
        "client_reference_id": str(user_id),
        "metadata": {"user_id": str(user_id), "lesson_id": str(lesson_id)},
        "payment_intent": payment_intent or "pi_" + session_id.removeprefix("cs_"),
        "customer": customer,
        "created": 1_700_000_000,
        "expires_at": 1_700_086_400,
    }


def charge_refunded(payment_intent: str, amount: int, refunded: int) -> JsonObject:
    return {
        "id": "ch_" + payment_intent.removeprefix("pi_"),
        "object": "charge",
        "payment_intent": payment_intent,
        "amount": amount,
        "amount_refunded": refunded,
        "refunded": refunded >= amount,
    }


def refund(
    refund_id: str, payment_intent: str, amount: int, status: str, created: int
) -> JsonObject:
    """A refund as refund.created, refund.updated and refund.failed carry it."""
    obj: JsonObject = {
        "id": refund_id,
        "object": "refund",
        "amount": amount,
        "charge": "ch_" + payment_intent.removeprefix("pi_"),
        "created": created,
        "currency": "usd",
        "payment_intent": payment_intent,
        "status": status,
    }
    if status == "pending":
        obj["pending_reason"] = "processing"
    if status == "failed":
        obj["failure_reason"] = "expired_or_canceled_card"
    return obj


def dispute(payment_intent: str, status: str = "needs_response") -> JsonObject:
    return {
        "id": "dp_" + payment_intent.removeprefix("pi_"),
        "object": "dispute",
        "charge": "ch_" + payment_intent.removeprefix("pi_"),
        "payment_intent": payment_intent,
        "status": status,
    }


def early_fraud_warning(
    warning_id: str, payment_intent: str, created: int, actionable: bool = True
) -> JsonObject:
    """A card issuer's warning on the payment intent's charge, shaped like Stripe's example."""
    return {
        "id": warning_id,
        "object": "radar.early_fraud_warning",
        "actionable": actionable,
        "charge": "ch_" + payment_intent.removeprefix("pi_"),
        "created": created,
        "fraud_type": "made_with_stolen_card",
        "livemode": False,
        "payment_intent": payment_intent,
    }


def event(event_id: str, event_type: str, obj: JsonObject, created: int) -> JsonObject:
    return {
        "id": event_id,
        "object": "event",
        "type": event_type,
        "created": created,
        "livemode": False,
        "api_version": "2024-06-20",
        "data": {"object": obj},
    }
