"""Auth's mail: the project's templates (supabase/config.toml, as the CLI reads them) rendered
as GoTrue renders them, and sent to the mail outbox (Mailpit's send API).

GoTrue fills a template from a fixed set of fields (`{{ .SiteURL }}`, `{{ .TokenHash }}`,
`{{ .Token }}`, `{{ .Email }}`, `{{ .RedirectTo }}`, `{{ .ConfirmationURL }}`); the stand-in
renders those field references, HTML-escaped, and nothing else of Go's template language.
"""

from __future__ import annotations

import html
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import httpx

# GoTrue's own recovery mail (internal/mailer/templatemailer), used when the project has none.
DEFAULT_RECOVERY = (
    "Reset Your Password",
    "<h2>Reset Password</h2>\n\n<p>Follow this link to reset the password for your user:</p>\n"
    '<p><a href="{{ .ConfirmationURL }}">Reset Password</a></p>\n'
    "<p>Alternatively, enter the code: {{ .Token }}</p>\n",
)
# GoTrue's own email change mail, used when the project has none.
DEFAULT_EMAIL_CHANGE = (
    "Confirm Email Change",
    "<h2>Confirm Change of Email</h2>\n\n"
    "<p>Follow this link to confirm the update of your email from {{ .Email }} to"
    " {{ .NewEmail }}:</p>\n"
    '<p><a href="{{ .ConfirmationURL }}">Change Email</a></p>\n'
    "<p>Alternatively, enter the code: {{ .Token }}</p>\n",
)
# The Supabase CLI's local stack sends as this address (GOTRUE_SMTP_ADMIN_EMAIL).
SENDER = {"Email": "admin@email.com", "Name": ""}
FIELD = re.compile(r"\{\{\s*\.([A-Za-z]+)\s*\}\}")


@dataclass(frozen=True)
class EmailTemplate:
    subject: str
    content: str

    def render(self, fields: dict[str, str]) -> tuple[str, str]:
        """(subject, HTML body) with each `{{ .Field }}` filled in; an unknown field renders
        as Go's templates render a missing map key."""

        def fill(match: re.Match[str]) -> str:
            return html.escape(fields.get(match.group(1), "<no value>"), quote=True)

        return FIELD.sub(fill, self.subject), FIELD.sub(fill, self.content)


def recovery_template(config_toml: Path | None) -> EmailTemplate:
    """`[auth.email.template.recovery]` of the project's config.toml, else GoTrue's default."""
    return template(config_toml, "recovery", DEFAULT_RECOVERY)


def email_change_template(config_toml: Path | None) -> EmailTemplate:
    """`[auth.email.template.email_change]` of the project's config.toml, else GoTrue's."""
    return template(config_toml, "email_change", DEFAULT_EMAIL_CHANGE)


def template(config_toml: Path | None, kind: str, default: tuple[str, str]) -> EmailTemplate:
    """`[auth.email.template.<kind>]` of the project's config.toml (subject, content_path
    relative to the project root, as the CLI resolves it), else `default`."""
    subject, content = default
    if config_toml is None:
        return EmailTemplate(subject, content)
    config = tomllib.loads(config_toml.read_text())
    section = config.get("auth", {}).get("email", {}).get("template", {}).get(kind, {})
    if path := section.get("content_path"):
        content = (config_toml.parent.parent / path).resolve().read_text()
    return EmailTemplate(section.get("subject", subject), content)


class MailNotSent(Exception):
    """The outbox did not take the message."""


async def send(outbox_url: str, to: str, subject: str, body_html: str) -> None:
    """Hand one message to the outbox through Mailpit's send API."""
    text = html.unescape(re.sub(r"<[^>]*>", "", body_html)).strip()
    message = {"From": SENDER, "To": [{"Email": to}], "Subject": subject, "HTML": body_html}
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            answer = await client.post(
                f"{outbox_url.rstrip('/')}/api/v1/send", json={**message, "Text": text}
            )
    except httpx.HTTPError as exc:
        raise MailNotSent(str(exc)) from None
    if answer.status_code != 200:
        raise MailNotSent(f"{answer.status_code} {answer.text[:200]}")
