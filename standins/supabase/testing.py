"""Run the stand-in on a free port for a test: `with running_standin(database_url) as api: …`."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from standins.serving import listening_socket, serving
from standins.supabase import tokens
from standins.supabase.app import create_app
from standins.supabase.config import DEMO_PUBLISHABLE_KEY, DEMO_SECRET_KEY, StandInConfig

TEST_JWT_SECRET = "devstack-supabase-test-secret-0123456789abcdef"  # noqa: S105
# Storage's files when a test names no directory: removed when the interpreter exits.
_STORAGE_DIRS: list[tempfile.TemporaryDirectory[str]] = []


@dataclass(frozen=True)
class StandIn:
    url: str
    jwt_secret: str
    # the project's API keys: today's, and the legacy JWTs signed with jwt_secret
    publishable_key: str
    secret_key: str
    anon_key: str
    service_role_key: str

    @property
    def jwks_url(self) -> str:
        return f"{self.url}/auth/v1/.well-known/jwks.json"

    def add_standby_signing_key(self) -> str:
        """Publish the next signing key ahead of the rotation; its kid."""
        response = httpx.post(f"{self.url}/_standin/signing-keys/standby", timeout=5)
        response.raise_for_status()
        kid: str = response.json()["standby_kid"]
        return kid

    def rotate_signing_key(self) -> str:
        """Rotate as the dashboard would; the new current kid."""
        response = httpx.post(f"{self.url}/_standin/signing-keys/rotate", timeout=5)
        response.raise_for_status()
        kid: str = response.json()["current_kid"]
        return kid


@contextmanager
def running_standin(
    database_url: str, *, jwt_secret: str = TEST_JWT_SECRET, **config: Any
) -> Iterator[StandIn]:
    """The stand-in with a fresh ES256 signing key (in memory), or as `config` says."""
    config.setdefault("publishable_key", DEMO_PUBLISHABLE_KEY)
    config.setdefault("secret_key", DEMO_SECRET_KEY)
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
            publishable_key=config["publishable_key"],
            secret_key=config["secret_key"],
            anon_key=tokens.api_key(jwt_secret, "anon"),
            service_role_key=tokens.api_key(jwt_secret, "service_role"),
        )
