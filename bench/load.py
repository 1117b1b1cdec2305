"""Closed-loop load at a fixed concurrency: `c` keep-alive HTTP/1.1 connections, or `c` tasks
sharing a psycopg pool, each sending its next request as soon as the last one is answered.

The HTTP client is a few lines over asyncio streams, with requests built before the clock
starts, so the load generator spends as little of the shared CPUs as possible.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class Run:
    seconds: float
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    bodies: list[bytes] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return len(self.latencies) / self.seconds


def http_request(method: str, base: str, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    host = urlsplit(base).netloc
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        lowered = name.strip().lower()
        if lowered == b"content-length":
            length = int(value)
        elif lowered == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if not chunked:
        return status, await reader.readexactly(length)
    body = b""
    while True:
        size = int((await reader.readuntil(b"\r\n")).strip(), 16)
        chunk = await reader.readexactly(size + 2)
        if size == 0:
            return status, body
        body += chunk[:-2]


async def http_load(base: str, requests: Sequence[bytes], concurrency: int) -> Run:
    """Send every request once over `concurrency` keep-alive connections."""
    parts = urlsplit(base)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    queue = list(reversed(requests))
    run = Run(0.0)

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while queue:
                request = queue.pop()
                started = time.perf_counter()
                writer.write(request)
                status, body = await _read_response(reader)
                run.latencies.append(time.perf_counter() - started)
                run.statuses[status] = run.statuses.get(status, 0) + 1
                run.bodies.append(body)
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    run.seconds = time.perf_counter() - started
    return run


async def task_load(calls: Sequence[Callable[[], Awaitable[bytes]]], concurrency: int) -> Run:
    """Await every call once from `concurrency` tasks."""
    queue = list(reversed(calls))
    run = Run(0.0)

    async def worker() -> None:
        while queue:
            call = queue.pop()
            started = time.perf_counter()
            body = await call()
            run.latencies.append(time.perf_counter() - started)
            run.statuses[200] = run.statuses.get(200, 0) + 1
            run.bodies.append(body)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    run.seconds = time.perf_counter() - started
    return run
