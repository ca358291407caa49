"""A ``servicetitan-pipeline sync`` writing a DuckLake, killed with SIGKILL mid-run: the lake
stays consistent (it opens, no key is doubled, every committed cursor has its rows) and the
rerun is exact."""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest
from lake_helpers import (
    FEW,
    assert_lake_equals_truth,
    cli_environment,
    duplicated_keys,
    finished,
    start_sync,
)
from tenants_helpers import configs_with, simulated_tenants, tenant_configs

from servicetitan_pipeline.config import ConfigError
from servicetitan_pipeline.simulator import FaultConfig
from servicetitan_pipeline.warehouse.lake import LakeSettings, connect_lake

pytestmark = pytest.mark.e2e


def committed(lake: LakeSettings) -> tuple[int, dict[str, int]]:
    """(cursors committed, rows per raw table) as a new reader sees the lake now."""
    try:
        conn = connect_lake(lake, read_only=True)
    except ConfigError:  # not made yet: a reader does not create a lake
        return 0, {}
    with conn:
        tables = [
            t
            for (t,) in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = "
                "'raw_servicetitan' AND table_type = 'BASE TABLE' "
                "AND NOT starts_with(table_name, '_')"
            ).fetchall()
        ]
        rows = {
            t: conn.execute(f"SELECT count(*) FROM raw_servicetitan.{t}").fetchall()[0][0]
            for t in tables
        }
        if not tables:
            return 0, rows
        (cursors,) = conn.execute("SELECT count(*) FROM raw_servicetitan._sync_state").fetchall()[0]
        return int(cursors), rows


def test_a_writer_killed_mid_run_leaves_the_lake_consistent_and_the_rerun_exact(lake, tmp_path):
    seed = int(os.environ.get("KILL_TEST_SEED", random.randrange(10**6)))
    print(f"lake kill test seed {seed} (set KILL_TEST_SEED to replay)")
    rng = random.Random(seed)
    # Slow answers and small pages stretch the run, so the kill lands between commits.
    faults = FaultConfig(seed=seed, slow_rate=0.5, slow_seconds=0.15)
    configs = configs_with(tenant_configs(1, (80,)), export_page_size=10, faults=faults)
    with simulated_tenants(configs) as tenants:
        (tenant,) = tenants
        env = cli_environment(tenants, lake, tmp_path)
        process = start_sync(tenant.name, env, tmp_path)
        # Killed once its first data files are written (a commit writes its own Parquet
        # files), at a random moment after: asking the catalog in a loop would cost each
        # poll an attach, and CPU the writer needs.
        deadline = time.monotonic() + 180
        while len(list(Path(lake.data_path).rglob("*.parquet"))) < 2 and process.poll() is None:
            if time.monotonic() > deadline:
                process.kill()
                raise AssertionError(f"no data within 180 s: {process.communicate()[0]}")
            time.sleep(0.1)
        time.sleep(rng.uniform(0.0, 1.0))
        assert process.poll() is None, "the sync ended before it could be killed"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        cursors, rows = committed(lake)
        print(f"killed with {cursors} cursors committed, rows {rows}")
        with connect_lake(lake, read_only=True) as conn:
            assert set(duplicated_keys(conn).values()) <= {0}
            # Every committed export cursor was committed with its rows.
            for entity, kind in conn.execute(
                "SELECT entity, cursor_kind FROM raw_servicetitan._sync_state"
            ).fetchall():
                if kind == "export_continue_from":
                    assert rows.get(entity, 0) > 0, entity
        tenant.sim.set_faults(FaultConfig())
        finished(start_sync(tenant.name, env, tmp_path))
        assert_lake_equals_truth(tenant.sim, lake, FEW.split(","))
