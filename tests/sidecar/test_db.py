"""The `Database` port: contract tests every adapter must pass (psycopg directly, and
supabase-py over HTTP to the Supabase stand-in's PostgREST), plus what is particular to each."""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from sidecar.app import open_database
from sidecar.contracts import (
    ATTACH_CHECKOUT_SESSION,
    BEGIN_CHECKOUT,
    CHECKOUT_SESSION_FOR_USER,
    CLAIM_EARLY_FRAUD_WARNING_REFUNDS,
    AlreadyAttached,
    Attached,
    AttachRejected,
    CheckoutPlan,
    CreateSession,
    FraudRefund,
    JsonFunction,
    PlannedLesson,
    RefreshSessions,
    RefuseCheckout,
    ReuseSession,
    StoredCheckoutSession,
    UnexpectedResult,
)
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


# --- typed contracts: each shape a JSON-answering function has, decoded from real SQL ----------


def open_session(learner: uuid.UUID, **changes: Any) -> dict[str, Any]:
    """A Checkout Session as Stripe answers its creation: open, unpaid, payable for an hour."""
    session = checkout_session(
        user_id=learner, lesson_id=LESSON_JOINS, status="open", payment_status="unpaid"
    )
    session["payment_intent"] = None
    return session | changes


async def test_begin_checkout_refusing_decodes_as_refuse(
    adapter: Database, learner: uuid.UUID
) -> None:
    plan = await adapter.call(BEGIN_CHECKOUT, {"p_user_id": learner, "p_lesson_id": LESSON_FREE})
    assert plan == RefuseCheckout(reason="free_lesson")


async def test_begin_checkout_creating_decodes_with_the_database_price(
    adapter: Database, learner: uuid.UUID
) -> None:
    plan = await adapter.call(BEGIN_CHECKOUT, {"p_user_id": learner, "p_lesson_id": LESSON_JOINS})
    assert isinstance(plan, CreateSession)
    assert plan.lesson == PlannedLesson(
        id=LESSON_JOINS,
        slug=plan.lesson.slug,
        title=plan.lesson.title,
        description=plan.lesson.description,
        price_cents=1200,
        currency="usd",
        stripe_price_id=None,
    )
    assert plan.idempotency_key.startswith(f"lesson-checkout:{learner}:{LESSON_JOINS}:")
    assert plan.customer_email == f"learner-{learner.hex[:8]}@example.com"
    assert plan.stripe_customer_id is None


async def test_attach_and_reuse_decode_as_their_shapes(
    adapter: Database, learner: uuid.UUID
) -> None:
    session = open_session(learner)
    first = await adapter.call(ATTACH_CHECKOUT_SESSION, {"p_session": session})
    again = await adapter.call(ATTACH_CHECKOUT_SESSION, {"p_session": session})
    assert first == Attached(id=session["id"], url=session["url"])
    assert again == AlreadyAttached(id=session["id"], url=session["url"])
    plan = await adapter.call(BEGIN_CHECKOUT, {"p_user_id": learner, "p_lesson_id": LESSON_JOINS})
    assert plan == ReuseSession(session_id=session["id"], url=session["url"])


async def test_attach_rejecting_decodes_with_its_reason(
    adapter: Database, learner: uuid.UUID
) -> None:
    session = open_session(learner, amount_total=1, amount_subtotal=1)
    attached = await adapter.call(ATTACH_CHECKOUT_SESSION, {"p_session": session})
    assert attached == AttachRejected(reason="amount_mismatch", id=session["id"], url=None)


async def test_begin_checkout_refreshing_decodes_with_the_sessions_to_settle(
    adapter: Database, learner: uuid.UUID
) -> None:
    expiring = open_session(learner, expires_at=int(time.time()) + 30)
    await adapter.call(ATTACH_CHECKOUT_SESSION, {"p_session": expiring})
    plan = await adapter.call(BEGIN_CHECKOUT, {"p_user_id": learner, "p_lesson_id": LESSON_JOINS})
    assert plan == RefreshSessions(session_ids=[expiring["id"]])


async def test_checkout_session_for_user_decodes_as_the_row_or_none(
    adapter: Database, learner: uuid.UUID
) -> None:
    session = open_session(learner)
    await adapter.call(ATTACH_CHECKOUT_SESSION, {"p_session": session})
    mine = await adapter.call(
        CHECKOUT_SESSION_FOR_USER, {"p_user_id": learner, "p_session_id": session["id"]}
    )
    theirs = await adapter.call(
        CHECKOUT_SESSION_FOR_USER, {"p_user_id": uuid.uuid4(), "p_session_id": session["id"]}
    )
    assert mine == StoredCheckoutSession(
        id=session["id"],
        lesson_id=LESSON_JOINS,
        status="open",
        payment_status="unpaid",
        seconds_since_sync=None,
        owned=False,
    )
    assert theirs is None


