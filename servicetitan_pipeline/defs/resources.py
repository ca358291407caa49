"""Dagster resources: the ServiceTitan connection (``ServiceTitanResource``) and the DuckDB
warehouse (``WarehouseResource``).

Secrets reach Dagster only as ``EnvVar`` references: Dagster stores and shows the *name* of the
environment variable (``{"env": "SERVICETITAN_CLIENT_SECRET"}``) in config schemas, the launchpad
and run config, and reads the value only when the resource is initialised in the run's process.
Never pass a secret to this resource as a literal string in code: Dagster would show a literal
as the field's default value in the UI.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource
from pydantic import Field, PrivateAttr, field_validator

from servicetitan_pipeline.client import ConnectionSettings, ServiceTitanClient
from servicetitan_pipeline.client.connections import TenantConnection, configured_connections
from servicetitan_pipeline.config import (
    CONNECTION_ENV_VARS,
    DEFAULT_CONNECT_TIMEOUT_SECONDS,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_MAX_RESPONSE_MB,
    DEFAULT_MAX_TOTAL_WAIT_SECONDS,
    DEFAULT_RATE_LIMIT_PER_SECOND,
    DEFAULT_READ_TIMEOUT_SECONDS,
    DEFAULT_REQUEST_DEADLINE_SECONDS,
    REQUIRED_CONNECTION_FIELDS,
    ConfigError,
)
from servicetitan_pipeline.warehouse.lake import (
    LakeSettings,
    lake_connection,
    lake_settings,
    refuse_password,
)
from servicetitan_pipeline.warehouse.locking import warehouse_write_lock
from servicetitan_pipeline.warehouse.opening import (
    DEFAULT_DUCKDB_LOCK_WAIT_SECONDS,
    WarehouseFileError,
    check_warehouse_file,
    open_warehouse,
)

__all__ = [
    "ServiceTitanConnectionConfig",
    "ServiceTitanResource",
    "ServiceTitanTenantsResource",
    "WarehouseResource",
    "servicetitan_resource_from_env",
    "servicetitan_tenants_from_connections",
    "tenant_resources",
    "warehouse_file_errors_not_retried",
    "warehouse_resource_from_env",
    "warehouse_write_lock_for",
]


def _number_as_text(value: Any) -> Any:
    # Accept `tenant_id=12345` or `max_response_mb=512` from Python code; validated by
    # ConnectionSettings, which names the setting.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


# Dagster's ConfigurableResource is generic in the value it provides, which for it is the resource
# itself; Dagster's own resources subclass it unparametrised, as here.
class _RequestTuning(dg.ConfigurableResource):  # type: ignore[type-arg]
    """How every request of a connection is retried, timed and bounded: the fields shared by
    one tenant's resource and the resource of all tenants (which hands them to each)."""

    max_attempts: int = Field(
        default=DEFAULT_MAX_ATTEMPTS, description="Sends of one request at most (1 = no retries)."
    )
    max_total_wait_seconds: float = Field(
        default=DEFAULT_MAX_TOTAL_WAIT_SECONDS,
        description="The most one request may wait between its retries.",
    )
    connect_timeout_seconds: float = Field(
        default=DEFAULT_CONNECT_TIMEOUT_SECONDS, description="Connect timeout."
    )
    read_timeout_seconds: float = Field(
        default=DEFAULT_READ_TIMEOUT_SECONDS,
        description="Read timeout (time between bytes of an answer).",
    )
    # Strings, like tenant_id: EnvVar delivers strings, and a bad value must fail in
    # ConnectionSettings, naming the setting, not in Dagster's or pydantic's type check.
    max_response_mb: str = Field(
        default=f"{DEFAULT_MAX_RESPONSE_MB:g}",
        description="The most one answer's body may hold once decoded, in MiB; a larger one "
        f"fails the sync, not retried ({CONNECTION_ENV_VARS['max_response_mb']}).",
    )
    request_deadline_seconds: str = Field(
        default=f"{DEFAULT_REQUEST_DEADLINE_SECONDS:g}",
        description="The most one request may take, from sending it to the answer's last byte; "
        "a slower one fails the sync, not retried "
        f"({CONNECTION_ENV_VARS['request_deadline_seconds']}).",
    )

    @field_validator("max_response_mb", "request_deadline_seconds", mode="before")
    @classmethod
    def _tuning_as_text(cls, value: Any) -> Any:
        return _number_as_text(value)


