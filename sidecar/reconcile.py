"""Repair what missed webhooks (outages, a misconfigured endpoint) left undone.

Two passes over Stripe, since a point in time, every page:

1. Checkout Sessions: each complete and paid one goes to `sync_checkout_session`, the same SQL
   path as the return from Checkout: a purchase whose webhook never came is recorded. One it
   must refuse (metadata it cannot read, a learner or lesson the shop lacks) is kept by SQL in
   `unmatched_checkout_sessions`, so that `sidecar attention` lists it.
2. Events of the types the webhook handles (Stripe keeps 30 days of them): each goes to
   SQL exactly as if delivered (sidecar.webhooks.apply_event), so a refund, dispute or early
   fraud warning that never arrived still ends access. Events already stored answer `duplicate`.

Then every refund an early fraud warning asks for and nobody has asked Stripe for yet (a
webhook answered 502 and its redeliveries ran out, or a purchase landed by the return page)
is asked for, once (sidecar.fraud_refunds).

Running it twice, or while webhooks arrive, records nothing twice.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import stripe

from sidecar.db import Database
from sidecar.errors import PaymentProviderError
from sidecar.fraud_refunds import ask_for_fraud_refunds
from sidecar.stripe_client import as_json
from sidecar.webhooks import apply_event

_DURATION = re.compile(r"(\d+)\s*([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_since(text: str) -> timedelta:
    """`72h`, `30m`, `7d`, `90s` → a timedelta."""
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None:
        raise ValueError(f"expected a duration like 72h, 30m or 7d, not {text!r}")
    return timedelta(**{_UNITS[match[2]]: int(match[1])})


# The event types the webhook acts on; the others would only be stored and ignored.
HANDLED_EVENT_TYPES = (
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
    "charge.succeeded",
    "charge.refunded",
    "charge.dispute.created",
    "charge.dispute.closed",
    "radar.early_fraud_warning.created",
    "radar.early_fraud_warning.updated",
)
# Event outcomes that changed something in the database.
_EVENT_FIXES = ("recorded", "revoked", "restored", "pending", "failed", "expired")


@dataclass
class ReconcileReport:
    listed: int = 0
    paid: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    events_listed: int = 0
    event_outcomes: Counter[str] = field(default_factory=Counter)
    fraud_refunds: list[str] = field(default_factory=list)
    fraud_failed: bool = False

    @property
    def needing_attention(self) -> int:
        """Paid but rejected, failing to apply, or a fraud refund Stripe failed to make: money
        an operator must look at."""
        words = self.outcomes + self.event_outcomes
        return int(self.fraud_failed) + sum(
            n for word, n in words.items() if word.startswith("rejected:") or word == "error"
        )

    @property
    def fixed(self) -> int:
        events = sum(self.event_outcomes[word] for word in _EVENT_FIXES)
        return self.outcomes["recorded"] + events

    def summary(self, since: datetime) -> str:
        words = self.outcomes + self.event_outcomes
        details = ", ".join(f"{word} {count}" for word, count in sorted(words.items()))
        when = since.isoformat(timespec="seconds")
        return (
            f"reconciled since {when}: {self.listed} sessions listed, {self.paid} paid,"
            f" {self.events_listed} events listed, {self.fixed} fixed"
            + (f" ({details})" if details else "")
            + (f", {len(self.fraud_refunds)} fraud refunds asked for" if self.fraud_refunds else "")
        )


async def reconcile(
    stripe_client: stripe.StripeClient,
    database: Database,
    since: datetime,
    say: Callable[[str], None] = print,
    page_size: int = 100,
    efw_auto_refund: bool = True,
) -> ReconcileReport:
    """Sync every complete, paid session created at or after `since`; say one line per fix."""
    report = ReconcileReport()
    first_page = await stripe_client.v1.checkout.sessions.list_async(
        {"created": {"gte": int(since.timestamp())}, "limit": page_size}
    )
    async for session in first_page.auto_paging_iter():
        report.listed += 1
        if session.status != "complete" or session.payment_status != "paid":
            continue
        report.paid += 1
        outcome = str(await database.rpc("sync_checkout_session", {"p_session": as_json(session)}))
        report.outcomes[outcome] += 1
        if outcome == "recorded":
            say(f"fixed {session.id}: purchase recorded ({_who(session)})")
        elif outcome.startswith("rejected:"):
            say(f"attention {session.id}: paid but {outcome} ({_who(session)})")

    events = await stripe_client.v1.events.list_async(
        {
            "created": {"gte": int(since.timestamp())},
            "types": list(HANDLED_EVENT_TYPES),
            "limit": page_size,
        }
    )
    async for event in events.auto_paging_iter():
        report.events_listed += 1
        outcome = str(await apply_event(database, as_json(event), efw_auto_refund=efw_auto_refund))
        report.event_outcomes[outcome] += 1
        if outcome in _EVENT_FIXES or outcome.startswith("rejected:") or outcome == "error":
            say(f"applied {event.id} ({event.type}): {outcome}")

    try:
        report.fraud_refunds = await ask_for_fraud_refunds(database, stripe_client, None)
    except PaymentProviderError:
        say("attention: Stripe failed to make a refund an early fraud warning asks for")
        report.fraud_failed = True
    for refund_id in report.fraud_refunds:
        say(f"fixed: refund {refund_id} asked for an early fraud warning")
    return report


def _who(session: stripe.checkout.Session) -> str:
    metadata: dict[str, str] = session.metadata.to_dict() if session.metadata else {}
    return f"user {metadata.get('user_id', '?')}, lesson {metadata.get('lesson_id', '?')}"


def since_now(ago: timedelta) -> datetime:
    return datetime.now(UTC) - ago
