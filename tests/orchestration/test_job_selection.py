"""The job syncs what ``SERVICETITAN_ENTITIES`` selects; every entity's asset stays defined."""

from __future__ import annotations

import dagster as dg
import pytest

from servicetitan_pipeline.config import ConfigError, select_entities
from servicetitan_pipeline.defs.jobs import SYNC_JOB_NAME, build_sync_job
from servicetitan_pipeline.entities import ASSET_KEY_PREFIX, ENTITIES


@pytest.fixture(scope="module")
def graph():
    from servicetitan_pipeline.defs.definitions import defs

    return defs.resolve_asset_graph()


def selected_keys(job: dg.UnresolvedAssetJobDefinition, graph) -> set[dg.AssetKey]:
    return set(job.resolve(asset_graph=graph).asset_layer.selected_asset_keys)


def ingestion_names(keys: set[dg.AssetKey]) -> set[str]:
    return {k.path[1] for k in keys if k.path[0] == ASSET_KEY_PREFIX}


def children(graph, name: str) -> set[dg.AssetKey]:
    return set(graph.get(dg.AssetKey([ASSET_KEY_PREFIX, name])).child_keys)


def test_a_subset_runs_its_ingestion_assets_and_the_models_downstream_only(graph):
    selection = select_entities("crm,-leads")
    keys = selected_keys(build_sync_job(selection), graph)
    assert ingestion_names(keys) == set(selection.names)
    assert children(graph, "customers") <= keys  # its staging model, at least
    # a model that reads only unselected tables is not built (a model that reads an unselected
    # table and a selected one is: fct_jobs, which re-resolves merged customers)
    only_of_jobs = dg.AssetKey(["staging", "stg_servicetitan__jobs"])
    assert only_of_jobs in children(graph, "jobs")
    assert set(graph.get(only_of_jobs).parent_keys) == {dg.AssetKey([ASSET_KEY_PREFIX, "jobs"])}
    assert only_of_jobs not in keys
    # every entity keeps its asset (the lineage shows them all; one can be run by hand)
    for entity in ENTITIES:
        assert graph.has(dg.AssetKey(entity.asset_key_path))


def test_every_entity_selected_means_every_asset(graph):
    keys = selected_keys(build_sync_job(select_entities("all")), graph)
    assert ingestion_names(keys) == {e.name for e in ENTITIES}
    assert keys == set(graph.get_all_asset_keys() - graph.external_asset_keys)


def test_the_job_reads_the_setting_and_says_what_it_syncs(graph, monkeypatch):
    monkeypatch.setenv("SERVICETITAN_ENTITIES", "payroll")
    job = build_sync_job()
    assert job.name == SYNC_JOB_NAME
    payroll = {e.name for e in ENTITIES if e.module == "payroll"}
    assert ingestion_names(selected_keys(job, graph)) == payroll
    assert f"the {len(payroll)} ServiceTitan entities SERVICETITAN_ENTITIES selects (payroll)" in (
        job.description or ""
    )


def test_a_bad_setting_fails_the_code_location_naming_it(monkeypatch):
    monkeypatch.setenv("SERVICETITAN_ENTITIES", "crm,payrol")
    with pytest.raises(ConfigError, match=r"^SERVICETITAN_ENTITIES: unknown module or entity"):
        build_sync_job()
