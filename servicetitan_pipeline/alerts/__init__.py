"""Telling an operator: alert messages, and their delivery to a webhook and by email.

Nothing here knows Dagster: ``defs.alerts`` turns run failures, failed checks and stale
tenants into :class:`Alert` values and hands them to a :class:`Notifier`.

* :mod:`.settings` -- ``AlertSettings.from_env()``: the webhook, SMTP, UI link, freshness;
* :mod:`.messages` -- an ``Alert``, rendered as a Slack-compatible body and as an email,
  known secrets redacted;
* :mod:`.webhook` / :mod:`.mail` -- the senders, bounded in time, never raising;
* :mod:`.freshness` -- stale (tenant, entity) pairs, told once per stale episode.
"""

from servicetitan_pipeline.alerts.freshness import (
    StaleEvaluation,
    StalePair,
    StaleState,
    evaluate_staleness,
    stale_alert,
)
from servicetitan_pipeline.alerts.messages import Alert, Redactor, error_lines, first_line
from servicetitan_pipeline.alerts.notifier import Notifier
from servicetitan_pipeline.alerts.settings import (
    AlertSettings,
    AlertSettingsError,
    SmtpSettings,
    WebhookSettings,
)
from servicetitan_pipeline.alerts.webhook import Delivery

__all__ = [
    "Alert",
    "AlertSettings",
    "AlertSettingsError",
    "Delivery",
    "Notifier",
    "Redactor",
    "SmtpSettings",
    "StaleEvaluation",
    "StalePair",
    "StaleState",
    "WebhookSettings",
    "error_lines",
    "evaluate_staleness",
    "first_line",
    "stale_alert",
]
