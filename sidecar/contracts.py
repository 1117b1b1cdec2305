"""What the SQL functions that answer JSON answer, as types.

Each function's JSON is a tagged union keyed as the SQL writes it (`action` for begin_checkout,
`outcome` for attach_checkout_session), decoded by the database adapter into one of the
Structs below, so callers `match` on a type instead of reading dict keys. A shape the sidecar
does not know (a new tag, a missing or mistyped field) fails the call with `UnexpectedResult`:
it is never taken for another shape. Fields it does not name are ignored, so a migration may add
one before the sidecar reads it. The shapes are written in supabase/schemas (checkout.sql, each
function declared once); tests/sidecar/test_db.py decodes each one from real SQL.
"""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar
from uuid import UUID

import msgspec

T = TypeVar("T")


class UnexpectedResult(Exception):
    """A SQL function answered a shape its contract does not know: the SQL and the sidecar
    disagree, and nothing may be decided from the answer."""

    def __init__(self, function: str, problem: str) -> None:
        self.function = function
        super().__init__(f"{function} answered a shape the sidecar does not know: {problem}")


class JsonFunction(Generic[T]):
    """A SQL function answering jsonb (or null), and the type that JSON decodes to."""

    def __init__(self, name: str, returns: Any) -> None:
        self.name = name
        self.returns = returns
        self._decoder: msgspec.json.Decoder[T] = msgspec.json.Decoder(returns)

    def decode_json(self, text: str | bytes | None) -> T:
        """From the JSON text Postgres sends (None for SQL null)."""
        if text is None:
            return self.decode_value(None)
        try:
            return self._decoder.decode(text)
        except msgspec.ValidationError as exc:
            raise UnexpectedResult(self.name, str(exc)) from None

    def decode_value(self, value: object) -> T:
        """From JSON already parsed into Python objects (what PostgREST's client hands back)."""
        try:
            result: T = msgspec.convert(value, self.returns, strict=True)
        except msgspec.ValidationError as exc:
            raise UnexpectedResult(self.name, str(exc)) from None
        return result


# --- begin_checkout: {"action": "reuse" | "create" | "refresh" | "refuse", …} ---------------------


class PlannedLesson(msgspec.Struct, frozen=True):
    """The lesson as the database prices it: the only source of the session's amount."""

    id: UUID
    slug: str
    title: str
    description: str | None
    price_cents: int
    currency: str
    stripe_price_id: str | None


class ReuseSession(msgspec.Struct, frozen=True, tag_field="action", tag="reuse"):
    """The learner's open session can still be paid: hand it back."""

    session_id: str
    url: str


class CreateSession(msgspec.Struct, frozen=True, tag_field="action", tag="create"):
    """Open a new session at Stripe with this key, lesson and customer."""

    idempotency_key: str
    lesson: PlannedLesson
    customer_email: str | None
    stripe_customer_id: str | None


class RefreshSessions(msgspec.Struct, frozen=True, tag_field="action", tag="refresh"):
    """Open sessions that cannot be reused: settle each with Stripe, then ask again."""

    session_ids: list[str]


RefusalReason = Literal[
    "unknown_lesson",
    "already_owned",
    "free_lesson",
    "payment_pending",
    "payment_disputed",
    "account_disabled",
]


class RefuseCheckout(msgspec.Struct, frozen=True, tag_field="action", tag="refuse"):
    """The learner may not buy this lesson now."""

    reason: RefusalReason


CheckoutPlan = ReuseSession | CreateSession | RefreshSessions | RefuseCheckout

BEGIN_CHECKOUT: JsonFunction[CheckoutPlan] = JsonFunction("begin_checkout", CheckoutPlan)


# --- attach_checkout_session: {"outcome": "attached" | "existing" | "rejected", …} -------------


class Attached(msgspec.Struct, frozen=True, tag_field="outcome", tag="attached"):
    """The session Stripe created is stored."""

    id: str
    url: str | None


class AlreadyAttached(msgspec.Struct, frozen=True, tag_field="outcome", tag="existing"):
    """Stored before (a retried attach, or its webhook came first), saying the same."""

    id: str
    url: str | None


class AttachRejected(msgspec.Struct, frozen=True, tag_field="outcome", tag="rejected"):
    """Not stored: it does not match the lesson's price, or contradicts what is stored.

    The reason is kept as SQL words it (e.g. amount_mismatch, contradiction) for the log only:
    whatever it is, the session must not be handed to the learner.
    """

    reason: str
    id: str | None
    url: None


AttachOutcome = Attached | AlreadyAttached | AttachRejected

ATTACH_CHECKOUT_SESSION: JsonFunction[AttachOutcome] = JsonFunction(
    "attach_checkout_session", AttachOutcome
)


# --- checkout_session_for_user: one row, or null when the session is not the learner's -------


class StoredCheckoutSession(msgspec.Struct, frozen=True):
    """A learner's Checkout Session as stored, and how long ago it was read back from Stripe."""

    id: str
    lesson_id: UUID
    status: Literal["open", "processing", "complete", "expired", "failed"]
    payment_status: Literal["paid", "unpaid", "no_payment_required"]
    seconds_since_sync: float | None
    owned: bool


CHECKOUT_SESSION_FOR_USER: JsonFunction[StoredCheckoutSession | None] = JsonFunction(
    "checkout_session_for_user", StoredCheckoutSession | None
)


# --- claim_early_fraud_warning_refunds: the refunds this caller now asks Stripe for -------------


class FraudRefund(msgspec.Struct, frozen=True):
    """A refund an early fraud warning asks for, claimed by this caller for two minutes."""

    payment_intent: str
    charge: str
    early_fraud_warning: str
    amount: int
    currency: str
    idempotency_key: str


CLAIM_EARLY_FRAUD_WARNING_REFUNDS: JsonFunction[list[FraudRefund]] = JsonFunction(
    "claim_early_fraud_warning_refunds", list[FraudRefund]
)
