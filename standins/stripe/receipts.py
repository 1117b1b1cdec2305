"""The pages behind a charge's `receipt_url` and an invoice's `hosted_invoice_url`.

Like Stripe's, each address holds an unguessable token and needs no key; a receipt shows the
charge as it stands now (refunds included), as Stripe's receipts are kept up to date.
"""

from __future__ import annotations

import time
from html import escape

from litestar import Response, get

from standins.stripe.errors import StripeError
from standins.stripe.hosted import format_amount
from standins.stripe.objects import Obj
from standins.stripe.store import Ledger
from standins.stripe.wire import LedgerDep, PathId


def _date(unix: int) -> str:
    return time.strftime("%B %-d, %Y", time.gmtime(unix))


def _html(title: str, body: str) -> Response[str]:
    page = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{escape(title)} · Stripe stand-in</title></head><body>{body}"
        "<p><small>Offline Stripe stand-in: no card was charged.</small></p></body></html>"
    )
    return Response(content=page, media_type="text/html")


def _lesson_names(ledger: Ledger, payment_intent: str | None) -> list[str]:
    for session_id, session in ledger.sessions.items():
        if payment_intent is not None and session["payment_intent"] == payment_intent:
            return [str(item["description"]) for item in ledger.line_items[session_id]]
    return []


def _page_object(ledger: Ledger, table: dict[str, Obj], kind: str, token: str) -> Obj:
    object_id = ledger.pages.get(token)
    if object_id is None or object_id not in table:
        raise StripeError(404, "invalid_request_error", f"No such {kind}.")
    return table[object_id]


@get("/receipts/payment/{token:str}", operation_id="showReceipt", include_in_schema=False)
async def receipt(ledger: LedgerDep, token: PathId) -> Response[str]:
    """A charge's receipt: amount, lesson, date, card, and the refunds so far."""
    async with ledger.lock:
        charge = _page_object(ledger, ledger.charges, "receipt", token)
        card = charge["payment_method_details"]["card"]
        names = _lesson_names(ledger, charge["payment_intent"])
        refunds = [
            f"<li>{escape(format_amount(r['amount'], r['currency']))} on "
            f"{escape(_date(r['created']))} ({escape(r['status'])})</li>"
            for r in reversed(charge["refunds"]["data"])
        ]
        body = (
            "<h1>Receipt from Lesson shop</h1>"
            f"<p>Amount paid <strong>{escape(format_amount(charge['amount'], charge['currency']))}"
            f"</strong></p><p>Date paid {escape(_date(charge['created']))}</p>"
            f"<p>Payment method {escape(card['brand'].capitalize())} ending in "
            f"{escape(card['last4'])}</p><h2>Summary</h2><ul>"
            + "".join(f"<li>{escape(name)}</li>" for name in names)
            + "</ul><h2>Refunds</h2>"
            + (f"<ul>{''.join(refunds)}</ul>" if refunds else "<p>No refunds.</p>")
        )
        return _html("Receipt", body)


@get("/i/{token:str}", operation_id="showHostedInvoice", include_in_schema=False)
async def hosted_invoice(ledger: LedgerDep, token: PathId) -> Response[str]:
    """An invoice's hosted page: number, status, lines and total."""
    async with ledger.lock:
        invoice = _page_object(ledger, ledger.invoices, "invoice", token)
        lines = "".join(
            f"<tr><td>{escape(line['description'] or '')}</td><td>{line['quantity']}</td>"
            f"<td>{escape(format_amount(line['amount'], line['currency']))}</td></tr>"
            for line in invoice["lines"]["data"]
        )
        total = escape(format_amount(invoice["total"], invoice["currency"]))
        paid_at = invoice["status_transitions"]["paid_at"]
        body = (
            f"<h1>Invoice {escape(invoice['number'] or '')}</h1>"
            f"<p>Status <strong>{escape(invoice['status'] or '')}</strong>"
            + (f" on {escape(_date(paid_at))}" if paid_at else "")
            + "</p><table><thead><tr><th>Description</th><th>Qty</th><th>Amount</th></tr>"
            f"</thead><tbody>{lines}</tbody></table><p>Total <strong>{total}</strong></p>"
        )
        return _html(f"Invoice {invoice['number']}", body)


ROUTES = [receipt, hosted_invoice]
