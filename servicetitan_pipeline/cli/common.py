"""What several commands share: ``--select``, ``--env-file``, every setting validated up front,
and the local Dagster instance."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from servicetitan_pipeline.client import ConnectionSettings, SettingsError
from servicetitan_pipeline.config import (
    CONNECTION_ENV_VARS,
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
    return load_dotenv_file(path)


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


def prepare_settings(
    env_file: str | None,
    *,
    warehouse: bool,
    overrides: Mapping[str, str | None] | None = None,
    out: TextIO | None = None,
) -> ConnectionSettings:
    """Read and validate every setting a command uses, once, before anything is sent or started.

    Loads the settings file, makes what the process writes private (``SERVICETITAN_FILE_MODE``),
    validates the connection and ``SERVICETITAN_ENTITIES`` and, for commands that write the
    warehouse (``warehouse=True``), its location and file (opened once), the AR date and the
    schedule; then says on ``out`` (stderr) which settings came from which file and which URLs
    are not the environment's defaults.

    Raises:
        SettingsError, ConfigError: the first bad setting, named (see :data:`SETTINGS_ERRORS`).
    """
    file = load_env_file(env_file)
    apply_file_mode()
    settings = resource_from_environment(os.environ, overrides or {}).get_settings()
    # The code location reads it too (the job's selection): a typo fails here, in one line.
    configured_entity_selection()
    if warehouse:
        from servicetitan_pipeline.defs.jobs import check_schedule_settings
        from servicetitan_pipeline.warehouse.opening import check_warehouse_file

        # Opened once here, so a file that is no DuckDB database fails in one line before any
        # request, rather than in each asset of the run.
        check_warehouse_file(check_warehouse_location())
        ar_as_of_date()
        check_schedule_settings()
    given = {CONNECTION_ENV_VARS[f] for f, v in (overrides or {}).items() if v}
    report_settings_sources(file, settings, sys.stderr if out is None else out, given)
    return settings


def report_settings_sources(
    file: SettingsFile,
    settings: ConnectionSettings,
    out: TextIO,
    on_command_line: frozenset[str] | set[str] = frozenset(),
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
    for field_name, url, default in settings.overridden_urls():
        name = CONNECTION_ENV_VARS[field_name]
        source = "the command line" if name in on_command_line else file.source(name)
        print(
            f"settings: {name} is {url} (from {source}), not the "
            f"{settings.environment} default {default}",
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
