"""The hosted payment page at a session's `url`: pay, pay later, settle, cancel or expire.

The card field takes Stripe's test cards (`cards.py`): 4242… pays with Visa, a declined card
(4000 0000 0000 0002, …9995) leaves the page open with Stripe's decline wording (402) and a
failed charge behind it, and the next card can still pay.

Each button POSTs `action` to the same address and is answered `303 See Other` to the
session's `success_url` (with `{CHECKOUT_SESSION_ID}` filled in, as Checkout does) after
paying or settling, or to its `cancel_url` after cancel or expire (without a `cancel_url`, the
page is shown again). Cancel changes nothing: the session stays open, as on Stripe.
"""

from __future__ import annotations

import time
from html import escape

from litestar import Response, get, post
from litestar.response import Redirect

from standins.stripe import cards, checkout, discounts, payments
from standins.stripe.errors import StripeError
from standins.stripe.forms import parse_form
from standins.stripe.objects import Obj
from standins.stripe.store import Ledger
from standins.stripe.wire import AnyRequest, LedgerDep, PathId

ACTIONS = (
    "pay",
    "pay_delayed",
    "delayed_succeed",
    "delayed_fail",
    "cancel",
    "expire",
    "apply_code",
)

# Stripe's zero-decimal and three-decimal currencies (docs: "Supported currencies").
ZERO_DECIMAL = {
    "bif",
    "clp",
    "djf",
    "gnf",
    "jpy",
    "kmf",
    "krw",
    "mga",
    "pyg",
    "rwf",
    "ugx",
    "vnd",
    "vuv",
    "xaf",
    "xof",
    "xpf",
}
THREE_DECIMAL = {"bhd", "jod", "kwd", "omr", "tnd"}


def format_amount(amount: int, currency: str) -> str:
    """`1500, "jpy"` → `1,500 JPY`; `1999, "usd"` → `19.99 USD`."""
    digits = 0 if currency in ZERO_DECIMAL else 3 if currency in THREE_DECIMAL else 2
    return f"{amount / 10**digits:,.{digits}f} {currency.upper()}"


def _totals(session: Obj, codes: dict[str, str]) -> str:
    """Subtotal, the discount with its code, and the total due, once a code is applied."""
    discount = session["total_details"]["amount_discount"]
    if not discount and not session["discounts"]:
        return ""
    currency = session["currency"]
    applied = (session["discounts"] or [{}])[0]
    label = codes.get(applied.get("promotion_code") or "") or applied.get("coupon") or ""
    return (
        "<dl class=totals>"
        f"<dt>Subtotal</dt><dd>{escape(format_amount(session['amount_subtotal'], currency))}</dd>"
        f"<dt>Discount ({escape(label)})</dt>"
        f"<dd>-{escape(format_amount(discount, currency))}</dd>"
        f"<dt>Total due</dt><dd>{escape(format_amount(session['amount_total'], currency))}</dd>"
        "</dl>"
    )


def _page(
    session: Obj,
    items: list[Obj],
    *,
    message: str = "",
    status: int = 200,
    codes: dict[str, str] | None = None,
) -> Response[str]:
    title = escape(items[0]["description"]) if items else "Checkout"
    amount = format_amount(session["amount_total"], session["currency"])
    code_field = ""
    if session["status"] == "open" and session["allow_promotion_codes"]:
        code_field = (
            '<label>Promotion code <input name="promotion_code" autocomplete="off"></label>'
            '<button name="action" value="apply_code">Apply</button>'
        )
    email = escape(
        (session["customer_details"] or {}).get("email")
        or session["customer_email"]
        or "learner@example.com"
    )
    action = f"/c/pay/{escape(session['id'])}"
    if session["status"] == "open":
        controls = (
            code_field + f'<label>Email <input name="email" type="email" value="{email}"></label>'
            '<label>Card number <input name="card_number" inputmode="numeric" '
            f'autocomplete="cc-number" value="{cards.DEFAULT_NUMBER}"></label>'
            '<label>Expiration (MM / YY) <input name="card_expiry" autocomplete="cc-exp" '
            f'value="{cards.DEFAULT_EXPIRY}"></label>'
            '<label>CVC <input name="card_cvc" inputmode="numeric" autocomplete="cc-csc" '
            'value="123"></label>'
            '<button name="action" value="pay">Pay</button>'
            '<button name="action" value="pay_delayed">Pay with a delayed method</button>'
            '<button name="action" value="cancel">Cancel</button>'
            '<button name="action" value="expire">Expire</button>'
        )
    elif session["payment_status"] == "unpaid" and session["status"] == "complete":
        controls = (
            "<p>Payment processing.</p>"
            '<button name="action" value="delayed_succeed">Delayed payment succeeds</button>'
            '<button name="action" value="delayed_fail">Delayed payment fails</button>'
        )
    else:
        controls = f"<p>This Checkout Session is {escape(session['status'])}.</p>"
    body = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{title} · Stripe stand-in</title></head><body>"
        f"<h1>{title}</h1><p class=amount>{escape(amount)}</p>"
        + _totals(session, codes or {})
        + (f"<p role=alert>{escape(message)}</p>" if message else "")
        + f'<form method=post action="{action}">{controls}</form>'
        "<p><small>Offline Stripe stand-in: no card is charged.</small></p></body></html>"
    )
    return Response(content=body, status_code=status, media_type="text/html")


