"""The dbt models' materializations carry what the raw assets' do: a row count (tables; views
are not counted) and the column types, read after ``dbt build``; and the read-only DuckDB
connection they were read on is closed afterwards, so the steps after dbt in the same process
(the analysts' copy, the report checks) can open the warehouse read-write.

Built: ``dim_business_units`` and the staging view it reads, on the fixture's raw layer (two
models and their tests: ``test_dbt_assets`` builds the project)."""

from __future__ import annotations

import dagster as dg
import duckdb
import pytest
from dbt_fixture_records import create_raw_layer

pytestmark = pytest.mark.integration

DIM_BUSINESS_UNITS = dg.AssetKey(["dim_business_units"])


def _with_upstream_models(assets_def: dg.AssetsDefinition, key: dg.AssetKey) -> set[dg.AssetKey]:
    """``key`` and every dbt model it reads, directly or not (not the raw assets)."""
    found, todo = set(), [key]
    while todo:
        current = todo.pop()
        if current in found or current not in assets_def.keys:
            continue
        found.add(current)
        todo.extend(assets_def.asset_deps[current])
    return found


def test_models_get_row_counts_and_column_types_and_the_warehouse_is_released(
    dbt_manifest, tmp_path, monkeypatch
):
    from dagster_dbt import DbtCliResource

    from servicetitan_pipeline.config import dbt_executable
    from servicetitan_pipeline.defs.dbt import servicetitan_dbt_assets
    from servicetitan_pipeline.defs.dbt_project import dbt_project

    database = tmp_path / "warehouse.duckdb"
    create_raw_layer(str(database))
    monkeypatch.setenv("SERVICETITAN_DUCKDB_PATH", str(database))
    selection = _with_upstream_models(servicetitan_dbt_assets, DIM_BUSINESS_UNITS)
    assert len(selection) == 2
    result = dg.materialize(
        [servicetitan_dbt_assets],
        selection=dg.AssetSelection.assets(*selection),
        resources={"dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable())},
    )
    assert result.success
    metadata = {
        e.asset_key: e.step_materialization_data.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    mart = metadata[DIM_BUSINESS_UNITS]
    staging = metadata[dg.AssetKey(["staging", "stg_servicetitan__business_units"])]
    assert "dagster/column_schema" in staging  # a view: its columns...
    assert "dagster/row_count" not in staging  # ...but no count (it would run its query)

    # Read-write, in this process: refused if the metadata's read-only connection were open.
    with duckdb.connect(str(database)) as con:
        [(rows,)] = con.execute("select count(*) from dim_business_units").fetchall()
        types = con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_name = 'dim_business_units' order by ordinal_position"
        ).fetchall()
    assert rows > 0
    assert mart["dagster/row_count"].value == rows
    # Every column of the warehouse's table, in its order, each with its type as the dbt
    # adapter names it ("character varying(256)" for DuckDB's VARCHAR).
    schema = [(c.name, c.type) for c in mart["dagster/column_schema"].value.columns]
    assert [name for name, _ in schema] == [name for name, _ in types]
    assert all(kind for _, kind in schema)
    assert schema[0][0] == "tenant_id" and "int" in schema[0][1].lower()
