"""The Stripe-Signature header is read once, exactly as stripe-python reads it.

The property: the sidecar accepts a header if and only if stripe-python's verifier accepts its
HMAC and the header holds exactly one `t=` item whose value (read with the same `int()`) is
within ±300 s of now. Headers are generated from items Stripe sends and items it never does:
signs, spaces, underscores and non-ASCII digits in `t=`, several `t=`, signatures for another
time or secret, `=` inside values, items with no `=`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import pytest
import stripe
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import event as note
from hypothesis import strategies as st

from sidecar.errors import BadSignature
from sidecar.webhooks import TOLERANCE_SECONDS, verify_signature
from tests.sidecar.conftest import WEBHOOK_SECRET, Client, event, query, stripe_id

NOW = 1_800_000_000
PAYLOAD = '{"id": "evt_1", "object": "event"}'
OTHER_SECRET = "whsec_another_endpoint"

# Ways to write a number that int() still reads (and some it does not).
TIMESTAMP_FORMATS = [
    "{}",
    "+{}",
    " {}",
    "{} ",
    "\t{}",
    "0{}",
    "-{}",
    "{}_",
    "{}.0",
    "{}e0",
    "{}=x",
    "{}x",
]
# int() reads any Unicode decimal digits: Arabic-Indic (U+0660…) and fullwidth (U+FF10…)
ARABIC_INDIC = str.maketrans("0123456789", "".join(chr(0x0660 + n) for n in range(10)))
FULLWIDTH = str.maketrans("0123456789", "".join(chr(0xFF10 + n) for n in range(10)))
NOISE_ITEMS = ["", "t", "v1", "v0=deadbeef", "x=1", " t=1", "T=1", "garbage", "t==1", "v1=", "=1"]


def hmac_hex(secret: str, timestamp: int, payload: str) -> str:
    signed = f"{timestamp}.{payload}".encode()
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def as_int(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:
        return None


@st.composite
def timestamp_values(draw: st.DrawFn, now: int, near: bool = False) -> str:
    """The text after `t=`: a time near or far from now, written in one of many ways."""
    skew = draw(
        st.integers(-250, 250)
        if near
        else st.one_of(
            st.integers(-250, 250),
            st.sampled_from([0, -1, 1, -299, 299, -300, 300, -301, 301, -86_400, 10**9]),
            st.integers(-(10**7), 10**7),
        )
    )
    digits = str(now + skew)
    form = draw(st.sampled_from(["{}"] * len(TIMESTAMP_FORMATS) + TIMESTAMP_FORMATS))
    if draw(st.integers(0, 3)) == 0:
        cut = draw(st.integers(1, len(digits) - 1))
        digits = digits[:cut] + "_" + digits[cut:]  # 1_800… reads as 1800…
    text = form.format(digits)
    translation = draw(st.sampled_from([None, None, None, None, ARABIC_INDIC, FULLWIDTH]))
    return text.translate(translation) if translation else text


@st.composite
def signature_headers(draw: st.DrawFn, payload: str, now: int, ascii_only: bool = False) -> str:
    # half the time, what Stripe sends (one t=, near now, signed), before the rest is added
    plausible = draw(st.booleans())
    t_count = 1 if plausible else draw(st.sampled_from([1, 0, 2, 3]))
    t_values = [draw(timestamp_values(now, near=plausible)) for _ in range(t_count)]
    if ascii_only:
        t_values = [value for value in t_values if value.isascii()]
    signed_times = [n for n in map(as_int, t_values) if n is not None] or [now]
    signature_items = []
    if plausible:
        signature_items.append(f"v1={hmac_hex(WEBHOOK_SECRET, signed_times[0], payload)}")
    for _ in range(draw(st.sampled_from([0, 1, 2] if plausible else [1, 1, 2, 0, 3]))):
        timestamp = draw(st.sampled_from([*signed_times, *signed_times, now, now - 1]))
        secret = draw(st.sampled_from([WEBHOOK_SECRET] * 4 + [OTHER_SECRET]))
        signature = hmac_hex(secret, timestamp, payload)
        decoration = draw(st.sampled_from(["{}"] * 6 + ["{}=x", " {}", "{}0"]))
        scheme = draw(st.sampled_from(["v1"] * 6 + ["v0", "V1"]))
        signature_items.append(f"{scheme}={decoration.format(signature)}")
    noise = draw(st.lists(st.sampled_from(NOISE_ITEMS), max_size=draw(st.sampled_from([0, 0, 2]))))
    items = [f"t={value}" for value in t_values] + signature_items + noise
    return ",".join(draw(st.permutations(items)))


def stripe_and_one_timestamp_accept(payload: str, header: str, now: float) -> bool:
    """The oracle: stripe-python verifies the HMAC, and there is one t=, within tolerance."""
    try:
        stripe.WebhookSignature.verify_header(payload, header, WEBHOOK_SECRET, tolerance=None)
    except stripe.SignatureVerificationError:
        return False
    items = [item.split("=", 2) for item in header.split(",")]
    t_values = [item[1] for item in items if item[0] == "t"]
    return len(t_values) == 1 and abs(int(t_values[0]) - now) <= TOLERANCE_SECONDS


def sidecar_accepts(payload: str, header: str, now: float) -> bool:
    try:
        verify_signature(payload, header, WEBHOOK_SECRET, now)
    except BadSignature:
        return False
    return True


def future_signed(timestamp_text: str, timestamp: int, *, then: str = "") -> str:
    return f"t={timestamp_text}{then},v1={hmac_hex(WEBHOOK_SECRET, timestamp, PAYLOAD)}"


FUTURE = NOW + 3600


@given(header=signature_headers(PAYLOAD, NOW))
@example(header=future_signed(f"+{FUTURE}", FUTURE, then=",t=1"))
@example(header=future_signed(f" {FUTURE}", FUTURE))
@example(header=future_signed("1_800_003_600", FUTURE))
@example(header=future_signed(f"{FUTURE}", FUTURE, then=f",t={NOW}"))
@example(header=f"t={NOW},t={NOW},v1={hmac_hex(WEBHOOK_SECRET, NOW, PAYLOAD)}")
@example(header=f"t={NOW},v1={hmac_hex(WEBHOOK_SECRET, NOW, PAYLOAD)}")
@settings(max_examples=1000, deadline=None)
def test_acceptance_is_stripe_verifies_and_one_timestamp_within_tolerance(header: str) -> None:
    expected = stripe_and_one_timestamp_accept(PAYLOAD, header, NOW)
    note("accepted" if expected else "refused")
    assert sidecar_accepts(PAYLOAD, header, NOW) == expected


@pytest.mark.parametrize(
    "header",
    [
        future_signed(f"+{FUTURE}", FUTURE, then=",t=1"),
        future_signed(f" {FUTURE}", FUTURE),
        future_signed("1_800_003_600", FUTURE),
        future_signed(f"0{FUTURE}", FUTURE),
        future_signed(f"{FUTURE}".translate(FULLWIDTH), FUTURE),
        future_signed(f"{NOW}", NOW, then=f",t={FUTURE}"),
        future_signed(f"{FUTURE}", FUTURE, then=f",t={NOW}"),
    ],
    ids=["plus-then-old", "space", "underscores", "leading-zero", "fullwidth", "two-t", "two-t-b"],
)
def test_a_future_time_is_refused_however_it_is_written(header: str) -> None:
    # each of these has a signature stripe-python accepts (a future time is not its concern)
    stripe.WebhookSignature.verify_header(PAYLOAD, header, WEBHOOK_SECRET, tolerance=300)
    assert not sidecar_accepts(PAYLOAD, header, NOW)


# --- the same property over HTTP, against the real database --------------------------------


def event_stored(database_url: str, event_id: str) -> bool:
    return bool(
        query(database_url, "select 1 from public.stripe_events where id = %s", (event_id,))
    )


@st.composite
def signed_deliveries(draw: st.DrawFn) -> tuple[dict[str, Any], str, str]:
    """An event, its body, and a header, with every time well away from the ±300 s edge."""
    now = int(time.time())
    event_obj = event("customer.created", {"id": stripe_id("cus_"), "object": "customer"})
    event_obj["id"] = stripe_id("evt_sig_") + uuid.uuid4().hex[:6]
    payload = json.dumps(event_obj)
    header = draw(signature_headers(payload, now, ascii_only=True))
    edges = [as_int(item.split("=", 2)[1]) for item in header.split(",") if item[:2] == "t="]
    near_edge = any(n is not None and 280 <= abs(n - now) <= 320 for n in edges)
    return event_obj, payload, "" if near_edge else header


@pytest.mark.anyio
@given(delivery=signed_deliveries())
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
async def test_the_endpoint_stores_exactly_what_the_oracle_accepts(
    client: Client, database_url: str, delivery: tuple[dict[str, Any], str, str]
) -> None:
    event_obj, payload, header = delivery
    assume(header)  # empty: a time within 20 s of the tolerance edge, undecidable on a moving clock
    expected = stripe_and_one_timestamp_accept(payload, header, time.time())
    note("accepted" if expected else "refused")
    response = await client.post(
        "/v1/webhooks/stripe",
        content=payload.encode(),
        headers={"Stripe-Signature": header, "Content-Type": "application/json"},
    )
    assert response.status_code == (200 if expected else 400), header
    assert event_stored(database_url, event_obj["id"]) == expected
    if not expected:
        assert response.json()["error"]["code"] == "bad_signature"
