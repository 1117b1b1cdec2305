"""The shape of a Stripe Checkout Session id, defined once for the sidecar.

SQL has the same definition in the `public.checkout_session_id` domain; both are tested against
tests/cases/checkout_session_ids.json. 250 characters after `cs_` is what the stored ids'
indexes take; Stripe's own ids are far shorter.
"""

from __future__ import annotations

import re

CHECKOUT_SESSION_ID = re.compile(r"cs_[A-Za-z0-9_]{1,250}")


def is_checkout_session_id(value: object) -> bool:
    """True for a string that is a whole Checkout Session id, nothing before or after it."""
    return isinstance(value, str) and CHECKOUT_SESSION_ID.fullmatch(value) is not None
