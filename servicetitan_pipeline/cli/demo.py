"""``servicetitan-pipeline demo`` (``make demo``): the whole pipeline on a laptop, no credentials.

1. starts the embedded ServiceTitan simulator on loopback;
2. runs the sync job in-process (every entity, then the dbt build): the same job, assets,
   checks and resources as a run from the Dagster UI;
3. moves the simulator's clock (updates, deactivations, merges, new records) and runs the job
   again, incrementally;
4. prints what happened: rows and changes per entity, rows per report, timings, where the
   DuckDB file is, and two example queries with their answers.

The demo writes its own DuckDB file (``data/demo.duckdb`` by default), never the one named by
``SERVICETITAN_DUCKDB_PATH``, and refuses to reuse a file that holds another tenant's data.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

DEFAULT_DEMO_DUCKDB = "data/demo.duckdb"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--customers", type=int, default=2000, help="simulated tenant size (default: 2000)"
    )
    parser.add_argument("--seed", type=int, default=42, help="simulator data seed")
    parser.add_argument(
        "--hours", type=float, default=24.0, help="how far to move the clock between the runs"
    )
    parser.add_argument(
        "--duckdb-path",
        default=DEFAULT_DEMO_DUCKDB,
        help=f"the demo's DuckDB file (default: {DEFAULT_DEMO_DUCKDB}; rebuilt on every demo)",
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING"],
        help="run log lines printed while the job runs (default: INFO, a line per entity)",
    )


def point_environment_at(sim, database: Path, *, connection_name: str) -> None:
    """Set the SERVICETITAN_* variables (read by the Dagster resources) to the simulator."""
    os.environ.update(
        {
            "SERVICETITAN_CONNECTION_NAME": connection_name,
            "SERVICETITAN_ENVIRONMENT": "integration",
            "SERVICETITAN_TENANT_ID": str(sim.config.tenant_id),
            "SERVICETITAN_CLIENT_ID": sim.config.client_id,
            "SERVICETITAN_CLIENT_SECRET": sim.config.client_secret,
            "SERVICETITAN_APP_KEY": sim.config.app_key,
            "SERVICETITAN_API_BASE_URL": sim.base_url,
            "SERVICETITAN_AUTH_URL": sim.auth_url,
            "SERVICETITAN_DUCKDB_PATH": str(database),
        }
    )
    follow_simulated_clock(sim)


def follow_simulated_clock(sim) -> None:
    """Age receivables as of the simulator's "now", not the wall clock.

    The simulated tenant lives at its own date (it starts on a fixed day so that a seed always
    gives the same data); AR aging defaults to the load date, which would age every invoice
    by however long ago that fixed day was.
    """
    os.environ["SERVICETITAN_AR_AS_OF_DATE"] = sim.clock[:10]


class DemoDatabaseError(RuntimeError):
    """The demo's DuckDB file holds data the demo must not delete."""


def reset_demo_database(database: Path, tenant_id: int) -> None:
    """Delete the demo's previous DuckDB file, unless it holds another tenant's data.

    A simulator restarts from its seed, so a warehouse synced from an earlier simulator (whose
    clock has moved) cannot be continued incrementally: the demo always starts afresh.
    """
    import duckdb

    from servicetitan_pipeline.warehouse.schema import SYNC_STATE_TABLE, TENANT_ID

    if database.exists():
        try:
            with duckdb.connect(str(database), read_only=True) as con:
                tenants = {
                    row[0]
                    for row in con.execute(
                        f"select distinct {TENANT_ID} from {SYNC_STATE_TABLE}"
                    ).fetchall()
                }
        except duckdb.Error:
            tenants = set()
        others = tenants - {tenant_id}
        if others:
            raise DemoDatabaseError(
                f"{database} holds data of tenant(s) {sorted(others)}, not the simulator's: "
                "the demo will not delete it. Pass --duckdb-path with another file."
            )
        database.unlink()
    for sidecar in (Path(f"{database}.wal"), Path(f"{database}.lock")):
        sidecar.unlink(missing_ok=True)
    database.parent.mkdir(parents=True, exist_ok=True)


def run(args: argparse.Namespace) -> int:
    from servicetitan_pipeline.cli.report import print_demo_summary, print_sync_outcome
    from servicetitan_pipeline.cli.runner import run_sync
    from servicetitan_pipeline.simulator import SimulatorConfig, start_simulator

    started = time.monotonic()
    database = Path(args.duckdb_path).resolve()
    print(f"servicetitan-pipeline demo: a simulated tenant of {args.customers:,} customers")
    sim_started = time.monotonic()
    with start_simulator(SimulatorConfig(customers=args.customers, seed=args.seed)) as sim:
        print(
            f"  simulator ready at {sim.base_url} in {time.monotonic() - sim_started:.1f}s "
            f"(tenant {sim.config.tenant_id})"
        )
        point_environment_at(sim, database, connection_name="simulator-demo")
        try:
            reset_demo_database(database, sim.config.tenant_id)
        except DemoDatabaseError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2

        print("\n[1/2] First sync of every entity, then dbt build")
        first = run_sync(log_level=args.log_level)
        print_sync_outcome(first, out=sys.stdout)
        if not first.success:
            return 1

        changes = sim.advance(hours=args.hours)
        follow_simulated_clock(sim)
        print(
            f"\n[2/2] Clock moved {args.hours:g}h ({_describe_changes(changes)}); incremental sync"
        )
        second = run_sync(log_level=args.log_level)
        print_sync_outcome(second, out=sys.stdout)

    print_demo_summary(
        first=first,
        second=second,
        database=database,
        total_seconds=time.monotonic() - started,
        out=sys.stdout,
    )
    return 0 if second.success else 1


def _describe_changes(changes: object) -> str:
    """The simulator's advance() summary as 'n updated, n new, ...' (best effort)."""
    if not isinstance(changes, dict):
        return "data changed"
    parts = [f"{v} {k}" for k, v in changes.items() if isinstance(v, int) and v]
    return ", ".join(parts[:6]) or "data changed"
