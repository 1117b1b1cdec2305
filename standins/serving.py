"""Serve an ASGI app with uvicorn on a free local port in a background thread (for tests).

One piece used by every suite that needs a real socket: the Stripe stand-in's test helper,
the sidecar's tests. The listening socket sets TCP_NODELAY, which accepted connections
inherit; without it every response waits ~40 ms (Nagle's algorithm meeting delayed ACKs).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn


def listening_socket(host: str = "127.0.0.1") -> socket.socket:
    """A socket bound to a free port, ready to hand to uvicorn."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, 0))
    return sock


def free_port(host: str = "127.0.0.1") -> int:
    """A port free on `host` now, for a server started in another process."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{host}:{port}"


@contextmanager
def serving(app: Any, sock: socket.socket, name: str = "server", **config: Any) -> Iterator[str]:
    """Run `app` on `sock` until the block ends; yields its base URL once it accepts requests.

    `config` goes to uvicorn.Config (e.g. `http=` for another protocol class).
    """
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", **config))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the {name} did not start")
            time.sleep(0.01)
        yield base_url(sock)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
