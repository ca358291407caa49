"""The analysts' copy in a run: an analyst holding it open never blocks a run, and keeps reading.

A small Dagster job of its own stands for the sync: a multi-asset playing dbt's models (it
rebuilds a mart, a report and a staging view in a real warehouse file, a new version each run)
and the real ``["warehouse", "analysts_copy"]`` asset downstream of them, on the real
``WarehouseResource``. The analyst is another process (``analyst_process.Analyst``).
"""

# No `from __future__ import annotations`: Dagster reads the config class from the annotation.

import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from analyst_process import Analyst

from servicetitan_pipeline.config import ANALYSTS_DUCKDB_PATH_ENV, dbt_executable
from servicetitan_pipeline.defs.analysts import ANALYSTS_COPY_KEY, build_analysts_copy_asset
from servicetitan_pipeline.defs.resources import WarehouseResource

MODEL_KEYS = [dg.AssetKey("fct_orders"), dg.AssetKey("rpt_orders_by_day"), dg.AssetKey("stg_x")]


class ModelsConfig(dg.Config):
    version: int = 1
    orders: int = 50


@dg.multi_asset(
    specs=[dg.AssetSpec(key, skippable=True) for key in MODEL_KEYS],
    can_subset=True,
    required_resource_keys={"duckdb"},
)
def models(context: dg.AssetExecutionContext, config: ModelsConfig):  # type: ignore[no-untyped-def]
    """dbt's stand-in: tables in ``main`` (marts, reports) and a view in ``staging``."""
    with context.resources.duckdb.get_connection() as conn:
        conn.execute(
            "CREATE OR REPLACE TABLE fct_orders AS SELECT range AS order_id, "
            f"{config.version} AS version FROM range({config.orders})"
        )
        conn.execute("COMMENT ON TABLE fct_orders IS 'Orders, one row per order.'")
        conn.execute("COMMENT ON COLUMN fct_orders.version IS 'Which run built it.'")
        conn.execute(
            "CREATE OR REPLACE TABLE rpt_orders_by_day AS "
            "SELECT order_id % 7 AS day, count(*) AS orders FROM fct_orders GROUP BY 1"
        )
        conn.execute("CREATE SCHEMA IF NOT EXISTS staging")
        conn.execute(
            "CREATE OR REPLACE VIEW staging.stg_x AS SELECT order_id * 2 AS x FROM fct_orders"
        )
    for key in context.selected_asset_keys:
        yield dg.MaterializeResult(asset_key=key)


def run_job(
    database: Path,
    *,
    version: int,
    orders: int,
    selection: list[dg.AssetKey] | None = None,
    include_staging: bool = True,
) -> dg.ExecuteInProcessResult:
    defs = dg.Definitions(
        assets=[models, build_analysts_copy_asset(MODEL_KEYS)],
        jobs=[dg.define_asset_job("sync", selection=dg.AssetSelection.all())],
        resources={"duckdb": WarehouseResource(database=str(database))},
    )
    job = defs.resolve_job_def("sync")
    config = {
        "ops": {
            "models": {"config": {"version": version, "orders": orders}},
            "warehouse__analysts_copy": {"config": {"include_staging": include_staging}},
        }
    }
    asset_selection = [*selection, ANALYSTS_COPY_KEY] if selection else None
    return job.execute_in_process(
        run_config=config, raise_on_error=False, asset_selection=asset_selection
    )


def published(result: dg.ExecuteInProcessResult) -> dict[str, object]:
    (event,) = [
        e for e in result.get_asset_materialization_events() if e.asset_key == ANALYSTS_COPY_KEY
    ]
    metadata = event.step_materialization_data.materialization.metadata
    return {k: getattr(v, "value", v) for k, v in metadata.items()}


@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv(ANALYSTS_DUCKDB_PATH_ENV, raising=False)
    return tmp_path / "servicetitan.duckdb"


