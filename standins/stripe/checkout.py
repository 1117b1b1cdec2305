"""Checkout Sessions: creation with Stripe's validation, expiry, and what paying does.

Paying (from the hosted page) makes what Stripe makes for a one-off payment: a PaymentIntent,
a Charge and, with `customer_creation=always`, a Customer; then it completes the session and
emits the same events Stripe emits, in the same order.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from standins.stripe import objects
from standins.stripe.errors import StripeError
from standins.stripe.lists import integer
from standins.stripe.objects import Obj
from standins.stripe.store import Ledger, RequestContext

_TOP = {
    "mode",
    "line_items",
    "success_url",
    "cancel_url",
    "metadata",
    "client_reference_id",
    "customer",
    "customer_email",
    "customer_creation",
    "payment_intent_data",
    "expires_at",
    "expand",
    "locale",
    "payment_method_types",
    "submit_type",
    "adaptive_pricing",
    "invoice_creation",
    "allow_promotion_codes",
    "discounts",
}
_INVOICE_CREATION = {"enabled", "invoice_data"}
_INVOICE_DATA = {"description", "footer", "metadata"}
_ADAPTIVE_PRICING = {"enabled"}
_LINE_ITEM = {"price_data", "quantity", "price"}
_PRICE_DATA = {"currency", "unit_amount", "product_data", "product"}
_PRODUCT_DATA = {"name", "description", "metadata", "images"}
_PAYMENT_INTENT_DATA = {"metadata", "description"}
_MIN_EXPIRY, _MAX_EXPIRY = 30 * 60, 24 * 3600


def _known(params: dict[str, Any], allowed: set[str], prefix: str = "") -> None:
    for key in params:
        if key not in allowed:
            name = f"{prefix}[{key}]" if prefix else key
            raise StripeError.unknown_param(name)


def _hash(value: Any, param: str) -> dict[str, Any]:
    if value is None or value == "":
        return {}
    if not isinstance(value, dict):
        raise StripeError.invalid(f"Invalid object: {param} must be a hash", param=param)
    return value


def metadata(value: Any, param: str = "metadata") -> dict[str, str]:
    """Stripe's metadata rules: string values, ≤50 keys, keys ≤40 chars, values ≤500 chars."""
    raw = _hash(value, param)
    if len(raw) > 50:
        raise StripeError.invalid("Metadata can have at most 50 keys.", param=param)
    out: dict[str, str] = {}
    for key, item in raw.items():
        if not isinstance(item, str):
            raise StripeError.invalid(f"Invalid string: {param}[{key}]", param=f"{param}[{key}]")
        if len(key) > 40 or len(item) > 500:
            raise StripeError.invalid(
                f"Metadata keys are limited to 40 characters and values to 500: {key}",
                param=f"{param}[{key}]",
            )
        if item != "":  # an empty value unsets the key
            out[key] = item
    return out


