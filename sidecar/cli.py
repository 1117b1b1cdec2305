"""`uv run sidecar` serves the app; `uv run sidecar reconcile --since 72h` repairs purchases."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import timedelta

import anyio
import stripe
import uvicorn

from sidecar.app import create_app, open_database
from sidecar.logging import configure_logging
from sidecar.payments import make_stripe_client
from sidecar.reconcile import parse_since, reconcile, since_now
from sidecar.server import http_protocol
from sidecar.settings import Settings, SettingsError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sidecar", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="serve the HTTP API on HOST:PORT (the default)")
    repair = commands.add_parser(
        "reconcile", help="record paid Checkout Sessions the database is missing"
    )
    repair.add_argument(
        "--since",
        default="72h",
        type=parse_since,
        help="how far back to list sessions, e.g. 72h, 30m, 7d (default 72h)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"sidecar: configuration error: {exc}", file=sys.stderr)
        return 2
    if args.command == "reconcile":
        configure_logging("WARNING", stream=sys.stderr)
        return anyio.run(_reconcile, settings, args.since)
    configure_logging(settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        server_header=False,
        # a deadline on request headers (408); the app bounds the body
        http=http_protocol(settings),
    )
    return 0


async def _reconcile(settings: Settings, ago: timedelta) -> int:
    since = since_now(ago)
    database = open_database(settings)
    http_client = stripe.HTTPXClient(timeout=20)
    await database.open()
    try:
        report = await reconcile(make_stripe_client(settings, http_client), database, since)
    finally:
        await database.close()
        await http_client.close_async()  # type: ignore[no-untyped-call]
    print(report.summary(since))
    # non-zero so that a scheduler alerts: see public.payments_needing_attention
    return 1 if report.needing_attention else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
