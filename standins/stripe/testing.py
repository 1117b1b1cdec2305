"""Run a Stripe stand-in for a test suite: a free port, a background thread, a clean stop.

    from standins.stripe.testing import running_standin

    with running_standin(webhook_endpoints=[("http://127.0.0.1:8001/v1/webhooks/stripe",
                                             "whsec_test")]) as standin:
        client = standin.stripe_client()          # stripe.StripeClient aimed at the stand-in
        session = client.v1.checkout.sessions.create(params={...})
        standin.control.pay(session.id)           # the learner pays by card
        standin.control.wait_for_deliveries(lambda attempts: any(a["ok"] for a in attempts))

`StandIn` fields: `api_base` (e.g. "http://127.0.0.1:54012", also the hosted page's base),
`api_key` (a `sk_test_` key it accepts), `app` (the Litestar app; `app.state.ledger` holds
everything), `stripe_client()`, and `control`, whose methods each make one HTTP call:

- `pay(session_id, email=None, card=None)` (`card`: a Stripe test card number, default 4242…;
  a declined card answers 402 and leaves the session open), `pay_delayed(session_id)`,
  `delayed_succeed(session_id)`, `delayed_fail(session_id)`, `cancel(session_id)`,
  `expire(session_id)`: press that button on the hosted page; returns the `httpx.Response`
  (a 303 whose `location` is the redirect).
- `dispute(payment_intent, amount=None, reason="fraudulent") -> dict` and
  `close_dispute(dispute_id, won=True) -> dict`: the bank's side of a chargeback.
- `settle_refund(refund_id, succeeded=True, failure_reason=None) -> dict`: a pending refund
  succeeds or fails (a succeeded one can still fail), with its events.
- `add_webhook_endpoint(url, secret=None, enabled_events=("*",)) -> dict`: for a receiver
  whose address is known only after start-up; the answer carries the `secret`.
- `set_delivery(duplicate=None, shuffle=None, paused=None) -> dict`: delivery switches.
- `deliveries() -> list[dict]`: every delivery attempt (`event_id`, `event_type`, `url`,
  `attempt`, `status`, `ok`, `will_retry`, `duplicate`, `error`, `at`), oldest first.
- `wait_for_deliveries(predicate, timeout=10.0) -> list[dict]`: poll until
  `predicate(attempts)` holds; raises `TimeoutError` with the attempts so far.
- `advance_clock(seconds) -> dict`: move time forward; sessions past `expires_at` expire.

`retry_delays` defaults to fast retries (0.05 s, 0.1 s, 0.2 s, 0.4 s) so tests of retried
webhooks finish quickly. The helper is synchronous; from async tests call it via
`anyio.to_thread.run_sync` if the receiver runs on the test's own event loop.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import stripe
from litestar import Litestar

from standins.serving import base_url, listening_socket, serving
from standins.stripe.app import create_app
from standins.stripe.config import StandInConfig, WebhookTarget

Attempts = list[dict[str, Any]]
FAST_RETRIES = (0.05, 0.1, 0.2, 0.4)


@dataclass
class Control:
    """The stand-in's hosted-page buttons and `/_standin/` controls, one HTTP call each."""

    base: str
    http: httpx.Client = field(repr=False)

    def _press(self, session_id: str, action: str, **fields: str) -> httpx.Response:
        return self.http.post(f"{self.base}/c/pay/{session_id}", data={"action": action, **fields})

    def pay(
        self, session_id: str, email: str | None = None, card: str | None = None
    ) -> httpx.Response:
        fields = {"email": email, "card_number": card}
        return self._press(session_id, "pay", **{k: v for k, v in fields.items() if v})

    def apply_code(self, session_id: str, code: str) -> httpx.Response:
        """Type a promotion code on the hosted page and press Apply."""
        return self._press(session_id, "apply_code", promotion_code=code)

    def pay_delayed(self, session_id: str, email: str | None = None) -> httpx.Response:
        return self._press(session_id, "pay_delayed", **({"email": email} if email else {}))

    def delayed_succeed(self, session_id: str) -> httpx.Response:
        return self._press(session_id, "delayed_succeed")

    def delayed_fail(self, session_id: str) -> httpx.Response:
        return self._press(session_id, "delayed_fail")

    def cancel(self, session_id: str) -> httpx.Response:
        return self._press(session_id, "cancel")

    def expire(self, session_id: str) -> httpx.Response:
        return self._press(session_id, "expire")

    def _json(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self.http.request(method, f"{self.base}/_standin/{path}", json=body)
        response.raise_for_status()
        return response.json()

    def dispute(
        self, payment_intent: str, amount: int | None = None, reason: str = "fraudulent"
    ) -> dict[str, Any]:
        body = {"payment_intent": payment_intent, "amount": amount, "reason": reason}
        result: dict[str, Any] = self._json("POST", "disputes", body)
        return result

    def early_fraud_warning(
        self,
        payment_intent: str,
        actionable: bool = True,
        fraud_type: str = "made_with_stolen_card",
    ) -> dict[str, Any]:
        """The issuer warns of likely fraud on the intent's charge (each call a new warning)."""
        body = {
            "payment_intent": payment_intent,
            "actionable": actionable,
            "fraud_type": fraud_type,
        }
        result: dict[str, Any] = self._json("POST", "early_fraud_warnings", body)
        return result

    def close_dispute(self, dispute_id: str, won: bool = True) -> dict[str, Any]:
        body = {"outcome": "won" if won else "lost"}
        result: dict[str, Any] = self._json("POST", f"disputes/{dispute_id}/close", body)
        return result

    def settle_refund(
        self, refund_id: str, succeeded: bool = True, failure_reason: str | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"outcome": "succeeded" if succeeded else "failed"}
        if failure_reason is not None:
            body["failure_reason"] = failure_reason
        result: dict[str, Any] = self._json("POST", f"refunds/{refund_id}/settle", body)
        return result

    def add_webhook_endpoint(
        self, url: str, secret: str | None = None, enabled_events: Iterable[str] = ("*",)
    ) -> dict[str, Any]:
        body = {"url": url, "secret": secret, "enabled_events": list(enabled_events)}
        result: dict[str, Any] = self._json("POST", "webhook_endpoints", body)
        return result

    def set_delivery(
        self,
        duplicate: bool | None = None,
        shuffle: bool | None = None,
        paused: bool | None = None,
    ) -> dict[str, bool]:
        body = {"duplicate": duplicate, "shuffle": shuffle, "paused": paused}
        result: dict[str, bool] = self._json("POST", "delivery", body)
        return result

    def deliveries(self) -> Attempts:
        result: Attempts = self._json("GET", "deliveries")["attempts"]
        return result

    def wait_for_deliveries(
        self, predicate: Callable[[Attempts], bool], timeout: float = 10.0
    ) -> Attempts:
        deadline = time.monotonic() + timeout
        while True:
            attempts = self.deliveries()
            if predicate(attempts):
                return attempts
            if time.monotonic() > deadline:
                raise TimeoutError(f"deliveries never matched; so far: {attempts}")
            time.sleep(0.02)

    def advance_clock(self, seconds: int) -> dict[str, int]:
        result: dict[str, int] = self._json("POST", "clock", {"advance": seconds})
        return result


@dataclass
class StandIn:
    api_base: str
    api_key: str
    app: Litestar
    control: Control

    def stripe_client(self, **options: Any) -> stripe.StripeClient:
        """A `StripeClient` aimed at the stand-in (sync and `*_async` methods both work)."""
        return stripe.StripeClient(self.api_key, base_addresses={"api": self.api_base}, **options)


@contextmanager
def running_standin(
    webhook_endpoints: Iterable[tuple[str, str]] = (),
    *,
    retry_delays: tuple[float, ...] = FAST_RETRIES,
    api_key: str = "sk_test_standin",
    config: StandInConfig | None = None,
) -> Iterator[StandIn]:
    """Serve a fresh stand-in on a free 127.0.0.1 port until the block ends.

    `webhook_endpoints` are `(url, secret)` pairs receiving every event; `config`, when
    given, replaces them and `retry_delays` (its `public_base` becomes the chosen port's, and
    `api_key` one of its `api_keys` if it restricts them).
    """
    sock = listening_socket()
    base = base_url(sock)
    base_config = config or StandInConfig(
        webhook_endpoints=tuple(WebhookTarget(url, secret) for url, secret in webhook_endpoints),
        retry_delays=retry_delays,
    )
    app = create_app(dataclasses.replace(base_config, public_base=base))
    if base_config.api_keys and api_key not in base_config.api_keys:
        api_key = base_config.api_keys[0]
    with serving(app, sock, "Stripe stand-in"), httpx.Client(timeout=10) as http:
        yield StandIn(api_base=base, api_key=api_key, app=app, control=Control(base, http))
