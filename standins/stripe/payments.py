"""Money moving: paying a session (at once, later, or declined), disputes, customers.

Each function changes the ledger and emits the events Stripe emits for the same change, each
carrying a snapshot of the object as it stands after the change.
"""

from __future__ import annotations

from typing import Any

from standins.stripe import discounts, invoices, objects
from standins.stripe.cards import Card
from standins.stripe.checkout import metadata
from standins.stripe.errors import StripeError
from standins.stripe.objects import Obj
from standins.stripe.store import Ledger, RequestContext

DISPUTE_REASONS = ("fraudulent", "product_not_received", "unrecognized", "duplicate", "general")
OPEN_DISPUTE = ("warning_needs_response", "warning_under_review", "needs_response", "under_review")


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


class CardDeclined(PageError):
    """The issuer said no: the page stays open and shows Stripe's wording (answered 402)."""


def _intent(ledger: Ledger, session: Obj, customer_id: str | None) -> Obj:
    """The session's PaymentIntent: made at the first attempt to pay, reused after a decline."""
    intent = ledger.payment_intents.get(session["payment_intent"] or "")
    if intent is not None:
        intent["customer"] = customer_id
        return intent
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
    session["payment_intent"] = intent["id"]
    ledger.emit("payment_intent.created", intent, None)
    return intent


def _charge(ledger: Ledger, intent: Obj, *, email: str, card: Card, status: str) -> Obj:
    intent["payment_method"] = objects.new_id("pm_")  # each card typed in is a new one
    charge = objects.charge(
        created=ledger.now(),
        intent=intent,
        email=email,
        status=status,
        card=card,
        receipt_url=None,
    )
    ledger.charges[charge["id"]] = charge
    ledger.cards[charge["id"]] = card
    intent["latest_charge"] = charge["id"]
    return charge


def _succeeded(ledger: Ledger, charge: Obj) -> None:
    """A charge's money arrived: it gets its receipt page."""
    if charge["receipt_url"] is None:
        charge["receipt_url"] = ledger.page_url("receipts/payment", charge["id"])


def pay(ledger: Ledger, session: Obj, *, email: str, delayed: bool, card: Card) -> Obj:
    """The learner pays: by card (settles at once) or by a delayed method (settles later).

    A declined card leaves a failed charge on the session's PaymentIntent and the session open;
    the next card is charged on the same intent, as Checkout does.
    """
    if session["status"] != "open":
        raise PageError(f"This Checkout Session is {session['status']}; it cannot be paid.")
    if session["amount_total"] == 0:
        return _complete_without_payment(ledger, session, email=email)
    if card.decline is not None:
        intent = _intent(ledger, session, session["customer"])
        charge = _charge(ledger, intent, email=email, card=card, status="failed")
        intent.update(
            status="requires_payment_method",
            last_payment_error=objects.last_payment_error(charge, card.decline),
        )
        ledger.emit("charge.failed", charge, None)
        ledger.emit("payment_intent.payment_failed", intent, None)
        raise CardDeclined(card.decline.message)

    customer_id = session["customer"]
    if customer_id is None and session["customer_creation"] == "always":
        customer = create_customer(ledger, {"email": email}, None)
        customer_id = customer["id"]
    intent = _intent(ledger, session, customer_id)
    charge = _charge(
        ledger, intent, email=email, card=card, status="pending" if delayed else "succeeded"
    )
    intent["last_payment_error"] = None
    discounts.redeem(ledger, session)
    session.update(
        status="complete",
        payment_status="unpaid" if delayed else "paid",
        customer=customer_id,
        customer_details=objects.customer_details(email=email, name=None),
        collected_information=objects.collected_information(),
        url=None,
    )
    if delayed:
        intent["status"] = "processing"
        ledger.emit("charge.pending", charge, None)
        ledger.emit("payment_intent.processing", intent, None)
    else:
        intent["status"] = "succeeded"
        intent["amount_received"] = intent["amount"]
        _succeeded(ledger, charge)
        ledger.emit("charge.succeeded", charge, None)
        ledger.emit("payment_intent.succeeded", intent, None)
        invoices.issue_paid(ledger, session)
    ledger.emit("checkout.session.completed", session, None)
    return session


def _complete_without_payment(ledger: Ledger, session: Obj, *, email: str) -> Obj:
    """A code took the whole amount off: Checkout completes the session with no payment
    (`payment_status: "no_payment_required"`, no PaymentIntent, no charge)."""
    customer_id = session["customer"]
    if customer_id is None and session["customer_creation"] == "always":
        customer_id = create_customer(ledger, {"email": email}, None)["id"]
    discounts.redeem(ledger, session)
    session.update(
        status="complete",
        payment_status="no_payment_required",
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
        _succeeded(ledger, charge)
        intent.update(status="succeeded", amount_received=intent["amount"])
        session["payment_status"] = "paid"
        ledger.emit("charge.succeeded", charge, None)
        ledger.emit("payment_intent.succeeded", intent, None)
        invoices.issue_paid(ledger, session)
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


# Stripe's early fraud warning types (radar.early_fraud_warning.fraud_type)
FRAUD_TYPES = (
    "card_never_received",
    "fraudulent_card_application",
    "made_with_counterfeit_card",
    "made_with_lost_card",
    "made_with_stolen_card",
    "misc",
    "unauthorized_use_of_card",
)


def early_fraud_warning(
    ledger: Ledger,
    *,
    payment_intent: str | None,
    charge_id: str | None,
    actionable: bool,
    fraud_type: str,
) -> Obj:
    """The card issuer reports a charge as likely fraud (a test control, not a Stripe endpoint).

    Each call is a new warning, as an issuer may send several; `actionable` is false once the
    charge is refunded or disputed, as Stripe sets it.
    """
    if fraud_type not in FRAUD_TYPES:
        raise StripeError.invalid(f"Invalid fraud_type: {fraud_type}", param="fraud_type")
    if charge_id:
        charge = ledger.get(ledger.charges, "charge", charge_id, param="charge")
    elif payment_intent:
        intent = ledger.get(
            ledger.payment_intents, "payment_intent", payment_intent, param="payment_intent"
        )
        latest = ledger.charges.get(intent["latest_charge"] or "")
        if latest is None:
            raise StripeError.invalid(
                f"PaymentIntent {payment_intent} has no charge.", param="payment_intent"
            )
        charge = latest
    else:
        raise StripeError.missing("charge")
    if charge["status"] != "succeeded":
        raise StripeError.invalid(f"Charge {charge['id']} has not succeeded.", param="charge")
    warning = objects.early_fraud_warning(
        created=ledger.now(),
        charge_obj=charge,
        actionable=actionable and not charge["refunded"] and not charge["disputed"],
        fraud_type=fraud_type,
    )
    ledger.early_fraud_warnings[warning["id"]] = warning
    ledger.emit("radar.early_fraud_warning.created", warning, None)
    return warning


def close_dispute(ledger: Ledger, dispute_id: str, *, won: bool) -> Obj:
    dispute = ledger.get(ledger.disputes, "dispute", dispute_id)
    if dispute["status"] not in OPEN_DISPUTE:
        raise StripeError.invalid(f"Dispute {dispute_id} is already closed ({dispute['status']}).")
    dispute["status"] = "won" if won else "lost"
    ledger.emit("charge.dispute.closed", dispute, None)
    return dispute
