"""The sidecar's configuration: read from the environment once, at start-up, and passed in."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import jwt
from dotenv import find_dotenv, load_dotenv


class SettingsError(Exception):
    """A required variable is missing or malformed; the message names it."""


# Legacy names still read (Supabase's keys before sb_publishable_/sb_secret_), each with the
# name that replaces it; start-up logs a deprecation line for each one in use.
LEGACY_NAMES = {"SUPABASE_SERVICE_ROLE_KEY": "SUPABASE_SECRET_KEY"}


# Values everyone has: the Supabase CLI's local JWT secret and API keys (legacy JWTs signed
# with that secret, and the newer sb_ keys), and the devstack's webhook secrets. Fine against
# the offline stand-ins; in live mode they would let anyone mint tokens or sign webhooks.
DEMO_JWT_SECRET = "super-secret-jwt-token-with-at-least-32-characters-long"  # noqa: S105
# Every public default a project may still be signing with: the CLI's, and self-hosted
# Supabase's docker/.env.example. A key that verifies under any of them is anyone's key.
DEMO_JWT_SECRETS = frozenset(
    {DEMO_JWT_SECRET, "your-super-secret-jwt-token-with-at-least-32-characters-long"}
)
DEMO_API_KEYS = frozenset(
    {
        # anon
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6ImFub24i"
        "LCJleHAiOjE5ODM4MTI5OTZ9.CRXP1A7WOeoJeXxjNni43kdQwgnWNReilDMblYTn_I0",
        # service_role
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6InNlcnZp"
        "Y2Vfcm9sZSIsImV4cCI6MTk4MzgxMjk5Nn0.EGIM96RAZx35lJzdJsyH-qQwv8Hdp7fsn3W0YpN81IU",
        "sb_publishable_ACJWlzQHlZjBrEguHvfOxg_3BJgxAaH",
        "sb_secret_N7UND0UgjKTVK-Uodkm0Hg_xSvEMPvz",
    }
)
DEMO_WEBHOOK_SECRET_PREFIX = "whsec_devstack"  # noqa: S105


def is_demo_key(key: str | None) -> bool:
    """A published demo key, or any JWT signed with a public default secret (whatever it says)."""
    if key is None:
        return False
    if key in DEMO_API_KEYS:
        return True
    for secret in DEMO_JWT_SECRETS:
        try:
            jwt.decode(
                key,
                secret,
                algorithms=["HS256"],
                options={"verify_exp": False, "verify_aud": False, "verify_iss": False},
            )
        except jwt.PyJWTError:
            continue
        return True
    return False


@dataclass(frozen=True, slots=True)
class Settings:
    # Secrets stay out of repr() so a logged or printed Settings never leaks them.
    stripe_secret_key: str = field(repr=False)
    stripe_webhook_secret: str = field(repr=False)
    site_url: str
    # Stripe stand-in (devstack, tests); None means api.stripe.com.
    stripe_api_base: str | None = None
    database_url: str | None = field(default=None, repr=False)
    supabase_url: str | None = None
    # sb_secret_… (or a legacy service_role JWT): the PostgREST adapter's key
    supabase_secret_key: str | None = field(default=None, repr=False)
    supabase_jwt_secret: str | None = field(default=None, repr=False)
    supabase_jwks_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"
    database_pool_min: int = 1
    database_pool_max: int = 10
    # Seconds a request waits for a database connection before answering 503.
    database_pool_timeout: float = 5.0
    # Seconds one SQL call may run before it is cancelled and answered 503 (a lock held, a
    # database that stopped answering): a slow database never leaves a request hanging.
    database_call_timeout: float = 10.0
    # None turns prepared statements off, which transaction poolers (Supavisor on 6543,
    # PgBouncer) require; an integer turns them on after that many executions.
    database_prepare_threshold: int | None = None
    # Slow clients: seconds a request's headers may take from its first byte (or from the
    # connection opening), and its body from when the headers were complete; then 408.
    request_header_timeout: float = 10.0
    request_body_timeout: float = 30.0
    # Checkout Sessions offer a promotion code field (allow_promotion_codes); off by default.
    checkout_promotion_codes: bool = False
    # Legacy variable names this configuration was read from (see LEGACY_NAMES).
    legacy_names: tuple[str, ...] = ()
    # CHECKOUT_INVOICES: create Checkout Sessions with invoice_creation[enabled]=true, so each
    # payment gets a paid invoice (Stripe charges for these; off by default).
    checkout_invoices: bool = False
    # EFW_AUTO_REFUND: an actionable early fraud warning on a payment that granted a lesson ends
    # access and refunds the payment in full (on by default, as Stripe advises); off, it is only
    # listed in payments_needing_attention and the learner keeps the lesson until an operator acts.
    efw_auto_refund: bool = True

    @property
    def live(self) -> bool:
        """Live mode: a live Stripe key, or the real Stripe API (no stand-in)."""
        return self.stripe_secret_key.startswith(("sk_live_", "rk_live_")) or (
            self.stripe_api_base is None
        )

    @property
    def token_issuer(self) -> str | None:
        """The `iss` Supabase Auth writes in access tokens, when SUPABASE_URL is known."""
        return f"{self.supabase_url.rstrip('/')}/auth/v1" if self.supabase_url else None

    def __post_init__(self) -> None:
        for name in ("stripe_secret_key", "stripe_webhook_secret", "site_url"):
            if not getattr(self, name):
                raise SettingsError(f"{name.upper()} is not set")
        if urlsplit(self.site_url).scheme not in ("http", "https"):
            raise SettingsError("SITE_URL must be an http(s) URL, e.g. https://shop.example.com")
        if self.site_url.endswith("/"):
            object.__setattr__(self, "site_url", self.site_url.rstrip("/"))
        if not self.database_url and not (self.supabase_url and self.supabase_secret_key):
            raise SettingsError(
                "DATABASE_URL is not set (or set SUPABASE_URL and SUPABASE_SECRET_KEY)"
            )
        if not self.supabase_jwt_secret and not self.supabase_jwks_url:
            raise SettingsError(
                "SUPABASE_JWT_SECRET is not set (or set SUPABASE_JWKS_URL / SUPABASE_URL "
                "so tokens can be checked against the project's JWKS)"
            )
        if not 1 <= self.database_pool_min <= self.database_pool_max:
            raise SettingsError("DATABASE_POOL_MIN must be between 1 and DATABASE_POOL_MAX")
        for name in ("database_call_timeout", "request_header_timeout", "request_body_timeout"):
            if not 0 < getattr(self, name) < math.inf:
                raise SettingsError(f"{name.upper()} must be a positive number of seconds")
        if self.live:
            self._refuse_demo_secrets()

    def _refuse_demo_secrets(self) -> None:
        demo = {
            "SUPABASE_JWT_SECRET": self.supabase_jwt_secret in DEMO_JWT_SECRETS,
            self._name_of("SUPABASE_SECRET_KEY"): is_demo_key(self.supabase_secret_key),
            "STRIPE_WEBHOOK_SECRET": self.stripe_webhook_secret.startswith(
                DEMO_WEBHOOK_SECRET_PREFIX
            ),
        }
        for name, is_demo in demo.items():
            if is_demo:
                raise SettingsError(
                    f"{name} is a public demo value (Supabase CLI / devstack); in live mode "
                    "(an sk_live_ key, or STRIPE_API_BASE unset) set the project's own secret"
                )

    def _name_of(self, name: str) -> str:
        """The variable a value was read from: `name`, or the legacy name it replaces."""
        legacy = [old for old, new in LEGACY_NAMES.items() if new == name]
        return next((old for old in legacy if old in self.legacy_names), name)

    def deprecations(self) -> list[str]:
        """One line per legacy variable in use, for start-up to print."""
        return [
            f"{old} is deprecated: name it {LEGACY_NAMES[old]} (Supabase's current API keys)"
            for old in self.legacy_names
        ]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from `environ`, or from os.environ after reading `.env` when present."""
        if environ is None:
            # the working directory's .env (not one found beside this module); real
            # environment variables win over it
            load_dotenv(find_dotenv(usecwd=True), override=False)
            environ = os.environ

        def optional(name: str) -> str | None:
            value = environ.get(name, "").strip()
            return value or None

        def integer(name: str, default: int) -> int:
            raw = optional(name)
            if raw is None:
                return default
            try:
                return int(raw)
            except ValueError:
                raise SettingsError(f"{name} must be an integer, got {raw!r}") from None

        def boolean(name: str, default: bool) -> bool:
            raw = optional(name)
            if raw is None:
                return default
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise SettingsError(f"{name} must be true or false, got {raw!r}")

        def number(name: str, default: float) -> float:
            raw = optional(name)
            if raw is None:
                return default
            try:
                return float(raw)
            except ValueError:
                raise SettingsError(f"{name} must be a number of seconds, got {raw!r}") from None

        supabase_url = optional("SUPABASE_URL")
        jwks_url = optional("SUPABASE_JWKS_URL")
        if jwks_url is None and supabase_url is not None:
            jwks_url = f"{supabase_url.rstrip('/')}/auth/v1/.well-known/jwks.json"
        threshold = optional("DATABASE_PREPARE_THRESHOLD")
        secret_key = optional("SUPABASE_SECRET_KEY")
        legacy_names: tuple[str, ...] = ()
        if secret_key is None and (secret_key := optional("SUPABASE_SERVICE_ROLE_KEY")):
            legacy_names = ("SUPABASE_SERVICE_ROLE_KEY",)
        return cls(
            stripe_secret_key=optional("STRIPE_SECRET_KEY") or "",
            stripe_webhook_secret=optional("STRIPE_WEBHOOK_SECRET") or "",
            site_url=optional("SITE_URL") or "",
            stripe_api_base=optional("STRIPE_API_BASE"),
            database_url=optional("DATABASE_URL"),
            supabase_url=supabase_url,
            supabase_secret_key=secret_key,
            legacy_names=legacy_names,
            supabase_jwt_secret=optional("SUPABASE_JWT_SECRET"),
            supabase_jwks_url=jwks_url,
            host=optional("HOST") or "127.0.0.1",
            port=integer("PORT", 8000),
            log_level=(optional("LOG_LEVEL") or "INFO").upper(),
            database_pool_min=integer("DATABASE_POOL_MIN", 1),
            database_pool_max=integer("DATABASE_POOL_MAX", 10),
            database_pool_timeout=number("DATABASE_POOL_TIMEOUT", 5.0),
            database_call_timeout=number("DATABASE_CALL_TIMEOUT", 10.0),
            request_header_timeout=number("REQUEST_HEADER_TIMEOUT", 10.0),
            request_body_timeout=number("REQUEST_BODY_TIMEOUT", 30.0),
            checkout_promotion_codes=boolean("CHECKOUT_PROMOTION_CODES", False),
            checkout_invoices=boolean("CHECKOUT_INVOICES", False),
            efw_auto_refund=boolean("EFW_AUTO_REFUND", True),
            database_prepare_threshold=(
                None
                if threshold is None or threshold.lower() == "none"
                else integer("DATABASE_PREPARE_THRESHOLD", 0)
            ),
        )
