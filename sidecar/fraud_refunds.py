"""Refunds that early fraud warnings ask for: claimed in SQL, asked of Stripe once, recorded.

SQL decides whether a payment is refunded (fraud_warnings.sql: one row per payment intent);
this asks Stripe for each refund SQL hands out and tells SQL what Stripe answered. The
idempotency key is SQL's (`efw-refund-<warning id>`), so a retry after a timeout, a crash or a
second replica is the same refund at Stripe. Stripe refusing for good (the charge is already
refunded or disputed) is recorded and listed for an operator; any other failure releases the
claim and raises PaymentProviderError, so the webhook answers 502 and Stripe's redelivery asks
again.
"""

from __future__ import annotations

import stripe
import structlog

from sidecar.contracts import CLAIM_EARLY_FRAUD_WARNING_REFUNDS, FraudRefund
from sidecar.db import Database
from sidecar.errors import PaymentProviderError

log = structlog.get_logger("sidecar.fraud_refunds")

# Stripe's answers that asking again cannot change: recorded, and an operator decides.
REFUSED_FOR_GOOD = frozenset(
    {"charge_already_refunded", "charge_disputed", "charge_not_refundable", "resource_missing"}
)


async def ask_for_fraud_refunds(
    database: Database, stripe_client: stripe.StripeClient, event_id: str | None
) -> list[str]:
    """Ask Stripe for the refunds due for `event_id`'s payment (every one due with None).

    Returns the refund ids Stripe answered. Raises PaymentProviderError when Stripe failed and
    the claim was released (the caller answers 5xx so that the event comes again).
    """
    claimed = await database.call(CLAIM_EARLY_FRAUD_WARNING_REFUNDS, {"p_event_id": event_id})
    refund_ids: list[str] = []
    failed = False
    for due in claimed:
        refund_id = await _ask(database, stripe_client, due)
        if refund_id is None:
            failed = True
        elif refund_id:
            refund_ids.append(refund_id)
    if failed:
        raise PaymentProviderError()
    return refund_ids


async def _ask(
    database: Database, stripe_client: stripe.StripeClient, due: FraudRefund
) -> str | None:
    """The refund id; '' when Stripe refused it for good; None when the call failed."""
    bound = log.bind(payment_intent=due.payment_intent, early_fraud_warning=due.early_fraud_warning)
    try:
        refund = await stripe_client.v1.refunds.create_async(
            {
                "payment_intent": due.payment_intent,
                "reason": "fraudulent",
                "metadata": {"early_fraud_warning": due.early_fraud_warning},
            },
            {"idempotency_key": due.idempotency_key},
        )
    except stripe.InvalidRequestError as exc:
        if exc.code in REFUSED_FOR_GOOD:
            bound.warning(
                "fraud_refund_refused", stripe_code=exc.code, stripe_request_id=exc.request_id
            )
            await database.rpc(
                "finish_early_fraud_warning_refund",
                {
                    "p_payment_intent": due.payment_intent,
                    "p_refund_id": None,
                    "p_refused_code": exc.code,
                },
            )
            return ""
        bound.warning("fraud_refund_failed", error=type(exc).__name__, stripe_code=exc.code)
    except stripe.StripeError as exc:
        bound.warning("fraud_refund_failed", error=type(exc).__name__, stripe_code=exc.code)
    else:
        await database.rpc(
            "finish_early_fraud_warning_refund",
            {
                "p_payment_intent": due.payment_intent,
                "p_refund_id": refund.id,
                "p_refused_code": None,
            },
        )
        bound.info("fraud_refund_requested", refund_id=refund.id, amount=due.amount)
        return refund.id
    await database.rpc(
        "finish_early_fraud_warning_refund",
        {"p_payment_intent": due.payment_intent, "p_refund_id": None, "p_refused_code": None},
    )
    return None
