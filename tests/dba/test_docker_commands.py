"""The Supabase CLI commands that need a Docker engine: `supabase test db`, `supabase gen types`.

Both run their tool in a container (pg_prove; postgres-meta), so they run here only where a
Docker engine answers; elsewhere they are skipped with the reason printed. What they check is
proven without Docker too: pgTAP through the local pg_prove (`make test`), and the frontend's
types through the same postgres-meta generator from npm.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from devstack import database, supabase_cli
from tests.conftest import admin_url
from tools.containers import docker_available

pytestmark = pytest.mark.skipif(
    not docker_available(),
    reason="no Docker engine here: `supabase test db` and `supabase gen types` run their tools "
    "in containers (pgTAP runs through the local pg_prove instead)",
)


@pytest.fixture(scope="module")
def built() -> Iterator[str]:
    with database.throwaway(admin_url()) as url:
        yield url


def test_supabase_test_db_passes_every_pgtap_file(built: str) -> None:
    result = supabase_cli.run(["test", "db", "--db-url", supabase_cli.db_url(built)], timeout=600)
    assert "All tests successful" in result.output or "Result: PASS" in result.output


def test_supabase_gen_types_describes_every_public_table(built: str) -> None:
    result = supabase_cli.run(
        [
            "gen",
            "types",
            "--lang",
            "typescript",
            "--db-url",
            supabase_cli.db_url(built),
            "--schema",
            "public",
        ],
        timeout=600,
    )
    with psycopg.connect(built) as conn:
        tables = [
            str(r[0])
            for r in conn.execute("select tablename from pg_tables where schemaname = 'public'")
        ]
    assert "export type Database" in result.stdout
    for table in tables:
        assert f"{table}: {{" in result.stdout, table
