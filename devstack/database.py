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

from devstack import supabase_cli

ROOT = supabase_cli.ROOT
PLATFORM_SQL = ROOT / "standins" / "supabase" / "platform.sql"
MIGRATIONS_DIR = ROOT / "supabase" / "migrations"
SEED_SQL = ROOT / "supabase" / "seed.sql"
# the storefront's currencies: "one" (seed.sql's US dollars) or "multi" (two lessons in euros
# and yen on top, which the tests sell)
MULTI_CURRENCY_SQL = ROOT / "supabase" / "seeds" / "multi_currency.sql"
CURRENCIES = ("one", "multi")
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


def version_of(path: Path) -> str:
    """A migration's version: the timestamp in front of its name."""
    return path.stem.partition("_")[0]


def applied_versions(url: str) -> set[str]:
    """Versions recorded where the Supabase CLI records them (none before its first push)."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "select to_regclass('supabase_migrations.schema_migrations') is not null"
        ).fetchone()
        if not (row and row[0]):
            return set()
        rows = conn.execute("select version from supabase_migrations.schema_migrations")
        return {str(r[0]) for r in rows}


def build(url: str, *, seed: bool = True, currencies: str = "one") -> list[Path]:
    """Bring `url` up to date and return the migrations applied.

    The platform shim (unless Supabase made the database), then `supabase db push`, the
    project's pinned CLI, exactly as production is migrated: every migration not yet recorded,
    in name order, each in its own transaction with its row in
    supabase_migrations.schema_migrations, then the seed on a database that has not had it
    (the CLI records the seed's hash and never runs it twice). Safe to run again.
    `currencies="multi"` then prices two of the seeded lessons in euros and yen.
    """
    if currencies not in CURRENCIES:
        raise ValueError(f"currencies must be one of {', '.join(CURRENCIES)}, not {currencies!r}")
    try:
        if not is_supabase(url):
            run_sql_file(url, PLATFORM_SQL)
        done = applied_versions(url)
    except psycopg.Error as exc:
        raise RuntimeError(
            f"building the database failed at {PLATFORM_SQL.relative_to(ROOT)}: {exc}"
        ) from exc
    supabase_cli.push(url, seed=seed)
    if seed and currencies == "multi":
        run_sql_file(url, MULTI_CURRENCY_SQL)
    return [p for p in migration_files() if version_of(p) not in done]


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
def throwaway(
    admin_url: str = DEFAULT_ADMIN_URL,
    *,
    seed: bool = True,
    built: bool = True,
    currencies: str = "multi",
) -> Iterator[str]:
    """A freshly built database for the length of the block, dropped afterwards.

    `built=False` leaves it empty for a caller that builds it itself. The tests' databases sell
    in several currencies unless `currencies="one"`.
    """
    url = create_throwaway(admin_url)
    try:
        if built:
            build(url, seed=seed, currencies=currencies)
        yield url
    finally:
        drop(admin_url, url)
