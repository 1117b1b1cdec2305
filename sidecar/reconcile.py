"""Find paid Checkout Sessions the database is missing (missed webhooks, outages) and record them.

Lists sessions from Stripe created since a point in time (every page), and hands each complete
and paid one to `sync_checkout_session`: the same SQL path as the webhook and the return from
Checkout, so running it twice, or while webhooks arrive, records nothing twice.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import stripe

from sidecar.db import Database
from sidecar.payments import as_json

_DURATION = re.compile(r"(\d+)\s*([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_since(text: str) -> timedelta:
    """`72h`, `30m`, `7d`, `90s` → a timedelta."""
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None:
        raise ValueError(f"expected a duration like 72h, 30m or 7d, not {text!r}")
    return timedelta(**{_UNITS[match[2]]: int(match[1])})


@dataclass
class ReconcileReport:
    listed: int = 0
    paid: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)

    @property
    def fixed(self) -> int:
        return self.outcomes["recorded"]

    def summary(self, since: datetime) -> str:
        details = ", ".join(f"{word} {count}" for word, count in sorted(self.outcomes.items()))
        when = since.isoformat(timespec="seconds")
        return (
            f"reconciled since {when}: {self.listed} sessions listed, {self.paid} paid,"
            f" {self.fixed} fixed" + (f" ({details})" if details else "")
        )


async def reconcile(
    stripe_client: stripe.StripeClient,
    database: Database,
    since: datetime,
    say: Callable[[str], None] = print,
    page_size: int = 100,
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
    return report


def _who(session: stripe.checkout.Session) -> str:
    metadata: dict[str, str] = session.metadata.to_dict() if session.metadata else {}
    return f"user {metadata.get('user_id', '?')}, lesson {metadata.get('lesson_id', '?')}"


def since_now(ago: timedelta) -> datetime:
    return datetime.now(UTC) - ago
