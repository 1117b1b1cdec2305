"""The Stripe client: one pinned-version async client, and Stripe objects as plain JSON.

Checkout's calls go through `StripeClient.raw_request_async`: the same requests, retries
(with the request's idempotency key), errors (`stripe.StripeError` with Stripe's code, param and
request id) and connection pool as the resource methods, without building a StripeObject that
would only be turned back into JSON for SQL. Measured against the Stripe stand-in
(`uv run python -m bench.stripe_calls`, two runs), a create cost the sidecar 1.37-1.61 ms
CPU as `sessions.create_async` + `to_dict`, 0.93-1.13 ms this way (0.75-0.96 ms for hand-rolled
httpx, which would give up stripe-python's retries and error mapping).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from urllib.parse import quote_plus

import stripe
from stripe._base_address import BaseAddresses

from sidecar.db import JsonText
from sidecar.settings import Settings

SESSIONS = "/v1/checkout/sessions"

# Pinned, not "whatever the library defaults to": the objects SQL reads from the events and
# sessions have this version's shape. Upgrading stripe-python means reading the changelog and
# moving this line (a test fails when they drift apart).
STRIPE_API_VERSION = "2026-10-28.endive"


def _package_version() -> str:
    try:
        return version("lesson-shop")
    except PackageNotFoundError:  # pragma: no cover - running from a plain checkout
        return "0"


def make_stripe_client(settings: Settings, http_client: stripe.HTTPXClient) -> stripe.StripeClient:
    """A StripeClient whose async methods run on `http_client` (the caller closes it).

    STRIPE_API_BASE points it at a stand-in instead of api.stripe.com.
    """
    stripe.set_app_info("lesson-shop-sidecar", version=_package_version())
    base_addresses: BaseAddresses = {}
    if settings.stripe_api_base:
        base_addresses["api"] = settings.stripe_api_base.rstrip("/")
    return stripe.StripeClient(
        settings.stripe_secret_key,
        stripe_version=STRIPE_API_VERSION,
        base_addresses=base_addresses,
        http_client=http_client,
        # Retries reuse the request's idempotency key, so a retried create is the same session.
        max_network_retries=2,
    )


def as_json(obj: stripe.StripeObject) -> dict[str, Any]:
    """A Stripe object as Stripe's JSON has it (what the SQL functions take as jsonb)."""
    return obj.to_dict(recursive=True)


@dataclass(frozen=True, slots=True)
class StripeJson:
    """One object as Stripe answered it: `data` parsed, `text` exactly as received."""

    text: str
    data: dict[str, Any]
    headers: Any

    @classmethod
    def of(cls, response: stripe.StripeResponse) -> StripeJson:
        if not isinstance(response.data, dict):  # pragma: no cover - Stripe answers objects
            raise stripe.APIError("Stripe answered something other than an object.")
        return cls(response.body, response.data, response.headers)

    @property
    def id(self) -> str:
        return str(self.data["id"])

    def arg(self) -> JsonText:
        """For a SQL function's jsonb argument: the text itself (psycopg) or the value."""
        return JsonText(self.text, self.data)


async def create_checkout_session(
    client: stripe.StripeClient, params: dict[str, Any], idempotency_key: str
) -> StripeJson:
    response = await client.raw_request_async(
        "post", SESSIONS, idempotency_key=idempotency_key, **params
    )
    return StripeJson.of(response)


async def retrieve_checkout_session(client: stripe.StripeClient, session_id: str) -> StripeJson:
    response = await client.raw_request_async("get", f"{SESSIONS}/{quote_plus(session_id)}")
    return StripeJson.of(response)


async def expire_checkout_session(client: stripe.StripeClient, session_id: str) -> StripeJson:
    response = await client.raw_request_async("post", f"{SESSIONS}/{quote_plus(session_id)}/expire")
    return StripeJson.of(response)
