"""Nothing changed, nothing rebuilt: the dbt step rebuilds what is downstream of a change.

Three real runs of the sync job (simulator, DuckDB, dbt) share one Dagster instance, as runs
of a deployment do: the first builds every model the selection reaches, a second with no
change at the source builds none (and publishes no analysts' copy), and a third after one
entity changed rebuilds exactly the models downstream of that entity. The selection rules
themselves (definition changed, never built, a model rebuilt after its reader) are checked on
the real manifest without running dbt.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import dagster as dg
import pytest

from servicetitan_pipeline.defs.dbt_selection import (
    NOT_REBUILT_KEY,
    LastBuild,
    models_to_rebuild,
    rows_changed,
)

# Two reference lists: a few models each, enough to tell "downstream of one" from "all", and
# a quick dbt build (the models that read entities not synced are left out, as on a new
# warehouse).
ENTITIES = ["business_units", "job_types"]
# The one that changes in the third run: a reference list, read whole every run.
CHANGED = "job_types"
ANALYSTS_COPY = dg.AssetKey(["warehouse", "analysts_copy"])
# The module's three runs are set up by the first test: two dbt builds of a few models (about
# 30 s on a quiet machine), far beyond the suite's 300 s only on a machine shared many ways.
RUNS_TIMEOUT = pytest.mark.timeout(1200)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Iterator[dict[str, Any]]:
    from servicetitan_pipeline.cli.runner import run_sync
    from servicetitan_pipeline.simulator import SimulatorConfig, start_simulator
    from servicetitan_pipeline.simulator.timefmt import iso

    root = tmp_path_factory.mktemp("nochange")
    database = root / "warehouse.duckdb"
    config = SimulatorConfig(customers=20, seed=11)
    with (
        start_simulator(config) as sim,
        pytest.MonkeyPatch.context() as env,
        dg.DagsterInstance.ephemeral() as instance,
    ):
        for name, value in {
            "SERVICETITAN_CONNECTION_NAME": "nochange",
            "SERVICETITAN_ENVIRONMENT": "integration",
            "SERVICETITAN_TENANT_ID": str(sim.config.tenant_id),
            "SERVICETITAN_CLIENT_ID": sim.config.client_id,
            "SERVICETITAN_CLIENT_SECRET": sim.config.client_secret,
            "SERVICETITAN_APP_KEY": sim.config.app_key,
            "SERVICETITAN_API_BASE_URL": sim.base_url,
            "SERVICETITAN_AUTH_URL": sim.auth_url,
            "SERVICETITAN_DUCKDB_PATH": str(database),
        }.items():
            env.setenv(name, value)
        first = run_sync(entities=ENTITIES, instance=instance)
        second = run_sync(entities=ENTITIES, instance=instance)
        # One job type renamed at the source, as an office would: the next incremental read
        # brings that one record (the simulator has no public control for a single record).
        store = sim._store(CHANGED)
        record, now = store.record(0), sim.world.now_ms
        record |= {"name": f"{record['name']} (renamed)", "modifiedOn": iso(now)}
        store.update(0, record, now)
        third = run_sync(entities=ENTITIES, instance=instance)
        observations = {
            run.run_id: [
                entry.get_dagster_event().asset_observation_data.asset_observation
                for entry in instance.all_logs(
                    run.run_id, of_type=dg.DagsterEventType.ASSET_OBSERVATION
                )
            ]
            for run in (first, second, third)
        }
        yield {"runs": (first, second, third), "observations": observations}


@pytest.fixture(scope="module")
def graph():
    from servicetitan_pipeline.defs.assembly import build_definitions

    return build_definitions(include_dbt=True).resolve_asset_graph()


@pytest.fixture(scope="module")
def dbt_keys():
    from servicetitan_pipeline.defs.dbt import servicetitan_dbt_assets

    return set(servicetitan_dbt_assets.keys)


def _materialized(outcome) -> set[dg.AssetKey]:
    return {
        dg.AssetKey.from_user_string(a.key) for a in outcome.assets if a.status == "materialized"
    }


def _downstream(graph, names, dbt_keys) -> set[dg.AssetKey]:
    raw = [dg.AssetKey(["servicetitan", name]) for name in names]
    return set(dg.AssetSelection.assets(*raw).downstream().resolve(graph)) & dbt_keys


@pytest.mark.integration
@RUNS_TIMEOUT
def test_a_first_run_builds_every_model_the_selection_reaches(runs, graph, dbt_keys):
    first = runs["runs"][0]
    assert first.success, first.failures
    built = _materialized(first) & dbt_keys
    skipped = {dg.AssetKey.from_user_string(a.key) for a in first.assets if a.status == "skipped"}
    # every model downstream of the selection is built, or left out for a table never synced
    assert built and built | skipped == _downstream(graph, ENTITIES, dbt_keys)
    assert not any(NOT_REBUILT_KEY in o.metadata for o in runs["observations"][first.run_id])
    # models left out (tables never synced): Dagster skips the copy's step, the dbt step
    # publishes it
    assert ANALYSTS_COPY in _materialized(first)


@pytest.mark.integration
@RUNS_TIMEOUT
def test_a_run_with_no_change_rebuilds_no_model(runs, dbt_keys):
    first, second, _ = runs["runs"]
    assert second.success, second.failures
    ingestion = second.ingestion()
    assert {a.key.split("/")[1] for a in ingestion} == set(ENTITIES)
    assert all(a.metadata["rows_inserted"] == a.metadata["rows_updated"] == 0 for a in ingestion)
    assert not _materialized(second) & dbt_keys
    assert ANALYSTS_COPY not in _materialized(second)
    assert not [c for c in second.checks if c.asset_key in {k.to_user_string() for k in dbt_keys}]
    # each model the first run built says, on the asset, why it was not rebuilt
    not_rebuilt = {
        o.asset_key: o.metadata[NOT_REBUILT_KEY].value
        for o in runs["observations"][second.run_id]
        if NOT_REBUILT_KEY in o.metadata
    }
    assert set(not_rebuilt) == _materialized(first) & dbt_keys
    assert set(not_rebuilt.values()) == {"nothing it reads changed since its last build"}


@pytest.mark.integration
@RUNS_TIMEOUT
def test_a_change_to_one_entity_rebuilds_only_what_is_downstream_of_it(runs, graph, dbt_keys):
    first, _, third = runs["runs"]
    assert third.success, third.failures
    changed = [a for a in third.ingestion() if a.metadata["rows_updated"]]
    assert [a.key for a in changed] == [f"servicetitan/{CHANGED}"]
    rebuilt = _materialized(third) & dbt_keys
    expected = _downstream(graph, [CHANGED], dbt_keys) & _materialized(first)
    assert rebuilt == expected
    assert rebuilt and len(rebuilt) < len(_materialized(first) & dbt_keys)
    assert ANALYSTS_COPY in _materialized(third)  # the analysts see the rebuilt models


# --- the rules, on the real manifest ---------------------------------------------------------


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    from servicetitan_pipeline.defs.dbt_project import dbt_project

    return json.loads(dbt_project.manifest_path.read_text())


def _model(manifest, name: str) -> str:
    return next(uid for uid, n in manifest["nodes"].items() if n["name"] == name)


def _rebuild(manifest, selected, *, versions=None, builds=None, changes=None, missing=()):
    models = [uid for uid, n in manifest["nodes"].items() if n["resource_type"] == "model"]
    versions = {uid: "v1" for uid in models} | (versions or {})
    builds = {uid: LastBuild(100, "v1") for uid in models} | (builds or {})
    return models_to_rebuild(
        manifest,
        selected=selected,
        code_versions=versions,
        last_builds=builds,
        last_change=lambda source: (changes or {}).get(source.split(".")[-1]),
        existing=lambda uid: uid not in missing,
    )


def test_nothing_changed_rebuilds_nothing_and_an_old_change_is_not_a_new_one(manifest):
    every = [uid for uid, n in manifest["nodes"].items() if n["resource_type"] == "model"]
    assert _rebuild(manifest, every) == {}
    assert _rebuild(manifest, every, changes={"jobs": 99}) == {}  # before the last builds


def test_a_changed_source_rebuilds_its_readers_and_theirs(manifest):
    staging = _model(manifest, "stg_servicetitan__job_types")
    mart = _model(manifest, "dim_job_types")
    unrelated = _model(manifest, "stg_servicetitan__customers")
    rebuilt = _rebuild(manifest, [staging, mart, unrelated], changes={"job_types": 101})
    assert rebuilt == {
        staging: "servicetitan.job_types changed since its last build",
        mart: "it reads stg_servicetitan__job_types, rebuilt in this run",
    }


def test_a_changed_definition_a_model_never_built_or_dropped_is_rebuilt(manifest):
    staging = _model(manifest, "stg_servicetitan__job_types")
    mart = _model(manifest, "dim_job_types")
    selected = [staging, mart]
    assert _rebuild(manifest, selected, versions={staging: "v2"}) == {
        staging: "its definition changed",
        mart: "it reads stg_servicetitan__job_types, rebuilt in this run",
    }
    assert _rebuild(manifest, [mart], builds={mart: None}) == {mart: "never built"}
    assert _rebuild(manifest, [mart], missing={mart}) == {
        mart: "its relation is not in the warehouse"
    }
    # its staging view rebuilt in a later run (not this one): the mart is behind it
    assert _rebuild(manifest, [mart], builds={staging: LastBuild(150, "v1")}) == {
        mart: "it reads stg_servicetitan__job_types, rebuilt after it"
    }


def test_what_counts_as_a_change_of_a_raw_table():
    counts = {"rows_inserted": 0, "rows_updated": 0, "rows_deactivated": 0}
    assert not rows_changed(counts)
    assert rows_changed(counts | {"rows_updated": 2})
    assert rows_changed(counts | {"rows_deleted_by_full_refresh": 5})
    assert rows_changed(counts | {"full_refresh": True})
    assert rows_changed({"note": "reported by hand"})  # no counts: taken as a change
