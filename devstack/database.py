"""Build a database the way production is built: platform shim, every migration in name order, seed.

Used by the test runner, the pytest fixtures, the benchmarks and `make dev`, so that every
database this project touches is made by one piece of code.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import conninfo, sql

ROOT = Path(__file__).resolve().parent.parent
PLATFORM_SQL = ROOT / "devstack" / "sql" / "supabase_platform.sql"
MIGRATIONS_DIR = ROOT / "supabase" / "migrations"
SEED_SQL = ROOT / "supabase" / "seed.sql"
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def migration_files() -> list[Path]:
    """Every migration, in the order `supabase db push` applies them (file name order)."""
    return sorted(MIGRATIONS_DIR.glob("*.sql"))


def run_sql_file(url: str, path: Path) -> None:
    """Run one SQL file in its own transaction, as `psql --single-transaction` would."""
    with psycopg.connect(url, autocommit=False) as conn:
        conn.execute(path.read_text())  # trusted project file


def is_supabase(url: str) -> bool:
    """True on a database Supabase made (its image, a hosted project): the shim is not needed."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "select to_regclass('auth.users') is not null"
            " and exists (select from pg_roles where rolname = 'supabase_admin')"
        ).fetchone()
    return bool(row and row[0])


MIGRATIONS_TABLE_SQL = """
create schema if not exists supabase_migrations;
create table if not exists supabase_migrations.schema_migrations (
  version text primary key,
  statements text[],
  name text
);
"""


def applied_versions(url: str) -> set[str]:
    """Versions recorded where the Supabase CLI records them."""
    with psycopg.connect(url) as conn:
        conn.execute(MIGRATIONS_TABLE_SQL)
        rows = conn.execute("select version from supabase_migrations.schema_migrations")
        return {str(row[0]) for row in rows}


def apply_migration(url: str, path: Path) -> None:
    """Apply one migration and record its version in one transaction, as `supabase db push` does."""
    version, _, name = path.stem.partition("_")
    with psycopg.connect(url, autocommit=False) as conn:
        conn.execute(path.read_text())  # trusted project file
        conn.execute(
            "insert into supabase_migrations.schema_migrations (version, name) values (%s, %s)",
            (version, name),
        )


def build(url: str, *, seed: bool = True) -> list[Path]:
    """Bring `url` up to date and return the migrations applied.

    The platform shim (unless Supabase made the database), every migration not yet recorded,
    in name order, then the seed. Safe to run again.
    """
    step = PLATFORM_SQL
    try:
        if not is_supabase(url):
            run_sql_file(url, PLATFORM_SQL)
        done = applied_versions(url)
        pending = [p for p in migration_files() if p.stem.partition("_")[0] not in done]
        for step in pending:
            apply_migration(url, step)
        if seed and SEED_SQL.exists():
            step = SEED_SQL
            run_sql_file(url, SEED_SQL)
    except psycopg.Error as exc:
        raise RuntimeError(
            f"building the database failed at {step.relative_to(ROOT)}: {exc}"
        ) from exc
    return pending


def with_database(url: str, dbname: str) -> str:
    """The same connection string pointed at another database."""
    params = conninfo.conninfo_to_dict(url)
    params["dbname"] = dbname
    return conninfo.make_conninfo(**params)  # type: ignore[arg-type]


def create_throwaway(admin_url: str = DEFAULT_ADMIN_URL, prefix: str = "lessonshop_test") -> str:
    """Create an empty database with a random name; return its URL."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    return with_database(admin_url, name)


def drop(admin_url: str, url: str) -> None:
    """Drop the database `url` names, closing whatever still holds it open."""
    name = conninfo.conninfo_to_dict(url)["dbname"]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(str(name)))
        )


@contextmanager
def throwaway(admin_url: str = DEFAULT_ADMIN_URL, *, seed: bool = True) -> Iterator[str]:
    """A freshly built database for the length of the block, dropped afterwards."""
    url = create_throwaway(admin_url)
    try:
        build(url, seed=seed)
        yield url
    finally:
        drop(admin_url, url)
