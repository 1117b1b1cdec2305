"""CPU the sidecar's process spends per Checkout Session create, by the way it calls Stripe.

    uv run python -m bench.stripe_calls            # 6 alternating rounds of 150 creates each

Against the Stripe stand-in in its own process (so only the caller's CPU is counted), in
alternating rounds after a warm-up:

- `objects`: `sessions.create_async` and `to_dict(recursive=True)` (what checkout did before);
- `raw_request`: `StripeClient.raw_request_async` on the same client, its JSON text kept for
  SQL (what checkout does: same retries, errors and connection pool, no StripeObject);
- `httpx`: the same form posted with a plain `httpx.AsyncClient` (no retries, no Stripe error
  mapping): the floor.

Not a row of `make bench`: it measured a choice, see `sidecar/stripe_client.py`.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import msgspec
import stripe
from stripe._encode import _api_encode

from bench.procs import running, standin_argv
from sidecar.settings import Settings
from sidecar.stripe_client import STRIPE_API_VERSION, make_stripe_client
from standins.serving import free_port

KEY = "sk_test_bench"
ROUNDS = 6
CALLS = 150


def params() -> dict[str, Any]:
    lesson = str(uuid.uuid4())
    metadata = {"user_id": str(uuid.uuid4()), "lesson_id": lesson}
    return {
        "mode": "payment",
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": "usd",
                    "unit_amount": 2500,
                    "product_data": {"name": "A lesson", "metadata": {"lesson_id": lesson}},
                },
            }
        ],
        "metadata": metadata,
        "client_reference_id": metadata["user_id"],
        "payment_intent_data": {"metadata": metadata},
        "success_url": "http://shop.test/lessons/a?checkout=success&session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "http://shop.test/lessons/a?checkout=cancelled",
        "adaptive_pricing": {"enabled": False},
        "customer_email": "learner@example.com",
    }


async def measure(base: str) -> dict[str, list[float]]:
    settings = Settings(
        stripe_secret_key=KEY,
        stripe_webhook_secret="whsec_bench",  # noqa: S106 - the bench's own test values
        site_url="http://shop.test",
        database_url="postgresql://unused",
        supabase_jwt_secret="bench-jwt-secret-0123456789abcdef0123",  # noqa: S106
        stripe_api_base=base,
    )
    http_client = stripe.HTTPXClient(timeout=20)
    client = make_stripe_client(settings, http_client)
    plain = httpx.AsyncClient(base_url=base, timeout=20)

    async def objects() -> None:
        session = await client.v1.checkout.sessions.create_async(
            params(),  # type: ignore[arg-type]
            {"idempotency_key": uuid.uuid4().hex},
        )
        msgspec.json.encode(session.to_dict(recursive=True))  # as SQL would get it
        assert session.status == "open"

    async def raw_request() -> None:
        response = await client.raw_request_async(
            "post", "/v1/checkout/sessions", idempotency_key=uuid.uuid4().hex, **params()
        )
        assert response.data["status"] == "open"
        assert response.body

    async def plain_httpx() -> None:
        response = await plain.post(
            "/v1/checkout/sessions",
            content=urllib.parse.urlencode(list(_api_encode(params()))),
            headers={
                "Authorization": f"Bearer {KEY}",
                "Stripe-Version": STRIPE_API_VERSION,
                "Idempotency-Key": uuid.uuid4().hex,
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        assert msgspec.json.decode(response.content)["status"] == "open"

    ways: dict[str, Callable[[], Awaitable[None]]] = {
        "objects": objects,
        "raw_request": raw_request,
        "httpx": plain_httpx,
    }
    cpu: dict[str, list[float]] = {name: [] for name in ways}
    try:
        for way in ways.values():  # warm-up
            for _ in range(20):
                await way()
        for n in range(ROUNDS):
            order = list(ways.items()) if n % 2 == 0 else list(reversed(ways.items()))
            for name, way in order:
                started = time.process_time()
                for _ in range(CALLS):
                    await way()
                cpu[name].append((time.process_time() - started) * 1e3 / CALLS)
    finally:
        await http_client.close_async()  # type: ignore[no-untyped-call]
        await plain.aclose()
    return cpu


def main() -> None:
    port = free_port()
    with running(standin_argv(port), {}, "/v1/checkout/sessions", "Stripe stand-in", port) as s:
        cpu = asyncio.run(measure(s.base))
    for name, values in cpu.items():
        print(
            f"{name:<12} {statistics.median(values):.3f} ms CPU per create"
            f" (min {min(values):.3f}, max {max(values):.3f}, {len(values)} rounds of {CALLS})"
        )


if __name__ == "__main__":
    main()
