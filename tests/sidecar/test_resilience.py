"""The database going away mid-request, and several sidecar replicas racing on the same events."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio
import anyio.to_thread
import httpx
import psycopg
import pytest

from sidecar.settings import Settings
from standins.serving import free_port
from tests.sidecar.conftest import (
    JWT_SECRET,
    LESSON_JOINS,
    SITE_URL,
    UNREACHABLE_STRIPE,
    WEBHOOK_SECRET,
    Client,
    as_service_role,
    bearer,
    checkout_session,
    deliver,
    event,
    make_settings,
    new_learner,
    purchase_count,
    purchase_status,
    running_client,
    running_sidecar,
    signed,
    stored_event,
)
from tests.sidecar.proxy import CuttableProxy

pytestmark = pytest.mark.anyio


@pytest.fixture
def proxy(database_url: str) -> Iterator[CuttableProxy]:
    with CuttableProxy.in_front_of(database_url) as proxy:
        yield proxy


def through_proxy(database_url: str, proxy: CuttableProxy) -> Settings:
    return make_settings(
        database_url,
        database_url=as_service_role(proxy.url_through(database_url)),
        database_pool_timeout=1.0,
    )


async def test_database_cut_mid_request_is_503_and_redelivery_settles_it_once(
    database_url: str, proxy: CuttableProxy, learner: uuid.UUID
) -> None:
    session = checkout_session(user_id=learner, lesson_id=LESSON_JOINS)
    paid = event("checkout.session.completed", session)
    async with running_client(through_proxy(database_url, proxy)) as client:
        assert (await client.get("/readyz")).status_code == 200

        # Hold the event's row in an open transaction so the sidecar's insert waits on it,
        # then cut the line while that call is in flight.
        with psycopg.connect(database_url) as blocker:
            blocker.execute(
                "insert into public.stripe_events (id, type, created, payload) "
                "values (%s, 'x', now(), '{}')",
                (paid["id"],),
            )
            result: dict[str, httpx.Response] = {}

            async def send() -> None:
                result["response"] = await deliver(client, paid)

            async with anyio.create_task_group() as group:
                group.start_soon(send)
                await wait_for_waiting_query(database_url)
                proxy.cut()
            blocker.rollback()

        response = result["response"]
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "database_unavailable"
        down = await client.get("/readyz")
        assert down.status_code == 503
        assert down.json()["error"]["code"] == "database_unavailable"

        # The server may still have finished the call after the line went (the answer was
        # lost, not the work); either way Stripe's redelivery settles it exactly once.
        proxy.restore()
        redelivered = await redeliver_like_stripe(client, paid)
        assert redelivered.json()["outcome"] in {"recorded", "duplicate"}
        again = await deliver(client, paid)
        assert again.json()["outcome"] == "duplicate"
    assert purchase_count(database_url, learner) == 1
    assert purchase_status(database_url, learner, LESSON_JOINS) == "paid"
    assert stored_event(database_url, paid["id"]) == ("recorded", None)


async def test_database_unreachable_is_503_stores_nothing_then_redelivery_records(
    database_url: str, proxy: CuttableProxy, learner: uuid.UUID
) -> None:
    paid = event(
        "checkout.session.completed", checkout_session(user_id=learner, lesson_id=LESSON_JOINS)
    )
    async with running_client(through_proxy(database_url, proxy)) as client:
        assert (await client.get("/readyz")).status_code == 200
        proxy.cut()
        refused = await deliver(client, paid)
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "database_unavailable"
        assert stored_event(database_url, paid["id"]) is None

        proxy.restore()
        redelivered = await redeliver_like_stripe(client, paid)
        assert redelivered.json()["outcome"] == "recorded"
        assert (await client.get("/readyz")).status_code == 200
    assert purchase_status(database_url, learner, LESSON_JOINS) == "paid"


async def redeliver_like_stripe(client: Client, event_obj: dict[str, Any]) -> httpx.Response:
    """Retry on 503 as Stripe does (faster): the pool may take a moment to reconnect."""
    for _ in range(20):
        response = await deliver(client, event_obj)
        if response.status_code != 503:
            assert response.status_code == 200
            return response
        await anyio.sleep(0.25)
    raise AssertionError("still 503 five seconds after the database came back")


async def wait_for_waiting_query(database_url: str) -> None:
    """Until the sidecar's call is blocked on the held row lock."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with psycopg.connect(database_url, autocommit=True) as conn:
            row = conn.execute(
                "select count(*) from pg_stat_activity "
                "where application_name = 'lesson-shop-sidecar' and wait_event_type = 'Lock'"
            ).fetchone()
        if row and row[0] > 0:
            return
        await anyio.sleep(0.02)
    raise TimeoutError("the sidecar's query never waited on the lock")


