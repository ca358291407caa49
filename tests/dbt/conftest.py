"""Fixtures of the dbt tests: the prepared manifest and a built fixture warehouse."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from dbt_test_helpers import run_dbt


@pytest.fixture(scope="session")
def dbt_manifest() -> Path:
    """The fresh manifest, as the definitions see it: importing the project module parses the
    dbt project when its manifest is missing or stale (what every command does)."""
    from servicetitan_pipeline.defs.dbt_project import dbt_project

    return dbt_project.manifest_path


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