def test_an_analyst_holding_the_copy_open_across_a_run_blocks_nothing_and_keeps_reading(
    warehouse: Path,
) -> None:
    copy = warehouse.with_name("servicetitan_analysts.duckdb")
    first = run_job(warehouse, version=1, orders=50)
    assert first.success
    assert published(first)["path"] == str(copy)

    with Analyst(copy) as analyst:
        assert analyst.query("SELECT count(*), max(version) FROM fct_orders") == [[50, 1]]
        started = time.monotonic()
        second = run_job(warehouse, version=2, orders=80)
        elapsed = time.monotonic() - started
        assert second.success  # the run did not wait for, or fail on, the analyst
        # The analyst's open connection reads the previous copy, whole and unchanged...
        assert analyst.query("SELECT count(*), max(version) FROM fct_orders") == [[50, 1]]
        assert analyst.query("SELECT sum(orders) FROM rpt_orders_by_day") == [[50]]
        assert analyst.query("SELECT count(*) FROM staging.stg_x") == [[50]]
        # ... while a new connection (another process) sees the new one.
        with Analyst(copy) as newcomer:
            assert newcomer.query("SELECT count(*), max(version) FROM fct_orders") == [[80, 2]]
            assert newcomer.query("SELECT sum(orders) FROM rpt_orders_by_day") == [[80]]
    # Nothing of the run waited: far below the lock's wait (120 s) or a retry's delay.
    assert elapsed < 30
    metadata = published(second)
    assert metadata["tables"] == 3 and metadata["rows"] == 80 + 7 + 80
    assert metadata["bytes"] == copy.stat().st_size
    assert isinstance(metadata["seconds"], float) and metadata["seconds"] >= 0
    # The warehouse itself was never held by the analyst: a writer opens it at once.
    duckdb.connect(str(warehouse)).close()


def test_the_copy_is_published_when_only_some_models_are_in_the_run(warehouse: Path) -> None:
    # A sync of a few entities selects the models downstream of them only.
    result = run_job(
        warehouse, version=1, orders=10, selection=[MODEL_KEYS[0]], include_staging=False
    )
    assert result.success
    assert published(result)["tables"] == 2  # the staging view only when asked
    with duckdb.connect(
        str(warehouse.with_name("servicetitan_analysts.duckdb")), read_only=True
    ) as conn:
        assert conn.execute("SELECT count(*) FROM fct_orders").fetchone() == (10,)


def test_a_failed_model_build_publishes_nothing(warehouse: Path) -> None:
    assert run_job(warehouse, version=1, orders=10).success
    copy = warehouse.with_name("servicetitan_analysts.duckdb")
    before = copy.stat().st_ino

    @dg.multi_asset(specs=[dg.AssetSpec(key, skippable=True) for key in MODEL_KEYS], name="models")
    def failing_models():  # type: ignore[no-untyped-def]
        raise RuntimeError("dbt build failed")

    failed = (
        dg.Definitions(
            assets=[failing_models, build_analysts_copy_asset(MODEL_KEYS)],
            jobs=[dg.define_asset_job("sync", selection=dg.AssetSelection.all())],
            resources={"duckdb": WarehouseResource(database=str(warehouse))},
        )
        .resolve_job_def("sync")
        .execute_in_process(raise_on_error=False)
    )
    assert not failed.success
    assert ANALYSTS_COPY_KEY not in {e.asset_key for e in failed.get_asset_materialization_events()}
    assert copy.stat().st_ino == before  # the previous copy stays, untouched
    with duckdb.connect(str(copy), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM fct_orders").fetchone() == (10,)


def test_with_the_real_dbt_models_the_copy_comes_after_every_one_of_them() -> None:
    # The real models carry blocking dbt tests, which change how Dagster plans their inputs
    # (a fan-in over them could not be planned at all): plan the real graph, run nothing.
    from dagster._core.execution.api import create_execution_plan  # no public equivalent
    from dagster_dbt import DbtCliResource

    from servicetitan_pipeline.defs.dbt import servicetitan_dbt_assets
    from servicetitan_pipeline.defs.dbt_project import dbt_project

    copy = build_analysts_copy_asset(servicetitan_dbt_assets.keys)
    defs = dg.Definitions(
        assets=[servicetitan_dbt_assets, copy],
        jobs=[dg.define_asset_job("sync", selection=dg.AssetSelection.all())],
        # Planning checks that the resources are there; nothing here opens them.
        resources={
            "dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable()),
            "duckdb": WarehouseResource(database=":memory:"),
        },
    )
    graph = defs.resolve_asset_graph()
    assert graph.get(ANALYSTS_COPY_KEY).parent_keys == set(servicetitan_dbt_assets.keys)
    plan = create_execution_plan(defs.resolve_job_def("sync"))
    (step,) = [s for s in plan.steps if s.key == "warehouse__analysts_copy"]
    upstream = {
        h.step_key for i in step.step_inputs for h in i.get_step_output_handle_dependencies()
    }
    assert upstream == {"servicetitan_dbt_models"}  # the one dbt step, whole
