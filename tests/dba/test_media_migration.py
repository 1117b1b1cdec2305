"""20261205100000_lesson_media.sql moves each lesson_content.media_url into lesson_media.

A database at the migration before it, holding outside media addresses of every kind, takes
it (and whatever came after) with `supabase db push`: each address becomes an external
lesson_media row of the kind its extension says, shown only to readers of the lesson, and
listed in media_needing_attention for an operator; the column is gone.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from devstack import database, supabase_cli
from tests.conftest import admin_url

MEDIA_MIGRATION = "20261205100000_lesson_media.sql"
FREE = uuid.UUID("00000000-0000-4000-8000-000000000001")
JOINS = uuid.UUID("00000000-0000-4000-8000-000000000002")
RLS = uuid.UUID("00000000-0000-4000-8000-000000000003")
WEBHOOKS = uuid.UUID("00000000-0000-4000-8000-000000000004")
EUROS = uuid.UUID("00000000-0000-4000-8000-000000000005")

ADDRESSES = {
    FREE: ("https://media.example.com/welcome.MP3", "audio"),
    JOINS: ("https://media.example.com/joins.mp4", "video"),
    RLS: ("https://media.example.com/rls.pdf?download=1", "pdf"),
    WEBHOOKS: ("https://cdn.example.com/diagram.webp", "image"),
    EUROS: ("https://video.example.com/watch/123", "video"),
}


def project_with(root: Path, migrations: list[Path]) -> Path:
    target = root / "supabase"
    (target / "migrations").mkdir(parents=True)
    supabase_cli.copy_config(target)
    for path in migrations:
        shutil.copy(path, target / "migrations")
    return root


# The lessons an operator had before the media migration, written for the schema of then (the
# project's seed follows the schema of now): free, then paid, each with an outside address.
LESSONS_THEN = [
    (FREE, "welcome-to-sql", 0, "usd"),
    (JOINS, "joins-without-fear", 1200, "usd"),
    (RLS, "row-level-security", 2500, "usd"),
    (WEBHOOKS, "stripe-webhooks", 1900, "usd"),
    (EUROS, "transactions-en-euros", 1500, "eur"),
]


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    every = database.migration_files()
    before = [p for p in every if p.name < MEDIA_MIGRATION]
    assert len(before) < len(every), f"{MEDIA_MIGRATION} is missing"
    older = project_with(tmp_path_factory.mktemp("before_media"), before)
    with database.throwaway(admin_url(), built=False) as url:
        database.run_sql_file(url, database.PLATFORM_SQL)
        supabase_cli.push(url, seed=False, workdir=older)
        with psycopg.connect(url, autocommit=True) as conn:
            for lesson, slug, price, currency in LESSONS_THEN:
                conn.execute(
                    "insert into public.lessons (id, slug, title, price_cents, currency, published)"
                    " values (%s, %s, %s, %s, %s, true)",
                    (lesson, slug, slug.replace("-", " ").capitalize(), price, currency),
                )
                conn.execute(
                    "insert into public.lesson_content (lesson_id, body, media_url)"
                    " values (%s, %s, %s)",
                    (lesson, "A body.", ADDRESSES[lesson][0]),
                )
        supabase_cli.push(url)
        yield url


def test_each_address_becomes_an_external_row_of_its_kind(migrated: str) -> None:
    with psycopg.connect(migrated) as conn:
        rows = conn.execute(
            "select lesson_id, external_url, kind::text, external, object_path"
            " from public.lesson_media order by lesson_id"
        ).fetchall()
    assert rows == [
        (lesson, address, kind, True, None) for lesson, (address, kind) in ADDRESSES.items()
    ]


def test_the_column_is_gone(migrated: str) -> None:
    with psycopg.connect(migrated) as conn:
        found = conn.execute(
            "select 1 from information_schema.columns"
            " where table_schema = 'public' and table_name = 'lesson_content'"
            " and column_name = 'media_url'"
        ).fetchall()
    assert found == []


def test_operators_are_told_each_address_cannot_be_revoked(migrated: str) -> None:
    with psycopg.connect(migrated) as conn:
        conn.execute("set local role service_role")
        listed = conn.execute(
            "select lesson_id, reason from public.media_needing_attention order by lesson_id"
        ).fetchall()
    assert listed == [(lesson, "external_url_not_revocable") for lesson in ADDRESSES]


def test_a_visitor_sees_only_the_free_lessons_address(migrated: str) -> None:
    with psycopg.connect(migrated) as conn:
        conn.execute("select set_config('request.jwt.claims', '{\"role\": \"anon\"}', true)")
        conn.execute("set local role anon")
        seen = conn.execute("select external_url from public.lesson_media").fetchall()
    assert seen == [(ADDRESSES[FREE][0],)]
