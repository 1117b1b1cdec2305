"""Supabase's own Postgres image through testcontainers, where a Docker engine runs.

Used when no Postgres is reachable and by the test that proves the migrations apply unchanged
on the real image. Machines without Docker skip both with a printed reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

SUPABASE_POSTGRES_IMAGE = "supabase/postgres:15.8.1.060"


def docker_available() -> bool:
    """True when a Docker engine answers (the client alone is not enough)."""
    try:
        import docker  # type: ignore[import-untyped]  # comes with testcontainers

        docker.from_env(timeout=3).ping()
    except Exception:  # any failure means: no usable engine
        return False
    return True


@contextmanager
def supabase_postgres_container() -> Iterator[str]:
    """Run supabase/postgres and yield an admin URL for it."""
    from testcontainers.postgres import PostgresContainer

    container = PostgresContainer(
        SUPABASE_POSTGRES_IMAGE,
        username="postgres",
        password="postgres",  # noqa: S106  # a throwaway container on localhost
        dbname="postgres",
    )
    container.with_command("postgres -c config_file=/etc/postgresql/postgresql.conf")
    with container:
        host = container.get_container_host_ip()
        port = container.get_exposed_port(5432)
        yield f"postgresql://postgres:postgres@{host}:{port}/postgres"
