"""The frontend part of `make dev` / `make e2e`: what it is started with, and what it is not."""

from __future__ import annotations

from pathlib import Path

import pytest
from dotenv import dotenv_values

from devstack import cli, database


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
    # the publishable key, also under the name frontend/src reads today
    assert env["SUPABASE_PUBLISHABLE_KEY"].startswith("sb_publishable_")
    assert part.env["SUPABASE_PUBLISHABLE_KEY"] == env["SUPABASE_PUBLISHABLE_KEY"]
    assert part.env["SUPABASE_ANON_KEY"] == env["SUPABASE_PUBLISHABLE_KEY"]
    assert part.env["SIDECAR_URL"] == "http://127.0.0.1:8123"
    assert part.env["PORT"] == "3999", "the site's port, not the sidecar's"
    # its own origin, so the API route's Origin check is on (not only Sec-Fetch-Site)
    assert part.env["SITE_URL"] == "http://127.0.0.1:3999"


def test_the_frontend_gets_site_url_without_a_trailing_slash(env: dict[str, str]) -> None:
    # the API route compares SITE_URL's origin with Origin; make dev's default when unset
    assert cli.frontend({**env, "SITE_URL": "https://shop.example/"}).env["SITE_URL"] == (
        "https://shop.example"
    )
    unset = {k: v for k, v in env.items() if k != "SITE_URL"}
    assert cli.frontend(unset).env["SITE_URL"] == "http://127.0.0.1:3000"


def test_no_secret_but_the_supabase_secret_key_reaches_the_frontend(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # even when the shell exports them too
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_from_the_shell")
    monkeypatch.setenv("SUPABASE_SERVICE_ROLE_KEY", "service-role-from-the-shell")
    monkeypatch.setenv("SUPABASE_JWT_SECRET", "jwt-secret-from-the-shell")
    part = cli.frontend(env)
    for secret in (
        "STRIPE_SECRET_KEY",
        "STRIPE_WEBHOOK_SECRET",
        "SUPABASE_SERVICE_ROLE_KEY",
        "SUPABASE_JWT_SECRET",
        "DATABASE_URL",
    ):
        assert secret not in part.env, secret
    # the account-deletion API route calls Auth's admin API with it, on the server only (never
    # under a NEXT_PUBLIC_ name, which Next.js would inline into the browser's JavaScript)
    assert part.env["SUPABASE_SECRET_KEY"] == env["SUPABASE_SECRET_KEY"]
    assert not [k for k, v in part.env.items() if k.startswith("NEXT_PUBLIC_")]


def test_an_env_with_the_legacy_key_names_still_works_with_a_deprecation_line(
    env: dict[str, str],
) -> None:
    legacy = {k: v for k, v in env.items() if k not in cli.LEGACY_NAMES}
    legacy |= {"SUPABASE_ANON_KEY": "legacy-anon-jwt", "SUPABASE_SERVICE_ROLE_KEY": "legacy-srk"}
    part = cli.frontend(legacy)
    assert part.env["SUPABASE_ANON_KEY"] == "legacy-anon-jwt"
    assert "SUPABASE_SERVICE_ROLE_KEY" not in part.env
    assert part.env["SUPABASE_SECRET_KEY"] == "legacy-srk", "under its current name"
    lines = cli.deprecations(legacy)
    assert any(line.startswith("SUPABASE_ANON_KEY is deprecated") for line in lines)
    assert any(line.startswith("SUPABASE_SERVICE_ROLE_KEY is deprecated") for line in lines)
    parts = {part.name: part for part in cli.services(legacy, "postgresql://db")}
    for service in (parts["supabase"], parts["sidecar"]):
        assert service.env["SUPABASE_SECRET_KEY"] == "legacy-srk", service.name
    assert cli.deprecations(env) == [], ".env.example uses the current names"


def test_make_dev_keeps_the_signing_keys_under_the_state_dir(env: dict[str, str]) -> None:
    keys = cli.state_dir(env) / "supabase" / "signing_keys.json"
    supabase = supabase_part(env, keys)
    assert supabase.argv[-2:] == ["--signing-keys-file", str(keys)]
    assert "--signing-keys-file" not in supabase_part(env).argv


def supabase_part(env: dict[str, str], keys: Path | None = None) -> cli.Service:
    return next(p for p in cli.services(env, "postgresql://db", keys) if p.name == "supabase")


def test_auth_mails_through_the_outbox_with_the_projects_templates_and_site(
    env: dict[str, str],
) -> None:
    parts = {part.name: part for part in cli.services(env, "postgresql://db")}
    assert parts["mail"].argv[-2:] == ["--port", "54324"], "the Supabase CLI's outbox port"
    assert parts["mail"].health_url == "http://127.0.0.1:54324/api/v1/messages"
    argv = parts["supabase"].argv
    assert argv[argv.index("--site-url") + 1] == "http://127.0.0.1:3999"
    assert argv[argv.index("--mail-outbox-url") + 1] == "http://127.0.0.1:54324"
    config = Path(argv[argv.index("--auth-config") + 1])
    assert config == database.ROOT / "supabase" / "config.toml"
    moved = {
        part.name: part
        for part in cli.services(
            {**env, "MAIL_OUTBOX_URL": "http://127.0.0.1:6001"}, "postgresql://db"
        )
    }
    assert moved["mail"].argv[-1] == "6001"
