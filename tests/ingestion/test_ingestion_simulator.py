"""Ingestion end to end against the simulator on loopback, with a real DuckDB file."""

from __future__ import annotations

import duckdb
import pytest
from ingestion_helpers import (
    ENTITY_NAMES,
    EXPORT_PAGE_SIZE,
    assert_equals_truth,
    changed_since,
    idle_requests,
    metadata,
    sync,
    truth_by_key,
)

from servicetitan_pipeline.entities import ENTITIES, SyncMode, get_entity
from servicetitan_pipeline.simulator import FaultConfig, SimulatorConfig, start_simulator
from servicetitan_pipeline.warehouse.schema import SYNC_STATE_TABLE

pytestmark = pytest.mark.integration


def test_first_sync_incremental_sync_and_idle_rerun(sim, tmp_path):
    db = tmp_path / "wh.duckdb"

    # First sync: everything, equal to the truth; every check passes.
    result = sync(sim, db, checks=True)
    counts = assert_equals_truth(sim, db)
    md = metadata(result)
    assert set(md) == set(ENTITY_NAMES)
    for name, m in md.items():
        assert m["dagster/row_count"] == counts[name] == m["rows_inserted"]
        assert m["rows_updated"] == m["rows_rejected"] == 0
        if counts[name] > EXPORT_PAGE_SIZE:
            assert m["pages"] >= 2, name  # small pages force paging
        assert m["requests"] == m["pages"]  # no retries without faults
        assert m["requests"] >= 1, name  # every entity is read, even one with no records
        assert m["tenant_id"] == str(sim.config.tenant_id) and m["connection"].startswith("sim-")
        if counts[name] or get_entity(name).sync_mode is not SyncMode.LIST_INCREMENTAL:
            assert m["cursor"], name  # a list without records has no high-water yet
    failed = [
        (e.asset_key.path[-1], e.check_name)
        for e in result.get_asset_check_evaluations()
        if not e.passed
    ]
    assert failed == []
    with duckdb.connect(str(db), read_only=True) as conn:
        loaded_at = dict(
            conn.execute(
                "SELECT 'customers', max(_loaded_at) FROM raw_servicetitan.customers"
            ).fetchall()
        )

    # The clock moves: updates, deactivations, merges, new records. The incremental sync reads
    # what changed, counts it exactly, and ends equal to the new truth.
    before = {n: truth_by_key(sim, n) for n in ENTITY_NAMES}
    sim.advance(hours=72)
    after = {n: truth_by_key(sim, n) for n in ENTITY_NAMES}
    result = sync(sim, db)
    counts = assert_equals_truth(sim, db)
    md = metadata(result)
    total_changes = 0
    for name in ENTITY_NAMES:
        inserted, updated, deactivated = changed_since(name, before[name], after[name])
        m = md[name]
        assert m["rows_inserted"] == len(inserted), name
        assert m["rows_updated"] == len(updated), name
        assert m["rows_deactivated"] == len(deactivated), name
        total_changes += len(inserted) + len(updated)
    assert total_changes > 0
    assert md["customers"]["rows_deactivated"] > 0  # 72 hours always deactivate or merge some

    # Nothing changed at the source: nothing is written, one request per entity (a list read
    # whole: one per page).
    result = sync(sim, db)
    md = metadata(result)
    for name, m in md.items():
        assert (m["rows_inserted"], m["rows_updated"], m["rows_rejected"]) == (0, 0, 0), name
        assert m["requests"] == idle_requests(name, counts[name]), name
    with duckdb.connect(str(db), read_only=True) as conn:
        assert (
            conn.execute("SELECT max(_loaded_at) FROM raw_servicetitan.customers").fetchall()[0][0]
            >= loaded_at["customers"]
        )
        (n_rejected,) = conn.execute("SELECT count(*) FROM raw_servicetitan._rejected").fetchall()[
            0
        ]
        assert n_rejected == 0
    assert_equals_truth(sim, db)