async def test_an_early_fraud_warning_refund_is_claimed_once_and_decodes(
    adapter: Database, learner: uuid.UUID
) -> None:
    """A warning on a paid purchase, through handle_early_fraud_warning with its boolean; the
    refund it decides decodes as a FraudRefund, and a second claim meanwhile gets none."""
    paid = checkout_session(user_id=learner, lesson_id=LESSON_JOINS)
    await adapter.rpc("handle_stripe_event", {"p_event": event("checkout.session.completed", paid)})
    warning = {
        "id": f"issfr_{secrets.token_hex(8)}",
        "object": "radar.early_fraud_warning",
        "actionable": True,
        "charge": f"ch_{secrets.token_hex(8)}",
        "created": int(time.time()),
        "fraud_type": "made_with_stolen_card",
        "livemode": False,
        "payment_intent": paid["payment_intent"],
    }
    warned = event("radar.early_fraud_warning.created", warning)
    outcome = await adapter.rpc(
        "handle_early_fraud_warning", {"p_event": warned, "p_auto_refund": True}
    )
    assert outcome == "revoked"
    claimed = await adapter.call(CLAIM_EARLY_FRAUD_WARNING_REFUNDS, {"p_event_id": warned["id"]})
    assert claimed == [
        FraudRefund(
            payment_intent=paid["payment_intent"],
            charge=warning["charge"],
            early_fraud_warning=warning["id"],
            amount=1200,
            currency="usd",
            idempotency_key=f"efw-refund-{warning['id']}",
        )
    ]
    claim = {"p_event_id": warned["id"]}
    assert await adapter.call(CLAIM_EARLY_FRAUD_WARNING_REFUNDS, claim) == []
    finish = {"p_payment_intent": paid["payment_intent"], "p_refund_id": None}
    released = await adapter.rpc(
        "finish_early_fraud_warning_refund", finish | {"p_refused_code": None}
    )
    assert released == "released"
    assert await adapter.call(CLAIM_EARLY_FRAUD_WARNING_REFUNDS, claim) == claimed
    # leave nothing due for other tests' reconcile: Stripe "refused" it
    refused = {"p_refused_code": "charge_disputed"}
    assert await adapter.rpc("finish_early_fraud_warning_refund", finish | refused) == "refused"


@pytest.fixture
def unknown_plan(database_url: str) -> Iterator[JsonFunction[CheckoutPlan]]:
    """A SQL function answering a begin_checkout plan of an action the sidecar does not know."""
    name = f"test_plan_{uuid.uuid4().hex[:12]}"
    plan = json.dumps({"action": "teleport", "session_id": "cs_test_1", "url": "x"})
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            f"create function public.{name}() returns jsonb language sql"
            f" as $$ select '{plan}'::jsonb $$"
        )
        conn.execute(f"grant execute on function public.{name}() to service_role")
        try:
            yield JsonFunction(name, CheckoutPlan)
        finally:
            conn.execute(f"drop function public.{name}()")


async def test_a_shape_the_contract_does_not_know_fails_loudly(
    adapter: Database, unknown_plan: JsonFunction[CheckoutPlan]
) -> None:
    with pytest.raises(UnexpectedResult, match="teleport") as failed:
        await adapter.call(unknown_plan, {})
    assert failed.value.function == unknown_plan.name


@pytest.mark.parametrize(
    "answer",
    [
        {"action": "teleport"},
        {"action": "reuse", "session_id": "cs_test_1"},
        {"action": "refuse", "reason": "out_of_stock"},
        {"action": "refresh", "session_ids": "cs_test_1"},
        {"session_id": "cs_test_1", "url": "x"},
        None,
    ],
    ids=["unknown tag", "missing field", "unknown literal", "mistyped field", "no tag", "null"],
)
def test_every_unknown_shape_is_unexpected_decoded_either_way(answer: object) -> None:
    with pytest.raises(UnexpectedResult):
        BEGIN_CHECKOUT.decode_value(answer)
    with pytest.raises(UnexpectedResult):
        BEGIN_CHECKOUT.decode_json(None if answer is None else json.dumps(answer))


def test_an_attach_outcome_is_never_taken_for_another() -> None:
    rejected = {"outcome": "rejected", "reason": "contradiction", "id": "cs_test_1", "url": None}
    assert isinstance(ATTACH_CHECKOUT_SESSION.decode_value(rejected), AttachRejected)
    for word in ("rejected:contradiction", "Attached", "attached "):
        with pytest.raises(UnexpectedResult):
            ATTACH_CHECKOUT_SESSION.decode_value({**rejected, "outcome": word})


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
        database = SupabaseDatabase(api.url, api.secret_key, timeout=5)
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
    database = SupabaseDatabase(supabase_api.url, supabase_api.secret_key, timeout=2)
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
