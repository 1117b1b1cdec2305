"""`create_app()`: a Mailpit-shaped outbox, kept in memory.

The Supabase CLI's local stack catches every mail Auth sends in Mailpit and serves it on port
54324. This stands in for the part of Mailpit a developer and the tests use, in Mailpit's own
shapes (github.com/axllent/mailpit, `server/apiv1`):

- `POST /api/v1/send`: Mailpit's send API (`From`, `To`, `Subject`, `Text`, `HTML`), which is
  how the Supabase stand-in's Auth hands it a mail (GoTrue speaks SMTP to Mailpit instead);
- `GET /api/v1/messages` (newest first, `start` and `limit`), `GET /api/v1/message/{ID}`
  (marks it read), `DELETE /api/v1/messages` (all, or the `IDs` given);
- `GET /`: the list as HTML, each message readable at `/view/{ID}` (its HTML body in a
  sandboxed frame, so a mail's markup never runs in the outbox's own page).

Nothing is kept across a restart (Mailpit's default, a temporary database, does the same).
"""

from __future__ import annotations

import html
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from litestar import Litestar, Request, Response, delete, get, post
from litestar.exceptions import HTTPException
from litestar.params import FromPath

AnyRequest = Request[Any, Any, Any]
SNIPPET_LENGTH = 250


@dataclass
class Message:
    id: str
    sender: dict[str, str]
    to: list[dict[str, str]]
    subject: str
    text: str
    html: str
    created: datetime
    read: bool = False
    message_id: str = field(default_factory=lambda: f"{uuid.uuid4()}@outbox.devstack")

    @property
    def size(self) -> int:
        return len(self.text.encode()) + len(self.html.encode())

    def summary(self) -> dict[str, Any]:
        """As Mailpit lists a message (`apiv1.MessageSummary`)."""
        return {
            "ID": self.id,
            "MessageID": self.message_id,
            "Read": self.read,
            "From": self.sender,
            "To": self.to,
            "Cc": [],
            "Bcc": [],
            "ReplyTo": [],
            "Subject": self.subject,
            "Created": self.created.isoformat().replace("+00:00", "Z"),
            "Tags": [],
            "Size": self.size,
            "Attachments": 0,
            "Snippet": snippet(self.text or strip_tags(self.html)),
        }

    def whole(self) -> dict[str, Any]:
        """As Mailpit returns one message (`apiv1.Message`)."""
        return {
            "ID": self.id,
            "MessageID": self.message_id,
            "From": self.sender,
            "To": self.to,
            "Cc": [],
            "Bcc": [],
            "ReplyTo": [],
            "ReturnPath": self.sender["Address"],
            "Subject": self.subject,
            "ListUnsubscribe": {"Header": "", "Links": [], "Errors": "", "HeaderPost": ""},
            "Date": self.created.isoformat().replace("+00:00", "Z"),
            "Tags": [],
            "Username": "",
            "Text": self.text,
            "HTML": self.html,
            "Size": self.size,
            "Inline": [],
            "Attachments": [],
        }


def strip_tags(markup: str) -> str:
    return html.unescape(re.sub(r"<[^>]*>", " ", markup))


def snippet(text: str) -> str:
    words = " ".join(text.split())
    return words if len(words) <= SNIPPET_LENGTH else words[:SNIPPET_LENGTH] + "..."


class Outbox:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: list[Message] = []

    def add(self, message: Message) -> None:
        with self._lock:
            self._messages.append(message)

    def newest_first(self) -> list[Message]:
        with self._lock:
            return list(reversed(self._messages))

    def find(self, message_id: str) -> Message | None:
        with self._lock:
            return next((m for m in self._messages if m.id == message_id), None)

    def delete(self, ids: list[str] | None) -> None:
        with self._lock:
            self._messages = [] if ids is None else [m for m in self._messages if m.id not in ids]


def _outbox(request: AnyRequest) -> Outbox:
    outbox: Outbox = request.app.state.outbox
    return outbox


def _address(value: object, where: str) -> dict[str, str]:
    if not isinstance(value, dict) or not isinstance(value.get("Email"), str):
        raise HTTPException(status_code=400, detail=f"{where} requires an Email")
    return {"Name": str(value.get("Name") or ""), "Address": value["Email"]}


def _error(request: AnyRequest, exc: HTTPException) -> Response[Any]:
    # Mailpit answers its API errors as plain text
    return Response(content=str(exc.detail), status_code=exc.status_code, media_type="text/plain")


