"""The migrations apply unchanged on Supabase's own Postgres image (needs a Docker engine)."""

from __future__ import annotations

import psycopg
import pytest

from devstack import database
from tools.containers import docker_available, supabase_postgres_container

pytestmark = pytest.mark.skipif(
    not docker_available(),
    reason="no Docker engine here: supabase/postgres cannot run (the local shim is tested instead)",
)


def test_migrations_and_seed_apply_on_the_supabase_image() -> None:
    with supabase_postgres_container() as admin_url, database.throwaway(admin_url) as url:
        assert database.is_supabase(url), "the image provides auth.users and Supabase's roles"
        with psycopg.connect(url) as conn:
            published = conn.execute(
                "select count(*) from public.lessons where published"
            ).fetchone()
            definer = conn.execute(
                "select prosecdef from pg_proc where proname = 'record_purchase'"
            ).fetchone()
        assert published == (6,)
        assert definer == (True,)
