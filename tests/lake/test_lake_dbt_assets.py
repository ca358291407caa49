"""The Dagster dbt asset's view of a DuckLake warehouse: which tables exist, what dbt is handed.

The dbt asset leaves out the models whose raw tables no sync has written yet; on a lake it
must look for them in the lake, not in a DuckDB file that does not exist there (every model
would be left out), and hand dbt the lake's settings as the pipeline resolved them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from postgres_server import lake_environment

from servicetitan_pipeline.config import DUCKDB_PATH_ENV, DUCKLAKE_DATA_PATH_ENV, WAREHOUSE_ENV
from servicetitan_pipeline.defs.dbt import existing_tables
from servicetitan_pipeline.defs.dbt_project import dbt_environment
from servicetitan_pipeline.warehouse.lake import LakeSettings, connect_lake


@pytest.fixture
def lake_mode(lake: LakeSettings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> LakeSettings:
    for name, value in lake_environment(lake).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv(DUCKDB_PATH_ENV, str(tmp_path / "no-such-warehouse.duckdb"))
    return lake


def test_existing_tables_are_the_lakes(lake_mode: LakeSettings, tmp_path: Path) -> None:
    conn = connect_lake(lake_mode)
    try:
        conn.execute("CREATE SCHEMA raw_servicetitan")
        conn.execute("CREATE TABLE raw_servicetitan.jobs AS SELECT 1 AS id")
        conn.execute("CREATE SCHEMA staging")
        conn.execute(
            "CREATE VIEW staging.stg_servicetitan__jobs AS SELECT * FROM raw_servicetitan.jobs"
        )
    finally:
        conn.close()
    found = existing_tables(str(tmp_path / "no-such-warehouse.duckdb"))
    assert found == {"raw_servicetitan.jobs", "staging.stg_servicetitan__jobs"}
    assert not (tmp_path / "no-such-warehouse.duckdb").exists()


def test_dbt_is_handed_the_lakes_resolved_settings(
    lake_mode: LakeSettings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(WAREHOUSE_ENV, " DuckLake ")
    monkeypatch.setenv(DUCKLAKE_DATA_PATH_ENV, "relative/lake")  # as a settings file may say
    environment = dbt_environment()
    assert environment[WAREHOUSE_ENV] == "ducklake"  # what profiles.yml compares
    assert environment[DUCKLAKE_DATA_PATH_ENV] == f"{tmp_path}/relative/lake/"
    assert environment[DUCKDB_PATH_ENV] == str(tmp_path / "no-such-warehouse.duckdb")
