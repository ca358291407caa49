"""Every environment variable the pipeline reads: its name, its default, and how it is read.

This is the one place where a ``SERVICETITAN_*`` name or a default is written; the client, the
Dagster definitions and the CLI import them from here. Nothing in this module imports Dagster
or the HTTP client, so every layer can use it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from servicetitan_pipeline.entities import ENTITIES, ENTITIES_BY_NAME, MODULES, Entity


class ConfigError(ValueError):
    """A setting is not valid; the message names the setting (never a secret's value)."""


def shown_value(value: object, limit: int = 60) -> str:
    """``repr(value)``, cut to ``limit`` characters: a pasted megabyte must not fill the screen."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 5] + "...'"


# --- the ServiceTitan connection -------------------------------------------------------------

# Connection field (as in ``ConnectionSettings`` and ``ServiceTitanResource``) -> variable.
CONNECTION_ENV_VARS: Final[Mapping[str, str]] = {
    "name": "SERVICETITAN_CONNECTION_NAME",
    "environment": "SERVICETITAN_ENVIRONMENT",
    "tenant_id": "SERVICETITAN_TENANT_ID",
    "client_id": "SERVICETITAN_CLIENT_ID",
    "client_secret": "SERVICETITAN_CLIENT_SECRET",
    "app_key": "SERVICETITAN_APP_KEY",
    "api_base_url": "SERVICETITAN_API_BASE_URL",
    "auth_url": "SERVICETITAN_AUTH_URL",
    "max_response_mb": "SERVICETITAN_MAX_RESPONSE_MB",
    "request_deadline_seconds": "SERVICETITAN_REQUEST_DEADLINE_SECONDS",
}
REQUIRED_CONNECTION_FIELDS: Final = (
    "name",
    "environment",
    "tenant_id",
    "client_id",
    "client_secret",
    "app_key",
)
SECRET_CONNECTION_FIELDS: Final = ("client_secret", "app_key")

# ServiceTitan environment -> default API root and token endpoint.
DEFAULT_API_BASE_URLS: Final[Mapping[str, str]] = {
    "integration": "https://api-integration.servicetitan.io",
    "production": "https://api.servicetitan.io",
}
DEFAULT_AUTH_URLS: Final[Mapping[str, str]] = {
    "integration": "https://auth-integration.servicetitan.io/connect/token",
    "production": "https://auth.servicetitan.io/connect/token",
}

# Tuning of a connection (fields of ConnectionSettings and ServiceTitanResource, not variables).
# ServiceTitan allows 60 requests per second per app per tenant.
DEFAULT_RATE_LIMIT_PER_SECOND: Final = 60.0
DEFAULT_MAX_ATTEMPTS: Final = 6
DEFAULT_MAX_TOTAL_WAIT_SECONDS: Final = 300.0
DEFAULT_CONNECT_TIMEOUT_SECONDS: Final = 10.0
# Time between bytes of an answer: an export page can be large.
DEFAULT_READ_TIMEOUT_SECONDS: Final = 120.0

# What one answer may cost; variables too (above). An answer past a bound fails, not retried.
# ServiceTitan's largest export pages (invoices, 5,000 per page) are ~20 MB of JSON: ten times
# that is still a page, more is a runaway (a gzip bomb expands a few MB into gigabytes).
DEFAULT_MAX_RESPONSE_MB: Final = 256.0  # MiB, decoded
# The read timeout bounds each wait for bytes, not a whole answer: a body trickling in a byte a
# second never trips it. 20 MB in five minutes is half a megabit per second.
DEFAULT_REQUEST_DEADLINE_SECONDS: Final = 300.0


def connection_label(field_name: str) -> str:
    """``SERVICETITAN_TENANT_ID / tenant_id`` for env-backed fields, else the field name.

    Errors name a setting both ways because users meet it through either.
    """
    env = CONNECTION_ENV_VARS.get(field_name)
    return f"{env} / {field_name}" if env else field_name


# --- the warehouse and dbt -------------------------------------------------------------------

DUCKDB_PATH_ENV: Final = "SERVICETITAN_DUCKDB_PATH"
DEFAULT_DUCKDB_PATH: Final = "data/servicetitan.duckdb"
# The date receivables are aged at (YYYY-MM-DD; read by dbt's rpt_ar_aging). Default: the load date.
AR_AS_OF_DATE_ENV: Final = "SERVICETITAN_AR_AS_OF_DATE"


def duckdb_path() -> str:
    """Path of the DuckDB warehouse shared by Dagster and dbt.

    Read from ``SERVICETITAN_DUCKDB_PATH`` (default ``data/servicetitan.duckdb``) and made
    absolute, so that Dagster (run from the repository) and dbt (run from ``dbt_project/``)
    open the same file. The parent directory is created if missing (owner-only by default,
    see :func:`apply_file_mode`).

    Raises:
        ConfigError: naming ``SERVICETITAN_DUCKDB_PATH`` when its directory cannot be created.
    """
    raw = os.environ.get(DUCKDB_PATH_ENV, "").strip() or DEFAULT_DUCKDB_PATH
    path = Path(raw).expanduser().resolve()
    _make_directory(path.parent, DUCKDB_PATH_ENV)
    return str(path)


# Which warehouse: "duckdb" (the file above, the default) or "ducklake" (warehouse/lake.py): a
# catalog in PostgreSQL (a libpq connection string, never a password: libpq reads PGPASSWORD)
# and the lake's Parquet files under a directory or object-store prefix.
WAREHOUSE_ENV: Final = "SERVICETITAN_WAREHOUSE"
DUCKLAKE_CATALOG_ENV: Final = "SERVICETITAN_DUCKLAKE_CATALOG"
DUCKLAKE_DATA_PATH_ENV: Final = "SERVICETITAN_DUCKLAKE_DATA_PATH"
WAREHOUSE_KINDS: Final = ("duckdb", "ducklake")


def warehouse_kind(environ: Mapping[str, str] | None = None) -> str:
    """``SERVICETITAN_WAREHOUSE``: ``"duckdb"`` (the default) or ``"ducklake"``.

    Raises:
        ConfigError: naming the setting when it is neither.
    """
    environ = os.environ if environ is None else environ
    kind = environ.get(WAREHOUSE_ENV, "").strip().lower() or WAREHOUSE_KINDS[0]
    if kind not in WAREHOUSE_KINDS:
        raise ConfigError(
            f"{WAREHOUSE_ENV}: {kind!r} is not a warehouse; use one of {', '.join(WAREHOUSE_KINDS)}"
        )
    return kind


# The analysts' copy: a read-only database of the marts and reports (and staging), published
# after each successful run beside the warehouse, so that no analyst ever holds the warehouse.
ANALYSTS_DUCKDB_PATH_ENV: Final = "SERVICETITAN_ANALYSTS_DUCKDB_PATH"
ANALYSTS_COPY_SUFFIX: Final = "_analysts"


def analysts_duckdb_path(
    warehouse: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> str:
    """Path of the analysts' copy: ``SERVICETITAN_ANALYSTS_DUCKDB_PATH``, made absolute, else
    ``<warehouse stem>_analysts.duckdb`` beside the warehouse (``warehouse`` default: the
    configured one, :func:`duckdb_path`).

    Raises:
        ConfigError: naming the setting when it names a directory or its directory is missing.
    """
    environ = os.environ if environ is None else environ
    raw = environ.get(ANALYSTS_DUCKDB_PATH_ENV, "").strip()
    if not raw:
        base = Path(os.fspath(warehouse) if warehouse is not None else duckdb_path())
        return str(base.with_name(f"{base.stem}{ANALYSTS_COPY_SUFFIX}.duckdb"))
    path = Path(raw).expanduser().resolve()
    if path.is_dir():
        raise ConfigError(f"{ANALYSTS_DUCKDB_PATH_ENV}: {path} is a directory, not a file")
    if not path.parent.is_dir():
        raise ConfigError(
            f"{ANALYSTS_DUCKDB_PATH_ENV}: the directory of {path} does not exist; create it"
        )
    return str(path)


RUN_LOGS_DIRECTORY: Final = "logs"


def run_logs_directory() -> Path:
    """Where the CLI keeps each run's full log: ``logs/`` next to the warehouse, created."""
    directory = Path(duckdb_path()).parent / RUN_LOGS_DIRECTORY
    _make_directory(directory, DUCKDB_PATH_ENV, what="run logs")
    return directory


def check_warehouse_location() -> Path:
    """Validate ``SERVICETITAN_DUCKDB_PATH`` before a run: directory, logs, a file can be made
    (with ``SERVICETITAN_WAREHOUSE=ducklake``: the run logs' directory only; there is no file).

    A path under ``/proc``, a read-only directory or a ``logs`` that is a file would otherwise
    fail deep inside the run, in a traceback that does not name the setting.

    Raises:
        ConfigError: naming ``SERVICETITAN_DUCKDB_PATH`` and what failed.
    """
    database = Path(duckdb_path())
    if warehouse_kind() == "ducklake":
        # No file to check: the lake's catalog is checked by connecting to it (cli.common);
        # the run logs still go next to where the file would be.
        _check_writable(run_logs_directory(), "run logs")
        return database
    if database.exists() and not database.is_file():
        raise ConfigError(f"{DUCKDB_PATH_ENV}: {database} exists and is not a file")
    # A warehouse made before SERVICETITAN_FILE_MODE existed (or under another) is narrowed too.
    sidecars = [Path(f"{database}{suffix}") for suffix in (".wal", ".lock", ".tmp")]
    restrict_to_file_mode(database, *sidecars, run_logs_directory())
    for directory, what in ((database.parent, "the warehouse"), (run_logs_directory(), "run logs")):
        _check_writable(directory, what)
    return database


def _check_writable(directory: Path, what: str) -> None:
    try:
        with tempfile.TemporaryFile(dir=directory, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise ConfigError(
            f"{DUCKDB_PATH_ENV}: cannot write {what} in {directory} "
            f"({exc.strerror or type(exc).__name__})"
        ) from None


def _make_directory(directory: Path, setting: str, *, what: str = "the warehouse") -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"{setting}: cannot create the directory of {what}, {directory} "
            f"({exc.strerror or type(exc).__name__})"
        ) from None
    if not directory.is_dir():
        raise ConfigError(f"{setting}: {directory} (for {what}) is not a directory")


def ar_as_of_date(environ: Mapping[str, str] | None = None) -> str | None:
    """``SERVICETITAN_AR_AS_OF_DATE`` as ``YYYY-MM-DD``, or ``None`` (the load date).

    Raises:
        ConfigError: naming the setting when the value is not a date.
    """
    environ = os.environ if environ is None else environ
    raw = environ.get(AR_AS_OF_DATE_ENV, "").strip()
    if not raw:
        return None
    try:
        # fromisoformat alone would also take "20241231" and "2024-W01-1".
        if len(raw) == len("YYYY-MM-DD"):
            return dt.date.fromisoformat(raw).isoformat()
    except ValueError:
        pass
    raise ConfigError(f"{AR_AS_OF_DATE_ENV} must be a date like 2024-12-31, got {shown_value(raw)}")


def dbt_executable() -> str:
    """The dbt installed next to this Python (the project's virtualenv), else dbt on PATH.

    ``make`` targets and ``.venv/bin/...`` commands do not activate the virtualenv, so PATH
    may well not contain its ``bin`` directory.
    """
    beside = Path(sys.executable).parent / "dbt"
    if beside.exists():
        return str(beside)
    return shutil.which("dbt") or "dbt"


# --- ServiceTitan's Reporting API --------------------------------------------------------------

# The file listing the reports to pull (TOML; see sync/report_specs.py for its keys). Relative
# paths are read from the working directory. No file: no report assets.
REPORTS_FILE_ENV: Final = "SERVICETITAN_REPORTS_FILE"
DEFAULT_REPORTS_FILE: Final = "servicetitan_reports.toml"
# ServiceTitan allows 5 data requests of the same report per minute, per tenant.
REPORT_REQUESTS_PER_MINUTE: Final = 5
REPORT_RATE_WINDOW_SECONDS: Final = 60.0


def reports_file(environ: Mapping[str, str] | None = None) -> Path | None:
    """The report list to read: ``SERVICETITAN_REPORTS_FILE``, else ``servicetitan_reports.toml``
    in the working directory when it exists; ``None`` when there is none (no report assets).

    Raises:
        ConfigError: naming ``SERVICETITAN_REPORTS_FILE`` when it names a file that is missing.
    """
    environ = os.environ if environ is None else environ
    raw = environ.get(REPORTS_FILE_ENV, "").strip()
    if not raw:
        default = Path(DEFAULT_REPORTS_FILE).resolve()
        return default if default.is_file() else None
    path = Path(raw).expanduser().resolve()
    if not path.is_file():
        raise ConfigError(f"{REPORTS_FILE_ENV}: {path} is not a file")
    return path


# --- the sync schedule -----------------------------------------------------------------------

SYNC_CRON_ENV: Final = "SERVICETITAN_SYNC_CRON"
SYNC_TIMEZONE_ENV: Final = "SERVICETITAN_SYNC_TIMEZONE"
SYNC_SCHEDULE_ENV: Final = "SERVICETITAN_SYNC_SCHEDULE"
DEFAULT_SYNC_CRON: Final = "0 * * * *"  # hourly, at minute 0
DEFAULT_SYNC_TIMEZONE: Final = "UTC"
SCHEDULE_STATES: Final = ("running", "stopped")


class ScheduleSettingsError(ConfigError):
    """A schedule setting from the environment is not valid."""


@dataclass(frozen=True)
class ScheduleSettings:
    """The sync schedule as configured: cron, the timezone it is read in, on or off at first load.

    The cron expression itself is validated by Dagster when the schedule is defined.
    """

    cron: str
    timezone: str
    running: bool

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ScheduleSettings:
        environ = os.environ if environ is None else environ
        cron = environ.get(SYNC_CRON_ENV, "").strip() or DEFAULT_SYNC_CRON
        timezone = environ.get(SYNC_TIMEZONE_ENV, "").strip() or DEFAULT_SYNC_TIMEZONE
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ScheduleSettingsError(
                f"{SYNC_TIMEZONE_ENV} must be an IANA timezone like 'America/Chicago', "
                f"got {shown_value(timezone)}"
            ) from None
        state = environ.get(SYNC_SCHEDULE_ENV, "").strip().lower() or SCHEDULE_STATES[0]
        if state not in SCHEDULE_STATES:
            raise ScheduleSettingsError(
                f"{SYNC_SCHEDULE_ENV} must be 'running' or 'stopped', got {shown_value(state)}"
            )
        return cls(cron=cron, timezone=timezone, running=state == "running")


# --- alerts: who is told when a run fails, a check fails or a tenant's data goes stale ---------

# Parsed and validated by servicetitan_pipeline.alerts.settings (AlertSettings.from_env). With
# neither a webhook nor an SMTP host set, no alert sensor is defined and nothing changes.
# The webhook URL is a secret for Slack (its path is the token): never logged or echoed.
ALERT_WEBHOOK_URL_ENV: Final = "SERVICETITAN_ALERT_WEBHOOK_URL"
# "text" (a Slack-compatible {"text": ...}, the default) or "blocks" (text plus Slack blocks).
ALERT_WEBHOOK_FORMAT_ENV: Final = "SERVICETITAN_ALERT_WEBHOOK_FORMAT"
ALERT_SMTP_HOST_ENV: Final = "SERVICETITAN_ALERT_SMTP_HOST"
ALERT_SMTP_PORT_ENV: Final = "SERVICETITAN_ALERT_SMTP_PORT"
# "starttls" (the default, port 587), "ssl" (port 465) or "plain" (port 25, loopback only).
ALERT_SMTP_SECURITY_ENV: Final = "SERVICETITAN_ALERT_SMTP_SECURITY"
ALERT_SMTP_USER_ENV: Final = "SERVICETITAN_ALERT_SMTP_USER"
# The password is read from the environment when an email is sent, never stored: from the
# variable this setting names, else from SERVICETITAN_ALERT_SMTP_PASSWORD.
ALERT_SMTP_PASSWORD_ENV_ENV: Final = "SERVICETITAN_ALERT_SMTP_PASSWORD_ENV"
ALERT_SMTP_PASSWORD_ENV: Final = "SERVICETITAN_ALERT_SMTP_PASSWORD"
ALERT_EMAIL_FROM_ENV: Final = "SERVICETITAN_ALERT_EMAIL_FROM"
ALERT_EMAIL_TO_ENV: Final = "SERVICETITAN_ALERT_EMAIL_TO"  # comma-separated addresses
# The Dagster UI's address (e.g. http://127.0.0.1:3000): alerts then link to the run.
ALERT_UI_BASE_URL_ENV: Final = "SERVICETITAN_ALERT_UI_BASE_URL"
# How old a tenant's raw data may get before it is stale: the hourly schedule plus slack.
FRESHNESS_HOURS_ENV: Final = "SERVICETITAN_FRESHNESS_HOURS"
DEFAULT_FRESHNESS_HOURS: Final = 3.0
ALERT_SETTINGS: Final = (
    ALERT_WEBHOOK_URL_ENV,
    ALERT_WEBHOOK_FORMAT_ENV,
    ALERT_SMTP_HOST_ENV,
    ALERT_SMTP_PORT_ENV,
    ALERT_SMTP_SECURITY_ENV,
    ALERT_SMTP_USER_ENV,
    ALERT_SMTP_PASSWORD_ENV_ENV,
    ALERT_SMTP_PASSWORD_ENV,
    ALERT_EMAIL_FROM_ENV,
    ALERT_EMAIL_TO_ENV,
    ALERT_UI_BASE_URL_ENV,
    FRESHNESS_HOURS_ENV,
)


# --- what is synced --------------------------------------------------------------------------

ENTITIES_ENV: Final = "SERVICETITAN_ENTITIES"
# The word for every entity; also what an unset or empty setting means.
SELECT_ALL: Final = "all"
DEFAULT_ENTITY_SELECTION: Final = SELECT_ALL
# "memberships" is a module and an entity: a bare name means the module; these say which.
MODULE_QUALIFIER: Final = "module:"
ENTITY_QUALIFIER: Final = "entity:"
EXCLUDE_PREFIX: Final = "-"


@dataclass(frozen=True)
class EntitySelection:
    """The entities a run syncs (and ``check`` probes), as a setting chose them.

    Attributes:
        entities: the selected entities, in the order of ``entities.ENTITIES``.
        source: where the choice came from, e.g. ``SERVICETITAN_ENTITIES`` or ``--select``.
        value: the setting as given (``"all"`` when it was unset or empty).
    """

    entities: tuple[Entity, ...]
    source: str
    value: str

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(e.name for e in self.entities)

    @property
    def unselected(self) -> tuple[Entity, ...]:
        """The entities left out, in table order: still defined, synced only when asked."""
        chosen = set(self.names)
        return tuple(e for e in ENTITIES if e.name not in chosen)

    @property
    def is_everything(self) -> bool:
        return len(self.entities) == len(ENTITIES)


def select_entities(value: str | None, *, source: str = ENTITIES_ENV) -> EntitySelection:
    """Parse an entity selection: ``all``, modules, entities and ``-`` exclusions, by commas.

    ``all`` is every entity; a module name (``crm``, ``payroll``) is every entity of that
    module; an entity name (``job_splits``) is that entity; ``-name`` leaves a module or an
    entity out again, whatever its place in the list. The included names are united, then the
    excluded ones taken away; a value of exclusions only (``-payroll``) starts from ``all``.
    A bare name that is both a module and an entity (``memberships``) means the module;
    ``entity:memberships`` or ``module:memberships`` say which. Case and spaces do not matter.
    An unset or empty value means ``all``.

    An entity's references (a job's customer) are *not* added to the selection: reference
    checks are warnings, so a selection syncs exactly what it names, and never reaches for a
    module whose API scope the tenant has not granted.

    Raises:
        ConfigError: naming ``source``, every unknown name and the known modules and
            entities; or when the value selects no entity at all.
    """
    text = (value or "").strip() or DEFAULT_ENTITY_SELECTION
    included: set[str] = set()
    excluded: set[str] = set()
    includes_given = False
    unknown: list[str] = []
    for raw in text.split(","):
        token = raw.strip().lower()
        if not token:
            continue
        excluding = token.startswith(EXCLUDE_PREFIX)
        name = token[len(EXCLUDE_PREFIX) :].strip() if excluding else token
        members = _selection_members(name)
        if members is None or (excluding and name == SELECT_ALL):
            unknown.append(raw.strip())
            continue
        if excluding:
            excluded.update(members)
        else:
            includes_given = True
            included.update(members)
    if unknown:
        raise ConfigError(
            f"{source}: unknown module or entity {', '.join(map(shown_value, unknown))} in "
            f"{shown_value(text)}. Write {SELECT_ALL!r}, modules, entities and exclusions "
            f"such as -payroll, separated by commas; known modules: {', '.join(MODULES)}; "
            f"known entities: {', '.join(ENTITIES_BY_NAME)}"
        )
    if not includes_given:
        included = set(ENTITIES_BY_NAME)
    chosen = included - excluded
    if not chosen:
        raise ConfigError(
            f"{source}: {shown_value(text)} selects no entity (everything it names is "
            f"excluded again); {SELECT_ALL!r} selects every entity"
        )
    entities = tuple(e for e in ENTITIES if e.name in chosen)
    return EntitySelection(entities=entities, source=source, value=text)


def _selection_members(name: str) -> frozenset[str] | None:
    """The entity names one name of a selection stands for; None when it names nothing."""
    if name == SELECT_ALL:
        return frozenset(ENTITIES_BY_NAME)
    if name.startswith(MODULE_QUALIFIER):
        name, kind = name[len(MODULE_QUALIFIER) :].strip(), "module"
    elif name.startswith(ENTITY_QUALIFIER):
        name, kind = name[len(ENTITY_QUALIFIER) :].strip(), "entity"
    else:
        kind = "module" if name in MODULES else "entity"
    if kind == "module":
        if name not in MODULES:
            return None
        return frozenset(e.name for e in ENTITIES if e.module == name)
    return frozenset({name}) if name in ENTITIES_BY_NAME else None


def configured_entity_selection(environ: Mapping[str, str] | None = None) -> EntitySelection:
    """The entities ``SERVICETITAN_ENTITIES`` selects (every entity when unset or empty).

    Raises:
        ConfigError: naming the setting (see :func:`select_entities`).
    """
    environ = os.environ if environ is None else environ
    return select_entities(environ.get(ENTITIES_ENV), source=ENTITIES_ENV)


def selection_name(entity: Entity) -> str:
    """How ``entity`` is named in a selection: its name, qualified when a module has it too."""
    return f"{ENTITY_QUALIFIER}{entity.name}" if entity.name in MODULES else entity.name


# How an app gets an API scope it lacks: "To grant the scope, <these steps>".
GRANT_SCOPE_STEPS: Final = (
    "add it to the app in ServiceTitan's developer portal (My Apps) and have the tenant "
    "re-approve the app (Settings > Integrations > API Application Access)"
)


def missing_scope_remedy(entity: Entity) -> str:
    """What to do when ServiceTitan answers 403 for ``entity``: grant its scope, or leave it out.

    The sync and ``check`` both end a 403 with this, after naming ``entity.scope``, so the two
    say the same thing.
    """
    module = MODULES[entity.module]
    return (
        f"To grant the scope, {GRANT_SCOPE_STEPS}; or leave {entity.name} out of the sync: "
        f"{ENTITIES_ENV}=all,-{module.name} (the whole {module.title} module) or "
        f"{ENTITIES_ENV}=all,-{selection_name(entity)}."
    )


# --- the local Dagster instance and `servicetitan-pipeline dev` ------------------------------

DAGSTER_HOME_ENV: Final = "DAGSTER_HOME"
DEFAULT_DAGSTER_HOME: Final = ".dagster_home"
DEV_SIMULATOR_PORT_ENV: Final = "SERVICETITAN_DEV_SIMULATOR_PORT"
DEV_UI_PORT_ENV: Final = "SERVICETITAN_DEV_UI_PORT"
DEFAULT_DEV_SIMULATOR_PORT: Final = 8765
DEFAULT_DEV_UI_PORT: Final = 3000


def port_from_env(name: str, default: int, environ: Mapping[str, str] | None = None) -> int:
    """A TCP port from variable ``name`` (``default`` when unset or empty)."""
    environ = os.environ if environ is None else environ
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ConfigError(f"{name} must be a TCP port (1-65535), got {shown_value(raw)}")
    return int(raw)


# --- who may read what the pipeline writes ---------------------------------------------------

# The warehouse holds customers' names, addresses and phone numbers, and the run logs and the
# Dagster storage quote them: by default every file the pipeline (and dbt, and Dagster, which
# inherit the process's umask) creates is readable by its owner only.
FILE_MODE_ENV: Final = "SERVICETITAN_FILE_MODE"
# Setting -> umask: "owner" makes files 0600 and directories 0700; "group" 0640 and 0750.
FILE_MODE_UMASKS: Final[Mapping[str, int]] = {"owner": 0o077, "group": 0o027}
DEFAULT_FILE_MODE: Final = "owner"


def file_mode_umask(environ: Mapping[str, str] | None = None) -> int:
    """The umask of ``SERVICETITAN_FILE_MODE`` (``owner``, the default, or ``group``).

    Raises:
        ConfigError: naming the setting when the value is neither.
    """
    environ = os.environ if environ is None else environ
    mode = environ.get(FILE_MODE_ENV, "").strip().lower() or DEFAULT_FILE_MODE
    if mode not in FILE_MODE_UMASKS:
        raise ConfigError(
            f"{FILE_MODE_ENV} must be 'owner' (files 0600, the default) or 'group' "
            f"(files 0640), got {shown_value(mode)}"
        )
    return FILE_MODE_UMASKS[mode]


def apply_file_mode(environ: Mapping[str, str] | None = None) -> None:
    """Make every file this process and its children create private, as ``SERVICETITAN_FILE_MODE``.

    The umask only ever narrows: a umask the user set stricter than the setting is kept.
    """
    wanted = file_mode_umask(environ)
    current = os.umask(wanted)
    os.umask(current | wanted)


def restrict_to_file_mode(*paths: Path, environ: Mapping[str, str] | None = None) -> None:
    """Take from existing ``paths`` the permissions ``SERVICETITAN_FILE_MODE`` does not allow.

    The umask covers what is created from now on; this covers what an earlier run created.
    Paths that do not exist, or that this user may not change, are left alone.
    """
    umask = file_mode_umask(environ)
    for path in paths:
        with contextlib.suppress(OSError):
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode & umask:
                path.chmod(mode & ~umask)


# --- the settings file (.env) ----------------------------------------------------------------

DEFAULT_ENV_FILE: Final = ".env"
# The file listing the deployment's ServiceTitan connections (client.connections reads it).
CONNECTIONS_FILE_ENV: Final = "SERVICETITAN_CONNECTIONS_FILE"

# Every variable a settings file may set: the pipeline's own, and nothing else. A .env that sets
# PYTHONPATH, DAGSTER_HOME (whose dagster.yaml names classes to import) or any other variable
# would run code in this process's children (dbt, Dagster), so other names are ignored.
DOCUMENTED_SETTINGS: Final = frozenset(
    {
        *CONNECTION_ENV_VARS.values(),
        DUCKDB_PATH_ENV,
        ANALYSTS_DUCKDB_PATH_ENV,
        WAREHOUSE_ENV,
        DUCKLAKE_CATALOG_ENV,
        DUCKLAKE_DATA_PATH_ENV,
        AR_AS_OF_DATE_ENV,
        SYNC_CRON_ENV,
        SYNC_TIMEZONE_ENV,
        SYNC_SCHEDULE_ENV,
        ENTITIES_ENV,
        DEV_SIMULATOR_PORT_ENV,
        DEV_UI_PORT_ENV,
        FILE_MODE_ENV,
        CONNECTIONS_FILE_ENV,
        REPORTS_FILE_ENV,
        *ALERT_SETTINGS,
    }
)
# Where requests go, and what they carry: a file may move the first only with the second.
ENDPOINT_SETTINGS: Final = (CONNECTION_ENV_VARS["api_base_url"], CONNECTION_ENV_VARS["auth_url"])
CREDENTIAL_SETTINGS: Final = tuple(
    CONNECTION_ENV_VARS[f] for f in ("client_id", "client_secret", "app_key")
)


@dataclass(frozen=True)
class SettingsFile:
    """What a settings file contributed: variable names only, never a value."""

    path: Path | None  # None: there was no file
    loaded: tuple[str, ...] = ()  # set from the file
    shadowed: tuple[str, ...] = ()  # in the file, but the environment's value was kept
    ignored: tuple[str, ...] = ()  # in the file, not a servicetitan-pipeline setting
    sources: Mapping[str, str] = field(default_factory=dict)  # variable -> where it came from

    def source(self, name: str) -> str:
        """``'.env'`` (the file's path) or ``'the environment'`` (or ``'unset'``)."""
        return self.sources.get(name, "unset")


def load_dotenv_file(
    path: str | os.PathLike[str] = DEFAULT_ENV_FILE,
    environ: MutableMapping[str, str] | None = None,
    *,
    credential_variables: Callable[[Mapping[str, str]], Iterable[str]] | None = None,
) -> SettingsFile:
    """Load the pipeline's settings from a ``KEY=value`` file into ``environ`` (``os.environ``).

    The rules, in order:

    * only :data:`DOCUMENTED_SETTINGS` are read; any other name (``PYTHONPATH``...) is ignored
      and reported, so a file can configure the pipeline but not run code in dbt or Dagster;
    * the real environment wins: the file only fills variables that are unset or empty;
    * a file may not point the API or the token endpoint elsewhere while the credentials come
      from the environment: that would send them to a host their owner never chose (nor name
      the alert SMTP server while the SMTP password comes from the environment);
    * a file anyone may write, or that another user owns, is not read: someone else could
      have planted it;
    * ``credential_variables`` (given the environment as the documented settings leave it)
      names more variables the file may set: those the connections file names for its
      tenants' credentials (``SERVICETITAN_TENANT_2_CLIENT_ID``...). They follow the same
      rules, the environment winning.

    Raises:
        ConfigError: one of the last two rules was broken (nothing is loaded then).
    """
    from dotenv import dotenv_values

    environ = os.environ if environ is None else environ
    file = Path(path)
    present = {k for k in DOCUMENTED_SETTINGS if (environ.get(k) or "").strip()}
    sources = {k: "the environment" for k in present}
    if not file.is_file():
        return SettingsFile(path=None, sources=sources)
    _refuse_planted_file(file)
    values = {k: (v or "").strip() for k, v in dotenv_values(file).items()}
    ignored = tuple(sorted(k for k in values if k not in DOCUMENTED_SETTINGS))
    allowed = set(DOCUMENTED_SETTINGS)
    if credential_variables is not None:
        documented = {
            k: v for k, v in values.items() if k in DOCUMENTED_SETTINGS and v and k not in present
        }
        named = set(credential_variables({**environ, **documented}))
        allowed |= named
        present |= {k for k in named if (environ.get(k) or "").strip()}
        if CONNECTIONS_FILE_ENV in documented:
            # The connections file this file names says where each tenant's requests go: the
            # credentials it reads must come from this file too, not from the environment.
            _refuse_redirected_credentials(
                file, [CONNECTIONS_FILE_ENV], sorted(k for k in named if k in present)
            )
        sources.update({k: "the environment" for k in present})
        ignored = tuple(sorted(k for k in values if k not in allowed))
    given = {k: v for k, v in values.items() if k in allowed and v}
    loaded = {k: v for k, v in given.items() if k not in present}
    # The single-tenant rule (a connections file named here is the rule above).
    _refuse_redirected_credentials(
        file, [k for k in loaded if k in ENDPOINT_SETTINGS], present & DOCUMENTED_SETTINGS
    )
    _refuse_redirected_smtp_password(file, loaded, environ)
    environ.update(loaded)
    sources.update({k: str(file) for k in loaded})
    return SettingsFile(
        path=file,
        loaded=tuple(sorted(loaded)),
        shadowed=tuple(sorted(set(given) & present)),
        ignored=ignored,
        sources=sources,
    )


def refuse_credentials_redirected_by(
    path: str | os.PathLike[str] = DEFAULT_ENV_FILE, environ: Mapping[str, str] | None = None
) -> None:
    """The redirect rule of :func:`load_dotenv_file`, for a file someone else already loaded.

    ``dagster dev`` loads the ``.env`` of its working directory itself (every variable, over
    the environment) before the definitions are imported; this is the check that can still be
    made then: a file that sets the URLs must hold the credentials too.

    Raises:
        ConfigError: the file sets the URLs while the credentials come from the environment.
    """
    from dotenv import dotenv_values

    environ = os.environ if environ is None else environ
    file = Path(path)
    if not file.is_file():
        return
    values = {k: (v or "").strip() for k, v in dotenv_values(file).items()}
    endpoints = [k for k in ENDPOINT_SETTINGS if values.get(k)]
    credentials = [k for k in CREDENTIAL_SETTINGS if not values.get(k) and environ.get(k)]
    _refuse_redirected_credentials(file, endpoints, credentials)
    _refuse_redirected_smtp_password(
        file,
        {k: v for k, v in values.items() if v},
        {k: v for k, v in environ.items() if not values.get(k)},
    )


def _refuse_planted_file(file: Path) -> None:
    status = file.stat()
    if status.st_mode & 0o002:
        raise ConfigError(
            f"settings file {file} is writable by every user of this machine, so anyone could "
            f"have changed it; make it yours only (chmod 600 {file})"
        )
    if hasattr(os, "getuid") and status.st_uid not in (os.getuid(), 0):
        raise ConfigError(
            f"settings file {file} belongs to another user (uid {status.st_uid}), who could "
            "have planted it; use your own copy"
        )


def _refuse_redirected_smtp_password(
    file: Path, from_file: Mapping[str, str], environment: Mapping[str, str]
) -> None:
    """The same rule for alert email: the SMTP password goes to the server the settings name,
    so a file may name the server only if the password is not the environment's."""
    if not from_file.get(ALERT_SMTP_HOST_ENV):
        return
    password_env = (
        from_file.get(ALERT_SMTP_PASSWORD_ENV_ENV)
        or environment.get(ALERT_SMTP_PASSWORD_ENV_ENV, "").strip()
        or ALERT_SMTP_PASSWORD_ENV
    )
    if (environment.get(password_env) or "").strip():
        raise ConfigError(
            f"{ALERT_SMTP_HOST_ENV} would come from {file} while the SMTP password "
            f"({password_env}) comes from the environment: a settings file may not send a "
            f"password it does not hold to another server. Set {ALERT_SMTP_HOST_ENV} in the "
            f"environment too, or put the password in {file} as {ALERT_SMTP_PASSWORD_ENV}."
        )


def _refuse_redirected_credentials(
    file: Path, loaded: Iterable[str], from_environment: Iterable[str]
) -> None:
    endpoints = [k for k in (*ENDPOINT_SETTINGS, CONNECTIONS_FILE_ENV) if k in set(loaded)]
    from_env = set(from_environment)
    credentials = [k for k in CREDENTIAL_SETTINGS if k in from_env] + sorted(
        k for k in from_env if k not in CREDENTIAL_SETTINGS and k not in DOCUMENTED_SETTINGS
    )
    if endpoints and credentials:
        raise ConfigError(
            f"{' and '.join(endpoints)} would come from {file} while {', '.join(credentials)} "
            "come from the environment: a settings file may not send credentials it does not "
            f"hold to another server. Set {' and '.join(endpoints)} in the environment too, or "
            f"move the credentials into {file}."
        )
