"""Connection settings: what a ServiceTitan user knows about their connection, validated.

The settings mirror other ServiceTitan integration tools: a connection name, the environment
(integration or production), the tenant ID, the OAuth 2.0 client (client ID + secret) and the app
key, with optional URL overrides for proxies, the simulator and tests. Every validation error
names the setting twice, as the environment variable and as the resource field
(``SERVICETITAN_TENANT_ID / tenant_id``), because users meet it through either.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from servicetitan_pipeline.client.errors import SettingsError


class Environment(StrEnum):
    """ServiceTitan environment; decides the default API and auth URLs."""

    INTEGRATION = "integration"
    PRODUCTION = "production"


DEFAULT_API_BASE_URLS: dict[Environment, str] = {
    Environment.INTEGRATION: "https://api-integration.servicetitan.io",
    Environment.PRODUCTION: "https://api.servicetitan.io",
}
DEFAULT_AUTH_URLS: dict[Environment, str] = {
    Environment.INTEGRATION: "https://auth-integration.servicetitan.io/connect/token",
    Environment.PRODUCTION: "https://auth.servicetitan.io/connect/token",
}

# field name -> environment variable; one table so errors, the resource and `check` agree.
ENV_VARS: dict[str, str] = {
    "name": "SERVICETITAN_CONNECTION_NAME",
    "environment": "SERVICETITAN_ENVIRONMENT",
    "tenant_id": "SERVICETITAN_TENANT_ID",
    "client_id": "SERVICETITAN_CLIENT_ID",
    "client_secret": "SERVICETITAN_CLIENT_SECRET",
    "app_key": "SERVICETITAN_APP_KEY",
    "api_base_url": "SERVICETITAN_API_BASE_URL",
    "auth_url": "SERVICETITAN_AUTH_URL",
}
REQUIRED_FIELDS = ("name", "environment", "tenant_id", "client_id", "client_secret", "app_key")
SECRET_FIELDS = ("client_secret", "app_key")


def setting_label(field_name: str) -> str:
    """``SERVICETITAN_TENANT_ID / tenant_id`` for env-backed fields, else the field name."""
    env = ENV_VARS.get(field_name)
    return f"{env} / {field_name}" if env else field_name


def _required_text(field_name: str, value: Any) -> str:
    text = "" if value is None else str(value).strip()
    if not text:
        raise SettingsError(f"{setting_label(field_name)} must not be empty")
    return text


def _url(field_name: str, value: str) -> str:
    parts = urlsplit(value)
    if "@" in parts.netloc:
        # Credentials in a URL would end up in logs and errors; never echo them.
        raise SettingsError(
            f"{setting_label(field_name)} must not contain credentials (user:password@host)"
        )
    # Query strings and fragments would be silently mangled when paths are appended.
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise SettingsError(
            f"{setting_label(field_name)} must be an absolute http(s) URL such as "
            f"'https://api.servicetitan.io', got {value!r}"
        )
    try:
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise SettingsError(
            f"{setting_label(field_name)} has an invalid port, got {value!r}"
        ) from None
    return value.rstrip("/")


def _positive_number(field_name: str, value: Any, *, integer: bool = False) -> Any:
    kind = "a positive integer" if integer else "a positive number"
    try:
        number = int(value) if integer else float(value)
    except (TypeError, ValueError):
        raise SettingsError(f"{setting_label(field_name)} must be {kind}, got {value!r}") from None
    if number <= 0 or (not integer and not math.isfinite(number)):
        raise SettingsError(f"{setting_label(field_name)} must be {kind}, got {value!r}")
    return number


@dataclass(frozen=True, repr=False)
class ConnectionSettings:
    """Validated settings of one ServiceTitan connection.

    Construct with the raw values (strings from the environment are fine); ``__post_init__``
    validates them and resolves the environment's default URLs, raising :class:`SettingsError`
    that names the offending setting. ``repr``/``str`` show no secret (nor the client ID).

    Attributes:
        name: connection name, shown in run metadata and stored as ``_connection``.
        environment: ``integration`` or ``production`` (case-insensitive on input).
        tenant_id: the ServiceTitan tenant ID (a positive integer; strings are converted).
        client_id: OAuth 2.0 client ID.
        client_secret: OAuth 2.0 client secret.
        app_key: the app key, sent as ``ST-App-Key``.
        api_base_url: API root; defaults by environment. No trailing slash.
        auth_url: token endpoint; defaults by environment.
        rate_limit_per_second: client-side limit for all requests of this connection
            (ServiceTitan allows 60 per app per tenant); ``None`` disables the limiter.
        max_attempts: how many times one request is sent at most (1 = no retries).
        max_total_wait_seconds: the most one request may spend waiting between attempts.
        connect_timeout_seconds: TCP/TLS connect timeout.
        read_timeout_seconds: timeout between bytes of an answer (export pages can be large).
    """

    name: str
    environment: Environment | str
    tenant_id: int | str
    client_id: str
    client_secret: str
    app_key: str
    api_base_url: str | None = None
    auth_url: str | None = None
    rate_limit_per_second: float | None = 60.0
    max_attempts: int = 6
    max_total_wait_seconds: float = 300.0
    connect_timeout_seconds: float = 10.0
    read_timeout_seconds: float = 120.0

    def __post_init__(self) -> None:
        try:
            self._validate()
        except SettingsError as exc:
            # A secret pasted into the wrong variable (say, the tenant ID) must not be echoed
            # back in the "got ..." part of the message.
            message = str(exc)
            for secret in (self.client_secret, self.app_key, self.client_id):
                secret = str(secret or "").strip()
                if len(secret) >= 6 and secret in message:
                    message = message.replace(secret, "***")
            if message != str(exc):
                raise SettingsError(message) from None
            raise

    def _validate(self) -> None:
        def put(field_name: str, value: Any) -> None:
            object.__setattr__(self, field_name, value)

        for field_name in ("name", "client_id", "client_secret", "app_key"):
            put(field_name, _required_text(field_name, getattr(self, field_name)))

        env_text = _required_text("environment", self.environment).lower()
        try:
            environment = Environment(env_text)
        except ValueError:
            raise SettingsError(
                f"{setting_label('environment')} must be 'integration' or 'production', "
                f"got {self.environment!r}"
            ) from None
        put("environment", environment)

        tenant = self.tenant_id
        if isinstance(tenant, bool) or not (
            isinstance(tenant, int) or (isinstance(tenant, str) and tenant.strip().isdigit())
        ):
            # Only plain digits: int() would also accept "+5", " 1_000 " or floats.
            raise SettingsError(
                f"{setting_label('tenant_id')} must be a positive integer, got {tenant!r}"
            )
        put("tenant_id", _positive_number("tenant_id", tenant, integer=True))

        for field_name, defaults in (
            ("api_base_url", DEFAULT_API_BASE_URLS),
            ("auth_url", DEFAULT_AUTH_URLS),
        ):
            value = getattr(self, field_name)
            text = "" if value is None else str(value).strip()
            # An empty override (e.g. `SERVICETITAN_API_BASE_URL=` in .env) means "the default".
            put(field_name, _url(field_name, text) if text else defaults[environment])

        if self.rate_limit_per_second is not None:
            put(
                "rate_limit_per_second",
                _positive_number("rate_limit_per_second", self.rate_limit_per_second),
            )
        put("max_attempts", _positive_number("max_attempts", self.max_attempts, integer=True))
        for field_name in ("connect_timeout_seconds", "read_timeout_seconds"):
            put(field_name, _positive_number(field_name, getattr(self, field_name)))
        try:
            max_wait = float(self.max_total_wait_seconds)
        except (TypeError, ValueError):
            max_wait = -1.0
        if not (max_wait >= 0 and math.isfinite(max_wait)):
            raise SettingsError(
                f"max_total_wait_seconds must be a number >= 0, got {self.max_total_wait_seconds!r}"
            )
        put("max_total_wait_seconds", max_wait)

    def __repr__(self) -> str:
        return (
            f"ConnectionSettings(name={self.name!r}, environment={str(self.environment)!r}, "
            f"tenant_id={self.tenant_id!r}, api_base_url={self.api_base_url!r}, "
            f"auth_url={self.auth_url!r}, client_id=***, client_secret=***, app_key=***)"
        )

    __str__ = __repr__

    def secrets(self) -> tuple[str, ...]:
        """The values that must never be shown (used to scrub text quoted from responses)."""
        return (self.client_secret, self.app_key)
