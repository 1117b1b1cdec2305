"""The attention list for an operator: `sidecar attention` reads `payments_needing_attention`,
`sidecar resolve <id> --note …` resolves one item through `public.resolve_attention`.

Plain SQL over the sidecar's own service-role connection (DATABASE_URL); SQL decides what is
listed, what it is called and what to do, and keeps who resolved what and why. This module
only formats.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

# Stripe's minor units are not always ISO 4217's (frontend/src/lib/money.ts has the same lists):
# https://docs.stripe.com/currencies#zero-decimal and #three-decimal
_ZERO_DECIMAL = frozenset("bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split())  # noqa: SIM905
_THREE_DECIMAL = frozenset(("bhd", "jod", "kwd", "omr", "tnd"))

_LIST = """
select id, source, reference, reason, what, email, amount_total, currency, since,
  suggested_action, user_id, lesson_id, stripe_payment_intent_id
from public.payments_needing_attention
order by since nulls last, id
"""


class AttentionError(Exception):
    """The database refused the request (unknown id, empty note): its message, for a person."""


@dataclass(frozen=True, slots=True)
class Item:
    id: str
    source: str
    reference: str
    reason: str
    what: str
    email: str | None
    amount_total: int | None
    currency: str | None
    since: datetime | None
    suggested_action: str
    user_id: str | None
    lesson_id: str | None
    payment_intent: str | None

    def line(self, now: datetime) -> str:
        """One line: the id to resolve it by, since when, what, who, how much, what to do."""
        age = f"{format_age(now - self.since)} ago" if self.since else "since ?"
        who = self.email or "learner unknown"
        return (
            f"{self.id}  {age}  {self.what}  {who}  "
            f"{format_amount(self.amount_total, self.currency)}  → {self.suggested_action}"
        )

    def as_json(self, now: datetime) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": self.source,
            "reference": self.reference,
            "reason": self.reason,
            "what": self.what,
            "email": self.email,
            "amount_total": self.amount_total,
            "currency": self.currency,
            "since": self.since.isoformat() if self.since else None,
            "age_seconds": int((now - self.since).total_seconds()) if self.since else None,
            "suggested_action": self.suggested_action,
            "user_id": self.user_id,
            "lesson_id": self.lesson_id,
            "payment_intent": self.payment_intent,
        }


def format_amount(amount: int | None, currency: str | None) -> str:
    """12.00 USD, 1800 JPY, 1.500 KWD (from Stripe's minor units), or 'amount unknown'."""
    if amount is None or not currency:
        return "amount unknown"
    code = currency.upper()
    digits = (
        0 if currency.lower() in _ZERO_DECIMAL else 3 if currency.lower() in _THREE_DECIMAL else 2
    )
    if digits == 0:
        return f"{amount} {code}"
    sign = "-" if amount < 0 else ""
    units, minor = divmod(abs(amount), 10**digits)
    return f"{sign}{units}.{minor:0{digits}d} {code}"


def format_age(age: timedelta) -> str:
    """3d 4h, 2h 5m, 12m, or <1m: how long an item has waited, to the two largest units."""
    minutes = max(int(age.total_seconds()) // 60, 0)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m" if minutes else "<1m"


def list_items(database_url: str) -> list[Item]:
    """Every open item, oldest first."""
    with psycopg.connect(database_url, autocommit=True, row_factory=dict_row) as conn:
        rows = conn.execute(_LIST).fetchall()
    return [
        Item(
            id=row["id"],
            source=row["source"],
            reference=row["reference"],
            reason=row["reason"],
            what=row["what"],
            email=row["email"],
            amount_total=row["amount_total"],
            currency=row["currency"],
            since=row["since"],
            suggested_action=row["suggested_action"],
            user_id=str(row["user_id"]) if row["user_id"] else None,
            lesson_id=str(row["lesson_id"]) if row["lesson_id"] else None,
            payment_intent=row["stripe_payment_intent_id"],
        )
        for row in rows
    ]


def render(items: list[Item], *, as_json: bool, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    if as_json:
        return json.dumps([item.as_json(now) for item in items], indent=2, ensure_ascii=False)
    if not items:
        return "nothing needs attention"
    return "\n".join(item.line(now) for item in items)


def resolve(database_url: str, item_id: str, note: str, resolved_by: str) -> dict[str, Any]:
    """Resolve one item; AttentionError with SQL's message for an unknown id or empty note."""
    try:
        with psycopg.connect(database_url, autocommit=True) as conn:
            row = conn.execute(
                "select public.resolve_attention(%s, %s, %s)", (item_id, note, resolved_by)
            ).fetchone()
    except (psycopg.errors.NoDataFound, psycopg.errors.InvalidParameterValue) as exc:
        diag = exc.diag
        message = diag.message_primary or "refused"
        hint = f" ({diag.message_hint})" if diag.message_hint else ""
        raise AttentionError(message + hint) from None
    assert row is not None
    resolution: dict[str, Any] = row[0]
    return resolution
