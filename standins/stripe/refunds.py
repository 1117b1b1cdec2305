"""Refunds as Stripe runs them now: `succeeded` at once or `pending` first, and able to fail.

A refund counts against what is left to refund from the moment it is created; the charge's
`amount_refunded` (and `refunded` once it reaches the amount) counts only refunds that
succeeded, and `charge.refunded` goes out when one does. A refund that fails (before or after
it succeeded) gives its amount back to what can be refunded.

Events: `refund.created` for every refund (after `charge.refunded` when it succeeds at once);
`refund.updated` with `previous_attributes` on every change of status, then `charge.refunded`
(succeeded) or `refund.failed` (failed).
"""

from __future__ import annotations

from typing import Any

from standins.stripe import objects
from standins.stripe.checkout import metadata
from standins.stripe.errors import StripeError
from standins.stripe.lists import integer
from standins.stripe.objects import Obj
from standins.stripe.payments import OPEN_DISPUTE
from standins.stripe.store import Ledger, RequestContext

REASONS = ("duplicate", "fraudulent", "requested_by_customer")
FAILURE_REASONS = (
    "lost_or_stolen_card",
    "expired_or_canceled_card",
    "charge_for_pending_refund_disputed",
    "insufficient_funds",
    "declined",
    "merchant_request",
    "unknown",
)


def _charge_for(ledger: Ledger, params: dict[str, Any]) -> Obj:
    if params.get("charge"):
        return ledger.get(ledger.charges, "charge", params["charge"], param="charge")
    if params.get("payment_intent"):
        intent = ledger.get(
            ledger.payment_intents,
            "payment_intent",
            params["payment_intent"],
            param="payment_intent",
        )
        if intent["latest_charge"] is None:
            raise StripeError.invalid(
                f"PaymentIntent {intent['id']} does not have a successful charge to refund.",
                param="payment_intent",
            )
        return ledger.charges[intent["latest_charge"]]
    raise StripeError.invalid(
        "One of the following params should be provided for this request: payment_intent or "
        "charge.",
        param="payment_intent",
        code="parameter_missing",
    )


def _unrefunded(charge: Obj) -> int:
    held: int = sum(r["amount"] for r in charge["refunds"]["data"] if r["status"] != "failed")
    amount: int = charge["amount"]
    return amount - held


def _count_succeeded(charge: Obj) -> None:
    charge["amount_refunded"] = sum(
        r["amount"] for r in charge["refunds"]["data"] if r["status"] == "succeeded"
    )
    charge["refunded"] = charge["amount_refunded"] == charge["amount"]


def create_refund(ledger: Ledger, params: dict[str, Any], context: RequestContext) -> Obj:
    """`POST /v1/refunds`: full or partial, at once or pending by the charge's card."""
    for key in params:
        if key not in ("charge", "payment_intent", "amount", "reason", "metadata", "expand"):
            raise StripeError.unknown_param(key)
    charge = _charge_for(ledger, params)
    if charge["status"] != "succeeded":
        raise StripeError.invalid(
            f"Charge {charge['id']} has not succeeded; it cannot be refunded.",
            code="charge_not_refundable",
        )
    remaining = _unrefunded(charge)
    if charge["refunded"] or remaining == 0:
        raise StripeError.invalid(
            f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded"
        )
    if any(
        d["charge"] == charge["id"] and d["status"] in (*OPEN_DISPUTE, "lost")
        for d in ledger.disputes.values()
    ):
        raise StripeError.invalid(
            f"Charge {charge['id']} has been charged back; cannot issue a refund.",
            code="charge_disputed",
        )
    amount = remaining
    if params.get("amount"):
        amount = integer(params["amount"], "amount")
        if amount < 1:
            raise StripeError.invalid("Refund amount must be positive.", param="amount")
        if amount > remaining:
            raise StripeError.invalid(
                f"Refund amount ({amount}) is greater than unrefunded amount on charge "
                f"({remaining})",
                param="amount",
            )
    reason = params.get("reason") or None
    if reason is not None and reason not in REASONS:
        raise StripeError.invalid(
            f"Invalid reason: must be one of {', '.join(REASONS)}", param="reason"
        )
    card = ledger.cards.get(charge["id"])
    refund = objects.refund(
        created=ledger.now(),
        charge_obj=charge,
        amount=amount,
        reason=reason,
        metadata=metadata(params.get("metadata")),
        pending=card is not None and card.refunds_pending,
    )
    ledger.refunds[refund["id"]] = refund
    charge["refunds"]["data"].insert(0, refund)  # the same object: it changes with the refund
    if refund["status"] == "succeeded":
        _count_succeeded(charge)
        ledger.emit("charge.refunded", charge, context)
    ledger.emit("refund.created", refund, context)
    return refund


def settle_refund(
    ledger: Ledger, refund_id: str, *, succeeded: bool, failure_reason: str = "unknown"
) -> Obj:
    """The bank's answer to a refund (a test control): a pending one succeeds or fails; one
    that succeeded can still fail (the card was closed, say)."""
    refund = ledger.get(ledger.refunds, "refund", refund_id)
    charge = ledger.charges[refund["charge"]]
    status = refund["status"]
    if status == "failed" or (succeeded and status == "succeeded"):
        raise StripeError.invalid(f"Refund {refund_id} is already {status}.")
    if failure_reason not in FAILURE_REASONS:
        raise StripeError.invalid(
            f"Invalid failure_reason: must be one of {', '.join(FAILURE_REASONS)}",
            param="failure_reason",
        )
    previous: Obj = {"status": status}
    if status == "pending":
        previous["pending_reason"] = refund["pending_reason"]
    if succeeded:
        refund.pop("pending_reason", None)
        refund["status"] = "succeeded"
    else:
        previous.update(failure_balance_transaction=None, failure_reason=None)
        objects.refund_failed(refund, failure_reason)
    _count_succeeded(charge)
    ledger.emit("refund.updated", refund, None, previous_attributes=previous)
    if succeeded:
        ledger.emit("charge.refunded", charge, None)
    else:
        ledger.emit("refund.failed", refund, None)
    return refund
