"""`uv run sidecar` serves the app; `uv run sidecar reconcile --since 72h` repairs purchases;
`uv run sidecar prune --older-than 30d` clears old Stripe event payloads (buyers' details);
`uv run sidecar attention` lists what needs an operator and `uv run sidecar resolve <id> --note …`
resolves one item."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import anyio
import stripe
import uvicorn
from litestar import Litestar
from uvicorn.supervisors import Multiprocess

from sidecar import attention
from sidecar.app import create_app, open_database
from sidecar.db import Database
from sidecar.logging import configure_logging
from sidecar.reconcile import parse_since, reconcile, since_now
from sidecar.server import http_protocol, per_worker_socket, reuse_port_available
from sidecar.settings import Settings, SettingsError
from sidecar.stripe_client import make_stripe_client


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
    prune = commands.add_parser(
        "prune", help="clear the payloads (buyers' names, emails) of events processed long ago"
    )
    prune.add_argument(
        "--older-than",
        default="30d",
        type=parse_since,
        help="clear events processed longer ago than this, e.g. 30d, 12h (default 30d)",
    )
    listing = commands.add_parser(
        "attention", help="list the payments that need an operator, oldest first"
    )
    listing.add_argument("--json", action="store_true", help="print the items as JSON")
    resolving = commands.add_parser(
        "resolve", help="resolve one attention item by its id, saying why"
    )
    resolving.add_argument("item_id", metavar="ID", help="the item's id, as `attention` lists it")
    resolving.add_argument("--note", required=True, help="why it is resolved (required)")
    resolving.add_argument(
        "--by",
        default=None,
        help="who resolves it (default: the operating system user running the command)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"sidecar: configuration error: {exc}", file=sys.stderr)
        return 2
    for line in settings.deprecations():
        print(f"sidecar: {line}", file=sys.stderr)
    if args.command == "reconcile":
        configure_logging("WARNING", stream=sys.stderr)
        return anyio.run(_reconcile, settings, args.since)
    if args.command == "prune":
        configure_logging("WARNING", stream=sys.stderr)
        return anyio.run(_prune, settings, args.older_than)
    if args.command in ("attention", "resolve"):
        return _attention(settings, args)
    try:
        workers = worker_count(os.environ.get("SIDECAR_WORKERS"))
    except ValueError as exc:
        print(f"sidecar: configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    options: dict[str, Any] = {
        # uvicorn restarts a worker that has not answered its supervisor within this; importing
        # the app takes longer than uvicorn's 5 s default on a busy machine
        "timeout_worker_healthcheck": 30,
        "host": settings.host,
        "port": settings.port,
        "log_config": None,
        "access_log": False,
        "server_header": False,
        # nothing here reads the client's address, so X-Forwarded-* need not be parsed (it
        # cost about 7% of a redelivered webhook's CPU)
        "proxy_headers": False,
        # uvloop (uvicorn[standard]); a deadline on request headers (408) over httptools, which
        # uvicorn[standard] installs; the app bounds the body
        "loop": "uvloop",
        "http": http_protocol(settings),
    }
    if workers == 1:
        uvicorn.run(create_app(settings), **options)
        return 0
    # Each worker is a fresh process that imports the app factory and reads the same
    # environment (the parent's .env already loaded into it).
    app = "sidecar.cli:worker_app"
    if not reuse_port_available() or os.environ.get("SIDECAR_REUSE_PORT", "").strip() == "0":
        # one socket, shared by the workers (SIDECAR_REUSE_PORT=0 asks for it where the
        # platform could do better: to compare, or beside another server on the same port)
        uvicorn.run(app, factory=True, workers=workers, **options)
        return 0
    # A listening socket per worker (SO_REUSEPORT), under uvicorn's own supervisor (it restarts
    # a worker that dies or stops answering): what uvicorn.run does, with that socket.
    config = uvicorn.Config(app, factory=True, workers=workers, **options)
    try:
        sock = per_worker_socket(settings.host, settings.port)
    except OSError as exc:
        print(f"sidecar: cannot listen on {settings.host}:{settings.port}: {exc}", file=sys.stderr)
        return 3  # uvicorn's STARTUP_FAILURE
    try:
        Multiprocess(config, sockets=[sock]).run()
    except KeyboardInterrupt:  # pragma: no cover - as uvicorn.run
        pass
    finally:
        sock.close()
    return 0


def worker_count(raw: str | None) -> int:
    """SIDECAR_WORKERS: processes serving the one port; default, the machine's cores."""
    if raw is None or not raw.strip():
        cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
        return len(cores) if cores else os.cpu_count() or 1
    if not raw.strip().isdigit() or int(raw) < 1:
        raise ValueError(f"SIDECAR_WORKERS must be a whole number of processes, got {raw!r}")
    return int(raw)


def worker_app() -> Litestar:
    """The app as one worker process builds it (uvicorn's factory for SIDECAR_WORKERS > 1)."""
    settings = Settings.from_env()
    configure_logging(settings.log_level)
    return create_app(settings)


async def _reconcile(settings: Settings, ago: timedelta) -> int:
    since = since_now(ago)
    database = open_database(settings)
    http_client = stripe.HTTPXClient(timeout=20)
    await database.open()
    try:
        report = await reconcile(
            make_stripe_client(settings, http_client),
            database,
            since,
            efw_auto_refund=settings.efw_auto_refund,
        )
    finally:
        await database.close()
        await http_client.close_async()  # type: ignore[no-untyped-call]
    print(report.summary(since))
    # non-zero so that a scheduler alerts: see public.payments_needing_attention
    return 1 if report.needing_attention else 0


async def prune_event_payloads(database: Database, older_than: timedelta) -> int:
    """Clear the payload of every event processed more than `older_than` ago (failed and
    deferred events keep theirs until they apply); return how many were cleared."""
    seconds = int(older_than.total_seconds())
    cleared = await database.rpc("prune_stripe_event_payloads", {"p_older_than": f"{seconds} s"})
    return int(str(cleared))


async def _prune(settings: Settings, older_than: timedelta) -> int:
    database = open_database(settings)
    await database.open()
    try:
        cleared = await prune_event_payloads(database, older_than)
    finally:
        await database.close()
    print(f"pruned {cleared} Stripe event payloads processed over {older_than} ago")
    return 0


def _attention(settings: Settings, args: argparse.Namespace) -> int:
    if not settings.database_url:
        print(
            f"sidecar {args.command}: set DATABASE_URL (a service-role connection)", file=sys.stderr
        )
        return 2
    if args.command == "attention":
        print(attention.render(attention.list_items(settings.database_url), as_json=args.json))
        return 0
    resolved_by = args.by if args.by is not None else getpass.getuser()
    try:
        resolution = attention.resolve(settings.database_url, args.item_id, args.note, resolved_by)
    except attention.AttentionError as exc:
        print(f"sidecar resolve: {exc}", file=sys.stderr)
        return 1
    print(f"resolved {resolution['item_id']} by {resolution['resolved_by']}: {resolution['note']}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
