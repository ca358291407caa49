"""``servicetitan-pipeline dev`` (``make dev``): the Dagster UI against the embedded simulator.

Starts the simulator on a fixed loopback port, seeds a fresh DuckDB file (``data/dev.duckdb``)
with one run of the sync job (recorded in the UI's run history), then runs ``dagster dev`` on
``workspace.yaml`` with the connection pointed at the simulator. Press Materialize all, or move
the simulator's clock (``curl -X POST .../_simulator/advance -d '{"hours": 24}'``) and watch an
incremental sync pick up the changes.

``dagster dev`` loads a ``.env`` file from its working directory and lets it override the
environment; it is started from ``DAGSTER_HOME`` so that real credentials in the project's
``.env`` can never turn this simulator session into a sync of a real tenant.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

DEFAULT_DAGSTER_HOME = ".dagster_home"
DEFAULT_DEV_DUCKDB = "data/dev.duckdb"

# Written to DAGSTER_HOME/dagster.yaml when there is none. The pool limit makes the run queue
# start at most one run that writes the warehouse at a time (a second one waits in the queue).
DAGSTER_YAML = """\
# Written by `servicetitan-pipeline dev`. Edit freely: it is not overwritten.
concurrency:
  pools:
    # Every asset that writes the DuckDB file is in the pool "servicetitan_duckdb": one run at
    # a time may hold it, so a second run waits in the queue instead of fighting for the file.
    default_limit: 1
    granularity: run
telemetry:
  enabled: false
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--customers", type=int, default=2000, help="simulated tenant size")
    parser.add_argument("--seed", type=int, default=42, help="simulator data seed")
    parser.add_argument("--simulator-port", type=int, default=8765)
    parser.add_argument("--port", type=int, default=3000, help="Dagster UI port")
    parser.add_argument("--host", default="127.0.0.1", help="Dagster UI host")
    parser.add_argument("--duckdb-path", default=DEFAULT_DEV_DUCKDB)
    parser.add_argument(
        "--no-seed", action="store_true", help="start the UI without the seeding run"
    )


def ensure_dagster_home() -> Path:
    """DAGSTER_HOME (default ./.dagster_home), created, with a dagster.yaml if it has none."""
    home = Path(os.environ.get("DAGSTER_HOME") or DEFAULT_DAGSTER_HOME).resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def run(args: argparse.Namespace) -> int:
    from servicetitan_pipeline.cli.demo import point_environment_at, reset_demo_database
    from servicetitan_pipeline.simulator import SimulatorConfig, start_simulator

    home = ensure_dagster_home()
    database = Path(args.duckdb_path).resolve()
    config = SimulatorConfig(customers=args.customers, seed=args.seed, port=args.simulator_port)
    print(f"Starting the ServiceTitan simulator ({args.customers:,} customers) ...", flush=True)
    with start_simulator(config) as sim:
        print(f"  simulator: {sim.base_url}  (tenant {sim.config.tenant_id})")
        point_environment_at(sim, database, connection_name="simulator-dev")
        reset_demo_database(database, sim.config.tenant_id)
        if not args.no_seed:
            import dagster as dg

            from servicetitan_pipeline.cli.report import print_sync_outcome
            from servicetitan_pipeline.cli.runner import run_sync

            print("Seeding the warehouse with a first sync (recorded in the UI's runs) ...")
            with dg.DagsterInstance.get() as instance:
                outcome = run_sync(instance=instance, tags={"servicetitan/seed": "dev"})
            print_sync_outcome(outcome, out=sys.stdout)
        dagster = shutil.which("dagster", path=str(Path(sys.executable).parent)) or "dagster"
        # A checkout's workspace.yaml; an installed package has none: name the module instead.
        workspace = Path(__file__).resolve().parents[2] / "workspace.yaml"
        location = (
            ["-w", str(workspace)]
            if workspace.is_file()
            else ["-m", "servicetitan_pipeline.defs.definitions"]
        )
        command = [dagster, "dev", *location, "-p", str(args.port), "-h", args.host]
        print(f"\nDagster UI: http://{args.host}:{args.port}   (Ctrl-C stops UI and simulator)")
        print(f"DuckDB:     {database}")
        print(f'Simulator:  {sim.base_url}/_simulator/advance  (POST {{"hours": 24}})\n')
        try:
            return subprocess.call(command, cwd=home, env=os.environ.copy())
        except KeyboardInterrupt:
            return 0
