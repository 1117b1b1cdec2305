"""How one stand-in runs: its database, the project's API keys, how it signs tokens, and
GoTrue's settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from standins.supabase.mail import DEFAULT_EMAIL_CHANGE, DEFAULT_RECOVERY, EmailTemplate
from standins.supabase.signing import Algorithm

DEFAULT_PORT = 54321
# The Supabase CLI's local JWT secret: the demo keys in .env.example are signed with it.
DEMO_JWT_SECRET = "super-secret-jwt-token-with-at-least-32-characters-long"  # noqa: S105
# The Supabase CLI's local publishable and secret API keys (public values, as in .env.example).
DEMO_PUBLISHABLE_KEY = "sb_publishable_ACJWlzQHlZjBrEguHvfOxg_3BJgxAaH"
DEMO_SECRET_KEY = "sb_secret_N7UND0UgjKTVK-Uodkm0Hg_xSvEMPvz"  # noqa: S105


@dataclass(frozen=True)
class StandInConfig:
    database_url: str = field(repr=False)
    # The legacy JWT secret: signs the legacy anon/service_role keys (and, with
    # signing_algorithm HS256, learners' tokens as projects created before 2025 do).
    jwt_secret: str = field(default=DEMO_JWT_SECRET, repr=False)
    publishable_key: str = DEMO_PUBLISHABLE_KEY
    secret_key: str = field(default=DEMO_SECRET_KEY, repr=False)
    # ES256: an asymmetric signing key with a JWKS (projects created today); HS256: legacy.
    signing_algorithm: Algorithm = "ES256"
    # Where the ES256 key pairs are kept across restarts; None keeps them in memory.
    signing_keys_file: Path | None = None
    # The address clients use (SUPABASE_URL); access tokens name `<public_url>/auth/v1` as iss.
    public_url: str = f"http://127.0.0.1:{DEFAULT_PORT}"
    # GoTrue's defaults: GOTRUE_JWT_EXP, GOTRUE_SECURITY_REFRESH_TOKEN_REUSE_INTERVAL,
    # GOTRUE_PASSWORD_MIN_LENGTH; email sign-ups are confirmed at once (mailer_autoconfirm).
    jwt_expiry_seconds: int = 3600
    refresh_token_reuse_interval: float = 10.0
    password_min_length: int = 6
    # GoTrue's SITE_URL (`{{ .SiteURL }}` in mail templates) and URI_ALLOW_LIST (redirect_to)
    site_url: str = "http://127.0.0.1:3000"
    additional_redirect_urls: tuple[str, ...] = ()
    # Where Auth's mail goes: a Mailpit (its send API), as the CLI's local stack; None: not sent
    mail_outbox_url: str | None = None
    # [auth.email.template.recovery] and [auth.email] otp_expiry / max_frequency of config.toml
    recovery_template: EmailTemplate = field(
        default_factory=lambda: EmailTemplate(*DEFAULT_RECOVERY)
    )
    # [auth.email.template.email_change]; [auth.email] double_confirm_changes (GoTrue's
    # MAILER_SECURE_EMAIL_CHANGE_ENABLED, on by default): a change of address is confirmed
    # from both the current and the new address
    email_change_template: EmailTemplate = field(
        default_factory=lambda: EmailTemplate(*DEFAULT_EMAIL_CHANGE)
    )
    secure_email_change: bool = True
    otp_expiry_seconds: int = 3600
    email_max_frequency_seconds: int = 1
    # GOTRUE_EXTERNAL_FLOW_STATE_EXPIRY_DURATION: a PKCE flow's code must be exchanged by then
    flow_state_expiry_seconds: int = 300
    # Where Storage keeps object files (storage-api's FILE_STORAGE_BACKEND_PATH); None: no Storage.
    storage_dir: Path | None = None
    pool_max_size: int = 10
    pool_timeout: float = 5.0

    @property
    def issuer(self) -> str:
        return f"{self.public_url.rstrip('/')}/auth/v1"