class ServiceTitanResource(_RequestTuning):
    """The connection to one ServiceTitan tenant, configured as in other integration tools.

    In a run, :meth:`get_client` returns one :class:`ServiceTitanClient` shared by every asset
    of that run (so they share one token and one rate limiter: ServiceTitan's limit is per app
    per tenant); Dagster closes it when the run's resources are torn down. Bad settings fail when
    the resource is initialised, before any asset runs, with an error naming the setting.

    Outside Dagster (scripts, the ``check`` command), use it as a context manager or call
    :meth:`close`::

        with ServiceTitanResource(...) as resource:  # or call resource.close() at the end
            resource.get_client().get_json(...)

    Wire it from the environment with :func:`servicetitan_resource_from_env`.
    """

    name: str = Field(
        description="Connection name, shown in run metadata and stored in the raw tables' "
        f"_connection column ({CONNECTION_ENV_VARS['name']})."
    )
    environment: str = Field(
        description="'integration' (api-integration.servicetitan.io) or 'production' "
        f"(api.servicetitan.io) ({CONNECTION_ENV_VARS['environment']})."
    )
    # A string: EnvVar always delivers strings; validated as a positive integer.
    tenant_id: str = Field(
        description=f"ServiceTitan tenant ID ({CONNECTION_ENV_VARS['tenant_id']})."
    )
    client_id: str = Field(description=f"OAuth 2.0 client ID ({CONNECTION_ENV_VARS['client_id']}).")
    client_secret: str = Field(
        description=f"OAuth 2.0 client secret ({CONNECTION_ENV_VARS['client_secret']}); "
        "pass an EnvVar."
    )
    app_key: str = Field(
        description="App key, sent as the ST-App-Key header "
        f"({CONNECTION_ENV_VARS['app_key']}); pass an EnvVar."
    )
    api_base_url: str | None = Field(
        default=None,
        description="API root override, for a proxy or the simulator "
        f"({CONNECTION_ENV_VARS['api_base_url']}). Default: decided by the environment.",
    )
    auth_url: str | None = Field(
        default=None,
        description=f"OAuth token endpoint override ({CONNECTION_ENV_VARS['auth_url']}). "
        "Default: decided by the environment.",
    )
    rate_limit_per_second: float | None = Field(
        default=DEFAULT_RATE_LIMIT_PER_SECOND,
        description="Client-side request rate limit for this connection (ServiceTitan allows 60 "
        "per app per tenant). Null disables it.",
    )
    # Validated once per resource instance (that is, once per run) and shared by every asset.
    _settings: ConnectionSettings | None = PrivateAttr(default=None)
    _client: ServiceTitanClient | None = PrivateAttr(default=None)
    _client_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @field_validator("tenant_id", mode="before")
    @classmethod
    def _tenant_id_as_text(cls, value: Any) -> Any:
        return _number_as_text(value)

    def __repr__(self) -> str:
        # Pydantic's repr would print every field, secrets included.
        shown = {f: _shown(getattr(self, f)) for f in ("name", "environment", "tenant_id")}
        urls = {f: _shown(getattr(self, f)) for f in ("api_base_url", "auth_url")}
        return (
            "ServiceTitanResource("
            + ", ".join(f"{k}={v}" for k, v in {**shown, **urls}.items())
            + ", client_id=***, client_secret=***, app_key=***)"
        )

    __str__ = __repr__

    def get_settings(self) -> ConnectionSettings:
        """The fields validated into :class:`ConnectionSettings` (raises ``SettingsError``).

        Validated on first call and kept: the run's assets and checks all get the same object.
        """
        with self._client_lock:
            if self._settings is None:
                self._settings = self._validated_settings()
            return self._settings

    def _validated_settings(self) -> ConnectionSettings:
        return ConnectionSettings(
            name=self.name,
            environment=self.environment,
            tenant_id=self.tenant_id,
            client_id=self.client_id,
            client_secret=self.client_secret,
            app_key=self.app_key,
            api_base_url=self.api_base_url or "",
            auth_url=self.auth_url or "",
            rate_limit_per_second=self.rate_limit_per_second,
            max_attempts=self.max_attempts,
            max_total_wait_seconds=self.max_total_wait_seconds,
            connect_timeout_seconds=self.connect_timeout_seconds,
            read_timeout_seconds=self.read_timeout_seconds,
            max_response_mb=self.max_response_mb,
            request_deadline_seconds=self.request_deadline_seconds,
        )

    @classmethod
    def from_settings(cls, settings: ConnectionSettings) -> ServiceTitanResource:
        """A resource for already validated ``settings`` (a tenant of the connections file,
        built in the run's process: its values never reach a definition or the run config)."""
        resource = cls(
            name=settings.name,
            environment=str(settings.environment),
            tenant_id=str(settings.tenant_id),
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            app_key=settings.app_key,
            api_base_url=settings.api_base_url,
            auth_url=settings.auth_url,
            rate_limit_per_second=settings.rate_limit_per_second,
            max_attempts=settings.max_attempts,
            max_total_wait_seconds=settings.max_total_wait_seconds,
            connect_timeout_seconds=settings.connect_timeout_seconds,
            read_timeout_seconds=settings.read_timeout_seconds,
            max_response_mb=f"{settings.max_response_mb:g}",
            request_deadline_seconds=f"{settings.request_deadline_seconds:g}",
        )
        resource._settings = settings
        return resource

    def get_client(self) -> ServiceTitanClient:
        """The connection's shared, thread-safe client, created on first use.

        Do not close it yourself inside a run; Dagster tears the resource down (and closes it)
        at the end. Outside Dagster, call :meth:`close` or use the resource as a context manager.
        """
        settings = self.get_settings()
        with self._client_lock:
            if self._client is None:
                self._client = ServiceTitanClient(settings)
            return self._client

    def close(self) -> None:
        """Close the shared client, if one was created (a new one is created on next use)."""
        with self._client_lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def __enter__(self) -> ServiceTitanResource:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # Validate at resource initialisation, so that bad settings fail the run before any
        # asset starts, with the setting named. No request is made here.
        settings = self.get_settings()
        # Every run says where the credentials go when it is not ServiceTitan itself.
        for field_name, url, default in settings.overridden_urls():
            if context.log is not None:
                context.log.info(
                    f"{CONNECTION_ENV_VARS[field_name]} is {url}, not the "
                    f"{settings.environment} default {default}"
                )

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        self.close()


