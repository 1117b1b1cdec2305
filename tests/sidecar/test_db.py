"""The `Database` port: contract tests every adapter must pass (psycopg directly, and
supabase-py over HTTP to the Supabase stand-in's PostgREST), plus what is particular to each."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Callable

import psycopg
import pytest

from sidecar.app import open_database
from sidecar.db import (
    ArgumentsRefused,
    Database,
    JsonText,
    OwnedDatabase,
    PsycopgDatabase,
    SupabaseDatabase,
    json_args,
    rpc_query,
    rpc_text,
)
from sidecar.errors import DatabaseUnavailable
from standins.supabase.testing import StandIn as SupabaseStandIn
from standins.supabase.testing import running_standin as running_supabase
from tests.sidecar.conftest import (
    LESSON_FREE,
    LESSON_JOINS,
    as_service_role,
    checkout_session,
    event,
    make_settings,
    supabase_settings,
)

pytestmark = pytest.mark.anyio


async def test_jsonb_results_come_back_as_python_objects(
    adapter: Database, learner: uuid.UUID
) -> None:
    plan = await adapter.rpc("begin_checkout", {"p_user_id": learner, "p_lesson_id": LESSON_FREE})
    assert plan == {"action": "refuse", "reason": "free_lesson"}


async def test_null_result_is_none(adapter: Database, learner: uuid.UUID) -> None:
    row = await adapter.rpc(
        "checkout_session_for_user", {"p_user_id": learner, "p_session_id": "cs_test_nope"}
    )
    assert row is None


async def test_text_result_is_str_and_dict_args_are_jsonb(adapter: Database) -> None:
    outcome = await adapter.rpc(
        "sync_checkout_session",
        {"p_session": {"object": "checkout.session", "id": "cs_test_x", "metadata": {}}},
    )
    assert outcome == "ignored:not_a_lesson_checkout"


async def test_create_plan_names_the_database_price(adapter: Database, learner: uuid.UUID) -> None:
    plan = await adapter.rpc("begin_checkout", {"p_user_id": learner, "p_lesson_id": LESSON_JOINS})
    assert isinstance(plan, dict)
    assert plan["action"] == "create"
    assert (plan["lesson"]["price_cents"], plan["lesson"]["currency"]) == (1200, "usd")


async def test_a_nul_in_a_stripe_object_is_stored_not_refused(
    adapter: Database, learner: uuid.UUID
) -> None:
    # Postgres cannot store U+0000; a buyer-typed name with one must not wedge the webhook.
    session = checkout_session(user_id=learner, lesson_id=LESSON_JOINS)
    session["customer_details"] = {"name": "Nul\x00Name", "email": None}
    outcome = await adapter.rpc(
        "handle_stripe_event", {"p_event": event("checkout.session.completed", session)}
    )
    assert outcome == "recorded"


async def test_ping(adapter: Database) -> None:
    await adapter.ping()


def test_names_are_quoted_identifiers_never_spliced_text(database_url: str) -> None:
    query = rpc_query('x"); drop table lessons; --', {"p_a": 1, 'p"b': 2})
    with psycopg.connect(database_url) as conn:
        text = query.as_string(conn)
    assert text == ('select "public"."x""); drop table lessons; --"("p_a" => %s, "p""b" => %s)')
    # what the adapter sends: the same text, rendered once and kept
    sent = rpc_text('x"); drop table lessons; --', ("p_a", 'p"b'))
    assert sent == text.encode()
    assert rpc_text('x"); drop table lessons; --', ("p_a", 'p"b')) is sent


@pytest.mark.parametrize(
    "dead_adapter",
    [
        lambda: PsycopgDatabase("postgresql://postgres@127.0.0.1:9/none", timeout=0.5),
        lambda: SupabaseDatabase("http://127.0.0.1:9", "service-role-key", timeout=0.5),
    ],
    ids=["postgres unreachable", "postgrest unreachable"],
)
async def test_unreachable_is_database_unavailable(
    dead_adapter: Callable[[], OwnedDatabase],
) -> None:
    dead = dead_adapter()
    await dead.open()
    try:
        with pytest.raises(DatabaseUnavailable):
            await dead.rpc("handle_stripe_event", {"p_event": {}})
        with pytest.raises(DatabaseUnavailable):
            await dead.ping()
    finally:
        await dead.close()


async def test_postgrest_up_with_its_database_down_is_database_unavailable() -> None:
    with running_supabase("postgresql://postgres@127.0.0.1:9/none", pool_timeout=0.5) as api:
        database = SupabaseDatabase(api.url, api.service_role_key, timeout=5)
        await database.open()
        try:
            with pytest.raises(DatabaseUnavailable):
                await database.rpc("handle_stripe_event", {"p_event": {}})
            with pytest.raises(DatabaseUnavailable):
                await database.ping()
        finally:
            await database.close()


def test_uuid_and_nested_args_become_json() -> None:
    user = uuid.UUID("00000000-0000-4000-8000-0000000000aa")
    assert json_args({"p_user_id": user, "p_session": {"metadata": {"user_id": user}}}) == {
        "p_user_id": str(user),
        "p_session": {"metadata": {"user_id": str(user)}},
    }


def test_open_database_picks_the_adapter_the_settings_name(
    database_url: str, supabase_api: SupabaseStandIn
) -> None:
    assert isinstance(open_database(make_settings(database_url)), PsycopgDatabase)
    assert isinstance(
        open_database(supabase_settings(database_url, supabase_api)), SupabaseDatabase
    )


def event_text(event_id: str, extra: str = "") -> JsonText:
    text = (
        f'{{"id": "{event_id}", "object": "event", "type": "customer.created", "created": 1,'
        f' "data": {{"object": {{"id": "cus_1", "object": "customer"{extra}}}}}}}'
    )
    return JsonText(text, json.loads(text.replace("1e-100000", "0")))


@pytest.mark.parametrize(
    ("document", "sqlstate"),
    [
        # jsonb cannot hold the number (psycopg sends the text as it came)
        (event_text("evt_db_tiny_number", ', "balance": 1e-100000'), "22003"),
        # an id too long for the primary key's index (psycopg counts 54xxx as operational)
        (event_text("evt_" + secrets.token_urlsafe(6000).replace("-", "_")), "54000"),
    ],
    ids=["22003", "54000"],
)
async def test_arguments_postgres_refuses_are_not_an_outage(
    database_url: str, document: JsonText, sqlstate: str
) -> None:
    database = PsycopgDatabase(as_service_role(database_url), max_size=1, timeout=2)
    await database.open()
    try:
        with pytest.raises(ArgumentsRefused) as refused:
            await database.rpc("handle_stripe_event", {"p_event": document})
    finally:
        await database.close()
    assert refused.value.sqlstate == sqlstate
    assert document.value["id"][4:40] not in str(refused.value)


async def test_the_raw_text_is_stored_as_sent_but_for_nul(
    adapter: Database, database_url: str
) -> None:
    document = event_text(
        f"evt_db_raw_{uuid.uuid4().hex}",
        ', "n": 0.1000000000000000055511151231257827, "s": "a\\u0000b"',
    )
    assert await adapter.rpc("handle_stripe_event", {"p_event": document}) == "ignored"
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "select payload -> 'data' -> 'object' ->> 's' from public.stripe_events where id = %s",
            (document.value["id"],),
        ).fetchone()
    assert row == ("a\ufffdb",)


async def test_json_too_deep_to_reserialise_is_refused_not_a_500(
    supabase_api: SupabaseStandIn,
) -> None:
    deep: object = []
    for _ in range(5000):
        deep = [deep]
    document = JsonText('{"s": "\\u0000"}', {"s": "\x00", "deep": deep})
    database = SupabaseDatabase(supabase_api.url, supabase_api.service_role_key, timeout=2)
    await database.open()
    try:
        with pytest.raises(ArgumentsRefused) as refused:
            await database.rpc("handle_stripe_event", {"p_event": document})
    finally:
        await database.close()
    assert refused.value.sqlstate == "54001"


async def test_a_lock_timeout_while_applying_is_an_outage_and_stores_nothing(
    database_url: str, learner: uuid.UUID
) -> None:
    """Another transaction holds what the purchase must write: the call fails whole (503, so
    Stripe redelivers) rather than storing the event as an `error` the webhook acknowledges."""
    params = psycopg.conninfo.conninfo_to_dict(as_service_role(database_url))
    params["options"] = f"{params['options']} -c lock_timeout=200ms"
    database = PsycopgDatabase(psycopg.conninfo.make_conninfo(**params), max_size=1, timeout=2)  # type: ignore[arg-type]
    evt = event(
        "checkout.session.completed", checkout_session(user_id=learner, lesson_id=LESSON_JOINS)
    )
    await database.open()
    try:
        with psycopg.connect(database_url) as holder:
            holder.execute("lock table public.purchased_lessons in access exclusive mode")
            with pytest.raises(DatabaseUnavailable):
                await database.rpc("handle_stripe_event", {"p_event": evt})
        assert await database.rpc("handle_stripe_event", {"p_event": evt}) == "recorded"
    finally:
        await database.close()
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "select outcome, error from public.stripe_events where id = %s", (evt["id"],)
        ).fetchone()
    assert row == ("recorded", None)
