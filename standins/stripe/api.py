"""The Stripe API routes this project calls, under `/v1`, answered as Stripe answers them."""

from __future__ import annotations

from typing import Any

from litestar import Response, get, post

from standins.stripe import checkout, discounts, lists, payments, refunds
from standins.stripe.errors import StripeError
from standins.stripe.objects import Obj
from standins.stripe.store import RequestContext
from standins.stripe.wire import AnyRequest, LedgerDep, PathId, line_items_list, run_get, run_post

_LIST = ("limit", "starting_after", "ending_before", "created")


@post("/v1/checkout/sessions", operation_id="createCheckoutSession")
async def create_checkout_session(request: AnyRequest, ledger: LedgerDep) -> Response[bytes]:
    """Create a Checkout Session (mode=payment, inline price_data)."""
    return await run_post(ledger, request, lambda p, c: checkout.create_session(ledger, p, c))


@get("/v1/checkout/sessions", operation_id="listCheckoutSessions")
async def list_checkout_sessions(request: AnyRequest, ledger: LedgerDep) -> Response[bytes]:
    """List Checkout Sessions, newest first."""

    def listing(params: dict[str, Any]) -> Obj:
        created = lists.created_matches(params.get("created"))
        wanted = {k: params[k] for k in ("status", "customer", "payment_intent") if k in params}
        rows = [
            s
            for s in reversed(ledger.sessions.values())
            if created(s) and all(s[k] == v for k, v in wanted.items())
        ]
        return lists.page(rows, params, url="/v1/checkout/sessions", kind="checkout.session")

    return await run_get(
        ledger, request, listing, allowed=(*_LIST, "status", "customer", "payment_intent")
    )


@get("/v1/checkout/sessions/{session_id:str}", operation_id="retrieveCheckoutSession")
async def retrieve_checkout_session(
    request: AnyRequest, ledger: LedgerDep, session_id: PathId
) -> Response[bytes]:
    """Retrieve a Checkout Session."""
    return await run_get(
        ledger, request, lambda _p: ledger.get(ledger.sessions, "checkout.session", session_id)
    )


@get("/v1/checkout/sessions/{session_id:str}/line_items", operation_id="listSessionLineItems")
async def list_session_line_items(
    request: AnyRequest, ledger: LedgerDep, session_id: PathId
) -> Response[bytes]:
    """List a Checkout Session's line items."""

    def listing(params: dict[str, Any]) -> Obj:
        ledger.get(ledger.sessions, "checkout.session", session_id)
        items = ledger.line_items[session_id]
        url = line_items_list(session_id, items)["url"]
        return lists.page(items, params, url=url, kind="item")

    return await run_get(
        ledger, request, listing, allowed=("limit", "starting_after", "ending_before")
    )


@post("/v1/checkout/sessions/{session_id:str}/expire", operation_id="expireCheckoutSession")
async def expire_checkout_session(
    request: AnyRequest, ledger: LedgerDep, session_id: PathId
) -> Response[bytes]:
    """Expire an open Checkout Session."""

    def expire(params: dict[str, Any], context: RequestContext) -> Obj:
        _only_expand(params)
        session = ledger.get(ledger.sessions, "checkout.session", session_id)
        return checkout.expire_session(ledger, session, context)

    return await run_post(ledger, request, expire)


@post("/v1/customers", operation_id="createCustomer")
async def create_customer(request: AnyRequest, ledger: LedgerDep) -> Response[bytes]:
    """Create a Customer."""
    return await run_post(ledger, request, lambda p, c: payments.create_customer(ledger, p, c))


@get("/v1/customers/{customer_id:str}", operation_id="retrieveCustomer")
async def retrieve_customer(
    request: AnyRequest, ledger: LedgerDep, customer_id: PathId
) -> Response[bytes]:
    """Retrieve a Customer."""
    return await run_get(
        ledger, request, lambda _p: ledger.get(ledger.customers, "customer", customer_id)
    )


@get("/v1/prices/{price_id:str}", operation_id="retrievePrice")
async def retrieve_price(
    request: AnyRequest, ledger: LedgerDep, price_id: PathId
) -> Response[bytes]:
    """Retrieve a Price (here: the inactive ones Checkout made from `price_data`)."""
    return await run_get(ledger, request, lambda _p: ledger.get(ledger.prices, "price", price_id))


@post("/v1/refunds", operation_id="createRefund")
async def create_refund(request: AnyRequest, ledger: LedgerDep) -> Response[bytes]:
    """Refund a charge, fully or in part."""
    return await run_post(ledger, request, lambda p, c: refunds.create_refund(ledger, p, c))


@post("/v1/coupons", operation_id="createCoupon")
async def create_coupon(request: AnyRequest, ledger: LedgerDep) -> Response[bytes]:
    """Create a coupon (percent_off, or amount_off in one currency)."""
    return await run_post(ledger, request, lambda p, c: discounts.create_coupon(ledger, p, c))


@get("/v1/coupons/{coupon_id:str}", operation_id="retrieveCoupon")
async def retrieve_coupon(
    request: AnyRequest, ledger: LedgerDep, coupon_id: PathId
) -> Response[bytes]:
    """Retrieve a coupon."""
    return await run_get(
        ledger, request, lambda _p: ledger.get(ledger.coupons, "coupon", coupon_id)
    )


