"""The dagster-dbt wiring: lineage from the ingestion assets, groups, checks, and a real run."""

from __future__ import annotations

import json

import dagster as dg
import duckdb
import pytest
from dbt_fixture_records import create_raw_layer

from servicetitan_pipeline.entities import ENTITIES


@pytest.fixture(scope="module")
def dbt_assets_def(dbt_manifest):
    # Imported after the manifest exists: @dbt_assets reads it at import time.
    from servicetitan_pipeline.defs.dbt import servicetitan_dbt_assets

    return servicetitan_dbt_assets


def _manifest(dbt_manifest) -> dict:
    return json.loads(dbt_manifest.read_text())


def test_every_entity_has_a_source_table_and_a_staging_model(dbt_manifest):
    manifest = _manifest(dbt_manifest)
    source_tables = {
        s["name"] for s in manifest["sources"].values() if s["source_name"] == "servicetitan"
    }
    models = {n["name"] for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    entity_names = {e.name for e in ENTITIES}
    assert source_tables == entity_names
    assert {f"stg_servicetitan__{name}" for name in entity_names} <= models


def test_sources_are_the_ingestion_assets(dbt_assets_def):
    upstream = {dep for deps in dbt_assets_def.asset_deps.values() for dep in deps}
    ingestion_keys = {dg.AssetKey(e.asset_key_path) for e in ENTITIES}
    # every raw table the models read is an ingestion asset, and nothing else is upstream
    assert {k for k in upstream if k not in dbt_assets_def.keys} == ingestion_keys
    staging = dg.AssetKey(["staging", "stg_servicetitan__invoices"])
    assert dbt_assets_def.asset_deps[staging] == {dg.AssetKey(["servicetitan", "invoices"])}


def test_models_are_grouped_by_layer(dbt_assets_def):
    groups = dbt_assets_def.group_names_by_key
    assert groups[dg.AssetKey(["staging", "stg_servicetitan__jobs"])] == "servicetitan_staging"
    assert groups[dg.AssetKey(["fct_invoices"])] == "servicetitan_marts"
    assert groups[dg.AssetKey(["rpt_ar_aging"])] == "servicetitan_reports"
    assert set(groups.values()) == {
        "servicetitan_staging",
        "servicetitan_intermediate",
        "servicetitan_marts",
        "servicetitan_reports",
    }


def test_dbt_tests_are_asset_checks(dbt_assets_def):
    checks = {(c.asset_key, c.name): c for c in dbt_assets_def.check_specs}
    fct_invoices = dg.AssetKey(["fct_invoices"])
    for name in (
        "assert_fct_invoices_total_reconciles_with_raw",
        "assert_invoice_items_and_tax_reconcile_to_invoice_total",
    ):
        assert checks[(fct_invoices, name)].blocking
    key_checks = [
        c
        for (asset, name), c in checks.items()
        if asset == fct_invoices and name.startswith("unique_combination_of_columns")
    ]
    assert len(key_checks) == 1
    # relationship tests are warnings: not blocking
    relationship = [c for (a, n), c in checks.items() if a == fct_invoices and "relationships" in n]
    assert relationship and not any(c.blocking for c in relationship)


@pytest.mark.integration
def test_materializing_the_dbt_assets_builds_the_warehouse(dbt_assets_def, tmp_path, monkeypatch):
    from dagster_dbt import DbtCliResource

    from servicetitan_pipeline.config import dbt_executable
    from servicetitan_pipeline.defs.dbt_project import dbt_project

    # Named as the default warehouse, whose file name the manifest's tables carry: the models'
    # row counts and column types are read by those names.
    database = tmp_path / "servicetitan.duckdb"
    create_raw_layer(str(database))
    monkeypatch.setenv("SERVICETITAN_DUCKDB_PATH", str(database))

    result = dg.materialize(
        [dbt_assets_def],
        resources={"dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable())},
    )
    assert result.success
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert dg.AssetKey(["rpt_daily_kpis"]) in materialized
    evaluations = result.get_asset_check_evaluations()
    failed = {e.check_name for e in evaluations if not e.passed}
    # the one warning of the fixture (see test_dbt_build_fixture): a cross-tenant reference
    assert len(failed) == 1
    assert next(iter(failed)).startswith("relationships_within_tenant_fct_invoices_location_id")
    assert any(
        e.check_name == "assert_fct_invoices_total_reconciles_with_raw" and e.passed
        for e in evaluations
    )
    # Read-write, in this process: refused if the read-only connection dagster-dbt reads the
    # models' metadata on were still open (the steps after dbt must open the warehouse).
    with duckdb.connect(str(database)) as con:
        [(revenue,)] = con.execute(
            "select sum(revenue) from rpt_revenue_by_month_business_unit where tenant_id = ?",
            [1000001],
        ).fetchall()
        [(rows,)] = con.execute("select count(*) from dim_business_units").fetchall()
        types = con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_name = 'dim_business_units' order by ordinal_position"
        ).fetchall()
    # 75.50 + 49.00 + 100.30 + 250.01 + 1500.00 - 200.00
    assert str(revenue) == "1774.81"

    # Marts carry what the raw assets' materializations do: a row count and the column types
    # (views get their columns but no count: counting would run their query).
    metadata = {
        e.asset_key: e.step_materialization_data.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    mart = metadata[dg.AssetKey(["dim_business_units"])]
    staging = metadata[dg.AssetKey(["staging", "stg_servicetitan__business_units"])]
    assert "dagster/column_schema" in staging
    assert "dagster/row_count" not in staging
    assert rows > 0
    assert mart["dagster/row_count"].value == rows
    # Every column of the table, in its order, each with its type as the dbt adapter names it.
    schema = [(c.name, c.type) for c in mart["dagster/column_schema"].value.columns]
    assert [name for name, _ in schema] == [name for name, _ in types]
    assert all(kind for _, kind in schema)
    assert schema[0][0] == "tenant_id" and "int" in schema[0][1].lower()


def _all_raw_tables(manifest: dict) -> set[str]:
    return {f"{s['schema']}.{s['identifier']}" for s in manifest["sources"].values()}


def _models(manifest: dict) -> dict[str, str]:
    return {n["name"]: uid for uid, n in manifest["nodes"].items() if n["resource_type"] == "model"}


def test_a_model_is_unbuildable_when_a_raw_table_it_reads_is_missing(dbt_manifest):
    from servicetitan_pipeline.defs.dbt import missing_upstream_tables

    manifest = _manifest(dbt_manifest)
    every_model = set(_models(manifest).values())
    raw_tables = _all_raw_tables(manifest)
    assert missing_upstream_tables(manifest, existing=raw_tables, building=every_model) == {}

    existing = raw_tables - {"raw_servicetitan.locations"}
    unbuildable = missing_upstream_tables(manifest, existing=existing, building=every_model)
    names = {manifest["nodes"][uid]["name"] for uid in unbuildable}
    # read directly, and through a staging view
    assert {"stg_servicetitan__locations", "dim_locations"} <= names
    # fct_jobs reads no location data, but its relationship test reaches dim_locations
    assert "fct_jobs" not in names
    assert any(n.startswith("relationships_within_tenant_fct_jobs_location_id") for n in names)
    assert all(tables == ["raw_servicetitan.locations"] for tables in unbuildable.values())


def test_a_model_is_unbuildable_when_a_model_it_reads_was_never_built(dbt_manifest):
    from servicetitan_pipeline.defs.dbt import missing_upstream_tables

    manifest = _manifest(dbt_manifest)
    models = _models(manifest)
    # every raw table synced, but only the appointments mart selected: its staging view was
    # never built (a sync with --no-dbt), fct_jobs (which it reads too) was
    unbuildable = missing_upstream_tables(
        manifest,
        existing=_all_raw_tables(manifest) | {"main.fct_jobs", "main.dim_customers"},
        building={models["fct_appointments"]},
    )
    assert "staging.stg_servicetitan__appointments" in unbuildable[models["fct_appointments"]]
    assert "main.fct_jobs" not in unbuildable[models["fct_appointments"]]
    # only what this build creates (and tests) is reported
    assert models["stg_servicetitan__appointments"] not in unbuildable


@pytest.mark.integration
def test_models_whose_raw_tables_are_missing_are_skipped_not_failed(
    dbt_assets_def, tmp_path, monkeypatch
):
    from dagster_dbt import DbtCliResource

    from servicetitan_pipeline.config import dbt_executable
    from servicetitan_pipeline.defs.dbt import MISSING_UPSTREAM_KEY
    from servicetitan_pipeline.defs.dbt_project import dbt_project

    database = tmp_path / "warehouse.duckdb"
    create_raw_layer(str(database))
    with duckdb.connect(str(database)) as con:
        # as if only some entities had ever been synced
        for entity in ("locations", "appointments", "payments"):
            con.execute(f"drop table raw_servicetitan.{entity}")
    monkeypatch.setenv("SERVICETITAN_DUCKDB_PATH", str(database))

    result = dg.materialize(
        [dbt_assets_def],
        resources={"dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable())},
    )
    assert result.success
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    observed = {
        e.asset_observation_data.asset_observation.asset_key: (
            e.asset_observation_data.asset_observation.metadata[MISSING_UPSTREAM_KEY].value
        )
        for e in result.get_asset_observation_events()
    }
    assert dg.AssetKey(["fct_jobs"]) in materialized
    assert dg.AssetKey(["rpt_technician_performance"]) in materialized
    assert observed[dg.AssetKey(["dim_locations"])] == ["raw_servicetitan.locations"]
    assert observed[dg.AssetKey(["staging", "stg_servicetitan__payments"])] == [
        "raw_servicetitan.payments"
    ]
    assert not materialized & set(observed)
    # every model is either built or skipped with its reason
    assert materialized | set(observed) == set(dbt_assets_def.keys)
    assert all(e.passed for e in result.get_asset_check_evaluations())


@pytest.mark.integration
def test_the_manifest_is_parsed_again_only_when_the_sources_change(tmp_path, monkeypatch):
    import shutil

    from dagster_dbt import DbtProject

    from servicetitan_pipeline.defs import dbt_project as module

    project_dir = tmp_path / "dbt_project"
    shutil.copytree(
        module.DBT_PROJECT_DIR, project_dir, ignore=shutil.ignore_patterns("target", "logs")
    )
    project = DbtProject(project_dir, target_path=tmp_path / "target", profiles_dir=project_dir)
    monkeypatch.setenv("SERVICETITAN_DUCKDB_PATH", str(tmp_path / "warehouse.duckdb"))
    parses = []
    real_prepare = module.prepare_manifest
    monkeypatch.setattr(module, "prepare_manifest", lambda p: (parses.append(p), real_prepare(p)))

    module.ensure_fresh_manifest(project)
    module.ensure_fresh_manifest(project)
    assert len(parses) == 1 and module.manifest_is_fresh(project)

    model = project_dir / "models" / "marts" / "dim_campaigns.sql"
    model.write_text(model.read_text() + "\n-- edited\n")
    assert not module.manifest_is_fresh(project)
    module.ensure_fresh_manifest(project)
    assert len(parses) == 2
    nodes = json.loads(project.manifest_path.read_text())["nodes"]
    assert "-- edited" in nodes["model.servicetitan.dim_campaigns"]["raw_code"]
    # dbt wrote nothing into the project folder: its logs went to the target folder too
    assert sorted(p.name for p in project_dir.iterdir()) == sorted(
        p.name for p in module.DBT_PROJECT_DIR.iterdir() if p.name not in {"target", "logs"}
    )


def test_an_installed_package_keeps_dbt_artifacts_in_the_user_cache(tmp_path, monkeypatch):
    from servicetitan_pipeline.defs import dbt_project as module

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    target = module.target_dir_for(module.PACKAGED_PROJECT_DIR)
    assert target.is_dir() and target.is_relative_to(tmp_path / "cache" / "servicetitan-pipeline")
    assert module.target_dir_for(module.CHECKOUT_PROJECT_DIR) == (
        module.CHECKOUT_PROJECT_DIR / "target"
    )
