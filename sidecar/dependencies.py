"""What handlers receive, taken from app.state (filled by the lifespan) and never from globals."""

from __future__ import annotations

import stripe
from litestar.datastructures import State
from litestar.di import Provide

from sidecar.db import Database
from sidecar.settings import Settings


def provide_settings(state: State) -> Settings:
    settings: Settings = state.settings
    return settings


def provide_database(state: State) -> Database:
    database: Database = state.database
    return database


def provide_stripe(state: State) -> stripe.StripeClient:
    client: stripe.StripeClient = state.stripe
    return client


DEPENDENCIES = {
    "settings": Provide(provide_settings, sync_to_thread=False),
    "database": Provide(provide_database, sync_to_thread=False),
    "stripe_client": Provide(provide_stripe, sync_to_thread=False),
}
