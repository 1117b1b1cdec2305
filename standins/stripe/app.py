"""`create_app(config)`: the Stripe stand-in as one Litestar app with its background tasks."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from litestar import Litestar, Response
from litestar.di import Provide
from litestar.exceptions import HTTPException, MethodNotAllowedException, NotFoundException

from standins.stripe import api, checkout, controls, hosted, receipts
from standins.stripe.config import StandInConfig
from standins.stripe.errors import StripeError
from standins.stripe.store import Ledger
from standins.stripe.wire import AnyRequest


def _stripe_error(_request: AnyRequest, exc: StripeError) -> Response[bytes]:
    return Response(
        content=json.dumps(exc.body(), indent=2).encode(),
        status_code=exc.status,
        media_type="application/json",
    )


def _unrecognized(request: AnyRequest, exc: HTTPException) -> Response[Any]:
    if not request.url.path.startswith("/v1/"):
        return Response(content={"detail": exc.detail}, status_code=exc.status_code)
    message = (
        f"Unrecognized request URL ({request.method}: {request.url.path}). Please see "
        "https://stripe.com/docs or we can help at https://support.stripe.com/."
    )
    return _stripe_error(request, StripeError(404, "invalid_request_error", message))


async def _sweep_expired(ledger: Ledger) -> None:
    while True:
        await asyncio.sleep(ledger.config.expiry_sweep_seconds)
        async with ledger.lock:
            checkout.expire_due(ledger)


def create_app(config: StandInConfig | None = None) -> Litestar:
    """The stand-in; its ledger is `app.state.ledger` for in-process tests."""
    ledger = Ledger(config or StandInConfig())

    @contextlib.asynccontextmanager
    async def background(_app: Litestar) -> AsyncIterator[None]:
        tasks = [
            asyncio.create_task(ledger.dispatcher.run(), name="webhook-delivery"),
            asyncio.create_task(_sweep_expired(ledger), name="session-expiry"),
        ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def provide_ledger() -> Ledger:
        return ledger

    app = Litestar(
        route_handlers=[*api.ROUTES, *hosted.ROUTES, *receipts.ROUTES, *controls.ROUTES],
        dependencies={"ledger": Provide(provide_ledger, sync_to_thread=False)},
        exception_handlers={
            StripeError: _stripe_error,
            NotFoundException: _unrecognized,
            MethodNotAllowedException: _unrecognized,
        },
        lifespan=[background],
        openapi_config=None,
    )
    app.state.ledger = ledger
    return app
