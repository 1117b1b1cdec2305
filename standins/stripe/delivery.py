"""Webhook delivery: signed as Stripe signs, retried with backoff, in a background task.

Each event is POSTed to every matching endpoint with the event JSON as the body and
`Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`. A non-2xx
answer or a connection error schedules the next attempt after the configured delay; the body
stays byte-for-byte the same across attempts, only the signature's timestamp moves.

Switches for tests (runtime, via `/_standin/delivery`): `duplicate` sends every delivery twice,
`shuffle` sends each batch of due deliveries in a different order than they were queued, and
`paused` holds everything until resumed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx


def signature_header(payload: str, secret: str, timestamp: int) -> str:
    """The `Stripe-Signature` value for `payload`, exactly as Stripe computes it."""
    signed = f"{timestamp}.{payload}".encode()
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


@dataclass
class Delivery:
    event_id: str
    event_type: str
    endpoint_id: str
    url: str
    secret: str
    body: str
    attempt: int = 1
    due: float = 0.0
    seq: int = 0


@dataclass
class Attempt:
    """One HTTP attempt, as tests see it in `GET /_standin/deliveries`."""

    event_id: str
    event_type: str
    endpoint_id: str
    url: str
    attempt: int
    status: int | None
    error: str | None
    ok: bool
    will_retry: bool
    duplicate: bool
    at: float

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Switches:
    duplicate: bool = False
    shuffle: bool = False
    paused: bool = False


@dataclass
class Dispatcher:
    retry_delays: tuple[float, ...]
    timeout: float
    on_delivered: Callable[[str], None]
    switches: Switches = field(default_factory=Switches)
    attempts: list[Attempt] = field(default_factory=list)
    pending: list[Delivery] = field(default_factory=list)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _seq: Iterator[int] = field(default_factory=itertools.count)

    def enqueue(self, delivery: Delivery) -> None:
        delivery.seq = next(self._seq)
        delivery.due = time.monotonic()
        self.pending.append(delivery)
        self._wake.set()

    def set_switches(self, **values: bool) -> Switches:
        for key, value in values.items():
            setattr(self.switches, key, value)
        self._wake.set()
        return self.switches

    async def run(self) -> None:
        """Deliver forever; cancelled by the app's lifespan on shutdown."""
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            while True:
                batch = self._take_due()
                if not batch:
                    await self._sleep()
                    continue
                for position, delivery in enumerate(batch):
                    if self.switches.paused:
                        self.pending.extend(batch[position:])
                        break
                    await self._send(client, delivery, duplicate=False)
                    if self.switches.duplicate:
                        await self._send(client, delivery, duplicate=True)

    def _take_due(self) -> list[Delivery]:
        if self.switches.paused:
            return []
        now = time.monotonic()
        due = sorted((d for d in self.pending if d.due <= now), key=lambda d: (d.due, d.seq))
        self.pending = [d for d in self.pending if d.due > now]
        if self.switches.shuffle and len(due) > 1:
            shuffled = random.sample(due, len(due))
            # a shuffle that happens to keep the order proves nothing: reverse instead
            due = shuffled if shuffled != due else due[::-1]
        return due

    async def _sleep(self) -> None:
        self._wake.clear()
        timeout = None
        if self.pending and not self.switches.paused:
            timeout = max(0.0, min(d.due for d in self.pending) - time.monotonic())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)

    async def _send(
        self, client: httpx.AsyncClient, delivery: Delivery, *, duplicate: bool
    ) -> None:
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            "Stripe-Signature": signature_header(delivery.body, delivery.secret, timestamp),
        }
        status: int | None = None
        error: str | None = None
        try:
            response = await client.post(
                delivery.url, content=delivery.body.encode(), headers=headers
            )
            status = response.status_code
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            error = f"{type(exc).__name__}: {exc}"
        ok = status is not None and 200 <= status < 300
        will_retry = not ok and not duplicate and delivery.attempt <= len(self.retry_delays)
        self.attempts.append(
            Attempt(
                event_id=delivery.event_id,
                event_type=delivery.event_type,
                endpoint_id=delivery.endpoint_id,
                url=delivery.url,
                attempt=delivery.attempt,
                status=status,
                error=error,
                ok=ok,
                will_retry=will_retry,
                duplicate=duplicate,
                at=time.time(),
            )
        )
        if duplicate:
            return
        if ok:
            self.on_delivered(delivery.event_id)
        elif will_retry:
            delivery.due = time.monotonic() + self.retry_delays[delivery.attempt - 1]
            delivery.attempt += 1
            self.pending.append(delivery)
