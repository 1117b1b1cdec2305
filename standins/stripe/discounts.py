"""Coupons, promotion codes, and what a code does to a Checkout Session.

A coupon says how much comes off (`percent_off`, or `amount_off` in one `currency`); a
promotion code is the customer-facing word for one coupon, with its own limits (`active`,
`expires_at`, `max_redemptions`, `restrictions[minimum_amount]`). A session created with
`allow_promotion_codes=true` shows a code field on its hosted page; applying a code sets the
session's `discounts: [{coupon, promotion_code}]`, `total_details.amount_discount`, the line
items' `amount_discount`, and `amount_total = amount_subtotal - amount_discount` (what the
PaymentIntent then charges). Redemptions are counted when the session completes.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from standins.stripe import objects
from standins.stripe.checkout import metadata
from standins.stripe.errors import StripeError
from standins.stripe.lists import integer
from standins.stripe.objects import Obj
from standins.stripe.store import Ledger, RequestContext

_COUPON = {
    "id",
    "percent_off",
    "amount_off",
    "currency",
    "duration",
    "duration_in_months",
    "max_redemptions",
    "redeem_by",
    "name",
    "metadata",
    "applies_to",
    "expand",
}
_PROMOTION_CODE = {
    "promotion",
    "code",
    "active",
    "customer",
    "expires_at",
    "max_redemptions",
    "restrictions",
    "metadata",
    "expand",
}
_RESTRICTIONS = {"first_time_transaction", "minimum_amount", "minimum_amount_currency"}
_CODE = re.compile(r"^[A-Za-z0-9-]{1,500}$")

# the hosted page's words when a code cannot be applied
INVALID = "This code is invalid."
EXPIRED = "This code has expired."
NOT_APPLICABLE = "This code isn't valid for the items in your cart."


class CodeRefused(Exception):
    """A code typed on the hosted page that cannot be applied (the page shows why)."""


def _boolean(value: Any, param: str) -> bool:
    if value not in ("true", "false"):
        raise StripeError.invalid(f"Invalid boolean: {value}", param=param)
    return bool(value == "true")


def _currency(value: Any, param: str) -> str:
    currency = str(value).lower()
    if len(currency) != 3 or not currency.isalpha():
        raise StripeError.invalid(f"Invalid currency: {value}", param=param)
    return currency


def create_coupon(ledger: Ledger, params: dict[str, Any], context: RequestContext) -> Obj:
    """`POST /v1/coupons`: exactly one of percent_off and amount_off (with its currency)."""
    for key in params:
        if key not in _COUPON:
            raise StripeError.unknown_param(key)
    percent_off: float | None = None
    amount_off: int | None = None
    currency: str | None = None
    if params.get("percent_off") not in (None, "") and params.get("amount_off") not in (None, ""):
        raise StripeError.invalid(
            "You may only specify one of these parameters: amount_off, percent_off.",
            param="amount_off",
        )
    if params.get("percent_off") not in (None, ""):
        try:
            percent = Decimal(str(params["percent_off"]))
        except InvalidOperation:
            raise StripeError.invalid(
                f"Invalid decimal: {params['percent_off']}", param="percent_off"
            ) from None
        if not Decimal(0) < percent <= Decimal(100):
            raise StripeError.invalid(
                "Percent off must be greater than 0 and at most 100.", param="percent_off"
            )
        percent_off = float(percent)
    elif params.get("amount_off") not in (None, ""):
        amount_off = integer(params["amount_off"], "amount_off")
        if amount_off < 1:
            raise StripeError.invalid("Amount off must be at least 1.", param="amount_off")
        if not params.get("currency"):
            raise StripeError.missing("currency")
        currency = _currency(params["currency"], "currency")
    else:
        raise StripeError.invalid(
            "Must provide one of `amount_off` or `percent_off`.", param="percent_off"
        )
    duration = params.get("duration") or "once"
    if duration not in ("once", "forever", "repeating"):
        raise StripeError.invalid(f"Invalid duration: {duration}", param="duration")
    months = None
    if duration == "repeating":
        if not params.get("duration_in_months"):
            raise StripeError.missing("duration_in_months")
        months = integer(params["duration_in_months"], "duration_in_months")
    coupon_id = params.get("id") or None
    if coupon_id is not None and coupon_id in ledger.coupons:
        raise StripeError.invalid(
            "Coupon already exists.", param="id", code="resource_already_exists"
        )
    products: list[str] | None = None
    applies_to = params.get("applies_to")
    if applies_to not in (None, ""):
        if not isinstance(applies_to, dict) or set(applies_to) - {"products"}:
            raise StripeError.invalid("Invalid applies_to.", param="applies_to")
        raw = applies_to.get("products") or []
        products = [str(p) for p in (raw if isinstance(raw, list) else [raw])]
    coupon = objects.coupon(
        coupon_id=coupon_id,
        created=ledger.now(),
        percent_off=percent_off,
        amount_off=amount_off,
        currency=currency,
        duration=duration,
        duration_in_months=months,
        max_redemptions=_positive(params, "max_redemptions"),
        redeem_by=_optional_int(params, "redeem_by"),
        name=params.get("name") or None,
        metadata=metadata(params.get("metadata")),
    )
    ledger.coupons[coupon["id"]] = coupon
    if products is not None:
        ledger.coupon_products[coupon["id"]] = products
    ledger.emit("coupon.created", coupon, context)
    return coupon


def _optional_int(params: dict[str, Any], name: str) -> int | None:
    value = params.get(name)
    return None if value in (None, "") else integer(value, name)


def _positive(params: dict[str, Any], name: str) -> int | None:
    value = _optional_int(params, name)
    if value is not None and value < 1:
        raise StripeError.invalid(f"{name} must be a positive integer.", param=name)
    return value


def create_promotion_code(ledger: Ledger, params: dict[str, Any], context: RequestContext) -> Obj:
    """`POST /v1/promotion_codes`: `promotion[type]=coupon`, `promotion[coupon]`, a `code`."""
    for key in params:
        if key not in _PROMOTION_CODE:
            raise StripeError.unknown_param(key)
    promotion = params.get("promotion")
    if not isinstance(promotion, dict) or not promotion.get("type"):
        raise StripeError.missing("promotion[type]")
    for key in promotion:
        if key not in ("type", "coupon"):
            raise StripeError.unknown_param(f"promotion[{key}]")
    if promotion["type"] != "coupon":
        raise StripeError.invalid(f"Invalid promotion[type]: {promotion['type']}")
    if not promotion.get("coupon"):
        raise StripeError.missing("promotion[coupon]")
    coupon = ledger.get(ledger.coupons, "coupon", promotion["coupon"], param="promotion[coupon]")
    code = params.get("code") or objects.new_id("", 8).upper()
    if not _CODE.match(code):
        raise StripeError.invalid(
            "Promotion codes may only contain letters, digits and dashes.", param="code"
        )
    active = _boolean(params["active"], "active") if "active" in params else True
    if active and _active_code(ledger, code) is not None:
        raise StripeError.invalid(
            "An active promotion code with this code already exists.",
            param="code",
            code="resource_already_exists",
        )
    raw = params.get("restrictions") or {}
    if not isinstance(raw, dict):
        raise StripeError.invalid("Invalid object: restrictions", param="restrictions")
    for key in raw:
        if key not in _RESTRICTIONS:
            raise StripeError.unknown_param(f"restrictions[{key}]")
    first_time = (
        _boolean(raw["first_time_transaction"], "restrictions[first_time_transaction]")
        if "first_time_transaction" in raw
        else False
    )
    if first_time:
        raise StripeError.invalid(
            "The stand-in does not implement restrictions[first_time_transaction].",
            param="restrictions[first_time_transaction]",
        )
    minimum = _optional_int(raw, "minimum_amount")
    minimum_currency = None
    if minimum is not None:
        if not raw.get("minimum_amount_currency"):
            raise StripeError.missing("restrictions[minimum_amount_currency]")
        minimum_currency = _currency(
            raw["minimum_amount_currency"], "restrictions[minimum_amount_currency]"
        )
    customer = params.get("customer") or None
    if customer is not None:
        ledger.get(ledger.customers, "customer", customer, param="customer")
    max_redemptions = _positive(params, "max_redemptions")
    if coupon["max_redemptions"] is not None and (max_redemptions or 0) > coupon["max_redemptions"]:
        raise StripeError.invalid(
            "The promotion code's max_redemptions cannot exceed the coupon's.",
            param="max_redemptions",
        )
    promotion_code = objects.promotion_code(
        created=ledger.now(),
        code=code,
        coupon_obj=coupon,
        active=active,
        customer=customer,
        expires_at=_optional_int(params, "expires_at"),
        max_redemptions=max_redemptions,
        minimum_amount=minimum,
        minimum_amount_currency=minimum_currency,
        first_time_transaction=first_time,
        metadata=metadata(params.get("metadata")),
    )
    ledger.promotion_codes[promotion_code["id"]] = promotion_code
    ledger.emit("promotion_code.created", promotion_code, context)
    return promotion_code


def _active_code(ledger: Ledger, code: str) -> Obj | None:
    """The active promotion code a customer's typing names (codes are case-insensitive)."""
    for promotion_code in ledger.promotion_codes.values():
        if promotion_code["active"] and promotion_code["code"].lower() == code.lower():
            return promotion_code
    return None


