"""The Litestar application: routes, error shape, and the connections the lifespan opens."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import stripe
from litestar import Litestar
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from sidecar.auth import TokenVerifier
from sidecar.checkout import CheckoutController
from sidecar.db import Database, OwnedDatabase, PsycopgDatabase, SupabaseDatabase
from sidecar.dependencies import DEPENDENCIES
from sidecar.errors import EXCEPTION_HANDLERS
from sidecar.health import HealthController
from sidecar.limits import SidecarRequest, body_deadline_middleware
from sidecar.logging import request_context_middleware
from sidecar.openapi import ClosedStructSchemaPlugin
from sidecar.settings import Settings, SettingsError
from sidecar.stripe_client import make_stripe_client
from sidecar.webhook_route import webhook_route
from sidecar.webhooks import WebhookController


def open_database(settings: Settings) -> OwnedDatabase:
    """DATABASE_URL (direct psycopg) when set, else PostgREST with the secret key."""
    if not settings.database_url:
        if not (settings.supabase_url and settings.supabase_secret_key):
            raise SettingsError(
                "DATABASE_URL is not set (or set SUPABASE_URL and SUPABASE_SECRET_KEY)"
            )
        return SupabaseDatabase(
            settings.supabase_url,
            settings.supabase_secret_key,
            timeout=settings.database_pool_timeout,
        )
    return PsycopgDatabase(
        settings.database_url,
        min_size=settings.database_pool_min,
        max_size=settings.database_pool_max,
        prepare_threshold=settings.database_prepare_threshold,
        timeout=settings.database_pool_timeout,
        call_timeout=settings.database_call_timeout,
    )


def create_app(settings: Settings | None = None, database: Database | None = None) -> Litestar:
    """The sidecar; `database` replaces the one built from settings (tests, other adapters)."""
    settings = settings or Settings.from_env()
    verifier = TokenVerifier(
        jwt_secret=settings.supabase_jwt_secret,
        jwks_url=settings.supabase_jwks_url,
        issuer=settings.token_issuer,
    )
    # Built now (not connected) so that a configuration error stops start-up before serving.
    own_database = open_database(settings) if database is None else None

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        http_client = stripe.HTTPXClient(timeout=20)
        app.state.stripe = make_stripe_client(settings, http_client)
        app.state.database = own_database or database
        try:
            if own_database is not None:
                await own_database.open()
            yield
        finally:
            if own_database is not None:
                await own_database.close()
            await http_client.close_async()  # type: ignore[no-untyped-call]

    app = Litestar(
        route_handlers=[CheckoutController, WebhookController, HealthController],
        request_class=SidecarRequest,
        dependencies=DEPENDENCIES,
        plugins=[ClosedStructSchemaPlugin()],
        # logs are configured once by the process (sidecar.logging), not by each app
        logging_config=None,
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        lifespan=[lifespan],
        state=State({"settings": settings, "token_verifier": verifier}),
        openapi_config=OpenAPIConfig(
            title="Lesson shop sidecar",
            version="1.0.0",
            description="Creates Stripe Checkout Sessions and applies verified Stripe webhooks.",
            path="/schema",
            use_handler_docstrings=True,
            components=Components(
                security_schemes={
                    "bearerAuth": SecurityScheme(
                        type="http",
                        scheme="bearer",
                        bearer_format="JWT",
                        description="A Supabase access token",
                    )
                }
            ),
        ),
    )
    # Outermost, around Litestar's router too: unknown routes and 405s get a request id and an
    # access log line like everything else (route-level middleware never sees those).
    # Ahead of both: Stripe's webhook, answered by a plain ASGI function with the same steps
    # (request id and log line, body deadline and limit, verification, errors).
    app.asgi_handler = webhook_route(
        request_context_middleware(
            body_deadline_middleware(app.asgi_handler, settings.request_body_timeout)
        ),
        settings,
        lambda: app.state.database,
        lambda: app.state.stripe,
    )
    return app
