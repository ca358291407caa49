"""``servicetitan-pipeline dev`` (``make dev``): the Dagster UI against the embedded simulator.

Starts the simulator on a fixed loopback port (``--simulator-port``, default 8765), seeds a
fresh DuckDB file (``data/dev.duckdb``) with one run of the sync job (recorded in the UI's run
history), then runs ``dagster dev`` on ``workspace.yaml`` (UI on ``--ui-port``, default 3000)
with the connection pointed at the simulator. Press Materialize all, or move
the simulator's clock (``curl -X POST .../_simulator/advance -d '{"hours": 24}'``) and watch an
incremental sync pick up the changes. The simulator's connection is written to
``DAGSTER_HOME/simulator.env``, so ``check`` and ``sync`` can reach it with ``--env-file``.

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

from servicetitan_pipeline.config import (
    DAGSTER_HOME_ENV,
    DEFAULT_DAGSTER_HOME,
    DEFAULT_DEV_SIMULATOR_PORT,
    DEFAULT_DEV_UI_PORT,
    DEV_SIMULATOR_PORT_ENV,
    DEV_UI_PORT_ENV,
    ConfigError,
    apply_file_mode,
    port_from_env,
    restrict_to_file_mode,
)

DEFAULT_DEV_DUCKDB = "data/dev.duckdb"
# Written to DAGSTER_HOME on every start: the simulator's connection, for `--env-file`.
SIMULATOR_SETTINGS_FILE = "simulator.env"
# A -W filter: "ignore" this message (its start, case-insensitive) of this category.
DAGSTER_DEV_SUPERSEDED_FILTER = "ignore:Function `dev_command` is superseded:FutureWarning"

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
    """Options of ``servicetitan-pipeline dev``."""
    parser.add_argument("--customers", type=int, default=2000, help="simulated tenant size")
    parser.add_argument("--seed", type=int, default=42, help="simulator data seed")
    parser.add_argument(
        "--simulator-port",
        type=int,
        default=_port_default(parser, DEV_SIMULATOR_PORT_ENV, DEFAULT_DEV_SIMULATOR_PORT),
        help=f"the simulator's loopback port (default: {DEV_SIMULATOR_PORT_ENV} or "
        f"{DEFAULT_DEV_SIMULATOR_PORT})",
    )
    parser.add_argument(
        "--ui-port",
        "--port",
        dest="ui_port",
        type=int,
        default=_port_default(parser, DEV_UI_PORT_ENV, DEFAULT_DEV_UI_PORT),
        help=f"the Dagster UI's port (default: {DEV_UI_PORT_ENV} or {DEFAULT_DEV_UI_PORT})",
    )
    parser.add_argument("--host", default="127.0.0.1", help="Dagster UI host")
    parser.add_argument("--duckdb-path", default=DEFAULT_DEV_DUCKDB)
    parser.add_argument(
        "--no-seed", action="store_true", help="start the UI without the seeding run"
    )


def _port_default(parser: argparse.ArgumentParser, env_name: str, default: int) -> int:
    try:
        return port_from_env(env_name, default)
    except ValueError as exc:
        parser.error(str(exc))


def ensure_dagster_home() -> Path:
    """DAGSTER_HOME (default ./.dagster_home), created, with a dagster.yaml if it has none."""
    home = Path(os.environ.get(DAGSTER_HOME_ENV) or DEFAULT_DAGSTER_HOME).resolve()
    home.mkdir(parents=True, exist_ok=True)
    restrict_to_file_mode(home)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    os.environ[DAGSTER_HOME_ENV] = str(home)
    return home


def dagster_dev_environment() -> dict[str, str]:
    """This process's environment for ``dagster dev``, without its supersession warning.

    ``dagster dev`` warns on every start that ``dg dev`` supersedes it; ``dg`` is a separate
    package and wants a ``dg`` project layout, while this repository's code location is the
    ``workspace.yaml`` that ``dagster dev`` still loads. Only that one message is silenced.
    """
    env = os.environ.copy()
    filters = [f for f in env.get("PYTHONWARNINGS", "").split(",") if f]
    env["PYTHONWARNINGS"] = ",".join([*filters, DAGSTER_DEV_SUPERSEDED_FILTER])
    return env


def run(args: argparse.Namespace) -> int:
    """Entry point of ``servicetitan-pipeline dev``."""
    from servicetitan_pipeline.cli.simulated import simulated_tenant, write_settings_file
    from servicetitan_pipeline.simulator import SimulatorConfig

    try:
        apply_file_mode()  # before DAGSTER_HOME and the warehouse exist: both owner-only
    except ConfigError as exc:
        print(f"servicetitan-pipeline dev: {exc}", file=sys.stderr)
        return 2
    home = ensure_dagster_home()
    database = Path(args.duckdb_path).resolve()
    config = SimulatorConfig(customers=args.customers, seed=args.seed, port=args.simulator_port)
    print(f"Starting the ServiceTitan simulator ({args.customers:,} customers) ...", flush=True)
    with simulated_tenant(config, database, connection_name="simulator-dev") as sim:
        print(f"  simulator: {sim.base_url}  (tenant {sim.config.tenant_id})")
        settings_file = home / SIMULATOR_SETTINGS_FILE
        write_settings_file(settings_file, sim, database, connection_name="simulator-dev")
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
        command = [dagster, "dev", *location, "-p", str(args.ui_port), "-h", args.host]
        shown_file = _relative(settings_file)
        print(f"\nDagster UI: http://{args.host}:{args.ui_port}   (Ctrl-C stops UI and simulator)")
        print(f"DuckDB:     {database}")
        print(f'Simulator:  {sim.base_url}/_simulator/advance  (POST {{"hours": 24}})')
        print(f"Settings:   {shown_file}  (servicetitan-pipeline check --env-file {shown_file})\n")
        try:
            return subprocess.call(command, cwd=home, env=dagster_dev_environment())
        except KeyboardInterrupt:
            return 0


def _relative(path: Path) -> Path:
    """``path`` relative to the working directory when it is below it (shorter to type)."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path
