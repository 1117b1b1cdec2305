"""The frontend part of `make dev` / `make e2e`: what it is started with, and what it is not."""

from __future__ import annotations

import pytest
from dotenv import dotenv_values

from devstack import cli


@pytest.fixture
def env() -> dict[str, str]:
    values = {k: v for k, v in dotenv_values(cli.ENV_EXAMPLE).items() if v is not None}
    return {**values, "SITE_URL": "http://127.0.0.1:3999", "PORT": "8123"}


@pytest.mark.parametrize("script", ["dev", "start"])
def test_the_frontend_gets_its_public_settings_and_the_sidecar_address(
    env: dict[str, str], script: str
) -> None:
    part = cli.frontend(env, script)
    assert part.argv[1:4] == ["run", "--silent", script]
    assert part.argv[-4:] == ["--port", "3999", "--hostname", "127.0.0.1"]
    assert part.cwd == cli.FRONTEND_DIR
    assert part.health_url == "http://127.0.0.1:3999/"
    assert part.env["SUPABASE_URL"] == env["SUPABASE_URL"]
    assert part.env["SUPABASE_ANON_KEY"] == env["SUPABASE_ANON_KEY"]
    assert part.env["SIDECAR_URL"] == "http://127.0.0.1:8123"
    assert part.env["PORT"] == "3999", "the site's port, not the sidecar's"


def test_no_secret_reaches_the_frontend(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # even when the shell exports them too
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_from_the_shell")
    monkeypatch.setenv("SUPABASE_SERVICE_ROLE_KEY", "service-role-from-the-shell")
    part = cli.frontend(env)
    for secret in (
        "STRIPE_SECRET_KEY",
        "STRIPE_WEBHOOK_SECRET",
        "SUPABASE_SERVICE_ROLE_KEY",
        "SUPABASE_JWT_SECRET",
        "DATABASE_URL",
    ):
        assert secret not in part.env, secret
