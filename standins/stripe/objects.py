"""Stripe objects built from Stripe's own examples (`fixtures/fixtures3.json`).

Every builder deep-copies the fixture for its object type and overrides values; it never adds a
key the fixture lacks, so what the stand-in returns has exactly the shape Stripe's API has.
Example values that would mislead a reader (shipping costs, a Connect transfer, an ACH source)
are set to what Stripe returns for a plain one-off card payment: usually null.
"""

from __future__ import annotations

import copy
import json
import secrets
import string
from functools import cache
from pathlib import Path
from typing import Any

from standins.stripe import cards
from standins.stripe.cards import Card, Decline

Obj = dict[str, Any]

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "fixtures3.json"
_ALPHABET = string.ascii_letters + string.digits
_NULL_ADDRESS = {
    "city": None,
    "country": None,
    "line1": None,
    "line2": None,
    "postal_code": None,
    "state": None,
}


@cache
def _resources() -> dict[str, Obj]:
    resources: dict[str, Obj] = json.loads(FIXTURES.read_text())["resources"]
    return resources


def template(kind: str) -> Obj:
    """A fresh deep copy of Stripe's example object of type `kind` (e.g. `checkout.session`)."""
    return copy.deepcopy(_resources()[kind])


def new_id(prefix: str, length: int = 24) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def _fill(obj: Obj, **values: Any) -> Obj:
    for key, value in values.items():
        if key not in obj:
            raise KeyError(f"{obj['object']} has no field {key!r} in Stripe's fixture")
        obj[key] = value
    return obj


# Fields Stripe's API reference marks optional (not in the fixture, which holds the fields every
# object has): they appear only in the state that gives them a value. Each is declared on
# stripe-python's class for that object (a test checks); nothing else is ever added.
CONDITIONAL: dict[str, frozenset[str]] = {
    "refund": frozenset({"pending_reason", "failure_reason", "failure_balance_transaction"}),
    "payment_intent.last_payment_error": frozenset(
        {"charge", "code", "decline_code", "doc_url", "message", "payment_method_type"}
    ),
    # the PaymentIntent of the warned charge (every charge here has one)
    "radar.early_fraud_warning": frozenset({"payment_intent"}),
}


def _conditional(obj: Obj, where: str, **values: Any) -> Obj:
    for key, value in values.items():
        if key not in CONDITIONAL[where]:
            raise KeyError(f"{where} has no optional field {key!r}")
        obj[key] = value
    return obj


