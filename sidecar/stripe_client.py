"""The Stripe client: one pinned-version async client, and Stripe objects as plain JSON."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

import stripe
from stripe._base_address import BaseAddresses

from sidecar.settings import Settings

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
