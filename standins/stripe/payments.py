"""Money moving: paying a session (at once or later), refunds, disputes, customers.

Each function changes the ledger and emits the events Stripe emits for the same change, each
carrying a snapshot of the object as it stands after the change.
"""

from __future__ import annotations

from typing import Any

from standins.stripe import objects
from standins.stripe.checkout import metadata
from standins.stripe.errors import StripeError
from standins.stripe.lists import integer
from standins.stripe.objects import Obj
from standins.stripe.store import Ledger, RequestContext

REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")
DISPUTE_REASONS = ("fraudulent", "product_not_received", "unrecognized", "duplicate", "general")
_OPEN_DISPUTE = ("warning_needs_response", "warning_under_review", "needs_response", "under_review")


class PageError(Exception):
    """A hosted-page action that the session's state does not allow (answered 409)."""


def create_customer(ledger: Ledger, params: dict[str, Any], context: RequestContext | None) -> Obj:
    for key in params:
        if key not in ("email", "name", "description", "phone", "metadata", "expand"):
            raise StripeError.unknown_param(key)
    customer = objects.customer(
        created=ledger.now(),
        email=params.get("email") or None,
        name=params.get("name") or None,
        metadata=metadata(params.get("metadata")),
    )
    customer["description"] = params.get("description") or None
    customer["phone"] = params.get("phone") or None
    ledger.customers[customer["id"]] = customer
    ledger.emit("customer.created", customer, context)
    return customer


def pay(ledger: Ledger, session: Obj, *, email: str, delayed: bool) -> Obj:
    """The learner pays: by card (settles at once) or by a delayed method (settles later)."""
    if session["status"] != "open":
        raise PageError(f"This Checkout Session is {session['status']}; it cannot be paid.")
    customer_id = session["customer"]
    if customer_id is None and session["customer_creation"] == "always":
        customer = create_customer(ledger, {"email": email}, None)
        customer_id = customer["id"]
    extra = ledger.intent_data.get(session["id"], {})
    intent = objects.payment_intent(
        created=ledger.now(),
        amount=session["amount_total"],
        currency=session["currency"],
        customer_id=customer_id,
        metadata=dict(extra.get("metadata", {})),
        payment_method_types=list(session["payment_method_types"]),
    )
    intent["description"] = extra.get("description")
    ledger.payment_intents[intent["id"]] = intent
    ledger.emit("payment_intent.created", intent, None)

    charge = objects.charge(
        created=ledger.now(),
        intent=intent,
        email=email,
        status="pending" if delayed else "succeeded",
    )
    ledger.charges[charge["id"]] = charge
    intent["latest_charge"] = charge["id"]
    if delayed:
        intent["status"] = "processing"
        ledger.emit("charge.pending", charge, None)
        ledger.emit("payment_intent.processing", intent, None)
    else:
        intent["status"] = "succeeded"
        intent["amount_received"] = intent["amount"]
        ledger.emit("charge.succeeded", charge, None)
        ledger.emit("payment_intent.succeeded", intent, None)

    session.update(
        status="complete",
        payment_status="unpaid" if delayed else "paid",
        payment_intent=intent["id"],
        customer=customer_id,
        customer_details=objects.customer_details(email=email, name=None),
        collected_information=objects.collected_information(),
        url=None,
    )
    ledger.emit("checkout.session.completed", session, None)
    return session


