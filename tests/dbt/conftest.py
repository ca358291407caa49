"""Fixtures of the dbt tests: the prepared manifest and a built fixture warehouse."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster_duckdb import DuckDBResource
from dbt_test_helpers import run_dbt

from servicetitan_pipeline.defs import ingestion
from servicetitan_pipeline.defs.resources import ServiceTitanResource
from servicetitan_pipeline.entities import ENTITIES
from servicetitan_pipeline.simulator import SimulatorConfig, start_simulator

ADVANCE_HOURS = 96  # a few simulated days of change: payments, merges, adjustments, new jobs


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


@pytest.fixture(scope="session")
def simulated_warehouse(tmp_path_factory) -> dict[str, Any]:
    """A simulated tenant (150 customers, a few simulated days of change) synced, every entity,
    into a fresh DuckDB file, and one real `dbt build` over it, with the simulator's ground
    truth kept for the reports' independent Python re-computation.

    Built once per test worker and shared by every module that checks figures against the
    simulator's truth (a sync of every entity plus a build costs over a minute). Keys:
    ``database``, ``truth`` (entity name -> records), ``tenant_id``, ``as_of`` (the simulated
    "now")."""
    root = tmp_path_factory.mktemp("dbt_simulator")
    database = root / "warehouse.duckdb"
    config = SimulatorConfig(customers=150, seed=2026)
    with start_simulator(config) as sim:
        sim.advance(hours=ADVANCE_HOURS)
        resource = ServiceTitanResource(
            name="dbt-integration",
            environment="integration",
            tenant_id=str(sim.config.tenant_id),
            client_id=sim.config.client_id,
            client_secret=sim.config.client_secret,
            app_key=sim.config.app_key,
            api_base_url=sim.base_url,
            auth_url=sim.auth_url,
        )
        entity_names = [e.name for e in ENTITIES]
        result = dg.materialize(
            ingestion.build_ingestion_assets(),
            resources={"servicetitan": resource, "duckdb": DuckDBResource(database=str(database))},
            run_config=ingestion.ingestion_run_config(entity_names),
            instance=dg.DagsterInstance.ephemeral(),
        )
        assert result.success
        truth = {name: sim.truth(name) for name in entity_names}
        tenant_id = sim.config.tenant_id

    # Age receivables as of the simulated "now" (the simulator's clock, not the wall clock the
    # rows were loaded at), through the documented override.
    as_of = (config.start + timedelta(hours=ADVANCE_HOURS)).date()
    build = run_dbt(
        ["build", "--vars", f"{{ar_as_of_date: '{as_of.isoformat()}'}}"],
        database=database,
        target_path=root / "target",
    )
    assert build.returncode == 0, build.output
    assert "ERROR=0" in build.output
    return {"database": database, "truth": truth, "tenant_id": tenant_id, "as_of": as_of}
