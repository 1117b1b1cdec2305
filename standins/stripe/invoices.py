"""Checkout's post-payment invoices (`invoice_creation[enabled]=true`): made once the payment is in.

Stripe finalizes such an invoice and marks it paid by the session's payment, so its events come in
the order a finalized, paid invoice's do: `invoice.created`, `invoice.finalized`, `invoice.paid`,
`invoice.payment_succeeded`, each with the invoice as it stood then. The session's `invoice`
names it. A session without a Customer (`customer_creation=if_required`) gets an invoice for a
guest: `customer` null, the email and name from the page.
"""

from __future__ import annotations

from standins.stripe import objects
from standins.stripe.objects import Obj
from standins.stripe.store import Ledger


def issue_paid(ledger: Ledger, session: Obj) -> Obj | None:
    """The paid invoice of a session created with invoices enabled; None for the others."""
    invoice_data = ledger.invoice_data.get(session["id"])
    if invoice_data is None or session["invoice"] is not None:
        return None
    details = session["customer_details"] or {}
    now = ledger.now()
    invoice = objects.invoice(
        created=now,
        session=session,
        items=ledger.line_items[session["id"]],
        customer_email=details.get("email"),
        invoice_data=invoice_data,
    )
    invoice["customer_name"] = details.get("name")
    ledger.invoices[invoice["id"]] = invoice
    ledger.emit("invoice.created", invoice, None)

    customer = ledger.customers.get(session["customer"] or "")
    prefix = customer["invoice_prefix"] if customer else "GUEST"
    sequence = 1 + sum(1 for i in ledger.invoices.values() if i["number"] is not None)
    invoice.update(
        status="open",
        number=f"{prefix}-{sequence:04d}",
        hosted_invoice_url=ledger.page_url("i", invoice["id"]),
        effective_at=now,
        ending_balance=0,
        starting_balance=0,
    )
    invoice["status_transitions"]["finalized_at"] = now
    ledger.emit("invoice.finalized", invoice, None)

    invoice.update(
        status="paid",
        amount_paid=invoice["amount_due"],
        amount_remaining=0,
        attempted=True,
        attempt_count=1,
    )
    invoice["status_transitions"]["paid_at"] = now
    ledger.emit("invoice.paid", invoice, None)
    ledger.emit("invoice.payment_succeeded", invoice, None)
    session["invoice"] = invoice["id"]
    return invoice