def test_faults_change_nothing(tmp_path):
    """429s (every Retry-After style), 5xx, dropped connections, truncated bodies, slow answers,
    tokens that expire every 2 seconds and a requests/second cap: the result is exact."""
    # Rates sized for every entity of the table: each kind of fault strikes several times in
    # a run (asserted below), and the waits they cost stay within the suite's budget.
    faults = FaultConfig(
        seed=3,
        error_429_rate=0.06,
        retry_after="mixed",
        retry_after_seconds=1,
        error_5xx_rate=0.05,
        drop_connection_rate=0.03,
        truncated_json_rate=0.03,
        slow_rate=0.03,
        slow_seconds=0.3,
        token_ttl_seconds=2,
        rate_limit_rps=40,
    )
    config = SimulatorConfig(customers=40, seed=11, export_page_size=40, faults=faults)
    with start_simulator(config) as sim:
        db = tmp_path / "faulty.duckdb"
        result = sync(sim, db, max_attempts=12, read_timeout_seconds=5)
        assert_equals_truth(sim, db)
        md = metadata(result)
        assert sum(m["retries"] for m in md.values()) > 0
        assert sum(m["rows_rejected"] for m in md.values()) == 0
        sim.advance(hours=48)
        sync(sim, db, max_attempts=12, read_timeout_seconds=5)
        assert_equals_truth(sim, db)
        for kind in ("429", "5xx", "drop", "truncate", "slow"):
            assert sim.stats[f"fault_{kind}"] > 0, (kind, sim.stats)


def test_two_tenants_share_one_file_and_full_refresh_is_per_tenant(tmp_path):
    db = tmp_path / "shared.duckdb"
    a_conf = SimulatorConfig(customers=30, seed=1, export_page_size=25, tenant_id=111)
    b_conf = SimulatorConfig(customers=45, seed=2, export_page_size=25, tenant_id=222)
    with start_simulator(a_conf) as a, start_simulator(b_conf) as b:
        sync(a, db)
        sync(b, db)
        assert_equals_truth(a, db)
        assert_equals_truth(b, db)
        with duckdb.connect(str(db)) as conn:
            # The tenants' ids overlap (the simulator numbers every tenant alike): the key
            # includes _tenant_id, so they coexist.
            (shared,) = conn.execute(
                "SELECT count(*) FROM raw_servicetitan.customers x "
                "JOIN raw_servicetitan.customers y ON x.id = y.id "
                "WHERE x._tenant_id = 111 AND y._tenant_id = 222"
            ).fetchall()[0]
            assert shared > 0
            # Damage tenant A's table: a changed payload, a lost row, a row that does not exist.
            conn.execute(
                "UPDATE raw_servicetitan.invoices SET payload = '{\"id\": 0}' "
                "WHERE _tenant_id = 111 AND id = (SELECT min(id) FROM raw_servicetitan.invoices "
                "WHERE _tenant_id = 111)"
            )
            conn.execute(
                "DELETE FROM raw_servicetitan.customers WHERE _tenant_id = 111 AND id = "
                "(SELECT max(id) FROM raw_servicetitan.customers WHERE _tenant_id = 111)"
            )
            conn.execute(
                "INSERT INTO raw_servicetitan.jobs SELECT _tenant_id, 999999999, modified_on, "
                "active, payload, _connection, _loaded_at FROM raw_servicetitan.jobs "
                "WHERE _tenant_id = 111 LIMIT 1"
            )
        a_jobs, a_customers = len(a.truth("jobs")), len(a.truth("customers"))
        a.advance(hours=24)
        b.advance(hours=24)
        # An incremental run cannot see that damage; a full refresh of tenant A repairs it.
        result = sync(a, db, full_refresh=True)
        md = metadata(result)
        assert all(m["full_refresh"] for m in md.values())
        assert md["jobs"]["rows_deleted_by_full_refresh"] == a_jobs + 1
        assert md["customers"]["rows_deleted_by_full_refresh"] == a_customers - 1
        for name in ENTITY_NAMES:
            assert md[name]["rows_inserted"] == len(a.truth(name)), name
        assert_equals_truth(a, db)
        # Tenant B was left alone: still its state before its clock moved, then it catches up.
        with duckdb.connect(str(db), read_only=True) as conn:
            (b_rows,) = conn.execute(
                "SELECT count(*) FROM raw_servicetitan.customers WHERE _tenant_id = 222"
            ).fetchall()[0]
        assert b_rows == 45
        sync(b, db)
        assert_equals_truth(b, db)
        assert_equals_truth(a, db)
        with duckdb.connect(str(db), read_only=True) as conn:
            states = conn.execute(
                f"SELECT _tenant_id, count(*) FROM {SYNC_STATE_TABLE} GROUP BY 1 ORDER BY 1"
            ).fetchall()
        assert states == [(111, len(ENTITIES)), (222, len(ENTITIES))]