@post("/api/v1/send", status_code=200)
async def send(request: AnyRequest) -> dict[str, str]:
    """Mailpit's send API: one message, stored as if it had arrived by SMTP."""
    body = await request.json()
    if not isinstance(body, dict):
        raise HTTPException(status_code=400, detail="invalid JSON body")
    recipients = body.get("To")
    if not isinstance(recipients, list) or not recipients:
        raise HTTPException(status_code=400, detail="To requires at least one recipient")
    message = Message(
        id=uuid.uuid4().hex[:22],
        sender=_address(body.get("From"), "From"),
        to=[_address(r, "To") for r in recipients],
        subject=str(body.get("Subject") or ""),
        text=str(body.get("Text") or ""),
        html=str(body.get("HTML") or ""),
        created=datetime.now(UTC),
    )
    _outbox(request).add(message)
    return {"ID": message.id}


@get("/api/v1/messages")
async def messages(request: AnyRequest) -> dict[str, Any]:
    """The list, newest first, as Mailpit pages it (`start`, `limit`, default 50)."""
    everything = _outbox(request).newest_first()
    try:
        start = max(int(request.query_params.get("start", 0)), 0)
        limit = max(int(request.query_params.get("limit", 50)), 0)
    except ValueError:
        raise HTTPException(status_code=400, detail="start and limit must be integers") from None
    page = everything[start : start + limit]
    return {
        "total": len(everything),
        "unread": sum(1 for m in everything if not m.read),
        "count": len(page),
        "messages_count": len(everything),
        "messages_unread": sum(1 for m in everything if not m.read),
        "start": start,
        "tags": [],
        "messages": [m.summary() for m in page],
    }


@get("/api/v1/message/{message_id:str}")
async def message(request: AnyRequest, message_id: FromPath[str]) -> dict[str, Any]:
    """One message with its bodies; reading it marks it read, as Mailpit does."""
    found = _outbox(request).find(message_id)
    if found is None:
        raise HTTPException(status_code=404, detail="message not found")
    found.read = True
    return found.whole()


@delete("/api/v1/messages", status_code=200)
async def delete_messages(request: AnyRequest) -> Response[str]:
    """Delete the messages whose `IDs` are given, or every message."""
    raw = await request.body()
    ids: list[str] | None = None
    if raw.strip():
        body = await request.json()
        given = body.get("IDs") if isinstance(body, dict) else None
        if isinstance(given, list) and given:
            ids = [str(i) for i in given]
    _outbox(request).delete(ids)
    return Response(content="ok", media_type="text/plain")


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{title}</title>
<style>body{{font:16px system-ui,sans-serif;margin:1rem auto;max-width:60rem;padding:0 1rem}}
table{{border-collapse:collapse;width:100%}}td,th{{border-bottom:1px solid #ddd;padding:.5rem;
text-align:left}}iframe{{border:1px solid #ddd;height:70vh;width:100%}}</style></head>
<body>{body}</body></html>"""


@get("/", media_type="text/html")
async def inbox(request: AnyRequest) -> str:
    """Every message, newest first, each linking to its page."""
    rows = "".join(
        f"<tr><td><a href='/view/{m.id}'>{html.escape(m.subject) or '(no subject)'}</a></td>"
        f"<td>{html.escape(', '.join(t['Address'] for t in m.to))}</td>"
        f"<td>{html.escape(m.sender['Address'])}</td>"
        f"<td><time>{m.created.strftime('%Y-%m-%d %H:%M:%S')} UTC</time></td></tr>"
        for m in _outbox(request).newest_first()
    )
    body = (
        "<h1>Mail outbox</h1><p>What the devstack's Auth sent (Mailpit's API: "
        "<a href='/api/v1/messages'>/api/v1/messages</a>).</p>"
        + (
            "<table><thead><tr><th>Subject</th><th>To</th><th>From</th><th>Received</th></tr>"
            f"</thead><tbody>{rows}</tbody></table>"
            if rows
            else "<p>No mail yet.</p>"
        )
    )
    return PAGE.format(title="Mail outbox", body=body)


@get("/view/{message_id:str}", media_type="text/html")
async def view(request: AnyRequest, message_id: FromPath[str]) -> str:
    """One message: headers, its HTML body in a sandboxed frame, and its text body."""
    found = _outbox(request).find(message_id)
    if found is None:
        raise HTTPException(status_code=404, detail="message not found")
    found.read = True
    frame = (
        f"<iframe title='The message' sandbox srcdoc='{html.escape(found.html, quote=True)}'>"
        "</iframe>"
        if found.html
        else ""
    )
    body = (
        f"<p><a href='/'>All mail</a></p><h1>{html.escape(found.subject)}</h1>"
        f"<p>To {html.escape(', '.join(t['Address'] for t in found.to))}, "
        f"from {html.escape(found.sender['Address'])}</p>{frame}"
        f"<pre>{html.escape(found.text)}</pre>"
    )
    return PAGE.format(title=html.escape(found.subject), body=body)


def create_app() -> Litestar:
    app = Litestar(
        route_handlers=[send, messages, message, delete_messages, inbox, view],
        exception_handlers={HTTPException: _error},
        openapi_config=None,
    )
    app.state.outbox = Outbox()
    return app
