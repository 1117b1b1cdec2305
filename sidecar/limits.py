"""What one request may cost the sidecar: how long its body may take, how deep its JSON may go.

The header deadline is the server's (see `sidecar.server`): an app only sees a request once
its headers are complete. Everything after that is here.
"""

from __future__ import annotations

from typing import Any

import anyio
import structlog
from litestar import Request
from litestar.enums import ScopeType
from litestar.exceptions import SerializationException
from litestar.types import ASGIApp, Receive, ReceiveMessage, Scope, Send

from sidecar.errors import RequestTimeout

log = structlog.get_logger("sidecar.limits")


class SidecarRequest(Request[Any, Any, Any]):
    """Litestar's request, with every unparsable JSON body refused alike.

    msgspec raises RecursionError past Python's recursion limit and UnicodeDecodeError for
    invalid UTF-8 inside a string (not its DecodeError), which Litestar would answer with
    500; as a SerializationException each is a 4xx `invalid_body`.
    """

    async def json(self) -> Any:
        try:
            return await super().json()
        except RecursionError:
            raise SerializationException("JSON nested too deeply") from None
        except UnicodeDecodeError:
            raise SerializationException("JSON not UTF-8") from None


def body_deadline_middleware(app: ASGIApp, seconds: float) -> ASGIApp:
    """Bounds the time from a request reaching the app to the last byte of its body (408).

    Once the body is complete, `receive` is passed through untouched (it then only reports a
    disconnect). The 408 answer asks the server to close the connection, so a client still
    trickling its body is not read any further.
    """

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        deadline = anyio.current_time() + seconds
        body_complete = False

        async def receive_within_deadline() -> ReceiveMessage:
            nonlocal body_complete
            if body_complete:
                return await receive()
            with anyio.move_on_after(deadline - anyio.current_time()):
                message = await receive()
                if message["type"] != "http.request" or not message.get("more_body", False):
                    body_complete = True
                return message
            log.warning("request_body_timeout", path=scope["path"], seconds=seconds)
            raise RequestTimeout(
                f"The request body did not arrive within {seconds:g} seconds.",
            )

        await app(scope, receive_within_deadline, send)

    return middleware
