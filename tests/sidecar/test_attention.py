"""`sidecar attention` and `sidecar resolve`: the operator's attention list, read and resolved
through the commands against a real database seeded with items that need a person."""

from __future__ import annotations

import getpass
import json
import os
import subprocess
import sys
import uuid
from datetime import timedelta
from typing import Any

from psycopg.types.json import Jsonb

from sidecar.attention import format_age, format_amount
from tests.sidecar.conftest import (
    LESSON_JOINS,
    as_service_role,
    checkout_session,
    event,
    query,
    stripe_id,
)


def sidecar(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "STRIPE_SECRET_KEY": "sk_test_attention",
        "STRIPE_WEBHOOK_SECRET": "whsec_attention",
        "STRIPE_API_BASE": "http://127.0.0.1:9",
        "SITE_URL": "http://shop.test:3000",
        "DATABASE_URL": as_service_role(database_url),
        "SUPABASE_JWT_SECRET": "unused-here",
    }
    return subprocess.run(
        [sys.executable, "-m", "sidecar.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def email_of(database_url: str, user_id: uuid.UUID) -> str:
    return str(query(database_url, "select email from auth.users where id = %s", (user_id,))[0][0])


def rejected_payment(database_url: str, learner: uuid.UUID) -> str:
    """A learner charged 9.99 USD for the 12.00 USD lesson: rejected, listed. Its item id."""
    session = checkout_session(user_id=learner, lesson_id=LESSON_JOINS, amount_total=999)
    outcome = query(
        database_url,
        "select public.handle_stripe_event(%s)",
        (Jsonb(event("checkout.session.completed", session)),),
    )[0][0]
    assert outcome == "rejected:amount_mismatch"
    query(
        database_url,
        "update public.checkout_sessions set paid_at = now() - interval '3 hours 5 minutes'"
        " where id = %s",
        (session["id"],),
    )
    return f"checkout_session:{session['id']}"


def unmatched_session(database_url: str, learner: uuid.UUID) -> str:
    """A paid session reconcile reads back whose metadata names no learner. Its item id."""
    session = checkout_session(user_id=learner, lesson_id=LESSON_JOINS)
    session["metadata"]["user_id"] = "someone"
    outcome = query(
        as_service_role(database_url), "select public.sync_checkout_session(%s)", (Jsonb(session),)
    )
    assert outcome == [("rejected:bad_metadata",)]
    return f"unmatched_session:{session['id']}"


def resolution(database_url: str, item_id: str) -> tuple[Any, ...] | None:
    rows = query(
        database_url,
        "select note, resolved_by from public.attention_resolutions where item_id = %s",
        (item_id,),
    )
    return rows[0] if rows else None


def test_attention_prints_one_line_per_item_with_age_what_email_amount_and_action(
    database_url: str, learner: uuid.UUID
) -> None:
    rejected = rejected_payment(database_url, learner)
    unmatched = unmatched_session(database_url, learner)

    result = sidecar(database_url, "attention")

    assert result.returncode == 0, result.stderr
    lines = {line.split("  ")[0]: line for line in result.stdout.splitlines()}
    assert lines[rejected] == (
        f"{rejected}  3h 5m ago  Paid but not granted: the amount differs from the lesson's price"
        f"  {email_of(database_url, learner)}  9.99 USD  → Refund the payment in Stripe (the item"
        " leaves once refunded), or grant the lesson by hand and resolve it"
    )
    assert lines[unmatched].startswith(f"{unmatched}  <1m ago  Paid but not recorded: its metadata")
    assert "  learner unknown  12.00 USD  → Refund the payment in Stripe" in lines[unmatched]


def test_attention_json_gives_every_field_of_each_item(
    database_url: str, learner: uuid.UUID
) -> None:
    rejected = rejected_payment(database_url, learner)

    result = sidecar(database_url, "attention", "--json")

    assert result.returncode == 0, result.stderr
    items = {item["id"]: item for item in json.loads(result.stdout)}
    item = items[rejected]
    assert item["source"] == "checkout_session"
    assert item["reason"] == "rejected:amount_mismatch"
    assert item["email"] == email_of(database_url, learner)
    assert (item["amount_total"], item["currency"]) == (999, "usd")
    assert item["user_id"] == str(learner)
    assert item["lesson_id"] == str(LESSON_JOINS)
    assert 3 * 3600 + 5 * 60 <= item["age_seconds"] < 3 * 3600 + 10 * 60
    assert item["suggested_action"].startswith("Refund the payment in Stripe")


def test_resolve_records_who_and_why_and_the_item_leaves_the_list(
    database_url: str, learner: uuid.UUID
) -> None:
    rejected = rejected_payment(database_url, learner)

    result = sidecar(
        database_url, "resolve", rejected, "--note", "granted by hand", "--by", "maria"
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"resolved {rejected} by maria: granted by hand"
    assert resolution(database_url, rejected) == ("granted by hand", "maria")
    listed = json.loads(sidecar(database_url, "attention", "--json").stdout)
    assert rejected not in {item["id"] for item in listed}


def test_resolve_names_the_operating_system_user_by_default(
    database_url: str, learner: uuid.UUID
) -> None:
    unmatched = unmatched_session(database_url, learner)

    result = sidecar(database_url, "resolve", unmatched, "--note", "refunded in the Dashboard")

    assert result.returncode == 0, result.stderr
    assert resolution(database_url, unmatched) == ("refunded in the Dashboard", getpass.getuser())


def test_resolve_refuses_an_unknown_id_and_changes_nothing(database_url: str) -> None:
    unknown = f"checkout_session:{stripe_id('cs_test_')}"

    result = sidecar(database_url, "resolve", unknown, "--note", "why not")

    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"sidecar resolve: no attention item {unknown}"
        " (sidecar attention lists the open items and their ids)"
    )
    assert resolution(database_url, unknown) is None


def test_resolve_refuses_an_empty_note_and_the_item_stays_listed(
    database_url: str, learner: uuid.UUID
) -> None:
    rejected = rejected_payment(database_url, learner)

    result = sidecar(database_url, "resolve", rejected, "--note", "  ")

    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"sidecar resolve: a note saying why is required to resolve {rejected}"
    )
    assert resolution(database_url, rejected) is None
    listed = json.loads(sidecar(database_url, "attention", "--json").stdout)
    assert rejected in {item["id"] for item in listed}


def test_resolve_without_a_note_is_a_usage_error(database_url: str) -> None:
    result = sidecar(database_url, "resolve", "checkout_session:cs_test_x")
    assert result.returncode == 2
    assert "--note" in result.stderr


def test_amounts_and_ages_read_as_a_person_reads_them() -> None:
    assert format_amount(999, "usd") == "9.99 USD"
    assert format_amount(1800, "jpy") == "1800 JPY"
    assert format_amount(1500, "kwd") == "1.500 KWD"
    assert format_amount(None, None) == "amount unknown"
    assert format_age(timedelta(seconds=20)) == "<1m"
    assert format_age(timedelta(minutes=12, seconds=59)) == "12m"
    assert format_age(timedelta(hours=2, minutes=5)) == "2h 5m"
    assert format_age(timedelta(days=3, hours=4, minutes=30)) == "3d 4h"
