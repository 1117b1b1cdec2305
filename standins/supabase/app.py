"""`create_app(config)`: the Supabase API stand-in as one Litestar app over one psycopg pool."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from litestar import Litestar, Request, Response, post
from litestar.di import Provide
from litestar.exceptions import HTTPException

from standins.supabase import admin, auth, recovery, rest, storage
from standins.supabase.config import StandInConfig
from standins.supabase.cors import gateway_cors
from standins.supabase.database import make_pool
from standins.supabase.errors import (
    AuthError,
    GatewayError,
    RestError,
    auth_error,
    gateway_error,
    rest_error,
)
from standins.supabase.grammar import not_implemented
from standins.supabase.signing import SigningKeys
from standins.supabase.storage_errors import StorageError, storage_error


def _not_found(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    path = request.url.path
    if path.startswith("/rest/v1/") and exc.status_code in (404, 405):
        # No route here means PostgREST's own refusals: a method it does not serve there,
        # or a path it does not know.
        method = request.method
        if path == "/rest/v1/":
            error = not_implemented("the OpenAPI description at the root")
        elif exc.status_code == 404:
            error = RestError(404, "PGRST125", "Invalid path specified in request URL")
        elif path.startswith("/rest/v1/rpc/"):
            error = RestError(405, "PGRST101", f"Cannot use the {method} method on RPC")
        else:
            error = RestError(405, "PGRST117", f"Unsupported HTTP method: {method}")
        return rest_error(request, error)
    if path.startswith(f"{storage.PREFIX}/"):
        return storage.http_error(request, exc)
    # What Supabase's gateway answers for a path no service is routed at.
    return Response(
        content={"message": "no Route matched with those values"}, status_code=exc.status_code
    )


@post("/_standin/signing-keys/rotate", status_code=200)
async def rotate_signing_key(request: Request[Any, Any, Any]) -> Response[Any]:
    """The stand-in's control (the dashboard's "rotate keys"): a new key signs from now on;
    the old one stays published, and accepted, until the tokens it signed have expired."""
    keys: SigningKeys = request.app.state.signing_keys
    try:
        kid = keys.rotate()
    except ValueError as exc:
        return Response(content={"error": str(exc)}, status_code=409)
    published = [key["kid"] for key in keys.jwks()["keys"]]
    return Response(content={"current_kid": kid, "published": published})


@post("/_standin/signing-keys/standby", status_code=200)
async def add_standby_signing_key(request: Request[Any, Any, Any]) -> Response[Any]:
    """The dashboard's "create standby key": published now, signing after the next rotation."""
    keys: SigningKeys = request.app.state.signing_keys
    try:
        kid = keys.add_standby()
    except ValueError as exc:
        return Response(content={"error": str(exc)}, status_code=409)
    published = [key["kid"] for key in keys.jwks()["keys"]]
    return Response(content={"standby_kid": kid, "published": published})


def create_app(config: StandInConfig) -> Litestar:
    """The stand-in; its pool is opened by the lifespan and kept on `app.state.pool`, its
    signing keys on `app.state.signing_keys`."""
    pool = make_pool(config)
    signing_keys = SigningKeys(
        algorithm=config.signing_algorithm,
        legacy_secret=config.jwt_secret,
        token_lifetime=config.jwt_expiry_seconds,
        path=config.signing_keys_file,
    )

    @contextlib.asynccontextmanager
    async def database(app: Litestar) -> AsyncIterator[None]:
        # wait=False: start while the database is down; requests answer 503/500 until it is up.
        await pool.open(wait=False)
        app.state.pool = pool
        try:
            yield
        finally:
            await pool.close()

    def provide_config() -> StandInConfig:
        return config

    app = Litestar(
        route_handlers=[
            auth.ROUTER,
            recovery.ROUTER,
            admin.ROUTER,
            rest.ROUTER,
            storage.ROUTER,
            rotate_signing_key,
            add_standby_signing_key,
        ],
        dependencies={"config": Provide(provide_config, sync_to_thread=False)},
        exception_handlers={
            GatewayError: gateway_error,
            AuthError: auth_error,
            RestError: rest_error,
            StorageError: storage_error,
            HTTPException: _not_found,
        },
        lifespan=[database],
        openapi_config=None,
    )
    app.state.signing_keys = signing_keys
    # Outside the router, as the gateway sits in front of the services: preflights and
    # CORS headers for every path under /auth/v1 and /rest/v1, routed or not.
    app.asgi_handler = gateway_cors(app.asgi_handler)
    return app
