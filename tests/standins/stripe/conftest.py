"""Fixtures: a stand-in on a free port with a webhook receiver, and the official stripe client."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import stripe

from standins.stripe.testing import StandIn, running_standin

WEBHOOK_SECRET = "whsec_standin_tests"
SITE = "https://shop.example"


@dataclass
class Received:
    path: str
    body: bytes
    signature: str

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class Receiver:
    """A webhook endpoint that records each request and fails the first `fail_next` of them."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    fail_next: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def events(self, path: str = "/webhooks/stripe") -> list[dict[str, Any]]:
        """Events delivered to `path`, in arrival order."""
        with self.lock:
            return [r.event for r in self.received if r.path == path]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with state.lock:
                state.received.append(Received(self.path, body, self.headers["Stripe-Signature"]))
                failing = state.fail_next > 0
                state.fail_next -= 1 if failing else 0
            self.send_response(500 if failing else 200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/webhooks/stripe"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def standin(receiver: Receiver) -> Iterator[StandIn]:
    with running_standin(webhook_endpoints=[(receiver.url, WEBHOOK_SECRET)]) as running:
        yield running


@pytest.fixture
def client(standin: StandIn) -> stripe.StripeClient:
    return standin.stripe_client()


def session_params(**overrides: Any) -> dict[str, Any]:
    """What the sidecar sends for one lesson (prices from the database, URLs from SITE_URL)."""
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": "usd",
                    "unit_amount": 1999,
                    "product_data": {"name": "Knots for sailors", "description": "Lesson 3"},
                },
            }
        ],
        "success_url": f"{SITE}/purchase/success?session_id={{CHECKOUT_SESSION_ID}}",
        "cancel_url": f"{SITE}/lessons/knots",
        "metadata": {"user_id": "u-1", "lesson_id": "l-1"},
        "client_reference_id": "u-1",
        "customer_email": "learner@example.com",
        "payment_intent_data": {"metadata": {"user_id": "u-1", "lesson_id": "l-1"}},
    }
    params.update(overrides)
    return params


def create_session(
    client: stripe.StripeClient,
    params: dict[str, Any] | None = None,
    *,
    key: str | None = None,
    **overrides: Any,
) -> stripe.checkout.Session:
    """Create a session with `params` (default: `session_params(**overrides)`), as the sidecar
    would; `key` is the Idempotency-Key (the library makes one up when it is None)."""
    body: Any = session_params(**overrides) if params is None else params
    options: stripe.RequestOptions = {"idempotency_key": key} if key else {}
    return client.v1.checkout.sessions.create(params=body, options=options)
