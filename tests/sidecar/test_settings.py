"""Settings: built once from the environment, failing fast with the missing variable's name."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest
import stripe

from sidecar import cli
from sidecar.settings import Settings, SettingsError
from sidecar.stripe_client import STRIPE_API_VERSION

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
        "SUPABASE_SECRET_KEY": "sb_secret_the_projects_own",
    }
    del env["SUPABASE_JWT_SECRET"]
    settings = Settings.from_env(env)
    assert settings.supabase_jwks_url == "https://abc.supabase.co/auth/v1/.well-known/jwks.json"
    assert settings.supabase_jwt_secret is None, "tokens are checked through the JWKS alone"
    assert settings.database_url is None
    assert settings.supabase_secret_key == "sb_secret_the_projects_own"
    assert settings.deprecations() == []


def test_the_legacy_service_role_key_name_is_still_read_with_a_deprecation_line() -> None:
    env = {
        **without("DATABASE_URL"),
        "SUPABASE_URL": "https://abc.supabase.co",
        "SUPABASE_SERVICE_ROLE_KEY": "legacy-service-role-jwt",
    }
    settings = Settings.from_env(env)
    assert settings.supabase_secret_key == "legacy-service-role-jwt"
    [line] = settings.deprecations()
    assert "SUPABASE_SERVICE_ROLE_KEY is deprecated" in line
    assert "SUPABASE_SECRET_KEY" in line


def test_the_new_secret_key_name_wins_over_the_legacy_one() -> None:
    env = {
        **COMPLETE,
        "SUPABASE_SECRET_KEY": "sb_secret_new",
        "SUPABASE_SERVICE_ROLE_KEY": "legacy-service-role-jwt",
    }
    settings = Settings.from_env(env)
    assert settings.supabase_secret_key == "sb_secret_new"
    assert settings.deprecations() == []


def test_the_deprecation_line_is_printed_at_start_up(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for name, value in {
        **without("DATABASE_URL"),
        "SUPABASE_URL": "http://127.0.0.1:9",  # nothing listens: prune stops at once
        "SUPABASE_SERVICE_ROLE_KEY": "legacy-service-role-jwt",
        "STRIPE_API_BASE": "http://127.0.0.1:9",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SUPABASE_SECRET_KEY", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env here or above
    # prune fails to reach PostgREST; what matters is the line printed before it. prune would
    # point the process's logging at stderr, here capsys's buffer, closed after this test, and
    # structlog caches its loggers: every later test that logs would write to a closed file.
    # So the logging set-up is left out here (tests/sidecar/test_http.py tests it).
    monkeypatch.setattr(cli, "configure_logging", lambda *_args, **_kwargs: None)
    with pytest.raises(Exception):  # noqa: B017, PT011 - any failure to connect
        cli.main(["prune"])
    assert "sidecar: SUPABASE_SERVICE_ROLE_KEY is deprecated" in capsys.readouterr().err


def test_supabase_url_without_secret_key_is_not_a_database() -> None:
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


def test_checkout_invoices_are_off_unless_set_true() -> None:
    assert Settings.from_env(COMPLETE).checkout_invoices is False
    assert Settings.from_env({**COMPLETE, "CHECKOUT_INVOICES": "true"}).checkout_invoices is True
    assert Settings.from_env({**COMPLETE, "CHECKOUT_INVOICES": "false"}).checkout_invoices is False
    with pytest.raises(SettingsError, match="CHECKOUT_INVOICES"):
        Settings.from_env({**COMPLETE, "CHECKOUT_INVOICES": "sometimes"})


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


# --- demo secrets: refused in live mode, naming the variable -----------------------------------

DEMO_VALUES = {
    "SUPABASE_JWT_SECRET": [
        "super-secret-jwt-token-with-at-least-32-characters-long",
        # self-hosted Supabase's docker/.env.example
        "your-super-secret-jwt-token-with-at-least-32-characters-long",
    ],
    "SUPABASE_SECRET_KEY": [
        # newly signed with the CLI's demo secret (another iss, no exp): not in any list
        jwt.encode(
            {"role": "service_role", "iss": "supabase", "iat": 1_700_000_000},
            "super-secret-jwt-token-with-at-least-32-characters-long",
            algorithm="HS256",
        ),
        # signed with self-hosted Supabase's default secret
        jwt.encode(
            {"role": "service_role", "iss": "supabase", "exp": 2_000_000_000},
            "your-super-secret-jwt-token-with-at-least-32-characters-long",
            algorithm="HS256",
        ),
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6InNlcnZpY2Vf"
        "cm9sZSIsImV4cCI6MTk4MzgxMjk5Nn0.EGIM96RAZx35lJzdJsyH-qQwv8Hdp7fsn3W0YpN81IU",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6ImFub24iLCJl"
        "eHAiOjE5ODM4MTI5OTZ9.CRXP1A7WOeoJeXxjNni43kdQwgnWNReilDMblYTn_I0",
        "sb_secret_N7UND0UgjKTVK-Uodkm0Hg_xSvEMPvz",
        "sb_publishable_ACJWlzQHlZjBrEguHvfOxg_3BJgxAaH",
    ],
    "STRIPE_WEBHOOK_SECRET": ["whsec_devstack_0000000000000000", "whsec_devstack"],
}
# the legacy name is still read, and its demo values refused naming it
DEMO_VALUES["SUPABASE_SERVICE_ROLE_KEY"] = DEMO_VALUES["SUPABASE_SECRET_KEY"]
DEMO_CASES = [(name, value) for name, values in DEMO_VALUES.items() for value in values]
LIVE_MODES = {
    "live key, stand-in": {
        "STRIPE_SECRET_KEY": "sk_live_x",
        "STRIPE_API_BASE": "http://127.0.0.1:12111",
    },
    "restricted live key": {
        "STRIPE_SECRET_KEY": "rk_live_x",
        "STRIPE_API_BASE": "http://127.0.0.1:12111",
    },
    "test key, real Stripe": {"STRIPE_SECRET_KEY": "sk_test_x"},
    "live key, real Stripe": {"STRIPE_SECRET_KEY": "sk_live_x"},
}


def with_supabase(name: str, value: str, mode: dict[str, str]) -> dict[str, str]:
    env = {**COMPLETE, **mode, name: value}
    if name in ("SUPABASE_SECRET_KEY", "SUPABASE_SERVICE_ROLE_KEY"):
        env["SUPABASE_URL"] = "https://abc.supabase.co"
    return env


@pytest.mark.parametrize("mode", LIVE_MODES.values(), ids=LIVE_MODES.keys())
@pytest.mark.parametrize(("name", "value"), DEMO_CASES)
def test_a_demo_secret_is_refused_in_live_mode(name: str, value: str, mode: dict[str, str]) -> None:
    with pytest.raises(SettingsError, match=name) as caught:
        Settings.from_env(with_supabase(name, value, mode))
    assert value not in str(caught.value)  # named, never echoed


@pytest.mark.parametrize(("name", "value"), DEMO_CASES)
def test_a_demo_secret_is_accepted_against_the_stand_ins(name: str, value: str) -> None:
    stand_in = {"STRIPE_SECRET_KEY": "sk_test_x", "STRIPE_API_BASE": "http://127.0.0.1:12111"}
    settings = Settings.from_env(with_supabase(name, value, stand_in))
    assert not settings.live


@pytest.mark.parametrize("mode", LIVE_MODES.values(), ids=LIVE_MODES.keys())
def test_the_projects_own_secrets_start_in_live_mode(mode: dict[str, str]) -> None:
    env = {
        **COMPLETE,
        **mode,
        "SUPABASE_URL": "https://abc.supabase.co",
        "SUPABASE_SECRET_KEY": "sb_secret_the_projects_own",
        "STRIPE_WEBHOOK_SECRET": "whsec_the_endpoints_own",
    }
    assert Settings.from_env(env).live


def test_the_env_example_is_refused_once_pointed_at_real_stripe() -> None:
    env = {}
    for line in (Path(__file__).parents[2] / ".env.example").read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and not line.startswith("#"):
            env[name.strip()] = value.strip()
    assert not Settings.from_env(env).live  # as shipped: the stand-ins
    del env["STRIPE_API_BASE"]
    # its Supabase secret key is the CLI's public demo one
    with pytest.raises(SettingsError, match="SUPABASE_SECRET_KEY"):
        Settings.from_env(env)


@pytest.mark.parametrize("name", ["REQUEST_HEADER_TIMEOUT", "REQUEST_BODY_TIMEOUT"])
@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "soon"])
def test_request_timeouts_must_be_positive_seconds(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({**COMPLETE, name: value})


def test_request_timeouts_default_to_10_and_30_seconds() -> None:
    settings = Settings.from_env({**COMPLETE, "REQUEST_HEADER_TIMEOUT": "2.5"})
    assert (settings.request_header_timeout, settings.request_body_timeout) == (2.5, 30.0)


@pytest.mark.parametrize(
    ("supabase_url", "issuer"),
    [
        (None, None),
        ("https://abc.supabase.co", "https://abc.supabase.co/auth/v1"),
        ("https://abc.supabase.co/", "https://abc.supabase.co/auth/v1"),
    ],
)
def test_the_token_issuer_follows_supabase_url(
    supabase_url: str | None, issuer: str | None
) -> None:
    env = dict(COMPLETE)
    if supabase_url:
        env["SUPABASE_URL"] = supabase_url
    assert Settings.from_env(env).token_issuer == issuer


def test_promotion_codes_are_off_unless_turned_on() -> None:
    assert Settings.from_env(COMPLETE).checkout_promotion_codes is False
    assert Settings.from_env(
        {**COMPLETE, "CHECKOUT_PROMOTION_CODES": "true"}
    ).checkout_promotion_codes
    with pytest.raises(SettingsError, match="CHECKOUT_PROMOTION_CODES"):
        Settings.from_env({**COMPLETE, "CHECKOUT_PROMOTION_CODES": "maybe"})


def test_early_fraud_warnings_are_refunded_unless_turned_off() -> None:
    assert Settings.from_env(COMPLETE).efw_auto_refund is True
    assert Settings.from_env({**COMPLETE, "EFW_AUTO_REFUND": "false"}).efw_auto_refund is False
    assert Settings.from_env({**COMPLETE, "EFW_AUTO_REFUND": "true"}).efw_auto_refund is True
    with pytest.raises(SettingsError, match="EFW_AUTO_REFUND"):
        Settings.from_env({**COMPLETE, "EFW_AUTO_REFUND": "sometimes"})
