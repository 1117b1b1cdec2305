"""Test controls under `/_standin/`: what Stripe does on its own, on demand. Not Stripe's API.

Disputes and refund outcomes (the banks' moves), webhook delivery switches, the delivery log
tests wait on, endpoints registered with a secret the receiver already knows, and a clock.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import msgspec
from litestar import get, post
from litestar.params import JSONBody

from standins.stripe import checkout, payments, refunds
from standins.stripe.objects import Obj
from standins.stripe.wire import LedgerDep, PathId


class DisputeRequest(msgspec.Struct, forbid_unknown_fields=True):
    payment_intent: str
    amount: int | None = None
    reason: str = "fraudulent"


class CloseDisputeRequest(msgspec.Struct, forbid_unknown_fields=True):
    outcome: Literal["won", "lost"]


class SettleRefundRequest(msgspec.Struct, forbid_unknown_fields=True):
    outcome: Literal["succeeded", "failed"]
    failure_reason: str = "unknown"


class DeliverySwitches(msgspec.Struct, forbid_unknown_fields=True):
    duplicate: bool | None = None
    shuffle: bool | None = None
    paused: bool | None = None


class EndpointRequest(msgspec.Struct, forbid_unknown_fields=True):
    url: str
    secret: str | None = None
    enabled_events: list[str] = msgspec.field(default_factory=lambda: ["*"])


class EarlyFraudWarningRequest(msgspec.Struct, forbid_unknown_fields=True):
    payment_intent: str | None = None
    charge: str | None = None
    actionable: bool = True
    fraud_type: str = "made_with_stolen_card"


class ClockRequest(msgspec.Struct, forbid_unknown_fields=True):
    advance: int


@post("/_standin/disputes", operation_id="standinOpenDispute", status_code=200)
async def open_dispute(data: JSONBody[DisputeRequest], ledger: LedgerDep) -> Obj:
    """Dispute a payment intent's charge: sends `charge.dispute.created`."""
    async with ledger.lock:
        return payments.open_dispute(
            ledger, data.payment_intent, amount=data.amount, reason=data.reason
        )


@post(
    "/_standin/disputes/{dispute_id:str}/close", operation_id="standinCloseDispute", status_code=200
)
async def close_dispute(
    data: JSONBody[CloseDisputeRequest], ledger: LedgerDep, dispute_id: PathId
) -> Obj:
    """Close a dispute as won or lost: sends `charge.dispute.closed`."""
    async with ledger.lock:
        return payments.close_dispute(ledger, dispute_id, won=data.outcome == "won")


@post(
    "/_standin/early_fraud_warnings",
    operation_id="standinCreateEarlyFraudWarning",
    status_code=200,
)
async def create_early_fraud_warning(
    data: JSONBody[EarlyFraudWarningRequest], ledger: LedgerDep
) -> Obj:
    """The issuer warns of likely fraud on a charge: sends `radar.early_fraud_warning.created`."""
    async with ledger.lock:
        return payments.early_fraud_warning(
            ledger,
            payment_intent=data.payment_intent,
            charge_id=data.charge,
            actionable=data.actionable,
            fraud_type=data.fraud_type,
        )


@post(
    "/_standin/refunds/{refund_id:str}/settle", operation_id="standinSettleRefund", status_code=200
)
async def settle_refund(
    data: JSONBody[SettleRefundRequest], ledger: LedgerDep, refund_id: PathId
) -> Obj:
    """The bank's answer to a refund: sends `refund.updated`, then `charge.refunded` or
    `refund.failed`."""
    async with ledger.lock:
        return refunds.settle_refund(
            ledger,
            refund_id,
            succeeded=data.outcome == "succeeded",
            failure_reason=data.failure_reason,
        )


@get("/_standin/delivery", operation_id="standinDeliverySwitches")
async def delivery_switches(ledger: LedgerDep) -> dict[str, bool]:
    """The webhook delivery switches as they stand."""
    return dataclasses.asdict(ledger.dispatcher.switches)


@post("/_standin/delivery", operation_id="standinSetDeliverySwitches", status_code=200)
async def set_delivery_switches(
    data: JSONBody[DeliverySwitches], ledger: LedgerDep
) -> dict[str, bool]:
    """Turn duplicate / shuffle / paused on or off; omitted switches keep their value."""
    values = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not None}
    return dataclasses.asdict(ledger.dispatcher.set_switches(**values))


@get("/_standin/deliveries", operation_id="standinDeliveries")
async def deliveries(ledger: LedgerDep) -> dict[str, Any]:
    """Every delivery attempt so far, oldest first, and how many wait to be sent."""
    return {
        "attempts": [a.as_json() for a in ledger.dispatcher.attempts],
        "pending": len(ledger.dispatcher.pending),
    }


@post("/_standin/webhook_endpoints", operation_id="standinAddWebhookEndpoint", status_code=200)
async def add_webhook_endpoint(data: JSONBody[EndpointRequest], ledger: LedgerDep) -> Obj:
    """Register an endpoint whose secret the receiver already holds (as `make dev` does)."""
    async with ledger.lock:
        endpoint = ledger.add_endpoint(data.url, data.enabled_events, secret=data.secret)
        return {**endpoint.obj, "secret": endpoint.secret}


@post("/_standin/clock", operation_id="standinAdvanceClock", status_code=200)
async def advance_clock(data: JSONBody[ClockRequest], ledger: LedgerDep) -> dict[str, int]:
    """Move the stand-in's clock forward; sessions past `expires_at` expire at once."""
    async with ledger.lock:
        ledger.clock_offset += max(data.advance, 0)
        expired = checkout.expire_due(ledger)
        return {"now": ledger.now(), "expired": expired}


ROUTES = [
    open_dispute,
    close_dispute,
    create_early_fraud_warning,
    settle_refund,
    delivery_switches,
    set_delivery_switches,
    deliveries,
    add_webhook_endpoint,
    advance_clock,
]
