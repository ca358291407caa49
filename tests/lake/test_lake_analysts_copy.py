"""The analysts' copy asset on a DuckLake warehouse: it copies nothing and says why.

On a lake, analysts attach the lake itself read-only (``servicetitan-pipeline sql``), so the
asset stays in the graph but publishes no file; its materialization's metadata says so. The
asset reads only the settings to decide: no lake is reached, so this needs no server.
"""

# No `from __future__ import annotations`: Dagster reads the asset's annotations.

from pathlib import Path

import dagster as dg
import pytest

from servicetitan_pipeline.config import (
    ANALYSTS_DUCKDB_PATH_ENV,
    DUCKLAKE_CATALOG_ENV,
    DUCKLAKE_DATA_PATH_ENV,
    WAREHOUSE_ENV,
)
from servicetitan_pipeline.defs.analysts import ANALYSTS_COPY_KEY, build_analysts_copy_asset
from servicetitan_pipeline.defs.resources import WarehouseResource
from servicetitan_pipeline.warehouse.publish import lake_needs_no_copy


def test_on_a_lake_the_asset_publishes_nothing_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "analysts.duckdb"
    monkeypatch.setenv(WAREHOUSE_ENV, "ducklake")
    monkeypatch.setenv(DUCKLAKE_CATALOG_ENV, "host=/nowhere dbname=lake user=pipeline")
    monkeypatch.setenv(DUCKLAKE_DATA_PATH_ENV, str(tmp_path / "lake-data"))
    monkeypatch.setenv(ANALYSTS_DUCKDB_PATH_ENV, str(copy))
    warehouse = tmp_path / "warehouse.duckdb"

    result = dg.materialize(
        [build_analysts_copy_asset([])],
        resources={"duckdb": WarehouseResource(database=str(warehouse))},
        instance=dg.DagsterInstance.ephemeral(),
    )

    assert result.success
    (materialization,) = result.asset_materializations_for_node("warehouse__analysts_copy")
    assert materialization.asset_key == ANALYSTS_COPY_KEY
    metadata = {key: value.value for key, value in materialization.metadata.items()}
    assert metadata["published"] is False
    reason = str(metadata["reason"])
    assert "DuckLake" in reason and "read-only" in reason and "never blocks" in reason
    assert not copy.exists() and not warehouse.exists()  # nothing written, nothing opened


def test_on_the_file_a_copy_is_needed() -> None:
    assert lake_needs_no_copy({}) is None
    assert lake_needs_no_copy({WAREHOUSE_ENV: "duckdb"}) is None