def _codes(ledger: Ledger) -> dict[str, str]:
    return {p["id"]: p["code"] for p in ledger.promotion_codes.values()}


@get("/c/pay/{session_id:str}", operation_id="showHostedCheckout", include_in_schema=False)
async def show(ledger: LedgerDep, session_id: PathId) -> Response[str]:
    """Show the hosted payment page of a Checkout Session."""
    async with ledger.lock:
        session = ledger.get(ledger.sessions, "checkout.session", session_id)
        return _page(session, ledger.line_items[session_id], codes=_codes(ledger))


@post("/c/pay/{session_id:str}", operation_id="actOnHostedCheckout", include_in_schema=False)
async def act(
    request: AnyRequest, ledger: LedgerDep, session_id: PathId
) -> Response[str] | Redirect:
    """Do what the learner clicked: pay, pay later, settle, cancel or expire."""
    form = parse_form(await request.body())
    action = form.get("action")
    async with ledger.lock:
        session = ledger.get(ledger.sessions, "checkout.session", session_id)
        items = ledger.line_items[session_id]
        codes = _codes(ledger)
        if action not in ACTIONS:
            return _page(session, items, message=f"Unknown action: {action}", status=400)
        email = str(form.get("email") or session["customer_email"] or "learner@example.com")
        typed = str(form.get("promotion_code") or "").strip()
        try:
            if action == "apply_code" or (
                typed and action in ("pay", "pay_delayed") and session["status"] == "open"
            ):
                # a code typed and then Pay pressed is applied first, as Checkout does
                discounts.apply_code(ledger, session, typed)
                if action == "apply_code":
                    return _page(session, items, codes=codes)
            if action in ("pay", "pay_delayed"):
                year, month = time.gmtime(ledger.now())[:2]
                card = cards.parse_card(
                    form.get("card_number"), form.get("card_expiry"), today=(year, month)
                )
                payments.pay(
                    ledger, session, email=email, delayed=action == "pay_delayed", card=card
                )
            elif action in ("delayed_succeed", "delayed_fail"):
                payments.settle_delayed(ledger, session, succeeded=action == "delayed_succeed")
            elif action == "expire":
                checkout.expire_session(ledger, session, None)
            elif session["status"] != "open":
                raise payments.PageError(f"This Checkout Session is {session['status']}.")
        except discounts.CodeRefused as exc:
            return _page(session, items, message=str(exc), status=400, codes=codes)
        except cards.CardError as exc:
            return _page(session, items, message=str(exc), status=400, codes=codes)
        except payments.CardDeclined as exc:
            return _page(session, items, message=str(exc), status=402, codes=codes)
        except (payments.PageError, StripeError) as exc:
            return _page(session, items, message=str(exc), status=409, codes=codes)
        if action in ("cancel", "expire"):
            if session["cancel_url"] is None:
                return _page(session, items)
            return Redirect(session["cancel_url"], status_code=303)
        success = session["success_url"].replace("{CHECKOUT_SESSION_ID}", session["id"])
        return Redirect(success, status_code=303)


ROUTES = [show, act]