@post("/v1/promotion_codes", operation_id="createPromotionCode")
async def create_promotion_code(request: AnyRequest, ledger: LedgerDep) -> Response[bytes]:
    """Create a customer-facing promotion code for a coupon."""
    return await run_post(
        ledger, request, lambda p, c: discounts.create_promotion_code(ledger, p, c)
    )


@get("/v1/promotion_codes/{promotion_code_id:str}", operation_id="retrievePromotionCode")
async def retrieve_promotion_code(
    request: AnyRequest, ledger: LedgerDep, promotion_code_id: PathId
) -> Response[bytes]:
    """Retrieve a promotion code."""
    return await run_get(
        ledger,
        request,
        lambda _p: ledger.get(ledger.promotion_codes, "promotion_code", promotion_code_id),
    )


@get("/v1/radar/early_fraud_warnings/{warning_id:str}", operation_id="retrieveEarlyFraudWarning")
async def retrieve_early_fraud_warning(
    request: AnyRequest, ledger: LedgerDep, warning_id: PathId
) -> Response[bytes]:
    """Retrieve an early fraud warning."""
    return await run_get(
        ledger,
        request,
        lambda _p: ledger.get(ledger.early_fraud_warnings, "radar.early_fraud_warning", warning_id),
    )


@get("/v1/invoices/{invoice_id:str}", operation_id="retrieveInvoice")
async def retrieve_invoice(
    request: AnyRequest, ledger: LedgerDep, invoice_id: PathId
) -> Response[bytes]:
    """Retrieve an invoice (Checkout's post-payment invoices are the only ones here)."""
    return await run_get(
        ledger, request, lambda _p: ledger.get(ledger.invoices, "invoice", invoice_id)
    )


@get("/v1/events", operation_id="listEvents")
async def list_events(request: AnyRequest, ledger: LedgerDep) -> Response[bytes]:
    """List events, newest first; `type` may end in `*`."""

    def listing(params: dict[str, Any]) -> Obj:
        created = lists.created_matches(params.get("created"))
        patterns = [params["type"]] if params.get("type") else list(params.get("types") or [])
        rows = [
            e
            for e in reversed(ledger.events.values())
            if created(e) and (not patterns or any(_type_matches(p, e["type"]) for p in patterns))
        ]
        return lists.page(rows, params, url="/v1/events", kind="event")

    return await run_get(ledger, request, listing, allowed=(*_LIST, "type", "types"))


@get("/v1/events/{event_id:str}", operation_id="retrieveEvent")
async def retrieve_event(
    request: AnyRequest, ledger: LedgerDep, event_id: PathId
) -> Response[bytes]:
    """Retrieve an event."""
    return await run_get(ledger, request, lambda _p: ledger.get(ledger.events, "event", event_id))


@post("/v1/webhook_endpoints", operation_id="createWebhookEndpoint")
async def create_webhook_endpoint(request: AnyRequest, ledger: LedgerDep) -> Response[bytes]:
    """Register a webhook endpoint; the answer carries its signing secret, once."""

    def create(params: dict[str, Any], _context: RequestContext) -> Obj:
        for key in params:
            if key not in (
                "url",
                "enabled_events",
                "description",
                "metadata",
                "api_version",
                "expand",
            ):
                raise StripeError.unknown_param(key)
        for required in ("url", "enabled_events"):
            if not params.get(required):
                raise StripeError.missing(required)
        events = params["enabled_events"]
        endpoint = ledger.add_endpoint(
            str(params["url"]),
            list(events) if isinstance(events, list) else [str(events)],
            description=params.get("description") or None,
            metadata=checkout.metadata(params.get("metadata")),
        )
        # `secret` is the one field Stripe returns only here, at creation
        return {**endpoint.obj, "secret": endpoint.secret}

    return await run_post(ledger, request, create)


@get("/v1/webhook_endpoints", operation_id="listWebhookEndpoints")
async def list_webhook_endpoints(request: AnyRequest, ledger: LedgerDep) -> Response[bytes]:
    """List webhook endpoints (without their secrets)."""

    def listing(params: dict[str, Any]) -> Obj:
        rows = [e.obj for e in reversed(ledger.endpoints.values())]
        return lists.page(rows, params, url="/v1/webhook_endpoints", kind="webhook_endpoint")

    return await run_get(
        ledger, request, listing, allowed=("limit", "starting_after", "ending_before")
    )


def _only_expand(params: dict[str, Any]) -> None:
    for key in params:
        if key != "expand":
            raise StripeError.unknown_param(key)


def _type_matches(pattern: str, event_type: str) -> bool:
    if pattern.endswith("*"):
        return event_type.startswith(pattern[:-1])
    return pattern == event_type


ROUTES = [
    create_checkout_session,
    list_checkout_sessions,
    retrieve_checkout_session,
    list_session_line_items,
    expire_checkout_session,
    create_customer,
    retrieve_customer,
    retrieve_price,
    create_refund,
    create_coupon,
    retrieve_coupon,
    create_promotion_code,
    retrieve_promotion_code,
    retrieve_early_fraud_warning,
    retrieve_invoice,
    list_events,
    retrieve_event,
    create_webhook_endpoint,
    list_webhook_endpoints,
]
