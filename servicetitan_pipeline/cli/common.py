"""What several commands share: ``--select``, ``--tenant``, ``--env-file``, every setting
validated up front, and the local Dagster instance."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from servicetitan_pipeline.client import ConnectionSettings, SettingsError
from servicetitan_pipeline.client.connections import (
    TenantConnection,
    configured_connections,
    credential_variables,
)
from servicetitan_pipeline.config import (
    CONNECTION_ENV_VARS,
    CONNECTIONS_FILE_ENV,
    DAGSTER_HOME_ENV,
    DEFAULT_ENV_FILE,
    ENTITIES_ENV,
    REQUIRED_CONNECTION_FIELDS,
    ConfigError,
    EntitySelection,
    SettingsFile,
    apply_file_mode,
    ar_as_of_date,
    check_warehouse_location,
    configured_entity_selection,
    load_dotenv_file,
    restrict_to_file_mode,
    select_entities,
)
from servicetitan_pipeline.entities import MODULES

if TYPE_CHECKING:
    import dagster as dg

    from servicetitan_pipeline.defs.resources import ServiceTitanResource

# What a bad setting raises, from the client's validation or from config.py's: the command
# prints the message (one line, naming the setting) and exits 2.
SETTINGS_ERRORS = (SettingsError, ConfigError)
EXIT_BAD_SETTINGS = 2


SELECT_OPTION = "--select"
TENANT_OPTION = "--tenant"


def add_select_argument(parser: argparse.ArgumentParser, *, verb: str) -> None:
    """``--select crm,jobs,-leads``: the entities to ``verb`` this once, over the setting."""
    parser.add_argument(
        SELECT_OPTION,
        metavar="ENTITIES",
        help=f"modules and entities to {verb}, comma-separated, with -name to leave one out "
        f"(e.g. crm,jobs or all,-payroll); overrides {ENTITIES_ENV} for this run "
        f"(default: {ENTITIES_ENV}, else all). Modules: {', '.join(MODULES)}",
    )


def selected_entities(
    value: str | None, environ: Mapping[str, str] | None = None
) -> EntitySelection:
    """What a command works on: ``--select`` when given, else ``SERVICETITAN_ENTITIES``.

    Read after the settings file is loaded (:func:`prepare_settings`), which may set the latter.

    Raises:
        ConfigError: naming ``--select`` or the setting, the unknown names and the known ones.
    """
    if value is not None and value.strip():
        return select_entities(value, source=SELECT_OPTION)
    return configured_entity_selection(environ)


def add_tenant_argument(parser: argparse.ArgumentParser, *, verb: str) -> None:
    """``--tenant NAME`` (repeatable, or comma-separated): the connections to ``verb``."""
    parser.add_argument(
        TENANT_OPTION,
        dest="tenants",
        action="append",
        metavar="NAME",
        help=f"the connection (tenant) to {verb}, by its name in the connections file "
        f"({CONNECTIONS_FILE_ENV}, else servicetitan_connections.toml); repeat it or separate "
        "names with commas (default: every connection)",
    )


def tenant_names(values: Sequence[str] | None) -> list[str] | None:
    """``--tenant a --tenant b,c`` -> ``["a", "b", "c"]``; None when not given (every tenant).

    Names are matched whole: a connection name cannot hold a comma (it is a partition key).
    """
    if not values:
        return None
    names = [name.strip() for value in values for name in value.split(",") if name.strip()]
    return list(dict.fromkeys(names)) or None


def select_tenants(
    connections: Sequence[TenantConnection], names: Sequence[str] | None
) -> list[TenantConnection]:
    """The connections named (in the file's order), or all of them when ``names`` is None.

    Raises:
        ConfigError: naming ``--tenant``, the unknown names and the known ones.
    """
    if names is None:
        return list(connections)
    known = {c.name: c for c in connections}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ConfigError(
            f"{TENANT_OPTION}: no connection named {', '.join(repr(n) for n in unknown)}; "
            f"known: {', '.join(repr(c.name) for c in connections)}"
        )
    chosen = set(names)
    return [c for c in connections if c.name in chosen]


def add_env_file_argument(parser: argparse.ArgumentParser) -> None:
    """``--env-file PATH``: the pipeline's settings, for variables not already set."""
    parser.add_argument(
        "--env-file",
        default=DEFAULT_ENV_FILE,
        help="file of SERVICETITAN_* settings (KEY=value) for variables not already set: the "
        "environment wins, other variables are ignored (default: .env in the current "
        "directory; `make dev` writes .dagster_home/simulator.env for its simulator)",
    )


def load_env_file(path: str | None) -> SettingsFile:
    """Load ``--env-file`` (nothing when empty); a file given but missing is an error."""
    if not path:
        return load_dotenv_file(os.devnull)
    if path != DEFAULT_ENV_FILE and not Path(path).is_file():
        raise SettingsError(f"--env-file {path}: no such file")
    # Besides the documented settings, the file may hold the variables the connections file
    # names for its tenants' credentials (it may name the connections file too).
    return load_dotenv_file(path, credential_variables=credential_variables)


def resource_from_environment(
    environ: Mapping[str, str], overrides: Mapping[str, str | None]
) -> ServiceTitanResource:
    """The connection resource from plain values of ``environ`` and command-line ``overrides``.

    Raises:
        SettingsError: naming every missing required variable at once.
    """
    from servicetitan_pipeline.defs.resources import ServiceTitanResource

    values: dict[str, Any] = {}
    for field_name, env_name in CONNECTION_ENV_VARS.items():
        value = (environ.get(env_name) or "").strip()
        if value:
            values[field_name] = value
    values.update({k: v for k, v in overrides.items() if v})
    missing = [CONNECTION_ENV_VARS[f] for f in REQUIRED_CONNECTION_FIELDS if not values.get(f)]
    if missing:
        raise SettingsError(
            "missing ServiceTitan settings: " + ", ".join(missing) + " (set them in the "
            "environment or in .env; see .env.example)"
        )
    return ServiceTitanResource(**values)


@dataclass(frozen=True)
class TenantSettings:
    """One tenant's connection and its validated settings, or why they are not valid."""

    connection: TenantConnection
    settings: ConnectionSettings | None
    error: SettingsError | None = None

    @property
    def name(self) -> str:
        return self.connection.name


def tenant_settings(
    connections: Sequence[TenantConnection],
    overrides: Mapping[str, str | None],
    environ: Mapping[str, str] | None = None,
) -> list[TenantSettings]:
    """Each connection's settings, validated now; one whose variable is missing or whose
    setting is bad keeps its error (naming the tenant and the variable) and the others go on.

    ``overrides`` (``check``'s non-secret options) apply to the single-tenant settings only.

    Raises:
        SettingsError: an override given while a connections file lists the tenants.
    """
    environ = os.environ if environ is None else environ
    given = [f for f, v in overrides.items() if v]
    results: list[TenantSettings] = []
    for connection in connections:
        try:
            if connection.from_environment:
                settings = resource_from_environment(environ, overrides).get_settings()
            elif given:
                raise SettingsError(
                    "--" + given[0].replace("_", "-") + " applies to the single-tenant "
                    f"{', '.join(CONNECTION_ENV_VARS[f] for f in given)} settings; the "
                    "connections file lists the tenants: edit it, or pick one with --tenant"
                )
            else:
                settings = connection.settings(environ)
        except SettingsError as exc:
            if given and not connection.from_environment:
                raise
            results.append(TenantSettings(connection, None, exc))
            continue
        results.append(TenantSettings(connection, settings))
    return results


def prepare_settings(
    env_file: str | None,
    *,
    warehouse: bool,
    overrides: Mapping[str, str | None] | None = None,
    out: TextIO | None = None,
    tenants: Sequence[str] | None = None,
    every_tenant_valid: bool = True,
) -> list[TenantSettings]:
    """Read and validate every setting a command uses, once, before anything is sent or started.

    Loads the settings file, makes what the process writes private (``SERVICETITAN_FILE_MODE``),
    reads the connections (the connections file, else the single-tenant ``SERVICETITAN_*``
    settings), picks ``tenants`` (default: all), validates each one's settings and
    ``SERVICETITAN_ENTITIES`` and, for commands that write the warehouse (``warehouse=True``),
    its location and file (opened once), the AR date and the schedule; then says on ``out``
    (stderr) which settings came from which file and which URLs are not the defaults.

    Args:
        every_tenant_valid: raise the first tenant's settings error (``sync``); else each
            tenant's error is returned with it (``check`` reports it and goes on).

    Raises:
        SettingsError, ConfigError: the first bad setting, named (see :data:`SETTINGS_ERRORS`).
    """
    file = load_env_file(env_file)
    apply_file_mode()
    chosen = select_tenants(configured_connections(), tenants)
    prepared = tenant_settings(chosen, overrides or {})
    for tenant in prepared:
        # The single-tenant SERVICETITAN_* setup has one connection: a bad setting there is
        # the command's one-line refusal, before anything is said or sent, as before the file.
        if tenant.error is not None and (every_tenant_valid or tenant.connection.from_environment):
            raise tenant.error
    # The code location reads it too (the job's selection): a typo fails here, in one line.
    configured_entity_selection()
    if warehouse:
        from servicetitan_pipeline.defs.jobs import check_schedule_settings
        from servicetitan_pipeline.warehouse.lake import connect_lake, lake_settings
        from servicetitan_pipeline.warehouse.opening import check_warehouse_file

        # Opened once here, so a file that is no DuckDB database (or a lake whose catalog
        # cannot be reached) fails in one line before any request, rather than in each asset.
        lake = lake_settings()
        if lake is None:
            check_warehouse_file(check_warehouse_location())
        else:
            check_warehouse_location()
            connect_lake(lake).close()
        ar_as_of_date()
        check_schedule_settings()
    given = {CONNECTION_ENV_VARS[f] for f, v in (overrides or {}).items() if v}
    report_settings_sources(
        file,
        [t.settings for t in prepared if t.settings is not None],
        sys.stderr if out is None else out,
        given,
        from_connections_file=not any(t.connection.from_environment for t in prepared),
    )
    return prepared


def report_settings_sources(
    file: SettingsFile,
    settings: ConnectionSettings | Sequence[ConnectionSettings],
    out: TextIO,
    on_command_line: frozenset[str] | set[str] = frozenset(),
    *,
    from_connections_file: bool = False,
) -> None:
    """Where the settings came from, and where the credentials will go when not the default."""
    if file.path is None:
        print("settings: from the environment only (no settings file)", file=out)
    else:
        loaded = ", ".join(file.loaded) or "nothing"
        print(
            f"settings: {file.path} gave {loaded} (the environment's own values win over it)",
            file=out,
        )
        if file.ignored:
            print(
                f"settings: ignored in {file.path}, not servicetitan-pipeline settings: "
                + ", ".join(file.ignored),
                file=out,
            )
    every = [settings] if isinstance(settings, ConnectionSettings) else list(settings)
    for one in every:
        for field_name, url, default in one.overridden_urls():
            if from_connections_file:
                print(
                    f"settings: connection {one.name!r}: {field_name} is {url} (from the "
                    f"connections file), not the {one.environment} default {default}",
                    file=out,
                )
                continue
            name = CONNECTION_ENV_VARS[field_name]
            source = "the command line" if name in on_command_line else file.source(name)
            print(
                f"settings: {name} is {url} (from {source}), not the "
                f"{one.environment} default {default}",
                file=out,
            )
    out.flush()


def local_dagster_instance() -> dg.DagsterInstance | None:
    """The Dagster instance of DAGSTER_HOME when set (runs then show in the UI), else None.

    Raises:
        ConfigError: naming DAGSTER_HOME when it cannot be created.
    """
    import dagster as dg

    home = os.environ.get(DAGSTER_HOME_ENV)
    if not home:
        return None
    try:
        os.makedirs(home, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"{DAGSTER_HOME_ENV}: cannot create {home} ({exc.strerror or type(exc).__name__})"
        ) from None
    restrict_to_file_mode(Path(home))
    return dg.DagsterInstance.get()
