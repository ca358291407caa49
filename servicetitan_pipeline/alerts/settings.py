"""The alert settings, read and validated from the environment (names in ``config.py``).

Nothing here is sent or logged: :class:`AlertSettings` holds where alerts go and how, and its
``repr`` never shows the webhook URL (for Slack, the URL is the token). The SMTP password is
not held at all: :meth:`SmtpSettings.password` reads it from the environment when an email
is sent.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.headerregistry import Address
from typing import Final
from urllib.parse import urlsplit

from servicetitan_pipeline.config import (
    ALERT_EMAIL_FROM_ENV,
    ALERT_EMAIL_TO_ENV,
    ALERT_SMTP_HOST_ENV,
    ALERT_SMTP_PASSWORD_ENV,
    ALERT_SMTP_PASSWORD_ENV_ENV,
    ALERT_SMTP_PORT_ENV,
    ALERT_SMTP_SECURITY_ENV,
    ALERT_SMTP_USER_ENV,
    ALERT_UI_BASE_URL_ENV,
    ALERT_WEBHOOK_FORMAT_ENV,
    ALERT_WEBHOOK_URL_ENV,
    DEFAULT_FRESHNESS_HOURS,
    FRESHNESS_HOURS_ENV,
    ConfigError,
    shown_value,
)

WEBHOOK_FORMATS: Final = ("text", "blocks")
# Security -> default port.
SMTP_SECURITY_PORTS: Final[Mapping[str, int]] = {"starttls": 587, "ssl": 465, "plain": 25}
MAX_URL_LENGTH: Final = 2048
# A week: longer is a typo (minutes for hours), not a freshness anyone waits for.
MAX_FRESHNESS_HOURS: Final = 24.0 * 7
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_PIPELINE_PREFIX: Final = "SERVICETITAN_"
# Reads one setting, stripped ("" when unset).
_Getter = Callable[[str], str]


class AlertSettingsError(ConfigError):
    """An alert setting is not valid; the message names it (never the webhook URL)."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class WebhookSettings:
    """Where webhook alerts are posted; ``url`` is a secret (hidden from ``repr``)."""

    url: str = field(repr=False)
    blocks: bool = False

    @property
    def host(self) -> str:
        """The URL's host: what logs and errors may name (the path may be a token)."""
        return urlsplit(self.url).hostname or "?"


