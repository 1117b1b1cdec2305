"""`uv run python -m standins.stripe --port 12111 --webhook URL=whsec_…`: serve the stand-in."""

from __future__ import annotations

import argparse

import uvicorn

from standins.stripe.app import create_app
from standins.stripe.config import DEFAULT_PORT, StandInConfig, WebhookTarget


def _webhook(text: str) -> WebhookTarget:
    url, sep, secret = text.rpartition("=")
    if not sep or not url or not secret.startswith("whsec_"):
        raise argparse.ArgumentTypeError(f"expected URL=whsec_…, got {text!r}")
    return WebhookTarget(url=url, secret=secret)


def _delays(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected seconds like 1,2,4: {text!r}") from exc


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m standins.stripe", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument(
        "--public-base", help="address learners' browsers reach this on (default http://HOST:PORT)"
    )
    parser.add_argument(
        "--webhook",
        type=_webhook,
        action="append",
        default=[],
        metavar="URL=SECRET",
        help="deliver every event to URL, signed with SECRET (repeatable)",
    )
    parser.add_argument(
        "--api-key",
        action="append",
        default=[],
        help="accept only these secret keys (default: any sk_test_…)",
    )
    parser.add_argument(
        "--retry-delays",
        type=_delays,
        metavar="S,S,…",
        help="seconds before each webhook retry (default 2,4,8,… up to 1 h)",
    )
    args = parser.parse_args(argv)
    config = StandInConfig(
        public_base=args.public_base or f"http://{args.host}:{args.port}",
        api_keys=tuple(args.api_key),
        webhook_endpoints=tuple(args.webhook),
        **({"retry_delays": args.retry_delays} if args.retry_delays is not None else {}),
    )
    uvicorn.run(create_app(config), host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
