"""Connection settings: what a ServiceTitan user knows about their connection, validated.

The settings mirror other ServiceTitan integration tools: a connection name, the environment
(integration or production), the tenant ID, the OAuth 2.0 client (client ID + secret) and the app
key, with optional URL overrides for proxies, the simulator and tests. Every validation error
names the setting twice, as the environment variable and as the resource field
(``SERVICETITAN_TENANT_ID / tenant_id``), because users meet it through either. The variable
names and the defaults come from :mod:`servicetitan_pipeline.config`; this module only validates.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from servicetitan_pipeline.client.errors import SettingsError
from servicetitan_pipeline.config import (
    DEFAULT_API_BASE_URLS,
    DEFAULT_AUTH_URLS,
    DEFAULT_CONNECT_TIMEOUT_SECONDS,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_MAX_RESPONSE_MB,
    DEFAULT_MAX_TOTAL_WAIT_SECONDS,
    DEFAULT_RATE_LIMIT_PER_SECOND,
    DEFAULT_READ_TIMEOUT_SECONDS,
    DEFAULT_REQUEST_DEADLINE_SECONDS,
    connection_label,
    shown_value,
)

# A tenant ID is stored as BIGINT in every raw table; a larger one would fail at the first write.
MAX_TENANT_ID = 2**63 - 1
# Longer URLs are a paste accident; servers refuse request lines of more than a few KiB anyway.
MAX_URL_LENGTH = 2048
MAX_NAME_LENGTH = 200
# What an HTTP header value or a form field may hold without escaping: visible ASCII. The client
# ID, the secret and the app key are ASCII tokens; a line break or a non-ASCII character in one
# is a paste accident, and would make httpx raise an error that quotes the whole header.
_TOKEN_CHARACTERS = frozenset(chr(c) for c in range(0x21, 0x7F))
TOKEN_FIELDS = ("client_id", "client_secret", "app_key")


class Environment(StrEnum):
    """ServiceTitan environment; decides the default API and auth URLs."""

    INTEGRATION = "integration"
    PRODUCTION = "production"


def _required_text(field_name: str, value: Any) -> str:
    text = "" if value is None else str(value).strip()
    if not text:
        raise SettingsError(f"{connection_label(field_name)} must not be empty")
    return text


def _token(field_name: str, value: str) -> str:
    """``value`` if it is a visible-ASCII token; else an error naming the setting, not the value."""
    bad = next((i for i, c in enumerate(value) if c not in _TOKEN_CHARACTERS), None)
    if bad is not None:
        raise SettingsError(
            f"{connection_label(field_name)} contains a space, a line break, a control or a "
            f"non-ASCII character (character {bad + 1} of {len(value)}); copy it again from "
            "ServiceTitan, without quotes or line breaks"
        )
    return value


def _name(value: str) -> str:
    if len(value) > MAX_NAME_LENGTH or not value.isprintable():
        raise SettingsError(
            f"{connection_label('name')} must be printable text without line breaks, "
            f"at most {MAX_NAME_LENGTH} characters"
        )
    return value


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url(field_name: str, value: str) -> str:
    if len(value) > MAX_URL_LENGTH:
        raise SettingsError(
            f"{connection_label(field_name)} is {len(value)} characters long; a URL of at most "
            f"{MAX_URL_LENGTH} is expected"
        )
    if not value.isascii() or not value.isprintable():
        raise SettingsError(
            f"{connection_label(field_name)} contains a space, a control or a non-ASCII "
            "character; write it as an ASCII URL such as 'https://api.servicetitan.io'"
        )
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        # urlsplit raises on e.g. 'http://[::1' (an unclosed IPv6 address), parts.port on
        # a port that is not a number in range. The value may hold credentials: not echoed.
        raise SettingsError(
            f"{connection_label(field_name)} is not a valid URL (malformed host or port)"
        ) from None
    if "@" in parts.netloc:
        # Credentials in a URL would end up in logs and errors; never echo them.
        raise SettingsError(
            f"{connection_label(field_name)} must not contain credentials (user:password@host)"
        )
    # Query strings and fragments would be silently mangled when paths are appended.
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise SettingsError(
            f"{connection_label(field_name)} must be an absolute http(s) URL such as "
            f"'https://api.servicetitan.io', got {shown_value(value)}"
        )
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        # The token request carries the client secret, every request the app key and the token:
        # in plain http they cross the network readable by anyone on the path.
        raise SettingsError(
            f"{connection_label(field_name)} must use https: plain http would send the "
            "credentials in clear (http is allowed only to this machine: 127.0.0.1, ::1, "
            f"localhost), got {shown_value(value)}"
        )
    return value.rstrip("/")


def _positive_number(field_name: str, value: Any, *, integer: bool = False) -> Any:
    kind = "a positive integer" if integer else "a positive number"
    try:
        number = int(value) if integer else float(value)
    except (TypeError, ValueError):
        raise SettingsError(
            f"{connection_label(field_name)} must be {kind}, got {shown_value(value)}"
        ) from None
    if number <= 0 or (not integer and not math.isfinite(number)):
        raise SettingsError(
            f"{connection_label(field_name)} must be {kind}, got {shown_value(value)}"
        )
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
        max_response_mb: the most one answer's body may hold once decoded, in MiB
            (``SERVICETITAN_MAX_RESPONSE_MB``; strings are converted).
        request_deadline_seconds: the most one attempt may take, request to last byte
            (``SERVICETITAN_REQUEST_DEADLINE_SECONDS``; strings are converted).
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
    max_response_mb: float | str = DEFAULT_MAX_RESPONSE_MB
    request_deadline_seconds: float | str = DEFAULT_REQUEST_DEADLINE_SECONDS
    # Where the credentials came from, for messages: field -> the variable that holds it (a
    # tenant of the connections file names its own variables); empty: SERVICETITAN_*.
    credential_variables: Mapping[str, str] = field(default_factory=dict)

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

        put("name", _name(_required_text("name", self.name)))
        for field_name in TOKEN_FIELDS:
            put(
                field_name,
                _token(field_name, _required_text(field_name, getattr(self, field_name))),
            )

        env_text = _required_text("environment", self.environment).lower()
        try:
            environment = Environment(env_text)
        except ValueError:
            raise SettingsError(
                f"{connection_label('environment')} must be 'integration' or 'production', "
                f"got {shown_value(self.environment)}"
            ) from None
        put("environment", environment)

        tenant = self.tenant_id
        if isinstance(tenant, bool) or not (
            isinstance(tenant, int) or (isinstance(tenant, str) and tenant.strip().isdigit())
        ):
            # Only plain digits: int() would also accept "+5", " 1_000 " or floats.
            raise SettingsError(
                f"{connection_label('tenant_id')} must be a positive integer, "
                f"got {shown_value(tenant)}"
            )
        if len(str(tenant).strip()) > len(str(MAX_TENANT_ID)) or int(tenant) > MAX_TENANT_ID:
            raise SettingsError(
                f"{connection_label('tenant_id')} must be a positive integer of at most "
                f"{MAX_TENANT_ID} (64 bits), got {shown_value(tenant)}"
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
        for field_name in (
            "connect_timeout_seconds",
            "read_timeout_seconds",
            "max_response_mb",
            "request_deadline_seconds",
        ):
            put(field_name, _positive_number(field_name, getattr(self, field_name)))
        try:
            max_wait = float(self.max_total_wait_seconds)
        except (TypeError, ValueError):
            max_wait = -1.0
        if not (max_wait >= 0 and math.isfinite(max_wait)):
            raise SettingsError(
                "max_total_wait_seconds must be a number >= 0, "
                f"got {shown_value(self.max_total_wait_seconds)}"
            )
        put("max_total_wait_seconds", max_wait)

    def __repr__(self) -> str:
        return (
            f"ConnectionSettings(name={self.name!r}, environment={str(self.environment)!r}, "
            f"tenant_id={self.tenant_id!r}, api_base_url={self.api_base_url!r}, "
            f"auth_url={self.auth_url!r}, client_id=***, client_secret=***, app_key=***)"
        )

    __str__ = __repr__

    def overridden_urls(self) -> list[tuple[str, str, str]]:
        """``(field, url, the environment's default)`` for each URL that is not the default.

        Said at the start of every run: the credentials go wherever these point.
        """
        environment = Environment(self.environment)
        defaults = {
            "api_base_url": DEFAULT_API_BASE_URLS[environment],
            "auth_url": DEFAULT_AUTH_URLS[environment],
        }
        return [
            (field_name, str(getattr(self, field_name)), default)
            for field_name, default in defaults.items()
            if getattr(self, field_name) != default
        ]

    def credential_label(self, field_name: str) -> str:
        """How messages name a credential setting: the variable this connection reads it from
        (``ACME_CLIENT_SECRET``), else ``SERVICETITAN_CLIENT_SECRET / client_secret``."""
        variable = self.credential_variables.get(field_name)
        return variable if variable else connection_label(field_name)

    def secrets(self) -> tuple[str, ...]:
        """The values that must never be shown (used to scrub text quoted from responses)."""
        return (self.client_secret, self.app_key)