def _url(params: dict[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value in (None, ""):
        return None
    parts = urlsplit(str(value))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise StripeError.invalid("Not a valid URL", param=name, code="url_invalid")
    return str(value)


def _line_items(raw: Any, now: int) -> list[Obj]:
    if not isinstance(raw, list) or not raw:
        raise StripeError.missing("line_items")
    items: list[Obj] = []
    for index, item in enumerate(raw):
        at = f"line_items[{index}]"
        item = _hash(item, at)
        _known(item, _LINE_ITEM, at)
        if "price" in item:
            raise StripeError.invalid(
                "The stand-in implements line_items with price_data only.", param=f"{at}[price]"
            )
        if "quantity" not in item:
            raise StripeError.missing(f"{at}[quantity]")
        quantity = integer(item["quantity"], f"{at}[quantity]")
        if quantity < 1:
            raise StripeError.invalid("Quantity must be at least 1.", param=f"{at}[quantity]")
        if "price_data" not in item:
            raise StripeError.missing(f"{at}[price_data]")
        price = _hash(item["price_data"], f"{at}[price_data]")
        _known(price, _PRICE_DATA, f"{at}[price_data]")
        for required in ("currency", "unit_amount", "product_data"):
            if price.get(required) in (None, ""):
                raise StripeError.missing(f"{at}[price_data][{required}]")
        currency = str(price["currency"]).lower()
        if len(currency) != 3 or not currency.isalpha():
            raise StripeError.invalid(
                f"Invalid currency: {price['currency']}", param=f"{at}[price_data][currency]"
            )
        unit_amount = integer(price["unit_amount"], f"{at}[price_data][unit_amount]")
        if unit_amount < 0:
            raise StripeError.invalid(
                "This value must be greater than or equal to 0.",
                param=f"{at}[price_data][unit_amount]",
            )
        product = _hash(price["product_data"], f"{at}[price_data][product_data]")
        _known(product, _PRODUCT_DATA, f"{at}[price_data][product_data]")
        if not product.get("name"):
            raise StripeError.missing(f"{at}[price_data][product_data][name]")
        items.append(
            objects.line_item(
                name=str(product["name"]),
                currency=currency,
                unit_amount=unit_amount,
                quantity=quantity,
                created=now,
            )
        )
    if len({item["currency"] for item in items}) > 1:
        raise StripeError.invalid("All line_items must use the same currency.", param="line_items")
    return items


def create_session(ledger: Ledger, params: dict[str, Any], context: RequestContext) -> Obj:
    """`POST /v1/checkout/sessions`: validate as Stripe does, then record an open session."""
    _known(params, _TOP)
    now = ledger.now()
    if not params.get("mode"):
        raise StripeError.missing("mode")
    if params["mode"] != "payment":
        raise StripeError.invalid("The stand-in implements mode=payment only.", param="mode")
    items = _line_items(params.get("line_items"), now)
    success_url = _url(params, "success_url")
    if success_url is None:
        raise StripeError.missing("success_url")
    clean: dict[str, Any] = {
        "success_url": success_url,
        "cancel_url": _url(params, "cancel_url"),
        "metadata": metadata(params.get("metadata")),
        "client_reference_id": params.get("client_reference_id") or None,
        "customer_email": params.get("customer_email") or None,
        "locale": params.get("locale") or None,
        "submit_type": params.get("submit_type") or None,
    }
    intent_data = _hash(params.get("payment_intent_data"), "payment_intent_data")
    _known(intent_data, _PAYMENT_INTENT_DATA, "payment_intent_data")
    customer_id = params.get("customer") or None
    if customer_id is not None:
        if clean["customer_email"] is not None:
            raise StripeError.invalid(
                "You may only specify one of these parameters: customer, customer_email.",
                param="customer_email",
            )
        ledger.get(ledger.customers, "customer", customer_id, param="customer")
    creation = params.get("customer_creation") or None
    if creation is not None:
        if creation not in ("always", "if_required"):
            raise StripeError.invalid(
                f"Invalid customer_creation: {creation}", param="customer_creation"
            )
        clean["customer_creation"] = creation
    adaptive = _hash(params.get("adaptive_pricing"), "adaptive_pricing")
    _known(adaptive, _ADAPTIVE_PRICING, "adaptive_pricing")
    if "enabled" in adaptive:
        if adaptive["enabled"] not in ("true", "false"):
            raise StripeError.invalid(
                "Invalid boolean: adaptive_pricing[enabled]", param="adaptive_pricing[enabled]"
            )
        # the stand-in never converts currencies; the flag is only reflected back
        clean["adaptive_pricing"] = {"enabled": adaptive["enabled"] == "true"}
    invoice_data = _invoice_creation(params.get("invoice_creation"))
    methods = params.get("payment_method_types")
    if methods:
        clean["payment_method_types"] = list(methods)
    expires_at = now + _MAX_EXPIRY
    if params.get("expires_at"):
        expires_at = integer(params["expires_at"], "expires_at")
        if expires_at - now < _MIN_EXPIRY:
            raise StripeError.invalid(
                "The `expires_at` timestamp must be at least 30 minutes "
                "from Checkout Session creation.",
                param="expires_at",
            )
        if expires_at - now > _MAX_EXPIRY:
            raise StripeError.invalid(
                "The `expires_at` timestamp must be less than 24 hours "
                "from Checkout Session creation.",
                param="expires_at",
            )
    for_intent = {
        "metadata": metadata(intent_data.get("metadata"), "payment_intent_data[metadata]"),
        "description": intent_data.get("description") or None,
    }
    session = objects.checkout_session(
        created=now,
        expires_at=expires_at,
        currency=items[0]["currency"],
        amount_total=sum(item["amount_total"] for item in items),
        url=ledger.config.public_base.rstrip("/") + "/c/pay/{id}",
        params=clean,
        customer_id=customer_id,
    )
    ledger.sessions[session["id"]] = session
    ledger.line_items[session["id"]] = items
    try:
        _discounts(ledger, session, params)
    except StripeError:
        # a refused coupon or code (another currency, used up): Stripe answers 400 and
        # creates nothing, so the session must not stay listed
        del ledger.sessions[session["id"]]
        del ledger.line_items[session["id"]]
        raise
    ledger.prices.update((item["price"]["id"], item["price"]) for item in items)
    ledger.intent_data[session["id"]] = for_intent
    if invoice_data is not None:
        ledger.invoice_data[session["id"]] = invoice_data
        session["invoice_creation"]["enabled"] = True
        session["invoice_creation"]["invoice_data"].update(invoice_data)
    return session


def _discounts(ledger: Ledger, session: Obj, params: dict[str, Any]) -> None:
    """`allow_promotion_codes` (the hosted page offers a code field) or `discounts` (one coupon
    or promotion code applied from the start); Stripe takes one or the other."""
    from standins.stripe import discounts  # discounts reads this module's metadata()

    allow = params.get("allow_promotion_codes")
    if allow not in (None, ""):
        if allow not in ("true", "false"):
            raise StripeError.invalid(f"Invalid boolean: {allow}", param="allow_promotion_codes")
        session["allow_promotion_codes"] = allow == "true"
    chosen = params.get("discounts")
    if chosen in (None, ""):
        return
    if session["allow_promotion_codes"]:
        raise StripeError.invalid(
            "You may only specify one of these parameters: allow_promotion_codes, discounts.",
            param="discounts",
        )
    if not isinstance(chosen, list) or len(chosen) != 1 or not isinstance(chosen[0], dict):
        raise StripeError.invalid(
            "You may only specify one discount on a Checkout Session.", param="discounts"
        )
    entry = chosen[0]
    _known(entry, {"coupon", "promotion_code"}, "discounts[0]")
    if entry.get("promotion_code"):
        promotion_code = ledger.get(
            ledger.promotion_codes,
            "promotion_code",
            entry["promotion_code"],
            param="discounts[0][promotion_code]",
        )
        try:
            discounts.apply_code(ledger, session, promotion_code["code"], allow_without_field=True)
        except discounts.CodeRefused as exc:
            raise StripeError.invalid(str(exc), param="discounts[0][promotion_code]") from None
    elif entry.get("coupon"):
        discounts.apply_coupon(ledger, session, entry["coupon"], "discounts[0][coupon]")
    else:
        raise StripeError.missing("discounts[0][coupon]")


def _invoice_creation(raw: Any) -> dict[str, Any] | None:
    """`invoice_creation[enabled]` and `[invoice_data][description/footer/metadata]`, or None
    when invoices are off."""
    creation = _hash(raw, "invoice_creation")
    _known(creation, _INVOICE_CREATION, "invoice_creation")
    data = _hash(creation.get("invoice_data"), "invoice_creation[invoice_data]")
    _known(data, _INVOICE_DATA, "invoice_creation[invoice_data]")
    if not creation:
        return None
    if "enabled" not in creation:
        raise StripeError.missing("invoice_creation[enabled]")
    if creation["enabled"] not in ("true", "false"):
        raise StripeError.invalid(
            "Invalid boolean: invoice_creation[enabled]", param="invoice_creation[enabled]"
        )
    if creation["enabled"] == "false":
        return None
    return {
        "description": data.get("description") or None,
        "footer": data.get("footer") or None,
        "metadata": metadata(data.get("metadata"), "invoice_creation[invoice_data][metadata]"),
    }


def expire_session(ledger: Ledger, session: Obj, context: RequestContext | None) -> Obj:
    if session["status"] != "open":
        raise StripeError.invalid(
            f'Only Checkout Sessions with a status in ["open"] can be expired. This Checkout '
            f'Session has a status of "{session["status"]}".'
        )
    session["status"] = "expired"
    session["url"] = None
    ledger.emit("checkout.session.expired", session, context)
    return session


def expire_due(ledger: Ledger) -> int:
    """Expire every open session whose `expires_at` has passed, as Stripe's clock would."""
    now = ledger.now()
    due = [s for s in ledger.sessions.values() if s["status"] == "open" and s["expires_at"] <= now]
    for session in due:
        expire_session(ledger, session, None)
    return len(due)
