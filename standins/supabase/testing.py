"""Run the stand-in on a free port for a test: `with running_standin(database_url) as api: …`."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from standins.serving import listening_socket, serving
from standins.supabase import tokens
from standins.supabase.app import create_app
from standins.supabase.config import StandInConfig

TEST_JWT_SECRET = "devstack-supabase-test-secret-0123456789abcdef"  # noqa: S105
# Storage's files when a test names no directory: removed when the interpreter exits.
_STORAGE_DIRS: list[tempfile.TemporaryDirectory[str]] = []


@dataclass(frozen=True)
class StandIn:
    url: str
    jwt_secret: str
    anon_key: str
    service_role_key: str


@contextmanager
def running_standin(
    database_url: str, *, jwt_secret: str = TEST_JWT_SECRET, **config: Any
) -> Iterator[StandIn]:
    if config.get("storage_dir") is None:
        _STORAGE_DIRS.append(tempfile.TemporaryDirectory(prefix="supabase-storage-"))
        config["storage_dir"] = Path(_STORAGE_DIRS[-1].name)
    sock = listening_socket()
    host, port = sock.getsockname()[:2]
    public_url = f"http://{host}:{port}"
    app = create_app(
        StandInConfig(
            database_url=database_url, jwt_secret=jwt_secret, public_url=public_url, **config
        )
    )
    with serving(app, sock, "Supabase stand-in") as url:
        yield StandIn(
            url=url,
            jwt_secret=jwt_secret,
            anon_key=tokens.api_key(jwt_secret, "anon"),
            service_role_key=tokens.api_key(jwt_secret, "service_role"),
        )
