"""A sync killed with SIGKILL at random moments, then run again, equals the truth exactly."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import duckdb
import pytest
from ingestion_helpers import LIST_PAGE_SIZE, assert_equals_truth, sync

from servicetitan_pipeline.simulator import FaultConfig, SimulatorConfig, start_simulator
from servicetitan_pipeline.warehouse.schema import stored_key_columns

pytestmark = pytest.mark.integration

CHILD = textwrap.dedent(
    """
    import sys
    import dagster as dg
    from dagster_duckdb import DuckDBResource
    from servicetitan_pipeline.defs.ingestion import build_ingestion_assets, ingestion_run_config
    from servicetitan_pipeline.entities import ENTITIES
    from servicetitan_pipeline.defs.resources import ServiceTitanResource
    from servicetitan_pipeline.warehouse import batch

    base_url, tenant, client_id, secret, app_key, database, page_size, batch_rows = sys.argv[1:]
    if int(batch_rows):
        # Pages are committed in batches; small ones make kills land between and inside them.
        batch.BATCH_MAX_ROWS = int(batch_rows)
    config = ingestion_run_config([e.name for e in ENTITIES])
    for op in config["ops"].values():
        op["config"]["list_page_size"] = int(page_size)
    print("START", flush=True)
    dg.materialize(
        build_ingestion_assets(),
        resources={
            "servicetitan": ServiceTitanResource(
                name="killed", environment="integration", tenant_id=tenant,
                client_id=client_id, client_secret=secret, app_key=app_key,
                api_base_url=base_url, auth_url=base_url + "/connect/token",
                rate_limit_per_second=None,
            ),
            "duckdb": DuckDBResource(database=database),
        },
        run_config=config,
    )
    print("DONE", flush=True)
    """
)


def test_sigkill_at_random_points_then_rerun_equals_truth(tmp_path):
    seed = int(os.environ.get("KILL_TEST_SEED", random.randrange(10**6)))
    rng = random.Random(seed)
    print(f"kill test seed {seed} (set KILL_TEST_SEED to replay)")
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    db = tmp_path / "killed.duckdb"
    # Slow answers stretch the sync over a few seconds so that kills land mid-run: during
    # requests, during writes, between pages and between assets.
    faults = FaultConfig(seed=seed, slow_rate=0.25, slow_seconds=0.08)
    config = SimulatorConfig(customers=50, seed=5, export_page_size=15, faults=faults)
    with start_simulator(config) as sim:
        c = sim.config
        args = [
            sys.executable,
            str(script),
            sim.base_url,
            str(c.tenant_id),
            c.client_id,
            c.client_secret,
            c.app_key,
            str(db),
            str(LIST_PAGE_SIZE),
        ]
        kills = 0
        for attempt in range(6):
            if attempt == 3:
                sim.advance(hours=48)  # the source changes between interrupted runs
            # Half the runs with batches of ~3 pages (the page crossing 40 rows is split, so
            # kills also land between the parts of a page), half with the default.
            batch_rows = rng.choice(["40", "0"])
            child = subprocess.Popen(
                [*args, batch_rows], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
            )
            assert child.stdout is not None
            assert child.stdout.readline().strip() == b"START"  # imports done
            time.sleep(rng.uniform(0.05, 2.5))
            if child.poll() is None:
                child.send_signal(signal.SIGKILL)
                kills += 1
            child.wait(timeout=60)
            # Whatever the moment, the file opens and holds no duplicate.
            if db.exists():
                with duckdb.connect(str(db), read_only=True) as conn:
                    tables = [
                        t
                        for (t,) in conn.execute(
                            "SELECT table_name FROM information_schema.tables "
                            "WHERE table_schema = 'raw_servicetitan' "
                            "AND NOT starts_with(table_name, '_')"
                        ).fetchall()
                    ]
                    for t in tables:
                        key = ", ".join(("_tenant_id", *stored_key_columns(conn, t)))
                        (dups,) = conn.execute(
                            f"SELECT count(*) - count(DISTINCT ({key})) FROM raw_servicetitan.{t}"
                        ).fetchall()[0]
                        assert dups == 0, t
        assert kills >= 3, f"only {kills} of 6 runs were killed mid-sync (seed {seed})"
        # Run to completion: exactly the truth, nothing lost or doubled.
        sim.set_faults(FaultConfig())
        sync(sim, db)
        assert_equals_truth(sim, db)
