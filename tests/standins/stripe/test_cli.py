"""`python -m standins.stripe`, as `make dev` runs it: flags to a serving, delivering stand-in."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
import stripe

from standins.stripe.__main__ import main
from tests.standins.stripe.conftest import Receiver, create_session


@pytest.fixture
def served(receiver: Receiver) -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "standins.stripe",
            "--port",
            str(port),
            "--webhook",
            f"{receiver.url}=whsec_from_cli",
            "--retry-delays",
            "0.05,0.1",
            "--api-key",
            "sk_test_cli",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                httpx.get(f"{base}/_standin/delivery", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_cli_serves_and_delivers_to_the_configured_webhook(served: str, receiver: Receiver) -> None:
    client = stripe.StripeClient("sk_test_cli", base_addresses={"api": served})
    session = create_session(client)
    assert session.url == f"{served}/c/pay/{session.id}"
    receiver.fail_next = 1
    client.v1.checkout.sessions.expire(session.id)

    deadline = time.monotonic() + 10
    while len(receiver.received) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(receiver.received) == 2  # one 500, then the retry
    event = stripe.Webhook.construct_event(
        receiver.received[1].body, receiver.received[1].signature, "whsec_from_cli"
    )
    assert event.type == "checkout.session.expired"

    other_key = stripe.StripeClient("sk_test_other", base_addresses={"api": served})
    with pytest.raises(stripe.AuthenticationError):
        other_key.v1.checkout.sessions.list()


def test_cli_refuses_a_webhook_flag_without_a_secret(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--webhook", "http://127.0.0.1:8000/v1/webhooks/stripe"])
    assert exit_.value.code == 2
    assert "URL=whsec_" in capsys.readouterr().err


def test_webhook_endpoint_needs_a_valid_url(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as error:
        client.v1.webhook_endpoints.create(params={"url": "not a url", "enabled_events": ["*"]})
    assert (error.value.param, error.value.code) == ("url", "url_invalid")
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.webhook_endpoints.create(params={"url": "http://127.0.0.1:9/x"})  # type: ignore[typeddict-item]
    assert missing.value.param == "enabled_events"
