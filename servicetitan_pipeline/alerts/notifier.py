"""Sending one alert to every configured channel: the webhook, then email."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from servicetitan_pipeline.alerts.mail import send_email
from servicetitan_pipeline.alerts.messages import Alert, Redactor, cleaned, webhook_body
from servicetitan_pipeline.alerts.settings import AlertSettings
from servicetitan_pipeline.alerts.webhook import Delivery, post_webhook


@dataclass(frozen=True)
class Notifier:
    """Delivers alerts as ``settings`` say, every secret of ``redact`` taken out first.

    The webhook URL and the SMTP password are always among the redacted values, whatever
    else was given (the tenants' client secrets and app keys: see ``defs.alerts``).
    """

    settings: AlertSettings
    redact: Redactor = field(default_factory=Redactor)

    @classmethod
    def of(cls, settings: AlertSettings, secrets: Iterable[str | None] = ()) -> Notifier:
        """A notifier for ``settings`` that hides ``secrets`` and its own channels' secrets."""
        own: list[str | None] = []
        if settings.webhook is not None:
            own.append(settings.webhook.url)
        if settings.smtp is not None and settings.smtp.user is not None:
            # No password: the email's delivery says so.
            with contextlib.suppress(ValueError):
                own.append(settings.smtp.password())
        return cls(settings, Redactor.of([*secrets, *own]))

    def send(self, alert: Alert) -> list[Delivery]:
        """Send ``alert`` to each channel; one :class:`Delivery` per channel, never raising.

        The channels are tried side by side, so an alert costs the slower one's bound (the
        webhook's 25 s, the mail's 20 s), not their sum: a sensor tick has 60 s in all.
        """
        alert = cleaned(alert, self.redact)
        sends: list[Callable[[], Delivery]] = []
        webhook, smtp = self.settings.webhook, self.settings.smtp
        if webhook is not None:
            body = webhook_body(alert, blocks=webhook.blocks)
            sends.append(lambda: post_webhook(webhook, body))
        if smtp is not None:
            sends.append(lambda: send_email(smtp, alert))
        if len(sends) == 1:
            return [sends[0]()]
        with ThreadPoolExecutor(len(sends), thread_name_prefix="servicetitan-alert") as pool:
            return list(pool.map(lambda send: send(), sends))
