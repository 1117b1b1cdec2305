"""`uv run python -m standins.supabase --port 54321 --database-url …`: serve it."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import uvicorn

from standins.supabase.app import create_app
from standins.supabase.config import (
    DEFAULT_PORT,
    DEMO_JWT_SECRET,
    DEMO_PUBLISHABLE_KEY,
    DEMO_SECRET_KEY,
    StandInConfig,
)
from standins.supabase.signing import ALGORITHMS


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
    )
    uvicorn.run(create_app(config), host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
