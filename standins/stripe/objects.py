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


def charge(*, created: int, intent: Obj, email: str, status: str) -> Obj:
    obj = template("charge")
    charge_id = new_id("ch_")
    billing = obj["billing_details"]
    _fill(billing, address=dict(_NULL_ADDRESS), email=email, name=None)
    card = obj["payment_method_details"]["card"]
    _fill(
        card,
        overcapture={"maximum_amount_capturable": intent["amount"], "status": "unavailable"},
        wallet=None,
    )
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
        metadata=dict(intent["metadata"]),
        outcome=charge_outcome(status),
        paid=status == "succeeded",
        payment_intent=intent["id"],
        payment_method=intent["payment_method"],
        receipt_url=None,
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


def charge_outcome(status: str) -> Obj:
    outcome = template("charge")["outcome"]
    if status == "failed":
        return _fill(
            outcome,
            network_status="declined_by_network",
            reason="generic_decline",
            seller_message="The bank returned the payment.",
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


def refund(*, created: int, charge_obj: Obj, amount: int, reason: str | None, metadata: Obj) -> Obj:
    obj = template("refund")
    return _fill(
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
        status="succeeded",
        customer=charge_obj["customer"],
        payment_method=charge_obj["payment_method"],
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
) -> Obj:
    obj = template("event")
    return _fill(
        obj,
        id=new_id("evt_"),
        api_version=api_version,
        created=created,
        data={"object": copy.deepcopy(data_object)},
        pending_webhooks=pending_webhooks,
        request={"id": request_id, "idempotency_key": idempotency_key},
        type=event_type,
    )
