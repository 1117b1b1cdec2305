"""Fixtures for the sidecar: a real database (as service_role), signed webhooks, learners' tokens.

The app runs in-process on the test's own event loop: its lifespan (psycopg pool, Stripe client)
is entered directly and requests go through httpx's ASGI transport, so the pool and the requests
share one loop and concurrent requests really are concurrent. (Litestar's AsyncTestClient runs
the app in a separate portal thread and serves one request at a time, which would make the
concurrency tests below prove nothing.) Stripe objects in hand-made events are Stripe's
own examples (`standins/stripe/fixtures/fixtures3.json`) with fields overridden.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
import jwt
import psycopg
import pytest
from psycopg import conninfo

from sidecar.app import create_app
from sidecar.db import Database, OwnedDatabase, PsycopgDatabase, SupabaseDatabase
from sidecar.settings import Settings
from standins.serving import listening_socket, serving
from standins.stripe.objects import template
from standins.stripe.testing import StandIn, running_standin
from standins.supabase.testing import StandIn as SupabaseStandIn
from standins.supabase.testing import running_standin as running_supabase

JWT_SECRET = "sidecar-test-jwt-secret-0123456789abcdef"
WEBHOOK_SECRET = "whsec_sidecar_test_0123456789"
SITE_URL = "http://shop.test:3000"
# The Supabase URL the sidecar is told (when a test sets one) and the iss its tokens carry.
SUPABASE_URL = "http://127.0.0.1:54321"
TOKEN_ISSUER = f"{SUPABASE_URL}/auth/v1"
# Nothing listens here: tests that reach Stripe use the stand-in's URL instead.
UNREACHABLE_STRIPE = "http://127.0.0.1:9"

LESSON_JOINS = uuid.UUID("00000000-0000-4000-8000-000000000002")  # 1200 usd
LESSON_RLS = uuid.UUID("00000000-0000-4000-8000-000000000003")  # 2500 usd
LESSON_WEBHOOKS = uuid.UUID("00000000-0000-4000-8000-000000000004")  # 1900 usd
LESSON_FREE = uuid.UUID("00000000-0000-4000-8000-000000000001")
LESSON_UNPUBLISHED = uuid.UUID("00000000-0000-4000-8000-000000000007")

Client = httpx.AsyncClient


def as_service_role(url: str) -> str:
    """The same database, every session running as service_role (what the sidecar is granted)."""
    params = conninfo.conninfo_to_dict(url)
    params["options"] = "-c role=service_role"
    return conninfo.make_conninfo(**params)  # type: ignore[arg-type]


def make_settings(database_url: str, /, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "stripe_secret_key": "sk_test_sidecar",
        "stripe_webhook_secret": WEBHOOK_SECRET,
        "site_url": SITE_URL,
        "stripe_api_base": UNREACHABLE_STRIPE,
        "database_url": as_service_role(database_url),
        "supabase_jwt_secret": JWT_SECRET,
        "database_pool_max": 4,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@asynccontextmanager
async def running_client(
    settings: Settings, database: Database | None = None
) -> AsyncIterator[Client]:
    app = create_app(settings, database=database)
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with (
        app.lifespan(),
        Client(transport=transport, base_url="http://sidecar.test") as client,
    ):
        yield client


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[Client]:
    async with running_client(settings) as client:
        yield client


# --- database helpers (as the superuser the fixture built the database with) -------------------


def query(database_url: str, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        cursor = conn.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def new_learner(database_url: str) -> uuid.UUID:
    user_id = uuid.uuid4()
    query(
        database_url,
        "insert into auth.users (id, aud, role, email, created_at, updated_at) "
        "values (%s, 'authenticated', 'authenticated', %s, now(), now())",
        (user_id, f"learner-{user_id.hex[:8]}@example.com"),
    )
    return user_id


@pytest.fixture
def learner(database_url: str) -> uuid.UUID:
    return new_learner(database_url)


def purchase_status(database_url: str, user_id: uuid.UUID, lesson_id: uuid.UUID) -> str | None:
    rows = query(
        database_url,
        "select status from public.purchased_lessons where user_id = %s and lesson_id = %s",
        (user_id, lesson_id),
    )
    return rows[0][0] if rows else None


def purchase_count(database_url: str, user_id: uuid.UUID) -> int:
    rows = query(
        database_url, "select count(*) from public.purchased_lessons where user_id = %s", (user_id,)
    )
    return int(rows[0][0])


def stored_event(database_url: str, event_id: str) -> tuple[str | None, str | None] | None:
    rows = query(
        database_url, "select outcome, error from public.stripe_events where id = %s", (event_id,)
    )
    return (rows[0][0], rows[0][1]) if rows else None


# --- tokens ---------------------------------------------------------------------------------


def access_token(
    user_id: uuid.UUID | str,
    *,
    secret: str = JWT_SECRET,
    expires_in: int = 3600,
    audience: str = "authenticated",
    role: str = "authenticated",
    **overrides: Any,
) -> str:
    """An access token shaped like GoTrue's (HS256, the project's JWT secret).

    `overrides` replace claims; an override of None leaves the claim out.
    """
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": TOKEN_ISSUER,
        "sub": str(user_id),
        "aud": audience,
        "exp": now + expires_in,
        "iat": now - 10,
        "email": "learner@example.com",
        "role": role,
        "aal": "aal1",
        "session_id": str(uuid.uuid4()),
        "is_anonymous": False,
    }
    claims.update(overrides)
    claims = {name: value for name, value in claims.items() if value is not None}
    return jwt.encode(claims, secret, algorithm="HS256")


def bearer(user_id: uuid.UUID | str, **kwargs: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token(user_id, **kwargs)}"}


# --- Stripe objects and signed webhooks ------------------------------------------------------


def stripe_id(prefix: str) -> str:
    return prefix + secrets.token_hex(12)


def checkout_session(
    *,
    user_id: uuid.UUID,
    lesson_id: uuid.UUID,
    amount_total: int = 1200,
    currency: str = "usd",
    status: str = "complete",
    payment_status: str = "paid",
    session_id: str | None = None,
    payment_intent: str | None = None,
) -> dict[str, Any]:
    """A Checkout Session as Stripe sends it in checkout.session.* events."""
    now = int(time.time())
    obj = template("checkout.session")
    obj.update(
        id=session_id or stripe_id("cs_test_"),
        object="checkout.session",
        amount_subtotal=amount_total,
        amount_total=amount_total,
        # no discount: the fixture's example total_details do not add up to its amounts
        total_details={"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        discounts=[],
        currency=currency,
        client_reference_id=str(user_id),
        metadata={"user_id": str(user_id), "lesson_id": str(lesson_id)},
        mode="payment",
        status=status,
        payment_status=payment_status,
        payment_intent=payment_intent if payment_intent else stripe_id("pi_test_"),
        created=now - 60,
        expires_at=now + 3600,
        success_url=f"{SITE_URL}/lessons/x?checkout=success&session_id={{CHECKOUT_SESSION_ID}}",
        cancel_url=f"{SITE_URL}/lessons/x?checkout=cancelled",
        url=None if status != "open" else "https://checkout.stripe.com/c/pay/x",
    )
    return obj


def charge(*, payment_intent: str, amount: int = 1200, refunded: bool = True) -> dict[str, Any]:
    obj = template("charge")
    obj.update(
        id=stripe_id("ch_test_"),
        amount=amount,
        amount_captured=amount,
        amount_refunded=amount if refunded else amount // 2,
        captured=True,
        currency="usd",
        paid=True,
        payment_intent=payment_intent,
        refunded=refunded,
        status="succeeded",
    )
    return obj


def event(
    event_type: str, data_object: dict[str, Any], *, created: int | None = None
) -> dict[str, Any]:
    obj = template("event")
    obj.update(
        id=stripe_id("evt_test_"),
        api_version="2026-10-28.endive",
        created=created if created is not None else int(time.time()),
        data={"object": copy.deepcopy(data_object)},
        type=event_type,
        livemode=False,
    )
    return obj


def signature_header(
    payload: bytes, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None
) -> str:
    """`t=…,v1=…` exactly as Stripe computes it (and as stripe-python's own tests do)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def signed(event_obj: dict[str, Any], **kwargs: Any) -> tuple[bytes, dict[str, str]]:
    payload = json.dumps(event_obj).encode()
    return payload, {
        "Stripe-Signature": signature_header(payload, **kwargs),
        "Content-Type": "application/json",
    }


async def deliver(client: Client, event_obj: dict[str, Any]) -> httpx.Response:
    payload, headers = signed(event_obj)
    return await client.post("/v1/webhooks/stripe", content=payload, headers=headers)


# --- servers on real sockets: the Stripe stand-in, and the sidecar under uvicorn ---------------


@pytest.fixture(scope="session")
def standin() -> Iterator[StandIn]:
    """One Stripe stand-in for the session (no webhook endpoints; tests add their own)."""
    with running_standin() as server:
        yield server


@pytest.fixture(scope="session")
def supabase_api(database_url: str) -> Iterator[SupabaseStandIn]:
    """The Supabase API stand-in over the session's database, for the PostgREST adapter."""
    with running_supabase(database_url) as api:
        yield api


def supabase_settings(database_url: str, api: SupabaseStandIn, /, **overrides: Any) -> Settings:
    """Settings with no DATABASE_URL: the sidecar reaches SQL through PostgREST only."""
    values: dict[str, Any] = {
        "database_url": None,
        "supabase_url": api.url,
        "supabase_secret_key": api.secret_key,
    }
    return make_settings(database_url, **{**values, **overrides})


@contextmanager
def running_sidecar(settings: Settings) -> Iterator[str]:
    """The sidecar served by uvicorn on a free port in a thread (its own event loop and pool)."""
    with serving(create_app(settings), listening_socket(), "sidecar") as base:
        yield base


@pytest.fixture(params=["psycopg", "supabase"])
async def adapter(request: pytest.FixtureRequest, database_url: str) -> AsyncIterator[Database]:
    """Each database adapter in turn: psycopg directly, and supabase-py through PostgREST."""
    database: OwnedDatabase
    if request.param == "psycopg":
        database = PsycopgDatabase(as_service_role(database_url), max_size=2, timeout=2)
    else:
        api: SupabaseStandIn = request.getfixturevalue("supabase_api")
        database = SupabaseDatabase(api.url, api.secret_key, timeout=2)
    await database.open()
    try:
        yield database
    finally:
        await database.close()