def _discount_for(ledger: Ledger, session: Obj, coupon: Obj, subtotal: int) -> int:
    now = ledger.now()
    if not coupon["valid"] or (coupon["redeem_by"] is not None and coupon["redeem_by"] <= now):
        raise CodeRefused(EXPIRED)
    if (
        coupon["max_redemptions"] is not None
        and coupon["times_redeemed"] >= coupon["max_redemptions"]
    ):
        raise CodeRefused(INVALID)
    products = ledger.coupon_products.get(coupon["id"])
    items = ledger.line_items[session["id"]]
    if products is not None:
        eligible = sum(i["amount_subtotal"] for i in items if i["price"]["product"] in products)
        if eligible == 0:
            raise CodeRefused(NOT_APPLICABLE)
    else:
        eligible = subtotal
    if coupon["percent_off"] is not None:
        off = Decimal(eligible) * Decimal(str(coupon["percent_off"])) / Decimal(100)
        return int(off.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if coupon["currency"] != session["currency"]:
        # an amount_off coupon only discounts a purchase in its own currency
        raise CodeRefused(INVALID)
    return int(min(coupon["amount_off"], eligible))


def apply_code(
    ledger: Ledger, session: Obj, typed: str, *, allow_without_field: bool = False
) -> Obj:
    """The learner typed a code on the hosted page (or the session was created with it in
    `discounts`): check it, then discount the session."""
    if session["status"] != "open" or not (session["allow_promotion_codes"] or allow_without_field):
        raise CodeRefused(INVALID)
    promotion_code = _active_code(ledger, typed.strip())
    if promotion_code is None:
        raise CodeRefused(INVALID)
    now = ledger.now()
    if promotion_code["expires_at"] is not None and promotion_code["expires_at"] <= now:
        raise CodeRefused(EXPIRED)
    if (
        promotion_code["max_redemptions"] is not None
        and promotion_code["times_redeemed"] >= promotion_code["max_redemptions"]
    ):
        raise CodeRefused(INVALID)
    if promotion_code["customer"] is not None and promotion_code["customer"] != session["customer"]:
        raise CodeRefused(INVALID)
    subtotal = session["amount_subtotal"]
    restrictions = promotion_code["restrictions"]
    if restrictions["minimum_amount"] is not None and (
        restrictions["minimum_amount_currency"] != session["currency"]
        or subtotal < restrictions["minimum_amount"]
    ):
        raise CodeRefused(NOT_APPLICABLE)
    coupon = ledger.coupons[promotion_code["promotion"]["coupon"]]
    discount = _discount_for(ledger, session, coupon, subtotal)
    set_discount(ledger, session, coupon, promotion_code, discount)
    return session


def apply_coupon(ledger: Ledger, session: Obj, coupon_id: str, param: str) -> None:
    """`discounts[0][coupon]` at session creation: the coupon applies from the start."""
    coupon = ledger.get(ledger.coupons, "coupon", coupon_id, param=param)
    try:
        discount = _discount_for(ledger, session, coupon, session["amount_subtotal"])
    except CodeRefused as exc:
        raise StripeError.invalid(str(exc), param=param) from None
    set_discount(ledger, session, coupon, None, discount)


def set_discount(
    ledger: Ledger, session: Obj, coupon: Obj, promotion_code: Obj | None, discount: int
) -> None:
    """Spread `discount` over the session and its line items (the first item takes any
    remainder), as the session object and its line items report it."""
    subtotal = session["amount_subtotal"]
    session["discounts"] = [
        {
            "coupon": coupon["id"],
            "promotion_code": promotion_code["id"] if promotion_code else None,
        }
    ]
    session["total_details"]["amount_discount"] = discount
    session["amount_total"] = subtotal - discount
    items = ledger.line_items[session["id"]]
    left = discount
    for item in reversed(items):
        share = discount * item["amount_subtotal"] // subtotal if subtotal else 0
        if item is items[0]:
            share = left
        item["amount_discount"] = share
        item["amount_total"] = item["amount_subtotal"] - share
        left -= share


def redeem(ledger: Ledger, session: Obj) -> None:
    """The session completed: its coupon and promotion code count one redemption more."""
    for discount in session["discounts"] or []:
        coupon = ledger.coupons.get(discount["coupon"] or "")
        if coupon is not None:
            coupon["times_redeemed"] += 1
        promotion_code = ledger.promotion_codes.get(discount["promotion_code"] or "")
        if promotion_code is not None:
            promotion_code["times_redeemed"] += 1
