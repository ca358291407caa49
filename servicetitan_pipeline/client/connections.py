"""The ServiceTitan connections of a deployment: one per tenant, listed in one file.

A group that owns several companies (or an agency serving many) lists them in
``servicetitan_connections.toml`` (or the file ``SERVICETITAN_CONNECTIONS_FILE`` names)::

    [defaults]                          # optional: what every connection shares
    environment = "production"
    app_key_env = "SERVICETITAN_APP_KEY"    # several tenants usually share one app

    [[connections]]
    name = "Acme HVAC"                  # the Dagster partition, and `connection_name` in dbt
    tenant_id = 1234567
    client_id_env = "ACME_CLIENT_ID"    # the *names* of the variables holding the credentials
    client_secret_env = "ACME_CLIENT_SECRET"

    [[connections]]
    name = "Bolt Plumbing"
    environment = "integration"        # overrides the default
    tenant_id = 7654321
    client_id_env = "BOLT_CLIENT_ID"
    client_secret_env = "BOLT_CLIENT_SECRET"
    # optional per connection: api_base_url, auth_url, rate_limit_per_second

The file holds no secret, only variable names: a value is read from the environment when a
run creates its client, and a missing one is an error naming the connection and the variable.
Without a file, the single-tenant ``SERVICETITAN_*`` settings are a one-entry list, so every
existing setup keeps working.

Every mistake in the file raises :class:`ConnectionsFileError` naming the file, the connection
and the key; a value that may be a secret pasted in the wrong place is never echoed.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from servicetitan_pipeline.client.errors import SettingsError
from servicetitan_pipeline.client.settings import MAX_NAME_LENGTH, ConnectionSettings, Environment
from servicetitan_pipeline.config import (
    CONNECTION_ENV_VARS,
    CONNECTIONS_FILE_ENV,
    DEFAULT_RATE_LIMIT_PER_SECOND,
    ConfigError,
)

DEFAULT_CONNECTIONS_FILE: Final = "servicetitan_connections.toml"
# The partition key of the single-tenant setup when SERVICETITAN_CONNECTION_NAME is not set
# where the code location loads (its run then fails, naming the variable, as before).
UNNAMED_CONNECTION: Final = "servicetitan"

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
# Dagster refuses these in a partition key ("|,[]" separate the keys of a multi-partition or
# a range; "..." and control characters are refused in any key).
_PARTITION_KEY_FORBIDDEN = ("|", ",", "[", "]", "...")
_CREDENTIAL_FIELDS: Final = ("client_id", "client_secret", "app_key")
_CREDENTIAL_WORDS: Final = {
    "client_id": "its OAuth client ID",
    "client_secret": "its OAuth client secret",
    "app_key": "its app key",
}
_ENTRY_KEYS: Final = frozenset(
    {
        "name",
        "environment",
        "tenant_id",
        "client_id_env",
        "client_secret_env",
        "app_key_env",
        "api_base_url",
        "auth_url",
        "rate_limit_per_second",
    }
)
_DEFAULT_KEYS: Final = _ENTRY_KEYS - {"name", "tenant_id"}


class ConnectionsFileError(ConfigError):
    """The connections file (or one of its entries) is not valid; the message says where."""


@dataclass(frozen=True)
class TenantConnection:
    """One ServiceTitan connection: a tenant, and where its credentials are.

    Attributes:
        name: the connection name: the Dagster partition key, ``_connection`` in the raw
            tables and ``connection_name`` in dbt.
        environment: ``integration`` or ``production``.
        tenant_id: the ServiceTitan tenant ID; ``None`` only for the single-tenant setup,
            whose tenant ID is read from ``SERVICETITAN_TENANT_ID`` when a run starts.
        client_id_env, client_secret_env, app_key_env: the names of the environment variables
            holding the credentials.
        api_base_url, auth_url: URL overrides (a proxy, the simulator); empty: the environment's.
        rate_limit_per_second: this tenant's client-side limit (ServiceTitan's is per app and
            tenant).
        from_environment: the single-tenant ``SERVICETITAN_*`` setup: every field but the name
            is read from those variables when a run starts, as before the file existed.
    """

    name: str
    environment: str
    tenant_id: int | None
    client_id_env: str
    client_secret_env: str
    app_key_env: str
    api_base_url: str = ""
    auth_url: str = ""
    rate_limit_per_second: float | None = DEFAULT_RATE_LIMIT_PER_SECOND
    from_environment: bool = False

    @property
    def label(self) -> str:
        """``connection 'Acme HVAC' (tenant 1234567)``: how errors and logs name it."""
        tenant = f" (tenant {self.tenant_id})" if self.tenant_id is not None else ""
        return f"connection {self.name!r}{tenant}"

    def credential_variables(self) -> dict[str, str]:
        """Credential field -> the variable that holds it."""
        return {
            "client_id": self.client_id_env,
            "client_secret": self.client_secret_env,
            "app_key": self.app_key_env,
        }

    def settings(
        self, environ: Mapping[str, str] | None = None, **tuning: Any
    ) -> ConnectionSettings:
        """The validated settings, credentials read from ``environ`` (default ``os.environ``).

        ``tuning`` passes the deployment-wide fields of :class:`ConnectionSettings`
        (``max_attempts``, timeouts, response bounds).

        Raises:
            SettingsError: naming this connection and the variable that is not set, or the
                setting that is not valid.
        """
        environ = os.environ if environ is None else environ
        if self.from_environment:
            return _settings_from_environment(environ, tuning)
        values: dict[str, Any] = {}
        for field_name, variable in self.credential_variables().items():
            value = (environ.get(variable) or "").strip()
            if not value:
                raise SettingsError(
                    f"{self.label}: environment variable {variable} "
                    f"({_CREDENTIAL_WORDS[field_name]}) is not set"
                )
            values[field_name] = value
        try:
            return ConnectionSettings(
                name=self.name,
                environment=self.environment,
                tenant_id=self.tenant_id if self.tenant_id is not None else "",
                api_base_url=self.api_base_url,
                auth_url=self.auth_url,
                rate_limit_per_second=self.rate_limit_per_second,
                credential_variables=self.credential_variables(),
                **values,
                **tuning,
            )
        except SettingsError as exc:
            raise SettingsError(f"{self.label}: {exc}") from None


def _settings_from_environment(
    environ: Mapping[str, str], tuning: Mapping[str, Any]
) -> ConnectionSettings:
    fields: dict[str, Any] = {}
    for field_name in ("name", "environment", "tenant_id", *_CREDENTIAL_FIELDS):
        variable = CONNECTION_ENV_VARS[field_name]
        value = (environ.get(variable) or "").strip()
        if not value:
            raise SettingsError(f"{variable} is not set (the connection's {field_name})")
        fields[field_name] = value
    for field_name in ("api_base_url", "auth_url"):
        fields[field_name] = (environ.get(CONNECTION_ENV_VARS[field_name]) or "").strip()
    return ConnectionSettings(**fields, **tuning)


def single_tenant_connection(environ: Mapping[str, str] | None = None) -> TenantConnection:
    """The single-tenant ``SERVICETITAN_*`` setup as a one-entry list's entry.

    Only the name is read now (it is the partition key); everything else when a run starts.
    """
    environ = os.environ if environ is None else environ
    name = (environ.get(CONNECTION_ENV_VARS["name"]) or "").strip() or UNNAMED_CONNECTION
    tenant = (environ.get(CONNECTION_ENV_VARS["tenant_id"]) or "").strip()
    return TenantConnection(
        name=_partition_safe_name(name, CONNECTION_ENV_VARS["name"]),
        environment=(environ.get(CONNECTION_ENV_VARS["environment"]) or "").strip(),
        # Only a plausible ID is read now; a bad one is refused, named, when settings are
        # validated (int() would raise on thousands of digits).
        tenant_id=int(tenant) if tenant.isdigit() and len(tenant) <= 19 else None,
        client_id_env=CONNECTION_ENV_VARS["client_id"],
        client_secret_env=CONNECTION_ENV_VARS["client_secret"],
        app_key_env=CONNECTION_ENV_VARS["app_key"],
        from_environment=True,
    )


def connections_file(environ: Mapping[str, str] | None = None) -> Path | None:
    """The connections file to read: ``SERVICETITAN_CONNECTIONS_FILE``, else
    ``servicetitan_connections.toml`` in the working directory when it exists, else ``None``.

    Raises:
        ConnectionsFileError: naming ``SERVICETITAN_CONNECTIONS_FILE`` when it names no file.
    """
    environ = os.environ if environ is None else environ
    raw = (environ.get(CONNECTIONS_FILE_ENV) or "").strip()
    if not raw:
        default = Path(DEFAULT_CONNECTIONS_FILE).resolve()
        return default if default.is_file() else None
    path = Path(raw).expanduser().resolve()
    if not path.is_file():
        raise ConnectionsFileError(f"{CONNECTIONS_FILE_ENV}: {path} is not a file")
    return path


def credential_variables(environ: Mapping[str, str] | None = None) -> list[str]:
    """The variables the configured connections read their credentials from (names only):
    what a settings file may set besides the documented settings. Empty when the connections
    file cannot be read (loading it later says why)."""
    try:
        connections = configured_connections(environ)
    except ConnectionsFileError:
        return []
    return [
        variable
        for connection in connections
        if not connection.from_environment
        for variable in connection.credential_variables().values()
    ]


def configured_connections(environ: Mapping[str, str] | None = None) -> list[TenantConnection]:
    """The deployment's connections: the file's, else the single-tenant setup's one.

    Raises:
        ConnectionsFileError: the file is missing (when named) or not valid.
    """
    path = connections_file(environ)
    if path is None:
        return [single_tenant_connection(environ)]
    return load_connections(path)


def load_connections(path: Path) -> list[TenantConnection]:
    """The connections listed in ``path`` (TOML, see the module doc), validated.

    Raises:
        ConnectionsFileError: naming the file, the connection and the key at fault.
    """
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConnectionsFileError(f"{path}: cannot be read ({type(exc).__name__})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConnectionsFileError(f"{path}: not valid TOML ({exc})") from None
    return parse_connections(document, source=str(path))


def parse_connections(document: Mapping[str, Any], *, source: str) -> list[TenantConnection]:
    """The connections of a parsed connections file (``source`` names it in errors)."""
    unknown = sorted(set(document) - {"defaults", "connections"})
    if unknown:
        raise ConnectionsFileError(
            f"{source}: unknown top-level key(s) {', '.join(unknown)}; "
            "expected [defaults] and [[connections]]"
        )
    defaults = document.get("defaults", {})
    if not isinstance(defaults, dict):
        raise ConnectionsFileError(f"{source}: [defaults] must be a table")
    bad_defaults = sorted(set(defaults) - _DEFAULT_KEYS)
    if bad_defaults:
        raise ConnectionsFileError(
            f"{source}: [defaults] cannot hold {', '.join(bad_defaults)}; "
            f"allowed: {', '.join(sorted(_DEFAULT_KEYS))}"
        )
    entries = document.get("connections")
    if not isinstance(entries, list) or not entries:
        raise ConnectionsFileError(
            f"{source}: lists no connection; add at least one [[connections]] table"
        )
    connections: list[TenantConnection] = []
    for position, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            raise ConnectionsFileError(f"{source}: connection {position} must be a table")
        connections.append(_connection(source, position, {**defaults, **entry}))
    _refuse_duplicates(source, connections)
    return connections


def _connection(source: str, position: int, entry: Mapping[str, Any]) -> TenantConnection:
    raw_name = entry.get("name")
    where = f"{source}: connection {position}"
    if isinstance(raw_name, str) and raw_name.strip():
        where = f"{source}: connection {raw_name.strip()!r}"
    unknown = sorted(set(entry) - _ENTRY_KEYS)
    if unknown:
        raise ConnectionsFileError(
            f"{where}: unknown key(s) {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(_ENTRY_KEYS))}"
        )
    for key in ("name", "tenant_id", "client_id_env", "client_secret_env", "app_key_env"):
        if key not in entry:
            raise ConnectionsFileError(f"{where}: '{key}' is missing")
    if not isinstance(raw_name, str) or not raw_name.strip():
        raise ConnectionsFileError(f"{where}: 'name' must be a non-empty string")
    name = _partition_safe_name(raw_name.strip(), where + ": 'name'")

    environment = entry.get("environment", Environment.PRODUCTION.value)
    if not isinstance(environment, str) or environment.strip().lower() not in {
        e.value for e in Environment
    }:
        raise ConnectionsFileError(f"{where}: 'environment' must be 'integration' or 'production'")

    tenant_id = entry["tenant_id"]
    if isinstance(tenant_id, str) and tenant_id.strip().isdigit():
        tenant_id = int(tenant_id.strip())
    if isinstance(tenant_id, bool) or not isinstance(tenant_id, int) or not 0 < tenant_id < 2**63:
        raise ConnectionsFileError(f"{where}: 'tenant_id' must be a positive integer")

    variables: dict[str, Any] = {}
    for field_name in _CREDENTIAL_FIELDS:
        key = f"{field_name}_env"
        value = entry[key]
        # Not echoed: a secret pasted here instead of a variable's name must not be printed.
        if not isinstance(value, str) or not _ENV_NAME.fullmatch(value.strip()):
            raise ConnectionsFileError(
                f"{where}: '{key}' must be the name of an environment variable (letters, "
                "digits and underscores, e.g. ACME_CLIENT_SECRET), not the value itself"
            )
        variables[key] = value.strip()

    urls: dict[str, Any] = {}
    for key in ("api_base_url", "auth_url"):
        value = entry.get(key, "")
        if not isinstance(value, str):
            raise ConnectionsFileError(f"{where}: '{key}' must be a string (a URL)")
        urls[key] = value.strip()

    rate = entry.get("rate_limit_per_second", DEFAULT_RATE_LIMIT_PER_SECOND)
    if (
        isinstance(rate, bool)
        or not isinstance(rate, int | float)
        or not (rate > 0 and math.isfinite(rate))
    ):
        raise ConnectionsFileError(f"{where}: 'rate_limit_per_second' must be a positive number")

    connection = TenantConnection(
        name=name,
        environment=environment.strip().lower(),
        tenant_id=tenant_id,
        rate_limit_per_second=float(rate),
        **variables,
        **urls,
    )
    _check_urls(where, connection)
    return connection


def _check_urls(where: str, connection: TenantConnection) -> None:
    """The URL overrides validated now (as the run would), with placeholder credentials."""
    try:
        ConnectionSettings(
            name=connection.name,
            environment=connection.environment,
            tenant_id=connection.tenant_id or 1,
            client_id="placeholder",
            client_secret="placeholder",
            app_key="placeholder",
            api_base_url=connection.api_base_url,
            auth_url=connection.auth_url,
        )
    except SettingsError as exc:
        raise ConnectionsFileError(f"{where}: {exc}") from None


def _partition_safe_name(name: str, where: str) -> str:
    if len(name) > MAX_NAME_LENGTH or not name.isprintable():
        raise ConnectionsFileError(
            f"{where} must be printable text without line breaks, at most "
            f"{MAX_NAME_LENGTH} characters"
        )
    bad = [s for s in _PARTITION_KEY_FORBIDDEN if s in name]
    if bad:
        raise ConnectionsFileError(
            f"{where} must not contain {' '.join(repr(s) for s in bad)} "
            "(the name is a Dagster partition key)"
        )
    return name


def _refuse_duplicates(source: str, connections: Sequence[TenantConnection]) -> None:
    seen_names: dict[str, int] = {}
    seen_tenants: dict[int, str] = {}
    for connection in connections:
        folded = connection.name.casefold()
        if folded in seen_names:
            raise ConnectionsFileError(
                f"{source}: two connections are named {connection.name!r}; names must be unique"
            )
        seen_names[folded] = 1
        if connection.tenant_id is not None:
            other = seen_tenants.get(connection.tenant_id)
            if other is not None:
                raise ConnectionsFileError(
                    f"{source}: connections {other!r} and {connection.name!r} both have "
                    f"tenant_id {connection.tenant_id}; one connection per tenant"
                )
            seen_tenants[connection.tenant_id] = connection.name


__all__ = [
    "CONNECTIONS_FILE_ENV",
    "DEFAULT_CONNECTIONS_FILE",
    "UNNAMED_CONNECTION",
    "ConnectionsFileError",
    "TenantConnection",
    "configured_connections",
    "connections_file",
    "credential_variables",
    "load_connections",
    "parse_connections",
    "single_tenant_connection",
]
