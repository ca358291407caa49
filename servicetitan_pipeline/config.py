"""Process-wide settings that are not part of a ServiceTitan connection."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

DUCKDB_PATH_ENV = "SERVICETITAN_DUCKDB_PATH"
DEFAULT_DUCKDB_PATH = "data/servicetitan.duckdb"


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


def load_dotenv_file(path: str | os.PathLike[str] = ".env") -> list[str]:
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


def dbt_executable() -> str:
    """The dbt installed next to this Python (the project's virtualenv), else dbt on PATH.

    ``make`` targets and ``.venv/bin/...`` commands do not activate the virtualenv, so PATH
    may well not contain its ``bin`` directory.
    """
    beside = Path(sys.executable).parent / "dbt"
    if beside.exists():
        return str(beside)
    return shutil.which("dbt") or "dbt"
