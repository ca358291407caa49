"""Several tenants in one run: the ingestion assets partitioned by tenant, one run over a
range of them, against one simulator per tenant on loopback and a real DuckDB file."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
import duckdb
import pytest
from dagster_duckdb import DuckDBResource
from ingestion_helpers import assert_equals_truth, changed_since, idle_requests, truth_by_key
from tenants_helpers import (
    ENTITIES,
    ENTITY_NAMES,
    connections,
    environment,
    run_config,
    simulated_tenants,
    sync_range,
    tenant_configs,
    variable,
)

from servicetitan_pipeline.defs.ingestion import build_ingestion_assets
from servicetitan_pipeline.defs.resources import servicetitan_tenants_from_connections
from servicetitan_pipeline.entities import get_entity
from servicetitan_pipeline.warehouse.rejects import insert_rejects

pytestmark = pytest.mark.integration


def _materialized(instance: dg.DagsterInstance, name: str) -> set[str]:
    return set(instance.get_materialized_partitions(dg.AssetKey(get_entity(name).asset_key_path)))


def _metadata(result: dg.ExecuteInProcessResult) -> dict[tuple[str, str | None], dict]:
    """(entity, partition) -> the materialization's metadata as plain values."""
    return {
        (e.asset_key.path[-1], e.partition): {
            k: v.value for k, v in e.materialization.metadata.items()
        }
        for e in result.get_asset_materialization_events()
    }


