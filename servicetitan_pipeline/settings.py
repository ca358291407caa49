"""Process-wide settings that are not part of a ServiceTitan connection."""

from __future__ import annotations

import os
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
