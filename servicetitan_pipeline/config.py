"""Every environment variable the pipeline reads: its name, its default, and how it is read.

This is the one place where a ``SERVICETITAN_*`` name or a default is written; the client, the
Dagster definitions and the CLI import them from here. Nothing in this module imports Dagster
or the HTTP client, so every layer can use it.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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
    open the same file. The parent directory is created if missing.
    """
    raw = os.environ.get(DUCKDB_PATH_ENV, "").strip() or DEFAULT_DUCKDB_PATH
    path = Path(raw).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    return str(path)


def dbt_executable() -> str:
    """The dbt installed next to this Python (the project's virtualenv), else dbt on PATH.

    ``make`` targets and ``.venv/bin/...`` commands do not activate the virtualenv, so PATH
    may well not contain its ``bin`` directory.
    """
    beside = Path(sys.executable).parent / "dbt"
    if beside.exists():
        return str(beside)
    return shutil.which("dbt") or "dbt"


# --- the sync schedule -----------------------------------------------------------------------

SYNC_CRON_ENV: Final = "SERVICETITAN_SYNC_CRON"
SYNC_TIMEZONE_ENV: Final = "SERVICETITAN_SYNC_TIMEZONE"
SYNC_SCHEDULE_ENV: Final = "SERVICETITAN_SYNC_SCHEDULE"
DEFAULT_SYNC_CRON: Final = "0 * * * *"  # hourly, at minute 0
DEFAULT_SYNC_TIMEZONE: Final = "UTC"
SCHEDULE_STATES: Final = ("running", "stopped")


class ScheduleSettingsError(ValueError):
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
        except (ZoneInfoNotFoundError, ValueError):
            raise ScheduleSettingsError(
                f"{SYNC_TIMEZONE_ENV} must be an IANA timezone like 'America/Chicago', "
                f"got {timezone!r}"
            ) from None
        state = environ.get(SYNC_SCHEDULE_ENV, "").strip().lower() or SCHEDULE_STATES[0]
        if state not in SCHEDULE_STATES:
            raise ScheduleSettingsError(
                f"{SYNC_SCHEDULE_ENV} must be 'running' or 'stopped', got {state!r}"
            )
        return cls(cron=cron, timezone=timezone, running=state == "running")


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
        raise ValueError(f"{name} must be a TCP port (1-65535), got {raw!r}")
    return int(raw)


# --- the .env file ---------------------------------------------------------------------------

DEFAULT_ENV_FILE: Final = ".env"


def load_dotenv_file(path: str | os.PathLike[str] = DEFAULT_ENV_FILE) -> list[str]:
    """Load ``KEY=value`` settings from a ``.env`` file into the environment.

    Variables already set in the environment win, so a one-off ``SERVICETITAN_TENANT_ID=...``
    on the command line overrides the file. Returns the names loaded (never the values).
    """
    from dotenv import dotenv_values

    file = Path(path)
    if not file.is_file():
        return []
    loaded = []
    for key, value in dotenv_values(file).items():
        if value is not None and value != "" and key not in os.environ:
            os.environ[key] = value
            loaded.append(key)
    return loaded