class ServiceTitanConnectionConfig(dg.Config):
    """One entry of the connections file, as Dagster shows it: no secret, only the names of
    the variables that hold them (see :mod:`servicetitan_pipeline.client.connections`)."""

    name: str = Field(description="Connection name: the partition key of its tenant.")
    environment: str = Field(default="", description="'integration' or 'production'.")
    tenant_id: int | None = Field(
        default=None,
        description="ServiceTitan tenant ID (null: SERVICETITAN_TENANT_ID, read at run time).",
    )
    client_id_env: str = Field(description="The variable holding the OAuth client ID.")
    client_secret_env: str = Field(description="The variable holding the OAuth client secret.")
    app_key_env: str = Field(description="The variable holding the app key.")
    api_base_url: str = Field(default="", description="API root override; empty: default.")
    auth_url: str = Field(default="", description="Token endpoint override; empty: default.")
    rate_limit_per_second: float | None = Field(
        default=DEFAULT_RATE_LIMIT_PER_SECOND,
        description="This tenant's client-side request limit (ServiceTitan's is per app and "
        "tenant).",
    )
    from_environment: bool = Field(
        default=False,
        description="The single-tenant SERVICETITAN_* setup: every setting read from those "
        "variables at run time.",
    )

    def connection(self) -> TenantConnection:
        return TenantConnection(
            name=self.name,
            environment=self.environment,
            tenant_id=self.tenant_id,
            client_id_env=self.client_id_env,
            client_secret_env=self.client_secret_env,
            app_key_env=self.app_key_env,
            api_base_url=self.api_base_url,
            auth_url=self.auth_url,
            rate_limit_per_second=self.rate_limit_per_second,
            from_environment=self.from_environment,
        )


