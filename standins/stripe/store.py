"""The stand-in's memory: every object it made, every event, every endpoint, one lock.

Handlers take `ledger.lock` around anything that reads and then writes, so two concurrent
requests see the same ordering a single Stripe account would give them. Events are recorded
here and handed to the dispatcher for each endpoint whose `enabled_events` match.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from standins.stripe import objects
from standins.stripe.cards import Card
from standins.stripe.config import StandInConfig
from standins.stripe.delivery import Delivery, Dispatcher
from standins.stripe.errors import StripeError
from standins.stripe.objects import Obj


@dataclass(frozen=True)
class RequestContext:
    """The API request an event came from (`event.request`); None for hosted-page actions."""

    request_id: str | None = None
    idempotency_key: str | None = None


@dataclass
class Endpoint:
    obj: Obj
    secret: str

    def wants(self, event_type: str) -> bool:
        enabled: list[str] = self.obj["enabled_events"]
        return "*" in enabled or event_type in enabled


@dataclass
class IdempotentResult:
    method: str
    path: str
    params: Any
    status: int
    body: bytes
    request_id: str


class Ledger:
    """Everything one Stripe test-mode account holds. A plain class: handlers get it injected."""

    def __init__(self, config: StandInConfig) -> None:
        self.config = config
        self.lock = asyncio.Lock()
        self.clock_offset = 0
        self.sessions: dict[str, Obj] = {}
        self.line_items: dict[str, list[Obj]] = {}
        # the inline prices sessions' `price_data` made, retrievable as on Stripe
        self.prices: dict[str, Obj] = {}
        # payment_intent_data given at session creation, applied when the learner pays
        self.intent_data: dict[str, Obj] = {}
        self.customers: dict[str, Obj] = {}
        self.payment_intents: dict[str, Obj] = {}
        self.charges: dict[str, Obj] = {}
        self.refunds: dict[str, Obj] = {}
        self.disputes: dict[str, Obj] = {}
        self.invoices: dict[str, Obj] = {}
        self.coupons: dict[str, Obj] = {}
        # `applies_to[products]` of each coupon restricted to some products
        self.coupon_products: dict[str, list[str]] = {}
        self.promotion_codes: dict[str, Obj] = {}
        self.early_fraud_warnings: dict[str, Obj] = {}
        # the card each charge was made with: it decides how the charge's refunds go
        self.cards: dict[str, Card] = {}
        # `invoice_creation[invoice_data]` of each session created with invoices enabled
        self.invoice_data: dict[str, Obj] = {}
        # the secret part of each receipt_url / hosted_invoice_url → the charge / invoice id
        self.pages: dict[str, str] = {}
        self.events: dict[str, Obj] = {}
        self.endpoints: dict[str, Endpoint] = {}
        self.idempotency: dict[tuple[str, str], IdempotentResult] = {}
        self.dispatcher = Dispatcher(
            retry_delays=config.retry_delays,
            timeout=config.delivery_timeout,
            on_delivered=self._delivered,
        )
        for target in config.webhook_endpoints:
            self.add_endpoint(target.url, list(target.enabled_events), secret=target.secret)

    def now(self) -> int:
        """Unix seconds, moved forward by `/_standin/clock` so tests can reach `expires_at`."""
        return int(time.time()) + self.clock_offset

    def add_endpoint(
        self,
        url: str,
        enabled_events: list[str],
        *,
        secret: str | None = None,
        description: str | None = None,
        metadata: Obj | None = None,
    ) -> Endpoint:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise StripeError.invalid(f"Invalid URL: {url}", param="url", code="url_invalid")
        obj = objects.webhook_endpoint(
            created=self.now(),
            url=url,
            enabled_events=enabled_events,
            description=description,
            metadata=metadata or {},
            api_version=None,
        )
        endpoint = Endpoint(obj=obj, secret=secret or objects.new_id("whsec_", 32))
        self.endpoints[obj["id"]] = endpoint
        return endpoint

    def emit(
        self,
        event_type: str,
        data_object: Obj,
        context: RequestContext | None,
        *,
        previous_attributes: Obj | None = None,
    ) -> Obj:
        """Record an event with a snapshot of `data_object` and queue its deliveries; `*.updated`
        events carry the changed fields' old values in `previous_attributes`, as Stripe's do."""
        context = context or RequestContext()
        targets = [e for e in self.endpoints.values() if e.wants(event_type)]
        event = objects.event(
            created=self.now(),
            event_type=event_type,
            data_object=data_object,
            api_version=self.config.api_version,
            pending_webhooks=len(targets),
            request_id=context.request_id,
            idempotency_key=context.idempotency_key,
            previous_attributes=previous_attributes,
        )
        self.events[event["id"]] = event
        body = json.dumps(event, indent=2)
        for endpoint in targets:
            self.dispatcher.enqueue(
                Delivery(
                    event_id=event["id"],
                    event_type=event_type,
                    endpoint_id=endpoint.obj["id"],
                    url=endpoint.obj["url"],
                    secret=endpoint.secret,
                    body=body,
                )
            )
        return event

    def _delivered(self, event_id: str) -> None:
        event = self.events.get(event_id)
        if event is not None and event["pending_webhooks"] > 0:
            event["pending_webhooks"] -= 1

    def page_url(self, path: str, object_id: str) -> str:
        """A public address for a receipt or invoice page that only its holder can guess."""
        token = objects.new_id("test_", 48)
        self.pages[token] = object_id
        return f"{self.config.public_base.rstrip('/')}/{path}/{token}"

    def get(
        self, table: dict[str, Obj], kind: str, object_id: str, *, param: str | None = None
    ) -> Obj:
        found = table.get(object_id)
        if found is None:
            raise StripeError.no_such(kind, object_id, param=param)
        return found
