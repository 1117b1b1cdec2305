"""What handlers receive, taken from app.state (filled by the lifespan) and never from globals.

Each provider after the first takes the one before it, although it does not need it: Litestar
resolves the dependencies of one level concurrently, in an anyio task group per request, which
for three attribute reads cost about a tenth of a webhook's CPU. Chained, they resolve one
after another with no task group.
"""

from __future__ import annotations

import stripe
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide

from sidecar.db import Database
from sidecar.settings import Settings


def provide_settings(state: State) -> Settings:
    settings: Settings = state.settings
    return settings


def provide_database(state: State, settings: NamedDependency[Settings]) -> Database:
    database: Database = state.database
    return database


def provide_stripe(state: State, database: NamedDependency[Database]) -> stripe.StripeClient:
    client: stripe.StripeClient = state.stripe
    return client


DEPENDENCIES = {
    "settings": Provide(provide_settings, sync_to_thread=False),
    "database": Provide(provide_database, sync_to_thread=False),
    "stripe_client": Provide(provide_stripe, sync_to_thread=False),
}
