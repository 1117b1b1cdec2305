"""uvicorn's HTTP protocol with a deadline on request headers.

uvicorn bounds an idle keep-alive connection but not a request whose headers arrive slowly:
a client sending one byte every few seconds (or opening a connection and sending nothing)
holds it, and its memory, for as long as it likes. Here a timer runs from the moment a
connection opens, or from the first byte of a request on a kept-alive connection, until that
request's headers are complete; when it fires the connection gets a 408 (or, if it never sent
a byte, is just closed). The app bounds the body itself (`sidecar.limits`).

`http_protocol(settings)` is what uvicorn's `http=` takes: a picklable partial, so uvicorn's
worker processes build the same protocol.

With several workers, `per_worker_socket` gives each its own listening socket where the
platform has SO_REUSEPORT (see `PerWorkerSocket`).
"""

from __future__ import annotations

import asyncio
import functools
import socket
from typing import Any, cast

import structlog
from uvicorn.protocols.http.h11_impl import H11Protocol

from sidecar.settings import Settings

__all__ = [
    "GuardedH11Protocol",
    "HeaderDeadline",
    "HttpToolsProtocol",
    "PerWorkerSocket",
    "http_protocol",
    "per_worker_socket",
    "reuse_port_available",
]

log = structlog.get_logger("sidecar.server")

_BODY = (
    b'{"error": {"code": "request_timeout", '
    b'"message": "The request headers did not arrive in time."}}'
)
HEADER_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\n"
    b"content-type: application/json\r\n"
    b"content-length: " + str(len(_BODY)).encode() + b"\r\n"
    b"connection: close\r\n"
    b"\r\n" + _BODY
)


class HeaderDeadline:
    """The timer one connection runs while it waits for a request's headers."""

    def __init__(self, seconds: float, loop: asyncio.AbstractEventLoop) -> None:
        self.seconds = seconds
        self._loop = loop
        self._timer: asyncio.TimerHandle | None = None
        self._transport: asyncio.Transport | None = None
        self._bytes_seen = False

    def connection_made(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._start()

    def data_received(self, *, headers_completed: bool, between_requests: bool) -> None:
        """After the parser ran: did a request's headers just complete, or are we waiting?"""
        if headers_completed:
            self._stop()
        elif between_requests:
            self._bytes_seen = True
            if self._timer is None:
                self._start()

    def connection_lost(self) -> None:
        self._stop()

    def _start(self) -> None:
        self._stop()
        self._timer = self._loop.call_later(self.seconds, self._expire)

    def _stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._bytes_seen = False

    def _expire(self) -> None:
        self._timer = None
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        log.warning("request_header_timeout", seconds=self.seconds, bytes_seen=self._bytes_seen)
        if self._bytes_seen:
            transport.write(HEADER_TIMEOUT_RESPONSE)
        transport.close()


class _HeaderDeadlineGuard:
    """Gives a uvicorn HTTP protocol (h11 or httptools, listed after it) a header deadline."""

    loop: asyncio.AbstractEventLoop
    cycle: Any

    def __init__(self, *args: Any, header_timeout: float = 10.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_deadline = HeaderDeadline(header_timeout, self.loop)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        # uvicorn's protocols serve stream (not datagram) transports
        self.header_deadline.connection_made(cast(asyncio.Transport, transport))

    def data_received(self, data: bytes) -> None:
        cycle = self.cycle
        super().data_received(data)  # type: ignore[misc]
        self.header_deadline.data_received(
            headers_completed=self.cycle is not cycle,
            between_requests=self.cycle is None or self.cycle.response_complete,
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self.header_deadline.connection_lost()
        super().connection_lost(exc)  # type: ignore[misc]


class GuardedH11Protocol(_HeaderDeadlineGuard, H11Protocol):
    """uvicorn's h11 protocol with a header deadline."""


try:  # uvicorn[standard] brings httptools; without it uvicorn serves with h11
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover - depends on the install
    HttpToolsProtocol = None  # type: ignore[assignment,misc]

if HttpToolsProtocol is not None:

    class GuardedHttpToolsProtocol(_HeaderDeadlineGuard, HttpToolsProtocol):
        """uvicorn's httptools protocol with a header deadline."""


def http_protocol(settings: Settings, implementation: str = "auto") -> Any:
    """uvicorn's `http=` argument: "h11", "httptools", or "auto" (httptools when installed)."""
    if implementation == "auto":
        implementation = "h11" if HttpToolsProtocol is None else "httptools"
    protocol: type[GuardedH11Protocol] | type[GuardedHttpToolsProtocol] = GuardedH11Protocol
    if implementation == "httptools":
        if HttpToolsProtocol is None:
            raise RuntimeError("http='httptools' needs httptools (uvicorn[standard])")
        protocol = GuardedHttpToolsProtocol
    return functools.partial(protocol, header_timeout=settings.request_header_timeout)


# --- one listening socket per worker (SO_REUSEPORT) -----------------------------------------


def reuse_port_available() -> bool:
    """Whether this platform lets several sockets listen on one port (Linux, the BSDs)."""
    if not hasattr(socket, "SO_REUSEPORT"):
        return False
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    except OSError:  # the constant exists but the kernel refuses it
        return False
    return True


def bind_reuse_port(family: int, address: tuple[str, int]) -> socket.socket:
    """A new TCP socket bound to `address` with SO_REUSEPORT (not listening yet)."""
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


class PerWorkerSocket(socket.socket):
    """The sidecar's address, bound anew by each uvicorn worker that receives it.

    uvicorn's supervisor binds one socket and hands it to every worker, which then all wait on
    one accept queue: whichever is awake first takes the connection, and under load one
    worker was measured taking four fifths of the CPU. This socket is bound in the supervisor
    with SO_REUSEPORT (the port is reserved and an address in use is reported before any
    worker starts) but never listens, so the kernel gives it no connection. Pickled into a
    worker (multiprocessing passes the supervisor's sockets that way), it becomes a new socket
    on the same address with SO_REUSEPORT, which that worker listens on alone: the kernel
    spreads new connections across the workers' own queues.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        host, port = self.getsockname()[:2]
        return bind_reuse_port, (int(self.family), (host, port))


def per_worker_socket(host: str, port: int) -> PerWorkerSocket:
    """The supervisor's bound, non-listening socket for `host:port` (see PerWorkerSocket).

    OSError when anything already holds the port, as with one shared socket: SO_REUSEPORT
    alone would let this sidecar share the port (and its connections) with another process
    of the same user listening there, a previous sidecar's leftover worker say.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:  # without SO_REUSEPORT
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
        port = probe.getsockname()[1]
    sock = PerWorkerSocket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock
