"""`uv run python -m standins.supabase --port 54321 --database-url …`: serve it."""

from __future__ import annotations

import argparse
import os
import re
import tomllib
from pathlib import Path
from typing import Any

import uvicorn

from standins.supabase import mail
from standins.supabase.app import create_app
from standins.supabase.config import (
    DEFAULT_PORT,
    DEMO_JWT_SECRET,
    DEMO_PUBLISHABLE_KEY,
    DEMO_SECRET_KEY,
    StandInConfig,
)
from standins.supabase.signing import ALGORITHMS


def auth_settings(config_toml: Path | None) -> dict[str, Any]:
    """What the stand-in's Auth takes from the project's supabase/config.toml (as the CLI)."""
    if config_toml is None:
        return {}
    auth = tomllib.loads(config_toml.read_text()).get("auth", {})
    email = auth.get("email", {})
    return {
        "recovery_template": mail.recovery_template(config_toml),
        "email_change_template": mail.email_change_template(config_toml),
        "secure_email_change": bool(email.get("double_confirm_changes", True)),
        "otp_expiry_seconds": int(email.get("otp_expiry", 3600)),
        "email_max_frequency_seconds": duration_seconds(str(email.get("max_frequency", "1s"))),
        "additional_redirect_urls": tuple(auth.get("additional_redirect_urls", ())),
    }


def duration_seconds(value: str) -> int:
    """A Go duration as the CLI writes it ("1s", "60s", "1m0s") in whole seconds."""
    units = {"h": 3600, "m": 60, "s": 1}
    parts = re.findall(r"(\d+)([hms])", value)
    if not parts or "".join(n + u for n, u in parts) != value:
        raise ValueError(f"not a duration: {value!r}")
    return sum(int(n) * units[u] for n, u in parts)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m standins.supabase", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL"),
        help="Postgres to serve (default: $DATABASE_URL), as a role that may SET ROLE",
    )
    parser.add_argument(
        "--jwt-secret",
        default=os.environ.get("SUPABASE_JWT_SECRET", DEMO_JWT_SECRET),
        help="the project's legacy JWT secret: signs the legacy anon/service_role keys (default:"
        " $SUPABASE_JWT_SECRET, else the CLI's demo one)",
    )
    parser.add_argument(
        "--publishable-key",
        default=os.environ.get("SUPABASE_PUBLISHABLE_KEY", DEMO_PUBLISHABLE_KEY),
        help="sb_publishable_… (default: $SUPABASE_PUBLISHABLE_KEY, else the CLI's demo one)",
    )
    parser.add_argument(
        "--signing-algorithm",
        choices=ALGORITHMS,
        default="ES256",
        help="ES256: an asymmetric key with a JWKS, as Supabase projects created today sign;"
        " HS256: the legacy JWT secret",
    )
    parser.add_argument(
        "--signing-keys-file",
        type=Path,
        help="keep the ES256 key pairs here across restarts (default: a new key in memory)",
    )
    parser.add_argument(
        "--public-url", help="the address clients use, SUPABASE_URL (default http://HOST:PORT)"
    )
    parser.add_argument(
        "--storage-dir",
        type=Path,
        default=Path(os.environ.get("FILE_STORAGE_BACKEND_PATH") or ".devstack/storage"),
        help="where Storage keeps object files (default: $FILE_STORAGE_BACKEND_PATH, "
        "else .devstack/storage)",
    )
    parser.add_argument(
        "--site-url",
        default=os.environ.get("SITE_URL", "http://127.0.0.1:3000"),
        help="Auth's SITE_URL: `{{ .SiteURL }}` in mails (default: $SITE_URL)",
    )
    parser.add_argument(
        "--mail-outbox-url",
        default=os.environ.get("MAIL_OUTBOX_URL"),
        help="a Mailpit (or standins.mail) to send Auth's mail to (default: $MAIL_OUTBOX_URL;"
        " unset: mail is not sent)",
    )
    parser.add_argument(
        "--auth-config",
        type=Path,
        help="the project's supabase/config.toml: mail templates ([auth.email.template.*]),"
        " [auth.email] otp_expiry and max_frequency, additional_redirect_urls",
    )
    args = parser.parse_args(argv)
    if not args.database_url:
        parser.error("--database-url (or DATABASE_URL) is required")
    config = StandInConfig(
        database_url=args.database_url,
        jwt_secret=args.jwt_secret,
        publishable_key=args.publishable_key,
        # the secret key comes from the environment only: argv is visible to `ps`
        secret_key=os.environ.get("SUPABASE_SECRET_KEY") or DEMO_SECRET_KEY,
        signing_algorithm=args.signing_algorithm,
        signing_keys_file=args.signing_keys_file,
        public_url=args.public_url or f"http://{args.host}:{args.port}",
        storage_dir=args.storage_dir,
        site_url=args.site_url.rstrip("/"),
        mail_outbox_url=args.mail_outbox_url,
        **auth_settings(args.auth_config),
    )
    uvicorn.run(create_app(config), host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
