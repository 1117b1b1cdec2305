"""Stripe's test cards: what the hosted page's card field decides about a payment and its refunds.

The numbers and their behaviour are Stripe's own ("Testing" in Stripe's docs): 4242… pays with
Visa, 5555 5555 5555 4444 with Mastercard, 4000 0000 0000 0002 is declined (`generic_decline`),
4000 0000 0000 9995 is declined for `insufficient_funds`, refunds of a 4000 0000 0000 7726 charge
start `pending` (until the `/_standin/refunds/{id}/settle` control settles them). Any other
number that passes the Luhn check pays with the brand its first digits name.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Decline:
    """An issuer decline as Stripe reports it on the charge, the intent and the page."""

    decline_code: str  # outcome.reason and last_payment_error.decline_code
    message: str  # failure_message, last_payment_error.message, and what the page shows
    seller_message: str  # outcome.seller_message
    network_decline_code: str  # outcome.network_decline_code (the ISO 8583 answer)


GENERIC_DECLINE = Decline(
    decline_code="generic_decline",
    message="Your card was declined.",
    seller_message="The bank did not return any further details with this decline.",
    network_decline_code="05",
)
INSUFFICIENT_FUNDS = Decline(
    decline_code="insufficient_funds",
    message="Your card has insufficient funds.",
    seller_message="The bank returned the decline code `insufficient_funds`.",
    network_decline_code="51",
)


@dataclass(frozen=True)
class Card:
    number: str
    brand: str  # visa, mastercard, amex, discover, … as `payment_method_details.card.brand`
    funding: str
    country: str
    exp_month: int
    exp_year: int
    decline: Decline | None = None
    refunds_pending: bool = False  # its refunds start `pending` (pending_reason `processing`)

    @property
    def last4(self) -> str:
        return self.number[-4:]

    @property
    def fingerprint(self) -> str:
        """Stable per card number, as Stripe's is within one account."""
        digest = hashlib.sha256(self.number.encode()).hexdigest()
        return "".join(c for c in digest if c.isalnum())[:16]


# number → (brand, funding, decline, refunds start pending); all US-issued, as Stripe's are
_TEST_CARDS: dict[str, tuple[str, str, Decline | None, bool]] = {
    "4242424242424242": ("visa", "credit", None, False),
    "4000056655665556": ("visa", "debit", None, False),
    "5555555555554444": ("mastercard", "credit", None, False),
    "2223003122003222": ("mastercard", "credit", None, False),
    "5200828282828210": ("mastercard", "debit", None, False),
    "378282246310005": ("amex", "credit", None, False),
    "6011111111111117": ("discover", "credit", None, False),
    "4000000000000002": ("visa", "credit", GENERIC_DECLINE, False),
    "4000000000009995": ("visa", "credit", INSUFFICIENT_FUNDS, False),
    "4000000000007726": ("visa", "credit", None, True),
}
DEFAULT_NUMBER = "4242 4242 4242 4242"
DEFAULT_EXPIRY = "12 / 34"


class CardError(ValueError):
    """A card field the page refuses before anything is charged, in Checkout's words."""


def _luhn_ok(number: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = int(char)
        if index % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def _brand(number: str) -> str:
    if number.startswith("4"):
        return "visa"
    if re.match(r"5[1-5]|2(2[2-9]|[3-6]\d|7[01]|720)", number):
        return "mastercard"
    if re.match(r"3[47]", number):
        return "amex"
    if re.match(r"6(011|5)", number):
        return "discover"
    return "unknown"


def parse_card(number: str | None, expiry: str | None, *, today: tuple[int, int]) -> Card:
    """The card typed into the page; `today` is (year, month) by the stand-in's clock."""
    digits = re.sub(r"[\s-]", "", number or DEFAULT_NUMBER)
    if not digits.isdigit() or not 12 <= len(digits) <= 19 or not _luhn_ok(digits):
        raise CardError("Your card number is invalid.")
    match = re.fullmatch(r"\s*(\d{1,2})\s*/\s*(\d{2}|\d{4})\s*", expiry or DEFAULT_EXPIRY)
    if match is None or not 1 <= int(match[1]) <= 12:
        raise CardError("Your card's expiration date is incomplete.")
    month, year = int(match[1]), int(match[2])
    year += 2000 if year < 100 else 0
    if (year, month) < today:
        raise CardError("Your card's expiration year is in the past.")
    brand, funding, decline, refunds_pending = _TEST_CARDS.get(
        digits, (_brand(digits), "credit", None, False)
    )
    return Card(
        number=digits,
        brand=brand,
        funding=funding,
        country="US",
        exp_month=month,
        exp_year=year,
        decline=decline,
        refunds_pending=refunds_pending,
    )