class ServiceTitanTenantsResource(_RequestTuning):
    """Every ServiceTitan connection of the deployment: one per tenant (the partitions of
    the ingestion assets).

    Holds no secret: each connection names the variables that hold its credentials, read
    when a run first asks for that tenant's client (:meth:`resource`). Each tenant gets its
    own :class:`ServiceTitanResource`, so its own token, rate limiter and retry budget.
    """

    connections: list[ServiceTitanConnectionConfig] = Field(
        description="The connections, in the order of the connections file."
    )
    _resources: dict[str, ServiceTitanResource] = PrivateAttr(default_factory=dict)
    _resources_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def names(self) -> list[str]:
        """The connection names, in the file's order (the partition keys)."""
        return [c.name for c in self.connections]

    def connection(self, name: str) -> TenantConnection:
        """The connection named ``name`` (``KeyError`` listing the known names)."""
        for config in self.connections:
            if config.name == name:
                return config.connection()
        raise KeyError(f"no connection named {name!r}; known: {', '.join(self.names())}")

    def resource(self, name: str) -> ServiceTitanResource:
        """The tenant's own connection resource, its credentials read from the environment
        now (once per run). Raises ``SettingsError`` naming the tenant and the variable."""
        with self._resources_lock:
            existing = self._resources.get(name)
            if existing is not None:
                return existing
        settings = self.connection(name).settings(
            max_attempts=self.max_attempts,
            max_total_wait_seconds=self.max_total_wait_seconds,
            connect_timeout_seconds=self.connect_timeout_seconds,
            read_timeout_seconds=self.read_timeout_seconds,
            max_response_mb=self.max_response_mb,
            request_deadline_seconds=self.request_deadline_seconds,
        )
        resource = ServiceTitanResource.from_settings(settings)
        with self._resources_lock:
            return self._resources.setdefault(name, resource)

    def close(self) -> None:
        """Close every tenant's client."""
        with self._resources_lock:
            resources, self._resources = list(self._resources.values()), {}
        for resource in resources:
            resource.close()

    def __enter__(self) -> ServiceTitanTenantsResource:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        self.close()


def tenant_resources(
    resource: ServiceTitanResource | ServiceTitanTenantsResource,
    names: Sequence[str] | None = None,
) -> dict[str, ServiceTitanResource]:
    """Connection name -> its tenant's resource, for the ``names`` a run covers (default: all).

    A plain :class:`ServiceTitanResource` (one connection: tests, scripts) is its own one
    tenant. A tenant whose settings are not valid raises ``SettingsError`` naming it.
    """
    if isinstance(resource, ServiceTitanResource):
        return {resource.get_settings().name: resource}
    chosen = resource.names() if names is None else list(names)
    return {name: resource.resource(name) for name in chosen}


