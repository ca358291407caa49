"""Fixtures of the dbt tests: the prepared manifest and a built fixture warehouse."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from dbt_test_helpers import DBT, DBT_PROJECT_DIR, MANIFEST, REPO, run_dbt


@pytest.fixture(scope="session")
def dbt_manifest() -> Path:
    """dbt_project/target/manifest.json, built with `dbt parse` if missing (what `make prepare`
    does), so that `servicetitan_pipeline.defs.dbt` can be imported on a fresh clone."""
    if not MANIFEST.exists():
        subprocess.run(
            [
                str(DBT),
                "parse",
                "--quiet",
                "--project-dir",
                str(DBT_PROJECT_DIR),
                "--profiles-dir",
                str(DBT_PROJECT_DIR),
            ],
            cwd=REPO,
            env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "False"},
            check=True,
        )
    return MANIFEST


@dataclass(frozen=True)
class BuiltWarehouse:
    database: Path
    target_path: Path
    build_output: str


@pytest.fixture(scope="session")
def fixture_warehouse(tmp_path_factory) -> BuiltWarehouse:
    """The hand-built raw layer (dbt_fixture_records) after one real `dbt build`."""
    from dbt_fixture_records import create_raw_layer

    root = tmp_path_factory.mktemp("dbt_fixture")
    database = root / "warehouse.duckdb"
    create_raw_layer(str(database))
    target = root / "target"
    result = run_dbt(["build"], database=database, target_path=target)
    assert result.returncode == 0, result.output
    return BuiltWarehouse(database, target, result.output)
