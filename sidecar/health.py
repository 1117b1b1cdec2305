"""Liveness and readiness for the orchestrator (load balancer, Kubernetes, Docker HEALTHCHECK)."""

from __future__ import annotations

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency

from sidecar.db import Database
from sidecar.errors import DatabaseUnavailable, error_responses


class Health(msgspec.Struct):
    status: str


class HealthController(Controller):
    path = "/"
    tags = ["health"]  # noqa: RUF012 - Litestar reads these as class attributes

    @get("/healthz", operation_id="liveness", cache=False)
    async def liveness(self) -> Health:
        """The process is up and serving; says nothing about the database."""
        return Health(status="ok")

    @get(
        "/readyz",
        operation_id="readiness",
        cache=False,
        responses=error_responses(DatabaseUnavailable),
    )
    async def readiness(self, database: NamedDependency[Database]) -> Health:
        """Ready to take traffic: the database answers."""
        await database.ping()
        return Health(status="ready")
