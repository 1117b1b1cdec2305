"""Settings: built once from the environment, failing fast with the missing variable's name."""

from __future__ import annotations

import pytest
import stripe

from sidecar.payments import STRIPE_API_VERSION
from sidecar.settings import Settings, SettingsError

COMPLETE = {
    "STRIPE_SECRET_KEY": "sk_test_x",
    "STRIPE_WEBHOOK_SECRET": "whsec_x",
    "SITE_URL": "https://shop.example.com/",
    "DATABASE_URL": "postgresql://postgres:pw@db:5432/postgres",
    "SUPABASE_JWT_SECRET": "jwt-secret",
}


def without(name: str) -> dict[str, str]:
    return {key: value for key, value in COMPLETE.items() if key != name}


def test_complete_environment_gives_defaults_for_the_rest() -> None:
    settings = Settings.from_env(COMPLETE)
    assert settings.site_url == "https://shop.example.com"  # trailing slash dropped
    assert (settings.host, settings.port, settings.log_level) == ("127.0.0.1", 8000, "INFO")
    assert settings.stripe_api_base is None
    assert settings.supabase_jwks_url is None
    assert settings.database_prepare_threshold is None


@pytest.mark.parametrize(
    "missing", ["STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "SITE_URL", "DATABASE_URL"]
)
def test_a_missing_required_variable_is_named(missing: str) -> None:
    with pytest.raises(SettingsError, match=missing):
        Settings.from_env(without(missing))


def test_no_way_to_check_tokens_is_refused() -> None:
    with pytest.raises(SettingsError, match="SUPABASE_JWT_SECRET"):
        Settings.from_env(without("SUPABASE_JWT_SECRET"))


def test_supabase_url_gives_the_jwks_url_and_stands_in_for_database_url() -> None:
    env = {
        **without("DATABASE_URL"),
        "SUPABASE_URL": "https://abc.supabase.co/",
        "SUPABASE_SERVICE_ROLE_KEY": "service-role-key",
    }
    del env["SUPABASE_JWT_SECRET"]
    settings = Settings.from_env(env)
    assert settings.supabase_jwks_url == "https://abc.supabase.co/auth/v1/.well-known/jwks.json"
    assert settings.database_url is None


def test_supabase_url_without_service_role_key_is_not_a_database() -> None:
    env = {**without("DATABASE_URL"), "SUPABASE_URL": "https://abc.supabase.co"}
    with pytest.raises(SettingsError, match="DATABASE_URL"):
        Settings.from_env(env)


def test_site_url_must_be_http() -> None:
    with pytest.raises(SettingsError, match="SITE_URL"):
        Settings.from_env({**COMPLETE, "SITE_URL": "javascript:alert(1)"})


def test_port_must_be_a_number() -> None:
    with pytest.raises(SettingsError, match="PORT"):
        Settings.from_env({**COMPLETE, "PORT": "eighty"})


def test_prepare_threshold_is_configurable_for_direct_connections() -> None:
    settings = Settings.from_env({**COMPLETE, "DATABASE_PREPARE_THRESHOLD": "5"})
    assert settings.database_prepare_threshold == 5


def test_secrets_stay_out_of_repr() -> None:
    text = repr(Settings.from_env(COMPLETE))
    for secret in ("sk_test_x", "whsec_x", "jwt-secret", "pw@db"):
        assert secret not in text


def test_settings_are_frozen() -> None:
    settings = Settings.from_env(COMPLETE)
    with pytest.raises(AttributeError):
        settings.port = 1  # type: ignore[misc]


def test_pinned_api_version_matches_the_installed_stripe_library() -> None:
    # The library's types describe one API version; pinning another would mislead them.
    assert stripe.api_version == STRIPE_API_VERSION


def test_pool_timeout_takes_fractions_of_a_second() -> None:
    assert (
        Settings.from_env({**COMPLETE, "DATABASE_POOL_TIMEOUT": "2.5"}).database_pool_timeout == 2.5
    )
    with pytest.raises(SettingsError, match="DATABASE_POOL_TIMEOUT"):
        Settings.from_env({**COMPLETE, "DATABASE_POOL_TIMEOUT": "soon"})