@dataclass(frozen=True)
class SmtpSettings:
    """How alert emails are sent: server, security, sender, recipients, login (no password)."""

    host: str
    port: int
    security: str  # one of SMTP_SECURITY_PORTS
    sender: str
    recipients: tuple[str, ...]
    user: str | None = None
    password_env: str = ALERT_SMTP_PASSWORD_ENV

    def password(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The SMTP password, read now from ``password_env``; ``None`` without a login.

        Raises:
            AlertSettingsError: a user is set and the variable is unset or empty (named).
        """
        if self.user is None:
            return None
        environ = os.environ if environ is None else environ
        value = environ.get(self.password_env, "")
        if not value:
            raise AlertSettingsError(
                f"{ALERT_SMTP_USER_ENV} is set, so the SMTP password is needed: set "
                f"{self.password_env} in the environment"
            )
        return value


@dataclass(frozen=True)
class AlertSettings:
    """Every alert setting: where alerts go (webhook, email: either may be ``None``), the UI
    to link to, and how old a tenant's raw data may be before it is stale."""

    webhook: WebhookSettings | None = None
    smtp: SmtpSettings | None = None
    ui_base_url: str | None = None
    freshness_hours: float = DEFAULT_FRESHNESS_HOURS

    @property
    def enabled(self) -> bool:
        """Whether any alert can be delivered (a webhook or an SMTP server is configured)."""
        return self.webhook is not None or self.smtp is not None

    def run_url(self, run_id: str) -> str | None:
        """The run's page in the Dagster UI, when ``SERVICETITAN_ALERT_UI_BASE_URL`` is set."""
        return f"{self.ui_base_url}/runs/{run_id}" if self.ui_base_url else None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AlertSettings:
        """The alert settings of ``environ`` (default ``os.environ``), validated.

        Raises:
            AlertSettingsError: naming the first bad setting.
        """
        environ = os.environ if environ is None else environ

        def get(name: str) -> str:
            return environ.get(name, "").strip()

        return cls(
            webhook=_webhook(get),
            smtp=_smtp(get),
            ui_base_url=_ui_base_url(get(ALERT_UI_BASE_URL_ENV)),
            freshness_hours=_freshness_hours(get(FRESHNESS_HOURS_ENV)),
        )


def _http_url(name: str, value: str, *, secret: bool) -> str:
    """``value`` as an absolute http(s) URL; plain http only to this machine."""
    # A secret URL is never echoed, not even cut short: its token may be at the start.
    shown = "" if secret else f", got {shown_value(value)}"
    if len(value) > MAX_URL_LENGTH or not value.isascii() or not value.isprintable():
        raise AlertSettingsError(
            f"{name} must be an ASCII URL of at most {MAX_URL_LENGTH} characters without "
            f"spaces{shown}"
        )
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise AlertSettingsError(f"{name} is not a valid URL (malformed host or port)") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AlertSettingsError(
            f"{name} must be an absolute http(s) URL such as 'https://hooks.slack.com/...'{shown}"
        )
    if "@" in parts.netloc:
        raise AlertSettingsError(f"{name} must not contain credentials (user:password@host)")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        # A Slack webhook's path is its token, and alerts name tenants and entities.
        raise AlertSettingsError(
            f"{name} must use https (plain http is allowed only to this machine: 127.0.0.1, "
            f"::1, localhost){shown}"
        )
    return value


def _webhook(get: _Getter) -> WebhookSettings | None:
    url = get(ALERT_WEBHOOK_URL_ENV)
    style = get(ALERT_WEBHOOK_FORMAT_ENV).lower() or WEBHOOK_FORMATS[0]
    if style not in WEBHOOK_FORMATS:
        raise AlertSettingsError(
            f"{ALERT_WEBHOOK_FORMAT_ENV} must be 'text' (a Slack-compatible {{\"text\": ...}}, "
            f"the default) or 'blocks' (text and Slack blocks), got {shown_value(style)}"
        )
    if not url:
        return None
    return WebhookSettings(
        url=_http_url(ALERT_WEBHOOK_URL_ENV, url, secret=True), blocks=style == "blocks"
    )


def _smtp(get: _Getter) -> SmtpSettings | None:
    host = get(ALERT_SMTP_HOST_ENV)
    if not host:
        given = [n for n in (ALERT_EMAIL_TO_ENV, ALERT_SMTP_USER_ENV) if get(n)]
        if given:
            raise AlertSettingsError(
                f"{' and '.join(given)} set but {ALERT_SMTP_HOST_ENV} is not: set the SMTP "
                "server to send alert emails, or unset them"
            )
        return None
    if not re.fullmatch(r"[A-Za-z0-9.\-:\[\]]{1,253}", host):
        raise AlertSettingsError(
            f"{ALERT_SMTP_HOST_ENV} must be a host name or IP address such as "
            f"'smtp.example.com', got {shown_value(host)}"
        )
    security = get(ALERT_SMTP_SECURITY_ENV).lower() or "starttls"
    if security not in SMTP_SECURITY_PORTS:
        raise AlertSettingsError(
            f"{ALERT_SMTP_SECURITY_ENV} must be 'starttls' (the default), 'ssl' or 'plain' "
            f"(loopback only), got {shown_value(security)}"
        )
    if security == "plain" and not is_loopback(host):
        # Without TLS the login and the alerts would cross the network in clear.
        raise AlertSettingsError(
            f"{ALERT_SMTP_SECURITY_ENV}=plain is allowed only for a server on this machine "
            f"(127.0.0.1, ::1, localhost), not {shown_value(host)}: use starttls or ssl"
        )
    port_text = get(ALERT_SMTP_PORT_ENV)
    port = SMTP_SECURITY_PORTS[security]
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise AlertSettingsError(
                f"{ALERT_SMTP_PORT_ENV} must be a TCP port (1-65535), got {shown_value(port_text)}"
            )
        port = int(port_text)
    recipients = tuple(
        _address(ALERT_EMAIL_TO_ENV, a) for a in get(ALERT_EMAIL_TO_ENV).split(",") if a.strip()
    )
    if not recipients:
        raise AlertSettingsError(
            f"{ALERT_SMTP_HOST_ENV} is set: {ALERT_EMAIL_TO_ENV} must list who gets the alerts "
            "(addresses separated by commas)"
        )
    sender_text = get(ALERT_EMAIL_FROM_ENV)
    if not sender_text:
        raise AlertSettingsError(
            f"{ALERT_SMTP_HOST_ENV} is set: {ALERT_EMAIL_FROM_ENV} must give the sender address"
        )
    user = get(ALERT_SMTP_USER_ENV) or None
    password_env = get(ALERT_SMTP_PASSWORD_ENV_ENV) or ALERT_SMTP_PASSWORD_ENV
    if not _ENV_NAME.fullmatch(password_env):
        raise AlertSettingsError(
            f"{ALERT_SMTP_PASSWORD_ENV_ENV} must be the name of an environment variable "
            f"(letters, digits, underscores), got {shown_value(password_env)}"
        )
    if password_env.startswith(_PIPELINE_PREFIX) and password_env != ALERT_SMTP_PASSWORD_ENV:
        # Pointing it at SERVICETITAN_CLIENT_SECRET would send that secret to the SMTP server.
        raise AlertSettingsError(
            f"{ALERT_SMTP_PASSWORD_ENV_ENV} names {password_env}, a pipeline setting: name a "
            f"variable of its own, or leave it unset to use {ALERT_SMTP_PASSWORD_ENV}"
        )
    return SmtpSettings(
        host=host,
        port=port,
        security=security,
        sender=_address(ALERT_EMAIL_FROM_ENV, sender_text),
        recipients=recipients,
        user=user,
        password_env=password_env,
    )


def _address(name: str, text: str) -> str:
    """One email address (``ops@example.com``) as given, or an error naming ``name``."""
    text = text.strip()
    try:
        local, _, domain = text.rpartition("@")
        if not local or not domain or any(c in text for c in " <>\r\n,;"):
            raise ValueError(text)
        Address(username=local, domain=domain)
    except (ValueError, IndexError):
        raise AlertSettingsError(
            f"{name} must be email addresses like 'ops@example.com', got {shown_value(text)}"
        ) from None
    return text


def _ui_base_url(value: str) -> str | None:
    if not value:
        return None
    url = _http_url(ALERT_UI_BASE_URL_ENV, value, secret=False)
    parts = urlsplit(url)
    if parts.query or parts.fragment:
        raise AlertSettingsError(
            f"{ALERT_UI_BASE_URL_ENV} must be the UI's address without ? or #, such as "
            f"'http://127.0.0.1:3000', got {shown_value(value)}"
        )
    return url.rstrip("/")


def _freshness_hours(value: str) -> float:
    if not value:
        return DEFAULT_FRESHNESS_HOURS
    try:
        hours = float(value)
    except ValueError:
        hours = math.nan
    if not (0 < hours <= MAX_FRESHNESS_HOURS):
        raise AlertSettingsError(
            f"{FRESHNESS_HOURS_ENV} must be a number of hours above 0 and at most "
            f"{MAX_FRESHNESS_HOURS:g} (default {DEFAULT_FRESHNESS_HOURS:g}), got "
            f"{shown_value(value)}"
        )
    return hours
