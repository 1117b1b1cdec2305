"""What the README tells DBAs about `supabase db push`, proven with the pinned CLI itself."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from devstack import database, supabase_cli
from tests.conftest import admin_url


@pytest.fixture
def empty_database() -> Iterator[str]:
    with database.throwaway(admin_url(), built=False) as url:
        yield url


def project(root: Path, migrations: dict[str, str]) -> Path:
    (root / "supabase" / "migrations").mkdir(parents=True)
    supabase_cli.copy_config(root / "supabase")
    for name, text in migrations.items():
        (root / "supabase" / "migrations" / name).write_text(text)
    return root


def tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("select tablename from pg_tables where schemaname = 'public'")
        return {str(r[0]) for r in rows}


def test_a_failing_migration_leaves_nothing_behind_and_the_ones_before_it_stay(
    empty_database: str, tmp_path: Path
) -> None:
    workdir = project(
        tmp_path,
        {
            "20260101000000_first.sql": "create table public.first (id int);",
            "20260101000100_broken.sql": "create table public.broken (id int);\nselect 1 / 0;",
        },
    )
    with pytest.raises(supabase_cli.CliError, match="division by zero"):
        supabase_cli.push(empty_database, seed=False, workdir=workdir)
    assert tables(empty_database) == {"first"}
    assert database.applied_versions(empty_database) == {"20260101000000"}
    listed = supabase_cli.migration_list(empty_database, workdir=workdir)
    assert listed == [("20260101000000", "20260101000000"), ("20260101000100", "")]


def test_an_edited_migration_never_reaches_a_database_that_ran_it(
    empty_database: str, tmp_path: Path
) -> None:
    name = "20260101000000_lessons.sql"
    workdir = project(tmp_path, {name: "create table public.lessons (id int);"})
    supabase_cli.push(empty_database, seed=False, workdir=workdir)
    (workdir / "supabase" / "migrations" / name).write_text("create table public.edited (id int);")
    again = supabase_cli.push(empty_database, seed=False, workdir=workdir)
    assert "Remote database is up to date." in again.output
    assert tables(empty_database) == {"lessons"}


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            "postgresql://postgres:p%40ss@127.0.0.1:54322/postgres",
            "postgresql://postgres:p%40ss@127.0.0.1:54322/postgres?sslmode=disable",
        ),
        (
            "host=db.example.com port=6543 dbname=postgres user=u sslmode=require",
            "postgresql://u@db.example.com:6543/postgres?sslmode=require",
        ),
        (
            "host=/var/run/postgresql dbname=shop user=postgres",
            "postgresql://postgres@:5432/shop?host=%2Fvar%2Frun%2Fpostgresql&sslmode=disable",
        ),
    ],
)
def test_the_cli_gets_a_percent_encoded_url(given: str, expected: str) -> None:
    assert supabase_cli.db_url(given) == expected