async def test_checkout_while_the_database_is_down_is_503(
    database_url: str, proxy: CuttableProxy, learner: uuid.UUID
) -> None:
    proxy.cut()
    async with running_client(through_proxy(database_url, proxy)) as client:
        response = await client.post(
            "/v1/checkout/sessions", json={"lesson_id": str(LESSON_JOINS)}, headers=bearer(learner)
        )
        status = await client.get("/v1/checkout/sessions/cs_test_x", headers=bearer(learner))
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "database_unavailable"
    assert status.status_code == 503


async def test_database_down_at_start_up_still_serves_liveness(
    database_url: str, proxy: CuttableProxy
) -> None:
    proxy.cut()
    async with running_client(through_proxy(database_url, proxy)) as client:
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/readyz")).status_code == 503


async def test_two_replicas_receiving_the_same_events_record_one_purchase(
    database_url: str, learner: uuid.UUID
) -> None:
    settings = make_settings(database_url)
    session = checkout_session(user_id=learner, lesson_id=LESSON_JOINS)
    completed = event("checkout.session.completed", session)
    succeeded = event("checkout.session.async_payment_succeeded", session)
    deliveries = [signed(e) for e in (completed, succeeded) for _ in range(3)]
    outcomes: list[str] = []
    lock = threading.Lock()

    with running_sidecar(settings) as first, running_sidecar(settings) as second:

        def post(base: str, payload: bytes, headers: dict[str, str]) -> None:
            response = httpx.post(f"{base}/v1/webhooks/stripe", content=payload, headers=headers)
            assert response.status_code == 200
            with lock:
                outcomes.append(response.json()["outcome"])

        async with anyio.create_task_group() as group:
            for payload, headers in deliveries:
                for base in (first, second):
                    group.start_soon(anyio.to_thread.run_sync, post, base, payload, headers)

    assert purchase_count(database_url, learner) == 1
    assert purchase_status(database_url, learner, LESSON_JOINS) == "paid"
    assert outcomes.count("recorded") == 1
    assert set(outcomes) <= {"recorded", "duplicate"}


def test_two_sidecar_processes_receiving_the_same_events_record_one_purchase_each(
    database_url: str,
) -> None:
    learners = [new_learner(database_url) for _ in range(10)]
    deliveries = []
    for learner in learners:
        session = checkout_session(user_id=learner, lesson_id=LESSON_JOINS)
        completed = signed(event("checkout.session.completed", session))
        succeeded = signed(event("checkout.session.async_payment_succeeded", session))
        deliveries += [completed, succeeded, completed]  # and Stripe retries one
    env = {
        **os.environ,
        "STRIPE_SECRET_KEY": "sk_test_sidecar",
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_API_BASE": UNREACHABLE_STRIPE,
        "SITE_URL": SITE_URL,
        "DATABASE_URL": as_service_role(database_url),
        "SUPABASE_JWT_SECRET": JWT_SECRET,
        "LOG_LEVEL": "WARNING",
        # two processes of one worker each: the race is between processes
        "SIDECAR_WORKERS": "1",
    }
    ports = [free_port(), free_port()]
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "sidecar.cli"],
            env={**env, "PORT": str(port)},
            cwd="/",  # no .env there
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    try:
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        for base in bases:
            wait_until_live(base)
        jobs = [(base, delivery) for delivery in deliveries for base in bases]
        with ThreadPoolExecutor(max_workers=16) as pool:
            answers = list(
                pool.map(
                    lambda job: httpx.post(
                        f"{job[0]}/v1/webhooks/stripe", content=job[1][0], headers=job[1][1]
                    ),
                    jobs,
                )
            )
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)
    assert {answer.status_code for answer in answers} == {200}
    outcomes = [answer.json()["outcome"] for answer in answers]
    assert outcomes.count("recorded") == len(learners)
    assert set(outcomes) == {"recorded", "duplicate"}
    for learner in learners:
        assert purchase_count(database_url, learner) == 1
        assert purchase_status(database_url, learner, LESSON_JOINS) == "paid"


def wait_until_live(base: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise TimeoutError(f"no sidecar answered at {base}")
