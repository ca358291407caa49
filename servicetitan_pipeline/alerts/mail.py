"""Sending an alert by email over SMTP (smtplib), with timeouts.

STARTTLS (the default, port 587) or implicit TLS (``ssl``, port 465) with the system's
certificate checks; ``plain`` only to a server on this machine (a local relay), which the
settings enforce. The password is read from the environment at the moment of login and is
never logged or kept.
"""

from __future__ import annotations

import smtplib
import ssl
import threading
import time
from typing import Final

from servicetitan_pipeline.alerts.messages import Alert, email_message
from servicetitan_pipeline.alerts.settings import AlertSettingsError, SmtpSettings
from servicetitan_pipeline.alerts.webhook import Delivery

# Each socket operation (connect, every command): a server that stops answering costs this.
SMTP_TIMEOUT_SECONDS: Final = 10.0
# The whole exchange (a dozen commands): a server answering each just in time is cut off here.
SMTP_DEADLINE_SECONDS: Final = 20.0


def send_email(
    settings: SmtpSettings,
    alert: Alert,
    *,
    timeout: float = SMTP_TIMEOUT_SECONDS,
    deadline_seconds: float = SMTP_DEADLINE_SECONDS,
) -> Delivery:
    """Send ``alert`` to ``settings.recipients``; never raises for the server's sake, and
    returns by ``deadline_seconds`` whatever the server does.

    One attempt: a mail server that refused the message or the login will refuse it again,
    and one that is down is the operator's to hear about from the webhook or the sensor log.
    The exchange runs in a daemon thread: smtplib bounds each socket operation, not the whole;
    a thread still waiting at the deadline is left to its socket timeout and ends on its own.
    """
    channel = f"email ({settings.host}:{settings.port})"
    outcome: list[Delivery] = []
    worker = threading.Thread(
        target=lambda: outcome.append(_exchange(settings, alert, channel, timeout)),
        name="servicetitan-alert-smtp",
        daemon=True,
    )
    worker.start()
    worker.join(deadline_seconds)
    if outcome:
        return outcome[0]
    return Delivery(channel, False, 1, f"gave up at the {deadline_seconds:g} s deadline")


def _exchange(settings: SmtpSettings, alert: Alert, channel: str, timeout: float) -> Delivery:
    """One SMTP session: connect, secure, log in, send; what happened as a Delivery."""
    message = email_message(alert, sender=settings.sender, recipients=settings.recipients)
    started = time.monotonic()
    try:
        password = settings.password()
        context = ssl.create_default_context()
        server: smtplib.SMTP
        if settings.security == "ssl":
            server = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=timeout, context=context
            )
        else:
            server = smtplib.SMTP(settings.host, settings.port, timeout=timeout)
        with server:
            if settings.security == "starttls":
                server.starttls(context=context)
            if settings.user is not None and password is not None:
                server.login(settings.user, password)
            refused = server.send_message(message)
    except AlertSettingsError as exc:
        return Delivery(channel, False, 0, str(exc))
    except smtplib.SMTPResponseException as exc:
        # The server's code is safe to show; its text may echo what we sent, so it is left out.
        return Delivery(channel, False, 1, f"refused: SMTP {exc.smtp_code} ({type(exc).__name__})")
    except Exception as exc:  # SMTPException, OSError, or anything else: never the sensor's
        seconds = time.monotonic() - started
        return Delivery(channel, False, 1, f"failed after {seconds:.1f} s ({type(exc).__name__})")
    if refused:
        return Delivery(channel, False, 1, f"{len(refused)} recipient(s) refused")
    return Delivery(channel, True, 1, f"sent to {len(settings.recipients)} recipient(s)")
