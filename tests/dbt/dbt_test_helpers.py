"""Helpers shared by the dbt tests (a module of its own: test files cannot import conftest)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = REPO / "dbt_project"
DBT = Path(sys.executable).parent / "dbt"


@dataclass(frozen=True)
class DbtResult:
    returncode: int
    output: str


def run_dbt(
    args: list[str],
    *,
    database: Path,
    target_path: Path,
    cwd: Path = REPO,
    extra_env: dict[str, str] | None = None,
) -> DbtResult:
    """Run the real dbt CLI on the project against ``database``, as dagster-dbt does.

    A subprocess (not dbtRunner) so that dbt's global state and logging stay out of pytest;
    ``--target-path`` / log path in tmp so that runs never clobber dbt_project/target.
    """
    env = {
        # an AR as-of date set in the developer's shell must not change the expected figures
        **{k: v for k, v in os.environ.items() if k != "SERVICETITAN_AR_AS_OF_DATE"},
        "SERVICETITAN_DUCKDB_PATH": str(database),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        "DBT_LOG_PATH": str(target_path / "logs"),
        **(extra_env or {}),
    }
    completed = subprocess.run(
        [
            str(DBT),
            *args,
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--target-path",
            str(target_path),
        ],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return DbtResult(completed.returncode, completed.stdout + completed.stderr)
