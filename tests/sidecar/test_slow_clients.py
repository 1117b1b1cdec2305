"""Slow clients, over a real socket: headers or a body trickled byte by byte get 408 and the
connection is closed; a connection that never sends anything is closed. The deadlines are
settings (REQUEST_HEADER_TIMEOUT, REQUEST_BODY_TIMEOUT); here they are short.
"""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import pytest

from sidecar.app import create_app
from sidecar.server import HttpToolsProtocol, http_protocol
from sidecar.settings import Settings
from standins.serving import listening_socket, serving
from tests.sidecar.conftest import bearer, make_settings, signature_header

DEADLINE = 0.6
TRICKLE_PAUSE = 0.15
# The most bytes a test trickles before giving up: far more time than the deadline allows.
MAX_TRICKLE = int(20 / TRICKLE_PAUSE)

IMPLEMENTATIONS = [
    "h11",
    pytest.param(
        "httptools",
        marks=pytest.mark.skipif(
            HttpToolsProtocol is None, reason="httptools is not installed (uvicorn[standard])"
        ),
    ),
]


@pytest.fixture(params=IMPLEMENTATIONS)
def sidecar(request: pytest.FixtureRequest, database_url: str) -> Iterator[tuple[str, int]]:
    settings = make_settings(
        database_url, request_header_timeout=DEADLINE, request_body_timeout=DEADLINE
    )
    with serving_sidecar(settings, request.param) as address:
        yield address


@contextmanager
def serving_sidecar(settings: Settings, implementation: str) -> Iterator[tuple[str, int]]:
    protocol = http_protocol(settings, implementation)
    with serving(create_app(settings), listening_socket(), "sidecar", http=protocol) as base:
        url = urlsplit(base)
        yield str(url.hostname), int(url.port or 80)


def connect(address: tuple[str, int]) -> socket.socket:
    conn = socket.create_connection(address, timeout=30)
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return conn


def trickle(conn: socket.socket, data: bytes) -> bool:
    """Send `data` a byte at a time; False as soon as the server has answered or closed."""
    for byte in data[:MAX_TRICKLE]:
        try:
            conn.sendall(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            return False
        time.sleep(TRICKLE_PAUSE)
        conn.setblocking(False)
        try:
            if conn.recv(1, socket.MSG_PEEK) is not None:
                return False
        except BlockingIOError:
            pass
        except (ConnectionResetError, OSError):
            return False
        finally:
            conn.setblocking(True)
    return True


def read_all(conn: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    while True:
        try:
            chunk = conn.recv(65536)
        except ConnectionResetError:
            return received
        if not chunk:
            return received
        received += chunk


def response_parts(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), headers, body


def assert_request_timeout(raw: bytes) -> None:
    status, headers, body = response_parts(raw)
    assert status == 408
    assert headers.get("connection") == "close"
    assert json.loads(body)["error"]["code"] == "request_timeout"


def test_headers_trickled_byte_by_byte_get_408_and_the_connection_closes(
    sidecar: tuple[str, int],
) -> None:
    with connect(sidecar) as conn:
        request = b"GET /healthz HTTP/1.1\r\nHost: sidecar\r\n" + b"X-Padding: " + b"a" * 1000
        assert not trickle(conn, request), "the server was still reading headers"
        assert_request_timeout(read_all(conn))


def test_a_connection_that_sends_nothing_is_closed(sidecar: tuple[str, int]) -> None:
    with connect(sidecar) as conn:
        assert read_all(conn) == b""  # closed, no answer to a request never made


def test_a_webhook_body_trickled_byte_by_byte_gets_408(sidecar: tuple[str, int]) -> None:
    body = b'{"id": "evt_slow", "pad": "' + b"x" * 1000 + b'"}'
    head = (
        b"POST /v1/webhooks/stripe HTTP/1.1\r\nHost: sidecar\r\n"
        b"Content-Type: application/json\r\n"
        b"Stripe-Signature: " + signature_header(body).encode() + b"\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
    )
    with connect(sidecar) as conn:
        conn.sendall(head)
        assert not trickle(conn, body), "the server was still reading the body"
        assert_request_timeout(read_all(conn))


def test_a_checkout_body_trickled_byte_by_byte_gets_408(sidecar: tuple[str, int]) -> None:
    body = json.dumps({"lesson_id": str(uuid.uuid4()), "pad": "x" * 1000}).encode()
    token = bearer(uuid.uuid4())["Authorization"]
    head = (
        b"POST /v1/checkout/sessions HTTP/1.1\r\nHost: sidecar\r\n"
        b"Content-Type: application/json\r\n"
        b"Authorization: " + token.encode() + b"\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
    )
    with connect(sidecar) as conn:
        conn.sendall(head)
        assert not trickle(conn, body), "the server was still reading the body"
        assert_request_timeout(read_all(conn))


def test_the_next_request_on_a_kept_alive_connection_has_its_own_header_deadline(
    sidecar: tuple[str, int],
) -> None:
    with connect(sidecar) as conn:
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: sidecar\r\n\r\n")
        first = b""
        while b'"ok"' not in first:
            first += conn.recv(65536)
        assert response_parts(first)[0] == 200
        assert not trickle(conn, b"GET /healthz HTTP/1.1\r\nHost: sidecar\r\nX-Pad: " + b"a" * 500)
        assert_request_timeout(read_all(conn))


def test_prompt_clients_are_served_under_the_same_deadlines(sidecar: tuple[str, int]) -> None:
    # headers and a body sent at once, several requests on one kept-alive connection
    body = b'{"lesson_id": "not a uuid"}'
    request = (
        b"POST /v1/checkout/sessions HTTP/1.1\r\nHost: sidecar\r\n"
        b"Content-Type: application/json\r\n"
        b"Authorization: " + bearer(uuid.uuid4())["Authorization"].encode() + b"\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    with connect(sidecar) as conn:
        for _ in range(3):
            conn.sendall(request)
            answer = b""
            while b"invalid_body" not in answer:
                chunk = conn.recv(65536)
                assert chunk, "closed"
                answer += chunk
            assert response_parts(answer)[0] == 422
            time.sleep(DEADLINE * 1.5)  # idle between requests is the keep-alive's business
