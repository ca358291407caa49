"""``servicetitan-pipeline dev`` (``make dev``): the Dagster UI against the embedded simulator.

Starts the simulator on a fixed loopback port (``--simulator-port``, default 8765), serving
two simulated tenants (the demo's group), writes their connections file and settings into
``DAGSTER_HOME``, seeds a fresh DuckDB file (``data/dev.duckdb``) with one run of the sync job
over both tenants (recorded in the UI's run history), then runs ``dagster dev`` on
``workspace.yaml`` (UI on ``--ui-port``, default 3000) with the connections pointed at the
simulator: the ingestion assets have a partition per tenant. Materialize one tenant, both, or
backfill both (one run), or move a simulated clock (``curl -X POST
.../_simulator/advance?tenant=<id> -d '{"hours": 24}'``) and watch an incremental sync pick up
the changes. ``DAGSTER_HOME/simulator.env`` holds the settings, so ``check`` and ``sync`` can
reach the simulator with ``--env-file``.

The hourly sync schedule starts *stopped* here (``SERVICETITAN_SYNC_SCHEDULE=stopped``
unless the environment says otherwise): a dev UI that syncs on its own every hour would
surprise, and would fight the hands-on runs for the warehouse. Switch it on in the UI
(Automation, ``servicetitan_sync_schedule``) or start with ``SERVICETITAN_SYNC_SCHEDULE=running``.

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
    SYNC_SCHEDULE_ENV,
    ConfigError,
    apply_file_mode,
    port_from_env,
    restrict_to_file_mode,
)

DEFAULT_DEV_DUCKDB = "data/dev.duckdb"
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
    parser.add_argument(
        "--customers",
        type=int,
        default=2000,
        help="the first simulated tenant's size (the second is smaller)",
    )
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


# How the sync schedule starts in a dev UI, unless SERVICETITAN_SYNC_SCHEDULE says otherwise.
DEV_SCHEDULE_STATE = "stopped"


def dagster_dev_environment() -> dict[str, str]:
    """This process's environment for ``dagster dev``: the sync schedule stopped unless
    ``SERVICETITAN_SYNC_SCHEDULE`` is set, and without ``dagster dev``'s supersession warning.

    ``dagster dev`` warns on every start that ``dg dev`` supersedes it; ``dg`` is a separate
    package and wants a ``dg`` project layout, while this repository's code location is the
    ``workspace.yaml`` that ``dagster dev`` still loads. Only that one message is silenced.
    """
    env = os.environ.copy()
    if not env.get(SYNC_SCHEDULE_ENV, "").strip():
        env[SYNC_SCHEDULE_ENV] = DEV_SCHEDULE_STATE
    filters = [f for f in env.get("PYTHONWARNINGS", "").split(",") if f]
    env["PYTHONWARNINGS"] = ",".join([*filters, DAGSTER_DEV_SUPERSEDED_FILTER])
    return env


def run(args: argparse.Namespace) -> int:
    """Entry point of ``servicetitan-pipeline dev``."""
    from servicetitan_pipeline.cli.simulated import (
        CONNECTIONS_FILE_NAME,
        DEMO_CONNECTION_NAMES,
        SIMULATOR_SETTINGS_FILE,
        simulated_group,
    )
    from servicetitan_pipeline.simulator import demo_tenant_configs

    try:
        apply_file_mode()  # before DAGSTER_HOME and the warehouse exist: both owner-only
    except ConfigError as exc:
        print(f"servicetitan-pipeline dev: {exc}", file=sys.stderr)
        return 2
    home = ensure_dagster_home()
    database = Path(args.duckdb_path).resolve()
    configs = demo_tenant_configs(
        len(DEMO_CONNECTION_NAMES), customers=args.customers, seed=args.seed
    )
    print(
        f"Starting the ServiceTitan simulator ({len(configs)} tenants: "
        + ", ".join(f"{c.customers:,}" for c in configs)
        + " customers) ...",
        flush=True,
    )
    with simulated_group(configs, database, home, port=args.simulator_port, by="dev") as group:
        for name, sim in zip(DEMO_CONNECTION_NAMES, group.tenants.values(), strict=True):
            print(f"  {name}: tenant {sim.config.tenant_id} at {group.base_url}")
        settings_file = home / SIMULATOR_SETTINGS_FILE
        if not args.no_seed:
            import dagster as dg

            from servicetitan_pipeline.cli.report import print_sync_outcome
            from servicetitan_pipeline.cli.runner import run_sync

            print("Seeding the warehouse with a first sync of both tenants (in the UI's runs) ...")
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
        first = next(iter(group.tenants))
        print(f"\nDagster UI: http://{args.host}:{args.ui_port}   (Ctrl-C stops UI and simulator)")
        print(f"Partitions: {', '.join(DEMO_CONNECTION_NAMES)}  (one per tenant)")
        print(f"DuckDB:     {database}")
        print(
            f"Simulator:  {group.base_url}/_simulator/advance?tenant={first}  "
            '(POST {"hours": 24})'
        )
        print(f"Tenants:    {_relative(home / CONNECTIONS_FILE_NAME)}")
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
