"""`uv run python -m standins.mail --port 54324`: the mail outbox (Mailpit's API)."""

from __future__ import annotations

import argparse

import uvicorn

from standins.mail.app import create_app

DEFAULT_PORT = 54324


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m standins.mail", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    args = parser.parse_args(argv)
    uvicorn.run(create_app(), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
