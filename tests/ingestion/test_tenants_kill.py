"""A run over several tenants killed with SIGKILL at random moments, then run again: every
tenant equals its simulator's truth exactly."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import dagster as dg
import duckdb
import pytest
from ingestion_helpers import LIST_PAGE_SIZE, assert_equals_truth
from tenants_helpers import (
    ENTITY_NAMES,
    configs_with,
    connections,
    environment,
    simulated_tenants,
    sync_range,
    tenant_configs,
)

from servicetitan_pipeline.simulator import FaultConfig
from servicetitan_pipeline.warehouse.schema import stored_key_columns

pytestmark = pytest.mark.integration

# The child runs the partitioned multi-asset over the range of every tenant, as a single-run
# backfill does; the credentials come from the environment, the connections name them.
CHILD = textwrap.dedent(
    """
    import json, sys
    import dagster as dg
    from dagster_duckdb import DuckDBResource
    from servicetitan_pipeline.client.connections import TenantConnection
    from servicetitan_pipeline.defs.ingestion import build_ingestion_assets, ingestion_run_config
    from servicetitan_pipeline.defs.resources import servicetitan_tenants_from_connections
    from servicetitan_pipeline.defs.tenants import partition_range_tags
    from servicetitan_pipeline.entities import get_entity
    from servicetitan_pipeline.warehouse import batch

    connections_json, entities, database, page_size, batch_rows, full_refresh = sys.argv[1:]
    if int(batch_rows):
        # Pages are committed in batches; small ones make kills land between and inside them.
        batch.BATCH_MAX_ROWS = int(batch_rows)
    connections = [TenantConnection(**c) for c in json.loads(connections_json)]
    names = entities.split(",")
    config = ingestion_run_config(names, full_refresh=full_refresh == "1")
    for op in config["ops"].values():
        op["config"]["list_page_size"] = int(page_size)
    resource = servicetitan_tenants_from_connections(connections)
    print("START", flush=True)
    dg.materialize(
        build_ingestion_assets([get_entity(n) for n in names], tenants=resource.names()),
        resources={"servicetitan": resource, "duckdb": DuckDBResource(database=database)},
        run_config=config,
        tags=partition_range_tags(resource.names()[0], resource.names()[-1]),
    )
    print("DONE", flush=True)
    """
)


def _no_duplicates(db) -> dict[int, int]:
    """Asserts no key of any tenant is stored twice; returns the rows stored per tenant."""
    per_tenant: dict[int, int] = {}
    with duckdb.connect(str(db), read_only=True) as conn:
        tables = [
            t
            for (t,) in conn.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'raw_servicetitan' AND NOT starts_with(table_name, '_')"
            ).fetchall()
        ]
        for t in tables:
            key = ", ".join(("_tenant_id", *stored_key_columns(conn, t)))
            (dups,) = conn.execute(
                f"SELECT count(*) - count(DISTINCT ({key})) FROM raw_servicetitan.{t}"
            ).fetchall()[0]
            assert dups == 0, t
            for tenant, n in conn.execute(
                f"SELECT _tenant_id, count(*) FROM raw_servicetitan.{t} GROUP BY 1"
            ).fetchall():
                per_tenant[tenant] = per_tenant.get(tenant, 0) + n
    return per_tenant


def test_sigkill_mid_run_over_tenants_then_rerun_leaves_every_tenant_exact(tmp_path, monkeypatch):
    seed = int(os.environ.get("KILL_TEST_SEED", random.randrange(10**6)))
    rng = random.Random(seed)
    print(f"tenants kill test seed {seed} (set KILL_TEST_SEED to replay)")
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    db = tmp_path / "killed.duckdb"
    # Slow answers stretch the run over a few seconds so that kills land mid-run, in any
    # tenant: during requests, during writes, between pages and between entities.
    faults = FaultConfig(seed=seed, slow_rate=0.4, slow_seconds=0.1)
    configs = configs_with(tenant_configs(3, (60, 80, 50)), export_page_size=15, faults=faults)
    with simulated_tenants(configs) as tenants:
        env = {**os.environ, **environment(tenants)}
        for name, value in environment(tenants).items():
            monkeypatch.setenv(name, value)
        args = [
            sys.executable,
            str(script),
            json.dumps([c.__dict__ for c in connections(tenants)]),
            ",".join(ENTITY_NAMES),
            str(db),
            str(LIST_PAGE_SIZE),
        ]
        kills = 0
        for attempt in range(5):
            if attempt == 3:
                for hours, t in zip((48, 24, 72), tenants, strict=True):
                    t.sim.advance(hours=hours)  # the sources change between interrupted runs
            batch_rows = rng.choice(["30", "0"])
            # Some runs refresh every tenant from scratch (deleting, then re-reading), so
            # kills also land mid-download after the first complete run.
            full_refresh = rng.choice(["1", "0"]) if attempt else "0"
            child = subprocess.Popen(
                [*args, batch_rows, full_refresh],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=env,
            )
            assert child.stdout is not None
            assert child.stdout.readline().strip() == b"START"  # imports done
            time.sleep(rng.uniform(0.3, 2.5))
            if child.poll() is None:
                child.send_signal(signal.SIGKILL)
                kills += 1
            child.wait(timeout=60)
            # Whatever the moment, the file opens and holds no duplicate.
            if db.exists():
                print(f"attempt {attempt} (full refresh {full_refresh}):", _no_duplicates(db))
        assert kills >= 3, f"only {kills} of 5 runs were killed mid-run (seed {seed})"
        # Run to completion: every tenant exactly its truth, nothing lost, doubled or mixed.
        for t in tenants:
            t.sim.set_faults(FaultConfig())
        with dg.DagsterInstance.ephemeral() as instance:
            sync_range(tenants, db, instance)
        for t in tenants:
            assert_equals_truth(t.sim, db, ENTITY_NAMES)