def servicetitan_tenants_from_connections(
    connections: Sequence[TenantConnection] | None = None, **tuning: Any
) -> ServiceTitanTenantsResource:
    """The deployment's tenants resource: ``connections`` (default: the connections file, or
    the single-tenant ``SERVICETITAN_*`` setup) with the deployment-wide tuning from the
    environment (``SERVICETITAN_MAX_RESPONSE_MB``, ``SERVICETITAN_REQUEST_DEADLINE_SECONDS``)."""
    connections = configured_connections() if connections is None else connections
    fields: dict[str, Any] = {}
    for field_name in ("max_response_mb", "request_deadline_seconds"):
        if (os.environ.get(CONNECTION_ENV_VARS[field_name]) or "").strip():
            fields[field_name] = dg.EnvVar(CONNECTION_ENV_VARS[field_name])
    fields.update(tuning)
    return ServiceTitanTenantsResource(
        connections=[
            ServiceTitanConnectionConfig(
                name=c.name,
                environment=c.environment,
                tenant_id=c.tenant_id,
                client_id_env=c.client_id_env,
                client_secret_env=c.client_secret_env,
                app_key_env=c.app_key_env,
                api_base_url=c.api_base_url,
                auth_url=c.auth_url,
                rate_limit_per_second=c.rate_limit_per_second,
                from_environment=c.from_environment,
            )
            for c in connections
        ],
        **fields,
    )


def _shown(value: Any) -> str:
    # An unresolved EnvVar is a str subclass whose str() raises; show its name instead.
    if isinstance(value, dg.EnvVar):
        return f"EnvVar({value.env_var_name!r})"
    return repr(value)


def servicetitan_resource_from_env(
    environ: Mapping[str, str] | None = None, **overrides: Any
) -> ServiceTitanResource:
    """A :class:`ServiceTitanResource` with every setting read from ``SERVICETITAN_*`` variables.

    Required settings are always ``EnvVar`` references (Dagster reports an unset one when the
    run starts); the optional URL overrides are wired only when their variable is set and not
    empty, so an empty ``SERVICETITAN_API_BASE_URL=`` in ``.env`` means "the environment's
    default". No value is read here beyond checking which optional variables are set.

    Args:
        environ: where to look for the optional variables (default ``os.environ``).
        **overrides: field values to use instead (e.g. ``rate_limit_per_second=30``).
    """
    environ = os.environ if environ is None else environ
    fields: dict[str, Any] = {}
    for field_name, env_name in CONNECTION_ENV_VARS.items():
        if field_name in REQUIRED_CONNECTION_FIELDS or (environ.get(env_name) or "").strip():
            fields[field_name] = dg.EnvVar(env_name)
    fields.update(overrides)
    return ServiceTitanResource(**fields)


@contextlib.contextmanager
def warehouse_file_errors_not_retried() -> Iterator[None]:
    """Turn a :class:`WarehouseFileError` into a ``dg.Failure`` the retry policy does not retry.

    Dagster's retry policy retries every exception except a ``Failure`` that forbids it; a
    warehouse file that cannot be opened stays so, and retrying it only hid the message for
    minutes.
    """
    from servicetitan_pipeline.defs.jobs import is_transient

    try:
        yield
    except WarehouseFileError as exc:
        raise dg.Failure(description=str(exc), allow_retries=is_transient(exc)) from exc


