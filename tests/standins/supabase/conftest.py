"""The Supabase stand-in served on a free port over the session's throwaway database, and the
official supabase-py client pointed at it, as an app would use it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest

from standins.supabase.testing import StandIn, running_standin
from supabase import Client, ClientOptions, create_client

PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="session")
def api(database_url: str) -> Iterator[StandIn]:
    with running_standin(database_url) as standin:
        yield standin


def client(api: StandIn, key: str | None = None) -> Client:
    # No background refresh timer: each test decides when a token is refreshed.
    options = ClientOptions(auto_refresh_token=False, persist_session=False)
    return create_client(api.url, key or api.publishable_key, options)


@dataclass(frozen=True)
class Learner:
    id: uuid.UUID
    email: str
    client: Client
    access_token: str
    refresh_token: str


def sign_up(api: StandIn) -> Learner:
    learner_client = client(api)
    email = f"learner-{uuid.uuid4().hex[:10]}@example.com"
    response = learner_client.auth.sign_up({"email": email, "password": PASSWORD})
    assert response.session is not None
    assert response.user is not None
    return Learner(
        uuid.UUID(response.user.id),
        email,
        learner_client,
        response.session.access_token,
        response.session.refresh_token,
    )


@pytest.fixture
def learner(api: StandIn) -> Learner:
    return sign_up(api)


def query(database_url: str, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        cursor = conn.execute(statement, params)
        return cursor.fetchall() if cursor.description else []
