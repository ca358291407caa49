"""Two ``servicetitan-pipeline sync`` processes, each syncing its own tenant of one simulator
into the same DuckLake at the same time: both end exact, first sync and incremental alike
(the incremental one updates rows of the same tables from both processes at once)."""

from __future__ import annotations

import pytest
from lake_helpers import (
    FEW,
    assert_lake_equals_truth,
    cli_environment,
    duplicated_keys,
    finished,
    start_sync,
)
from tenants_helpers import simulated_tenants, tenant_configs

from servicetitan_pipeline.warehouse.lake import connect_lake

pytestmark = pytest.mark.e2e


# Four CLI processes, each importing the definitions (about 7 s on an idle 2-core machine,
# several times that on a loaded one): more than the suite's default 300 s when loaded.
@pytest.mark.timeout(900)
def test_two_sync_processes_write_one_lake_at_once_and_both_end_exact(lake, tmp_path):
    with simulated_tenants(tenant_configs(2, (40, 30))) as tenants:
        env = cli_environment(tenants, lake, tmp_path)
        for round_ in ("first", "incremental"):
            if round_ == "incremental":
                for t, hours in zip(tenants, (24, 36), strict=True):
                    t.sim.advance(hours=hours)
            running = [start_sync(t.name, env, tmp_path) for t in tenants]
            outputs = [finished(p) for p in running]
            retries = sum(out.count("DuckLake commit conflict") for out in outputs)
            print(f"{round_} round: {retries} conflicted commits replayed")
            for t, out in zip(tenants, outputs, strict=True):
                assert "FAILED" not in out, out
                assert_lake_equals_truth(t.sim, lake, FEW.split(","))
        with connect_lake(lake, read_only=True) as conn:
            assert set(duplicated_keys(conn).values()) == {0}
            per_tenant = conn.execute(
                "SELECT _tenant_id, count(*) FROM raw_servicetitan._sync_state GROUP BY 1"
            ).fetchall()
            assert sorted(per_tenant) == [(t.tenant_id, 4) for t in tenants]
