"""supabase/schemas declares the database the migrations build, object for object.

One database is built from the platform shim and the files config.toml's `schema_paths` lists,
in that order; another from the shim and `supabase db push`, as production is built. Their
`pg_dump --schema-only` (all but supabase_migrations, where the CLI records what it ran) must
match once only what legitimately differs is taken out (pg_dump's header, the order objects
were made in, the order of an ACL's items). That the comparison can fail is proven on copies of
the first database with one thing changed each: a function body, a grant, a default, an index,
a policy, a constraint, a comment. And `make migration` writes, for a changed schema file, a
migration that applies with `supabase db push` and leaves no difference.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg import conninfo, sql

from devstack import database
from tests.conftest import admin_url
from tools import schemas

SCHEMAS_DIR = database.ROOT / "supabase" / "schemas"


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[str, str, list[str]]]:
    """(declared, migrated, project schemas), built once for the module."""
    with schemas.built_pair(admin_url()) as built:
        yield built


@contextmanager
def copy_of(url: str) -> Iterator[str]:
    """A throwaway copy of the database `url` names (it must have no other session open)."""
    name = str(conninfo.conninfo_to_dict(url)["dbname"])
    copy = f"{name}_copy"
    with psycopg.connect(admin_url(), autocommit=True) as conn:
        conn.execute(
            sql.SQL("create database {} template {}").format(
                sql.Identifier(copy), sql.Identifier(name)
            )
        )
    try:
        yield database.with_database(url, copy)
    finally:
        database.drop(admin_url(), database.with_database(url, copy))


def test_schema_paths_name_every_schema_file_once() -> None:
    listed = schemas.schema_files()
    assert len(listed) == len(set(listed))
    assert sorted(listed) == sorted(p.resolve() for p in SCHEMAS_DIR.glob("*.sql"))


# `create [or replace] <kind> [if not exists] <name>`, and for a policy or trigger its table
DECLARATION = re.compile(
    r"^create (?:or replace )?(?P<kind>function|table|view|index|trigger|policy|schema)"
    r"(?: if not exists)? (?P<name>\"[^\"]+\"|[\w.]+)"
    r"(?:\s+(?:on|before update on) (?P<on>[\w.]+))?",
    re.M,
)


def test_each_object_is_declared_once() -> None:
    """A second definition would win silently (the last `create or replace` is the live one)."""
    seen: dict[tuple[str, str, str], str] = {}
    repeated = []
    for path in schemas.schema_files():
        for match in DECLARATION.finditer(path.read_text()):
            key = (match["kind"], match["name"], match["on"] or "")
            if key in seen:
                repeated.append(f"{' '.join(key)}: {seen[key]} and {path.name}")
            seen[key] = path.name
    assert len(seen) > 50
    assert not repeated, "declared more than once:\n" + "\n".join(repeated)


def test_the_schemas_build_the_catalog_the_migrations_build(
    pair: tuple[str, str, list[str]],
) -> None:
    declared, migrated, _ = pair
    left = schemas.difference(declared, migrated)
    assert not left, (
        "supabase/schemas and supabase/migrations build different databases: fix the schema "
        "file, or write the migration (`make migration NAME=…`). The difference:\n" + left
    )


def test_the_project_schemas_are_public_and_private(pair: tuple[str, str, list[str]]) -> None:
    assert pair[2] == ["private", "public"]


CHANGES = {
    "function body": (
        "do $$ begin execute replace(pg_get_functiondef("
        "'private.session_status_rank(text)'::regprocedure), 'else 2 end', 'else 3 end'); end $$",
        "else 3 end",
    ),
    "grant": (
        "revoke execute on function public.purchase_list() from authenticated",
        "purchase_list() TO authenticated",
    ),
    "default": ("alter table public.lessons alter column currency set default 'eur'", "'eur'"),
    "index": (
        "drop index public.stripe_events_payment_facts_idx",
        "stripe_events_payment_facts_idx",
    ),
    "policy": (
        'alter policy "learners read their own purchases" on public.purchased_lessons'
        " using (user_id = auth.uid())",
        "learners read their own purchases",
    ),
    "constraint": (
        "alter table public.checkout_sessions drop constraint checkout_sessions_paid_has_time",
        "checkout_sessions_paid_has_time",
    ),
    "comment": ("comment on table public.lessons is 'Lessons.'", "Lessons."),
    "private function granted": (
        "grant execute on function private.settle_purchase(uuid, uuid) to service_role",
        "settle_purchase(",
    ),
}


@pytest.mark.parametrize("kind", CHANGES)
def test_the_comparison_fails_on_a_changed(kind: str, pair: tuple[str, str, list[str]]) -> None:
    declared, migrated, _ = pair
    change, shown = CHANGES[kind]
    with copy_of(declared) as edited:
        with psycopg.connect(edited, autocommit=True) as conn:
            conn.execute(change)
        left = schemas.difference(edited, migrated)
    changed = [line for line in left.splitlines() if line.startswith(("-", "+"))]
    assert left, f"a changed {kind} went unnoticed"
    assert any(shown in line for line in changed), left


def test_no_difference_gives_an_empty_migration(pair: tuple[str, str, list[str]]) -> None:
    declared, migrated, project_schemas = pair
    assert schemas.diff_sql(migrated, declared, project_schemas) == ""


def project_copy(root: Path) -> Path:
    shutil.copytree(
        database.ROOT / "supabase", root / "supabase", ignore=shutil.ignore_patterns("tests")
    )
    return root


def test_make_migration_writes_one_that_applies_and_closes_the_gap(tmp_path: Path) -> None:
    project = project_copy(tmp_path)
    catalogue = project / "supabase" / "schemas" / "catalogue.sql"
    text = catalogue.read_text()
    edited = text.replace(
        "order by coalesce(s.paid_at, s.created_at) desc, s.id desc;",
        "order by coalesce(s.paid_at, s.created_at) desc;",
    )
    edited = edited.replace(
        "grant execute on function public.purchase_list() to authenticated, service_role;",
        "grant execute on function public.purchase_list() to service_role;",
    )
    assert edited != text
    catalogue.write_text(edited)
    before = set((project / "supabase" / "migrations").glob("*.sql"))

    # raises unless the migration applies with db push and leaves no difference
    path = schemas.write_migration("history_newest_first", admin_url(), project)

    assert set((project / "supabase" / "migrations").glob("*.sql")) - before == {path}
    assert path.name.endswith("_history_newest_first.sql")
    assert path.name > max(p.name for p in before)
    written = path.read_text()
    assert written.startswith("-- History newest first.\n")
    assert "revoke all on function public.purchase_list() from authenticated;" in written
    assert "order by coalesce(s.paid_at, s.created_at) desc;" in written
    lint = subprocess.run(
        [
            sys.executable,
            "-m",
            "sqlfluff",
            "lint",
            "--config",
            str(database.ROOT / ".sqlfluff"),
            str(path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert lint.returncode == 0, lint.stdout
