"""How one stand-in runs: its public address, accepted keys, webhook targets and retry pace."""

from __future__ import annotations

from dataclasses import dataclass

import stripe

DEFAULT_PORT = 12111

# Exponential backoff like Stripe's (which spreads retries over three days): 2 s, 4 s, … 1 h.
DEFAULT_RETRY_DELAYS: tuple[float, ...] = tuple(float(min(2**n, 3600)) for n in range(1, 13))


@dataclass(frozen=True)
class WebhookTarget:
    """An endpoint registered at start-up, with the signing secret its receiver already knows."""

    url: str
    secret: str
    enabled_events: tuple[str, ...] = ("*",)


@dataclass(frozen=True)
class StandInConfig:
    public_base: str = f"http://127.0.0.1:{DEFAULT_PORT}"
    # Exact secret keys accepted; empty means any key that starts with `sk_test_`.
    api_keys: tuple[str, ...] = ()
    webhook_endpoints: tuple[WebhookTarget, ...] = ()
    # Delay before retry n (after failed attempt n); when exhausted, delivery gives up.
    retry_delays: tuple[float, ...] = DEFAULT_RETRY_DELAYS
    delivery_timeout: float = 10.0
    # How often open sessions past `expires_at` are expired (and `checkout.session.expired` sent).
    expiry_sweep_seconds: float = 1.0
    # The version events are rendered at; the stripe library this project pins sends the same.
    api_version: str = stripe.api_version