def settle_delayed(ledger: Ledger, session: Obj, *, succeeded: bool) -> Obj:
    """The delayed payment method's outcome arrives: the bank pays, or it does not."""
    intent = ledger.payment_intents.get(session["payment_intent"] or "")
    if session["status"] != "complete" or intent is None or intent["status"] != "processing":
        raise PageError("This Checkout Session has no payment waiting to settle.")
    charge = ledger.charges[intent["latest_charge"]]
    if succeeded:
        charge.update(
            status="succeeded",
            paid=True,
            captured=True,
            amount_captured=charge["amount"],
            balance_transaction=objects.new_id("txn_"),
            outcome=objects.charge_outcome("succeeded"),
        )
        intent.update(status="succeeded", amount_received=intent["amount"])
        session["payment_status"] = "paid"
        ledger.emit("charge.succeeded", charge, None)
        ledger.emit("payment_intent.succeeded", intent, None)
        ledger.emit("checkout.session.async_payment_succeeded", session, None)
    else:
        charge.update(
            status="failed",
            failure_code="insufficient_funds",
            failure_message="The customer's account has insufficient funds.",
            outcome=objects.charge_outcome("failed"),
        )
        error = objects.template("payment_intent")["last_payment_error"]
        error["type"] = "card_error"
        intent.update(status="requires_payment_method", last_payment_error=error)
        ledger.emit("charge.failed", charge, None)
        ledger.emit("payment_intent.payment_failed", intent, None)
        ledger.emit("checkout.session.async_payment_failed", session, None)
    return session


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


def create_refund(ledger: Ledger, params: dict[str, Any], context: RequestContext) -> Obj:
    """`POST /v1/refunds`: full or partial; the charge records it and two events go out."""
    for key in params:
        if key not in ("charge", "payment_intent", "amount", "reason", "metadata", "expand"):
            raise StripeError.unknown_param(key)
    charge = _charge_for(ledger, params)
    if charge["status"] != "succeeded":
        raise StripeError.invalid(
            f"Charge {charge['id']} has not succeeded; it cannot be refunded.",
            code="charge_not_refundable",
        )
    if charge["refunded"]:
        raise StripeError.invalid(
            f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded"
        )
    if any(
        d["charge"] == charge["id"] and d["status"] in (*_OPEN_DISPUTE, "lost")
        for d in ledger.disputes.values()
    ):
        raise StripeError.invalid(
            f"Charge {charge['id']} has been charged back; cannot issue a refund.",
            code="charge_disputed",
        )
    remaining = charge["amount"] - charge["amount_refunded"]
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
    if reason is not None and reason not in REFUND_REASONS:
        raise StripeError.invalid(
            f"Invalid reason: must be one of {', '.join(REFUND_REASONS)}", param="reason"
        )
    refund = objects.refund(
        created=ledger.now(),
        charge_obj=charge,
        amount=amount,
        reason=reason,
        metadata=metadata(params.get("metadata")),
    )
    ledger.refunds[refund["id"]] = refund
    charge["amount_refunded"] += amount
    charge["refunded"] = charge["amount_refunded"] == charge["amount"]
    charge["refunds"]["data"].insert(0, refund)
    ledger.emit("charge.refunded", charge, context)
    ledger.emit("refund.created", refund, context)
    return refund


def open_dispute(ledger: Ledger, payment_intent: str, *, amount: int | None, reason: str) -> Obj:
    """The cardholder's bank disputes the payment (a test control, not a Stripe endpoint)."""
    intent = ledger.get(
        ledger.payment_intents, "payment_intent", payment_intent, param="payment_intent"
    )
    charge = ledger.charges.get(intent["latest_charge"] or "")
    if charge is None or charge["status"] != "succeeded":
        raise StripeError.invalid(
            f"PaymentIntent {payment_intent} has no successful charge.", param="payment_intent"
        )
    if reason not in DISPUTE_REASONS:
        raise StripeError.invalid(f"Invalid reason: {reason}", param="reason")
    dispute = objects.dispute(
        created=ledger.now(),
        charge_obj=charge,
        amount=charge["amount"] if amount is None else amount,
        reason=reason,
    )
    ledger.disputes[dispute["id"]] = dispute
    charge["disputed"] = True
    ledger.emit("charge.dispute.created", dispute, None)
    return dispute


def close_dispute(ledger: Ledger, dispute_id: str, *, won: bool) -> Obj:
    dispute = ledger.get(ledger.disputes, "dispute", dispute_id)
    if dispute["status"] not in _OPEN_DISPUTE:
        raise StripeError.invalid(f"Dispute {dispute_id} is already closed ({dispute['status']}).")
    dispute["status"] = "won" if won else "lost"
    ledger.emit("charge.dispute.closed", dispute, None)
    return dispute
