"""Connection settings: what a ServiceTitan user knows about their connection, validated.

The settings mirror other ServiceTitan integration tools: a connection name, the environment
(integration or production), the tenant ID, the OAuth 2.0 client (client ID + secret) and the app
key, with optional URL overrides for proxies, the simulator and tests. Every validation error
names the setting twice, as the environment variable and as the resource field
(``SERVICETITAN_TENANT_ID / tenant_id``), because users meet it through either. The variable
names and the defaults come from :mod:`servicetitan_pipeline.config`; this module only validates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from servicetitan_pipeline.client.errors import SettingsError
from servicetitan_pipeline.config import (
    DEFAULT_API_BASE_URLS,
    DEFAULT_AUTH_URLS,
    DEFAULT_CONNECT_TIMEOUT_SECONDS,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_MAX_TOTAL_WAIT_SECONDS,
    DEFAULT_RATE_LIMIT_PER_SECOND,
    DEFAULT_READ_TIMEOUT_SECONDS,
    connection_label,
)


class Environment(StrEnum):
    """ServiceTitan environment; decides the default API and auth URLs."""

    INTEGRATION = "integration"
    PRODUCTION = "production"


def _required_text(field_name: str, value: Any) -> str:
    text = "" if value is None else str(value).strip()
    if not text:
        raise SettingsError(f"{connection_label(field_name)} must not be empty")
    return text


def _url(field_name: str, value: str) -> str:
    parts = urlsplit(value)
    if "@" in parts.netloc:
        # Credentials in a URL would end up in logs and errors; never echo them.
        raise SettingsError(
            f"{connection_label(field_name)} must not contain credentials (user:password@host)"
        )
    # Query strings and fragments would be silently mangled when paths are appended.
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise SettingsError(
            f"{connection_label(field_name)} must be an absolute http(s) URL such as "
            f"'https://api.servicetitan.io', got {value!r}"
        )
    try:
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise SettingsError(
            f"{connection_label(field_name)} has an invalid port, got {value!r}"
        ) from None
    return value.rstrip("/")


def _positive_number(field_name: str, value: Any, *, integer: bool = False) -> Any:
    kind = "a positive integer" if integer else "a positive number"
    try:
        number = int(value) if integer else float(value)
    except (TypeError, ValueError):
        raise SettingsError(
            f"{connection_label(field_name)} must be {kind}, got {value!r}"
        ) from None
    if number <= 0 or (not integer and not math.isfinite(number)):
        raise SettingsError(f"{connection_label(field_name)} must be {kind}, got {value!r}")
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
        api_base_url: API root; empty means the environment's. No trailing slash.
        auth_url: token endpoint; empty means the environment's.
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
    # Empty (the default) means the environment's URL.
    api_base_url: str = ""
    auth_url: str = ""
    rate_limit_per_second: float | None = DEFAULT_RATE_LIMIT_PER_SECOND
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    max_total_wait_seconds: float = DEFAULT_MAX_TOTAL_WAIT_SECONDS
    connect_timeout_seconds: float = DEFAULT_CONNECT_TIMEOUT_SECONDS
    read_timeout_seconds: float = DEFAULT_READ_TIMEOUT_SECONDS

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
                f"{connection_label('environment')} must be 'integration' or 'production', "
                f"got {self.environment!r}"
            ) from None
        put("environment", environment)

        tenant = self.tenant_id
        if isinstance(tenant, bool) or not (
            isinstance(tenant, int) or (isinstance(tenant, str) and tenant.strip().isdigit())
        ):
            # Only plain digits: int() would also accept "+5", " 1_000 " or floats.
            raise SettingsError(
                f"{connection_label('tenant_id')} must be a positive integer, got {tenant!r}"
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