def customer(*, created: int, email: str | None, name: str | None, metadata: Obj) -> Obj:
    obj = template("customer")
    return _fill(
        obj,
        id=new_id("cus_", 14),
        address=None,
        created=created,
        currency=None,
        discount=None,
        email=email,
        invoice_prefix=secrets.token_hex(4).upper(),
        invoice_settings={
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        metadata=metadata,
        name=name,
        shipping=None,
    )


def line_item(*, name: str, currency: str, unit_amount: int, quantity: int, created: int) -> Obj:
    """A Checkout line item (`item`) with the inline price `price_data` made."""
    obj = template("item")
    price = obj["price"]
    _fill(
        price,
        id=new_id("price_"),
        active=False,  # prices made from price_data are inactive, as on Stripe
        created=created,
        currency=currency,
        custom_unit_amount=None,
        product=new_id("prod_", 14),
        recurring=None,
        transform_quantity=None,
        unit_amount=unit_amount,
        unit_amount_decimal=str(unit_amount),
    )
    total = unit_amount * quantity
    return _fill(
        obj,
        id=new_id("li_"),
        amount_discount=0,
        amount_subtotal=total,
        amount_tax=0,
        amount_total=total,
        currency=currency,
        description=name,  # Checkout shows the product name here
        quantity=quantity,
        adjustable_quantity=None,
    )


def checkout_session(
    *,
    created: int,
    expires_at: int,
    currency: str,
    amount_total: int,
    url: str,
    params: Obj,
    customer_id: str | None,
) -> Obj:
    obj = template("checkout.session")
    session_id = new_id("cs_test_", 58)
    _fill(
        obj,
        id=session_id,
        after_expiration=None,
        allow_promotion_codes=None,
        amount_subtotal=amount_total,
        amount_total=amount_total,
        automatic_tax={"enabled": False, "liability": None, "status": None, "provider": None},
        cancel_url=params.get("cancel_url"),
        client_reference_id=params.get("client_reference_id"),
        consent=None,
        consent_collection=None,
        created=created,
        currency=currency,
        custom_text={k: None for k in obj["custom_text"]},
        customer=customer_id,
        customer_creation=None if customer_id else params.get("customer_creation", "if_required"),
        customer_details=None,
        customer_email=params.get("customer_email"),
        expires_at=expires_at,
        invoice_creation={
            "enabled": False,
            "invoice_data": {
                "account_tax_ids": None,
                "custom_fields": None,
                "description": None,
                "footer": None,
                "issuer": None,
                "metadata": {},
                "rendering_options": None,
            },
        },
        locale=params.get("locale"),
        metadata=params.get("metadata", {}),
        mode="payment",
        payment_intent=None,  # created when the learner pays, as on Stripe's current API
        payment_method_configuration_details=None,
        payment_method_options={},
        payment_method_types=params.get("payment_method_types", ["card"]),
        payment_status="unpaid",
        saved_payment_method_options=None,
        shipping_address_collection=None,
        shipping_cost=None,
        status="open",
        submit_type=params.get("submit_type"),
        success_url=params.get("success_url"),
        total_details={"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        ui_mode="hosted",
        url=url.format(id=session_id),
        # Stripe turns Adaptive Pricing on by default (account setting); the fixture shows it on
        adaptive_pricing=params.get("adaptive_pricing", {"enabled": True}),
        discounts=[],
        collected_information=None,
        permissions=None,
        wallet_options=None,
        currency_conversion=None,
        managed_payments={"enabled": False},
    )
    return obj


def customer_details(*, email: str, name: str | None) -> Obj:
    details = template("checkout.session")["customer_details"]
    return _fill(
        details,
        address=dict(_NULL_ADDRESS),
        email=email,
        name=name,
        tax_ids=[],
    )


def collected_information() -> Obj:
    info = template("checkout.session")["collected_information"]
    return _fill(info, shipping_details=None)


def payment_intent(
    *,
    created: int,
    amount: int,
    currency: str,
    customer_id: str | None,
    metadata: Obj,
    payment_method_types: list[str],
) -> Obj:
    obj = template("payment_intent")
    pi_id = new_id("pi_")
    return _fill(
        obj,
        id=pi_id,
        amount=amount,
        amount_capturable=0,
        amount_received=0,
        automatic_payment_methods=None,
        canceled_at=None,
        client_secret=f"{pi_id}_secret_{new_id('', 25)}",
        created=created,
        currency=currency,
        customer=customer_id,
        last_payment_error=None,
        latest_charge=None,
        metadata=metadata,
        next_action=None,
        payment_method=new_id("pm_"),
        payment_method_configuration_details=None,
        payment_method_types=payment_method_types,
        processing=None,
        shipping=None,
        status="requires_payment_method",
        transfer_data=None,
        managed_payments=None,
    )


def charge(
    *,
    created: int,
    intent: Obj,
    email: str,
    status: str,
    card: Card,
    receipt_url: str | None,
) -> Obj:
    """A card charge; `card` (from the hosted page) fills `payment_method_details.card`."""
    obj = template("charge")
    charge_id = new_id("ch_")
    billing = obj["billing_details"]
    _fill(billing, address=dict(_NULL_ADDRESS), email=email, name=None)
    _fill(
        obj["payment_method_details"]["card"],
        amount_authorized=None if status == "failed" else intent["amount"],
        brand=card.brand,
        checks={
            "address_line1_check": None,
            "address_postal_code_check": None,
            "cvc_check": "pass",
        },
        country=card.country,
        exp_month=card.exp_month,
        exp_year=card.exp_year,
        fingerprint=card.fingerprint,
        funding=card.funding,
        installments=None,
        last4=card.last4,
        network=card.brand,
        overcapture={"maximum_amount_capturable": intent["amount"], "status": "unavailable"},
        three_d_secure=None,
        wallet=None,
    )
    decline = card.decline if status == "failed" else None
    return _fill(
        obj,
        id=charge_id,
        amount=intent["amount"],
        amount_captured=intent["amount"] if status == "succeeded" else 0,
        balance_transaction=new_id("txn_") if status == "succeeded" else None,
        calculated_statement_descriptor="LESSON SHOP",
        captured=status == "succeeded",
        created=created,
        currency=intent["currency"],
        customer=intent["customer"],
        description=None,
        failure_code="card_declined" if decline else None,
        failure_message=decline.message if decline else None,
        metadata=dict(intent["metadata"]),
        outcome=charge_outcome(status, decline),
        paid=status == "succeeded",
        payment_intent=intent["id"],
        payment_method=intent["payment_method"],
        receipt_url=receipt_url,
        refunds={
            "data": [],
            "has_more": False,
            "object": "list",
            "url": f"/v1/charges/{charge_id}/refunds",
        },
        shipping=None,
        status=status,
        transfer_data=None,
        source=None,
    )


def charge_outcome(status: str, decline: Decline | None = None) -> Obj:
    outcome = template("charge")["outcome"]
    if status == "failed":
        decline = decline or cards.INSUFFICIENT_FUNDS
        return _fill(
            outcome,
            network_decline_code=decline.network_decline_code,
            network_status="declined_by_network",
            reason=decline.decline_code,
            seller_message=decline.seller_message,
            type="issuer_declined",
        )
    if status == "pending":
        return _fill(
            outcome,
            network_status="approved_by_network",
            type="authorized",
            seller_message="Payment is processing.",
        )
    return _fill(
        outcome,
        network_status="approved_by_network",
        type="authorized",
        seller_message="Payment complete.",
    )


def last_payment_error(charge_obj: Obj, decline: Decline) -> Obj:
    """`payment_intent.last_payment_error` after a card decline, as Stripe words it."""
    error = template("payment_intent")["last_payment_error"]
    _fill(error, type="card_error")
    return _conditional(
        error,
        "payment_intent.last_payment_error",
        charge=charge_obj["id"],
        code="card_declined",
        decline_code=decline.decline_code,
        doc_url="https://stripe.com/docs/error-codes/card-declined",
        message=decline.message,
        payment_method_type="card",
    )


def refund(
    *,
    created: int,
    charge_obj: Obj,
    amount: int,
    reason: str | None,
    metadata: Obj,
    pending: bool,
) -> Obj:
    """A card refund, `succeeded` at once or `pending` (with `pending_reason`) until settled."""
    obj = template("refund")
    _fill(obj["destination_details"]["card"], type="refund")
    _fill(
        obj,
        id=new_id("re_"),
        amount=amount,
        balance_transaction=new_id("txn_"),
        charge=charge_obj["id"],
        created=created,
        currency=charge_obj["currency"],
        metadata=metadata,
        payment_intent=charge_obj["payment_intent"],
        reason=reason,
        status="pending" if pending else "succeeded",
        customer=charge_obj["customer"],
        payment_method=charge_obj["payment_method"],
    )
    if pending:
        _conditional(obj, "refund", pending_reason="processing")
    return obj


def refund_failed(obj: Obj, failure_reason: str) -> Obj:
    """The refund could not reach the card: the money comes back to the account's balance."""
    obj.pop("pending_reason", None)
    _fill(obj, status="failed")
    return _conditional(
        obj,
        "refund",
        failure_balance_transaction=new_id("txn_"),
        failure_reason=failure_reason,
    )


def invoice(
    *,
    created: int,
    session: Obj,
    items: list[Obj],
    customer_email: str | None,
    invoice_data: Obj,
) -> Obj:
    """A Checkout post-payment invoice, still a draft: `invoices.finalize` and `pay` move it on."""
    obj = template("invoice")
    invoice_id = new_id("in_")
    lines = [invoice_line(item, invoice_id=invoice_id, created=created) for item in items]
    total = session["amount_total"]
    return _fill(
        obj,
        id=invoice_id,
        account_country="US",
        amount_due=total,
        amount_paid=0,
        amount_remaining=total,
        amount_overpaid=0,
        automatic_tax={
            "enabled": False,
            "liability": None,
            "status": None,
            "disabled_reason": None,
            "provider": None,
        },
        auto_advance=False,
        created=created,
        currency=session["currency"],
        custom_fields=None,
        customer=session["customer"],
        customer_address=None,
        customer_email=customer_email,
        customer_shipping=None,
        description=invoice_data.get("description"),
        due_date=None,
        effective_at=None,
        ending_balance=None,
        footer=invoice_data.get("footer"),
        from_invoice=None,
        last_finalization_error=None,
        lines={
            "data": lines,
            "has_more": False,
            "object": "list",
            "url": f"/v1/invoices/{invoice_id}/lines",
        },
        metadata=dict(invoice_data.get("metadata") or {}),
        next_payment_attempt=None,
        payment_settings={
            "default_mandate": None,
            "payment_method_options": None,
            "payment_method_types": None,
        },
        period_end=created,
        period_start=created,
        rendering=None,
        shipping_cost=None,
        shipping_details=None,
        status="draft",
        subtotal=total,
        subtotal_excluding_tax=total,
        total=total,
        total_excluding_tax=total,
        total_pretax_credit_amounts=[],
        total_taxes=[],
        webhooks_delivered_at=None,
        parent=None,
    )


def invoice_line(item: Obj, *, invoice_id: str, created: int) -> Obj:
    """An invoice line for one Checkout line item (an invoice item Checkout made)."""
    obj = template("line_item")
    return _fill(
        obj,
        id=new_id("il_"),
        amount=item["amount_total"],
        currency=item["currency"],
        description=item["description"],
        discountable=True,
        invoice=invoice_id,
        metadata={},
        period={"end": created, "start": created},
        quantity=item["quantity"],
        pretax_credit_amounts=[],
        taxes=[],
        parent={
            "invoice_item_details": {
                "invoice_item": new_id("ii_"),
                "proration": False,
                "proration_details": {"credited_items": None},
                "subscription": None,
            },
            "subscription_item_details": None,
            "type": "invoice_item_details",
        },
        pricing={
            "type": "price_details",
            "unit_amount_decimal": item["price"]["unit_amount_decimal"],
        },
        subtotal=item["amount_subtotal"],
        quantity_decimal=str(item["quantity"]),
    )


def dispute(*, created: int, charge_obj: Obj, amount: int, reason: str) -> Obj:
    obj = template("dispute")
    _fill(obj["evidence_details"], due_by=created + 7 * 24 * 3600)
    card = obj["payment_method_details"]["card"]
    _fill(card, case_type="chargeback")
    return _fill(
        obj,
        id=new_id("dp_"),
        amount=amount,
        charge=charge_obj["id"],
        created=created,
        currency=charge_obj["currency"],
        is_charge_refundable=False,
        payment_intent=charge_obj["payment_intent"],
        reason=reason,
        status="needs_response",
        enhanced_eligibility_types=[],
    )


def coupon(
    *,
    coupon_id: str | None,
    created: int,
    percent_off: float | None,
    amount_off: int | None,
    currency: str | None,
    duration: str,
    duration_in_months: int | None,
    max_redemptions: int | None,
    redeem_by: int | None,
    name: str | None,
    metadata: Obj,
) -> Obj:
    obj = template("coupon")
    return _fill(
        obj,
        id=coupon_id or new_id("", 8),
        amount_off=amount_off,
        created=created,
        currency=currency,
        duration=duration,
        duration_in_months=duration_in_months,
        max_redemptions=max_redemptions,
        metadata=metadata,
        name=name,
        percent_off=percent_off,
        redeem_by=redeem_by,
        times_redeemed=0,
        valid=True,
    )


def promotion_code(
    *,
    created: int,
    code: str,
    coupon_obj: Obj,
    active: bool,
    customer: str | None,
    expires_at: int | None,
    max_redemptions: int | None,
    minimum_amount: int | None,
    minimum_amount_currency: str | None,
    first_time_transaction: bool,
    metadata: Obj,
) -> Obj:
    """A promotion code (API 2025-09-30 and later: the coupon sits under `promotion`)."""
    obj = template("promotion_code")
    _fill(
        obj["restrictions"],
        first_time_transaction=first_time_transaction,
        minimum_amount=minimum_amount,
        minimum_amount_currency=minimum_amount_currency,
    )
    _fill(obj["promotion"], coupon=coupon_obj["id"], type="coupon")
    return _fill(
        obj,
        id=new_id("promo_"),
        active=active,
        code=code,
        created=created,
        customer=customer,
        expires_at=expires_at,
        max_redemptions=max_redemptions,
        metadata=metadata,
        times_redeemed=0,
        customer_account=None,
    )


def early_fraud_warning(*, created: int, charge_obj: Obj, actionable: bool, fraud_type: str) -> Obj:
    """An early fraud warning the card issuer sent about a charge (Radar)."""
    obj = template("radar.early_fraud_warning")
    _fill(
        obj,
        id=new_id("issfr_"),
        actionable=actionable,
        charge=charge_obj["id"],
        created=created,
        fraud_type=fraud_type,
    )
    return _conditional(
        obj, "radar.early_fraud_warning", payment_intent=charge_obj["payment_intent"]
    )


def webhook_endpoint(
    *,
    created: int,
    url: str,
    enabled_events: list[str],
    description: str | None,
    metadata: Obj,
    api_version: str | None,
) -> Obj:
    obj = template("webhook_endpoint")
    return _fill(
        obj,
        id=new_id("we_"),
        api_version=api_version,
        created=created,
        description=description,
        enabled_events=enabled_events,
        metadata=metadata,
        url=url,
    )


def event(
    *,
    created: int,
    event_type: str,
    data_object: Obj,
    api_version: str,
    pending_webhooks: int,
    request_id: str | None,
    idempotency_key: str | None,
    previous_attributes: Obj | None = None,
) -> Obj:
    obj = template("event")
    data: Obj = {"object": copy.deepcopy(data_object)}
    if previous_attributes is not None:
        data["previous_attributes"] = copy.deepcopy(previous_attributes)
    return _fill(
        obj,
        id=new_id("evt_"),
        api_version=api_version,
        created=created,
        data=data,
        pending_webhooks=pending_webhooks,
        request={"id": request_id, "idempotency_key": idempotency_key},
        type=event_type,
    )