class WarehouseResource(DuckDBResource):
    """The warehouse every step writes: the DuckDB file (``SERVICETITAN_DUCKDB_PATH``), or a
    DuckLake when ``lake_catalog`` is set (``SERVICETITAN_WAREHOUSE=ducklake``).

    The file: dagster-duckdb's resource retries every failed open ten times with a growing
    backoff, and the job's retry policy retried the step on top, so a file that can never open
    (garbage, a truncated copy, a directory, ``/dev/null``, no permission) took minutes per
    asset to fail, silently. Here only another process's lock on the file is waited for (with
    a message, at most ``lock_wait_seconds``); any other failure names the file and the cause
    at once and is not retried. An existing file is opened once when the run's resources are
    set up, so a bad one fails the run before any asset starts.

    The lake: every connection is an in-memory DuckDB with the lake attached
    (``lake.connect_lake``); a catalog that cannot be reached fails the run when its
    resources are set up, naming ``SERVICETITAN_DUCKLAKE_CATALOG``, and is not retried. The
    catalog string holds no password (libpq reads ``PGPASSWORD``), so it may show in the UI.
    """

    lock_wait_seconds: float = Field(
        default=DEFAULT_DUCKDB_LOCK_WAIT_SECONDS,
        description="How long a step waits while another process (a DuckDB shell, a BI tool) "
        "holds DuckDB's lock on the file, before it fails as busy.",
    )
    lake_catalog: str = Field(
        default="",
        description="The DuckLake's PostgreSQL catalog, a libpq connection string without a "
        "password (SERVICETITAN_DUCKLAKE_CATALOG); empty: the warehouse is the DuckDB file.",
    )
    lake_data_path: str = Field(
        default="",
        description="Where the DuckLake's Parquet files go (SERVICETITAN_DUCKLAKE_DATA_PATH).",
    )

    @classmethod
    def _is_dagster_maintained(cls) -> bool:
        return False

    @property
    def lake(self) -> LakeSettings | None:
        """The lake this resource writes, or ``None`` for the DuckDB file.

        Raises:
            ConfigError: the catalog string holds a password (refused here, not by a pydantic
                validator: pydantic's error would quote the value, secret included).
        """
        if not self.lake_catalog:
            return None
        refuse_password(self.lake_catalog)
        return LakeSettings(catalog=self.lake_catalog, data_path=self.lake_data_path)

    def describe(self) -> str:
        """The warehouse in words, for messages (no secret)."""
        lake = self.lake
        return lake.describe() if lake is not None else f"DuckDB file {self.database}"

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        lake = self.lake
        if lake is None:
            check_warehouse_file(self.database)
            return
        with _lake_errors_not_retried():
            lake_connection(lake).close()  # reached once, and attached for the run

    @contextlib.contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection to the warehouse for the block, closed afterwards."""
        lake = self.lake
        if lake is not None:
            with _lake_errors_not_retried():
                # The process's one instance attached to the lake (lake.lake_connection).
                conn = lake_connection(lake)
        else:
            with warehouse_file_errors_not_retried():
                conn = open_warehouse(
                    self.database,
                    config={"custom_user_agent": "dagster", **self.connection_config},
                    lock_wait_seconds=self.lock_wait_seconds,
                    on_wait=dg.get_dagster_logger().info,
                )
        try:
            yield conn
        finally:
            conn.close()


@contextlib.contextmanager
def _lake_errors_not_retried() -> Iterator[None]:
    """A lake that cannot be attached (catalog unreachable, refused, not a lake) fails the
    step at once as a ``dg.Failure`` the retry policy does not retry: its message names
    ``SERVICETITAN_DUCKLAKE_CATALOG`` (``lake.connect_lake``), and waiting will not fix it."""
    try:
        yield
    except ConfigError as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from None


def warehouse_resource_from_env() -> WarehouseResource:
    """The deployment's warehouse resource: the DuckDB file, or the lake when
    ``SERVICETITAN_WAREHOUSE=ducklake`` (``ConfigError`` naming a missing or bad setting)."""
    from servicetitan_pipeline.config import duckdb_path

    lake = lake_settings()
    if lake is None:
        return WarehouseResource(database=duckdb_path())
    return WarehouseResource(
        database=duckdb_path(), lake_catalog=lake.catalog, lake_data_path=lake.data_path
    )


def warehouse_write_lock_for(
    resource: DuckDBResource, *, holder: str, on_wait: Callable[[str], None]
) -> contextlib.AbstractContextManager[None]:
    """The write lock a step holds while it writes through ``resource``: the file's
    one-writer lock (``locking.warehouse_write_lock``), or none for a lake.

    One writing process per file is DuckDB's rule for a file; a lake's commits are ordered
    by its PostgreSQL catalog, so any number of processes write it at once (conflicting
    commits are replayed by the writer, ``lake.retry_conflicts``).
    """
    if isinstance(resource, WarehouseResource) and resource.lake is not None:
        return contextlib.nullcontext()
    return warehouse_write_lock(resource.database, holder=holder, on_wait=on_wait)