def _failure_description(result: dg.ExecuteInProcessResult) -> str:
    (event,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    data = event.step_failure_data
    assert data.user_failure_data is not None, data.error
    return str(data.user_failure_data.description)


@pytest.fixture
def three(monkeypatch):
    """Three small tenants with overlapping ids, their credentials in the environment."""
    with simulated_tenants(tenant_configs(3)) as tenants:
        for name, value in environment(tenants).items():
            monkeypatch.setenv(name, value)
        yield tenants


def test_every_tenant_exact_after_full_incremental_and_idle_syncs(three, tmp_path):
    db = tmp_path / "tenants.duckdb"
    with dg.DagsterInstance.ephemeral() as instance:
        # First sync, one run over every tenant, with the checks.
        result = sync_range(three, db, instance, checks=True)
        counts = {t.name: assert_equals_truth(t.sim, db, ENTITY_NAMES) for t in three}
        for name in ENTITY_NAMES:
            assert _materialized(instance, name) == {"t1", "t2", "t3"}, name
        md = _metadata(result)
        # one MaterializeResult per entity, recorded for each partition of the run
        assert {partition for _, partition in md} == {"t1", "t2", "t3"}
        for (name, _), m in md.items():
            assert m["tenants"] == 3 and m["tenants_failed"] == ""
            assert m["dagster/row_count"] == sum(c[name] for c in counts.values()), name
            assert m["rows_inserted"] == m["dagster/row_count"]
            for t in three:  # each tenant's own numbers in the table
                assert f"| {t.name} | {t.tenant_id} | {counts[t.name][name]} |" in m["per_tenant"]
        # (a reference to an entity outside the selection cannot be checked: left out)
        checks = [
            c
            for c in result.get_asset_check_evaluations()
            if "_references_" not in c.check_name
            or c.check_name.rsplit("_references_", 1)[1] in ENTITY_NAMES
        ]
        assert checks and all(c.passed for c in checks), [
            (c.asset_key.path[-1], c.check_name, c.description) for c in checks if not c.passed
        ]
        assert all(c.metadata["tenants"].value == 3 for c in checks if "tenants" in c.metadata)

        # The tenants' ids overlap, and yet every tenant holds exactly its own records.
        ids = [{key for key in truth_by_key(t.sim, "customers")} for t in three]
        assert ids[0] & ids[1] & ids[2]
        with duckdb.connect(str(db), read_only=True) as conn:
            rows = conn.execute(
                "SELECT _tenant_id, _connection, count(*) FROM raw_servicetitan.customers "
                "GROUP BY ALL ORDER BY 1"
            ).fetchall()
        assert rows == [(t.tenant_id, t.name, counts[t.name]["customers"]) for t in three]

        # Each source changes on its own; the incremental run counts each tenant's changes.
        before = {t.name: {n: truth_by_key(t.sim, n) for n in ENTITY_NAMES} for t in three}
        for hours, t in zip((24, 72, 48), three, strict=True):
            t.sim.advance(hours=hours)
        result = sync_range(three, db, instance)
        for t in three:
            assert_equals_truth(t.sim, db, ENTITY_NAMES)
        md = _metadata(result)
        for name in ENTITY_NAMES:
            changes = [
                changed_since(name, before[t.name][name], truth_by_key(t.sim, name)) for t in three
            ]
            m = md[(name, "t1")]
            assert m["rows_inserted"] == sum(len(inserted) for inserted, _, _ in changes), name
            assert m["rows_updated"] == sum(len(updated) for _, updated, _ in changes), name
        assert sum(md[(n, "t1")]["rows_updated"] for n in ENTITY_NAMES) > 0

        # Nothing changed anywhere: nothing written, about one request per entity per tenant.
        counts = {t.name: assert_equals_truth(t.sim, db, ENTITY_NAMES) for t in three}
        result = sync_range(three, db, instance)
        md = _metadata(result)
        for name in ENTITY_NAMES:
            m = md[(name, "t2")]
            assert (m["rows_inserted"], m["rows_updated"], m["rows_rejected"]) == (0, 0, 0)
            assert m["requests"] == sum(idle_requests(name, counts[t.name][name]) for t in three)
        for t in three:
            assert_equals_truth(t.sim, db, ENTITY_NAMES)


def test_a_refused_secret_and_a_missing_variable_fail_their_tenants_alone(
    three, tmp_path, monkeypatch
):
    db = tmp_path / "tenants.duckdb"
    wrong = "cs1.not-the-secret-of-t2"
    monkeypatch.setenv(variable(2, "client_secret"), wrong)
    monkeypatch.delenv(variable(3, "app_key"))
    t1, t2, t3 = three
    with dg.DagsterInstance.ephemeral() as instance:
        result = sync_range(three, db, instance, raise_on_error=False)
        assert not result.success
        description = _failure_description(result)
        lines = description.splitlines()
        assert lines[0].startswith("2 of 3 tenants failed: t2 (4 of 4 entities), t3 (4 of 4")
        assert "the other tenants' data is synced (each tenant's partition" in lines[0]
        # one line per failed tenant, naming it, its entities and what to fix (by name only)
        entities = ", ".join(ENTITY_NAMES)
        (refused,) = [line for line in lines if line.startswith("t2 ")]
        assert refused.startswith(f"t2 (tenant {t2.tenant_id}): {entities}: ServiceTitan rejected")
        assert variable(2, "client_secret") in refused
        (missing,) = [line for line in lines if line.startswith("t3 ")]
        assert missing == (
            f"t3 (tenant {t3.tenant_id}): {entities}: environment variable "
            f"{variable(3, 'app_key')} (its app key) is not set"
        )
        assert len(lines) == 3
        # refused at the token: no API request was sent (one token request in all: the
        # engine's unit tests count them)
        assert t2.sim.stats.get("pages", 0) == 0 and t3.sim.stats.get("pages", 0) == 0
        # the good tenant landed, its partitions alone are materialized
        assert_equals_truth(t1.sim, db, ENTITY_NAMES)
        for name in ENTITY_NAMES:
            assert _materialized(instance, name) == {"t1"}, name
        with duckdb.connect(str(db), read_only=True) as conn:
            assert conn.execute(
                "SELECT DISTINCT _tenant_id FROM raw_servicetitan.customers"
            ).fetchall() == [(t1.tenant_id,)]
        # no secret anywhere in the run's events
        logged = " ".join(str(e) for e in instance.all_logs(result.run_id))
        assert wrong not in logged and t1.sim.config.client_secret not in logged

        # Fixed, each failed tenant's partition is run alone and lands; every partition done.
        for name, value in environment(three).items():
            monkeypatch.setenv(name, value)
        result = sync_range(three, db, instance, covered=[t2])
        assert {e.partition for e in result.get_asset_materialization_events()} == {"t2"}
        # one tenant's run: its own metadata, naming it
        assert all(
            (m["connection"], m["tenant_id"]) == ("t2", str(t2.tenant_id))
            for m in _metadata(result).values()
        )
        assert_equals_truth(t2.sim, db, ENTITY_NAMES)
        assert _materialized(instance, "customers") == {"t1", "t2"}
        sync_range(three, db, instance, covered=[t3])
        for t in three:
            assert_equals_truth(t.sim, db, ENTITY_NAMES)
        for name in ENTITY_NAMES:
            assert _materialized(instance, name) == {"t1", "t2", "t3"}, name


def test_unpartitioned_assets_sync_every_tenant_of_the_resource(three, tmp_path):
    db = tmp_path / "tenants.duckdb"
    result = dg.materialize(
        build_ingestion_assets(ENTITIES),
        resources={
            "servicetitan": servicetitan_tenants_from_connections(connections(three)),
            "duckdb": DuckDBResource(database=str(db)),
        },
        run_config=run_config(),
    )
    for t in three:
        assert_equals_truth(t.sim, db, ENTITY_NAMES)
    md = _metadata(result)
    assert set(md) == {(name, None) for name in ENTITY_NAMES}
    assert all(m["tenants"] == 3 for m in md.values())


def test_a_check_failing_for_one_tenant_names_it(three, tmp_path):
    db = tmp_path / "tenants.duckdb"
    t1, t2, _ = three
    with dg.DagsterInstance.ephemeral() as instance:
        sync_range(three, db, instance)
        with duckdb.connect(str(db)) as conn:
            insert_rejects(
                conn,
                entity="customers",
                tenant_id=t2.tenant_id,
                connection_name=t2.name,
                rejects=[("no id", '{"name": "x"}')],
                now=datetime.now(UTC),
            )
        result = sync_range(three, db, instance, checks=True)
    (check,) = [
        c
        for c in result.get_asset_check_evaluations()
        if c.check_name == "no_rejected_records" and c.asset_key.path[-1] == "customers"
    ]
    assert not check.passed
    assert check.description.startswith(f"1 of 3 tenants fail: t2 (tenant {t2.tenant_id}): 1 ")
    assert check.metadata["rejected"].value == 1
    assert check.metadata["tenants_failing"].value == "t2"
    assert f"| t1 | {t1.tenant_id} | True | 0 |" in check.metadata["per_tenant"].value
