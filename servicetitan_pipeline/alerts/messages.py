"""What an alert says: one :class:`Alert`, rendered as a Slack-compatible webhook body and as
an email, with every known secret value taken out first.

The messages name the job, run, steps, tenants and entities; they must never carry a secret.
The pipeline's own errors never quote one, but an error can come from anywhere (a library, a
server's answer), so :class:`Redactor` replaces every value it was given (the tenants' client
secrets and app keys, the webhook URL, the SMTP password) wherever it appears.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, Final

PRODUCT: Final = "servicetitan-pipeline"
REDACTED: Final = "[redacted]"
# Shorter values are not worth hiding (and would blank out ordinary words).
MIN_SECRET_LENGTH: Final = 6
# What one line of an alert may hold: an error's first line can be a megabyte of payload.
MAX_LINE_CHARS: Final = 500
MAX_LINES: Final = 40
# Of one error's message: its first line and the tenants it names after it.
MAX_ERROR_LINES: Final = 6


@dataclass(frozen=True)
class Alert:
    """One notification: a title (the email subject), a few lines, an optional link.

    Attributes:
        kind: what happened: ``run_failure``, ``check_failure`` or ``stale_data``.
        title: one line, e.g. ``Run failed: servicetitan_sync``.
        lines: the details, one fact a line (steps, tenants, the error's first line).
        link: the page in the Dagster UI, when its address is configured.
        link_text: how the link reads.
    """

    kind: str
    title: str
    lines: tuple[str, ...] = ()
    link: str | None = None
    link_text: str = "Open in Dagster"


@dataclass(frozen=True)
class Redactor:
    """Replaces each of ``secrets`` (values, never logged) with ``[redacted]`` in text."""

    secrets: tuple[str, ...] = field(default=(), repr=False)

    @classmethod
    def of(cls, values: Iterable[str | None]) -> Redactor:
        """A redactor of the non-trivial ``values`` (longest first, so none is half-hidden)."""
        kept = {v for v in values if v and len(v) >= MIN_SECRET_LENGTH}
        return cls(tuple(sorted(kept, key=len, reverse=True)))

    def __call__(self, text: str) -> str:
        """``text`` with every secret replaced."""
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return text


def first_line(text: str | None, limit: int = MAX_LINE_CHARS) -> str:
    """The first non-empty line of ``text``, cut to ``limit`` characters ("" for none)."""
    for line in (text or "").splitlines():
        if line.strip():
            return _cut(line.strip(), limit)
    return ""


# "dagster._core.definitions.events.Failure: ..." -> "Failure: ...": the module says nothing.
_QUALIFIED_ERROR = re.compile(r"^(?:[A-Za-z_]\w*\.)+(\w*(?:Error|Exception|Failure)): ")


def error_lines(text: str | None, limit: int = MAX_ERROR_LINES) -> list[str]:
    """The first ``limit`` non-empty lines of an error's message, before its stack trace.

    The first line says what failed; the pipeline's errors name the failed tenants and entities
    on the lines after it (one per tenant), so those come too.
    """
    lines: list[str] = []
    for line in (text or "").splitlines():
        if line.strip().startswith(("Stack Trace:", "Traceback (most recent call last)")):
            break
        if line.strip():
            lines.append(_cut(line.strip(), MAX_LINE_CHARS))
    if lines:
        lines[0] = _QUALIFIED_ERROR.sub(r"\1: ", lines[0])
    if len(lines) > limit:
        lines = [*lines[: limit - 1], f"... and {len(lines) - limit + 1} more lines"]
    return lines


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def cleaned(alert: Alert, redact: Redactor) -> Alert:
    """``alert`` with every secret taken out and its lines bounded."""
    lines = [_cut(redact(line), MAX_LINE_CHARS) for line in alert.lines]
    if len(lines) > MAX_LINES:
        lines = [*lines[: MAX_LINES - 1], f"... and {len(lines) - MAX_LINES + 1} more lines"]
    return Alert(
        kind=alert.kind,
        # A line break in a subject would be a header injection; the title is one line.
        title=_cut(" ".join(redact(alert.title).split()), 200),
        lines=tuple(lines),
        link=redact(alert.link) if alert.link else None,
        link_text=alert.link_text,
    )


def plain_text(alert: Alert) -> str:
    """The alert as plain text: title, lines, then the link (the email body)."""
    parts = [alert.title, "", *alert.lines]
    if alert.link:
        parts += ["", f"{alert.link_text}: {alert.link}"]
    return "\n".join(parts) + "\n"


def _slack_escape(text: str) -> str:
    # Slack's mrkdwn reads &, < and > as markup (links, mentions): escaped they stay text.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def webhook_body(alert: Alert, *, blocks: bool = False) -> dict[str, Any]:
    """The webhook's JSON body: ``{"text": ...}`` (every Slack-compatible receiver reads it),
    plus Slack ``blocks`` (a header, the lines, the link) when ``blocks``."""
    lines = [_slack_escape(line) for line in alert.lines]
    text = "\n".join([f"*{_slack_escape(alert.title)}*", *lines])
    if alert.link:
        text += f"\n<{alert.link}|{alert.link_text}>"
    body: dict[str, Any] = {"text": text}
    if blocks:
        section: list[dict[str, Any]] = [
            {"type": "header", "text": {"type": "plain_text", "text": alert.title[:150]}}
        ]
        if lines:
            # A section's text holds at most 3,000 characters.
            section.append(
                {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)[:3000]}}
            )
        if alert.link:
            section.append(
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "button",
                            "text": {"type": "plain_text", "text": alert.link_text},
                            "url": alert.link,
                        }
                    ],
                }
            )
        body["blocks"] = section
    return body


def email_message(alert: Alert, *, sender: str, recipients: Sequence[str]) -> EmailMessage:
    """The alert as an email: subject ``[servicetitan-pipeline] <title>``, plain-text body."""
    message = EmailMessage()
    message["Subject"] = f"[{PRODUCT}] {alert.title}"
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message.set_content(plain_text(alert))
    return message
