"""``servicetitan-pipeline demo`` (``make demo``): the whole pipeline on a laptop, no credentials.

1. starts the embedded ServiceTitan simulator on loopback, serving a group of TWO simulated
   companies (tenants: their own credentials and data, one app key), and writes their
   connections file and a settings file with their (public, documented) demo credentials into
   ``DAGSTER_HOME`` (``.dagster_home/``);
2. runs the sync job in-process over both tenants in ONE run (every entity, both tenants
   downloading side by side, then the dbt build once): the same job, assets, checks and
   resources as a run from the Dagster UI or the schedule;
3. moves both simulated clocks (updates, deactivations, merges, new records) and runs the job
   again, incrementally;
4. prints what happened: per tenant, rows and changes per entity; rows per report; the group
   report (revenue, jobs, average ticket and AR by company and month); timings, where the
   DuckDB file is, and example queries with their answers.

The demo writes its own DuckDB file (``data/demo.duckdb`` by default), never the one named by
``SERVICETITAN_DUCKDB_PATH``, and refuses to reuse a file that holds another tenant's data.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

DEFAULT_DEMO_DUCKDB = "data/demo.duckdb"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``servicetitan-pipeline demo``."""
    parser.add_argument(
        "--customers",
        type=int,
        default=2000,
        help="the first simulated tenant's size (default: 2000; the second is smaller)",
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


def run(args: argparse.Namespace) -> int:
    """Entry point of ``servicetitan-pipeline demo``."""
    from servicetitan_pipeline.cli.dev import ensure_dagster_home
    from servicetitan_pipeline.cli.report import print_demo_summary, print_sync_outcome
    from servicetitan_pipeline.cli.runner import run_sync
    from servicetitan_pipeline.cli.simulated import (
        DEMO_CONNECTION_NAMES,
        DemoDatabaseError,
        follow_simulated_clock,
        simulated_group,
    )
    from servicetitan_pipeline.config import ConfigError, apply_file_mode
    from servicetitan_pipeline.entities import ENTITIES
    from servicetitan_pipeline.simulator import demo_tenant_configs

    # The demo shows every entity, whatever SERVICETITAN_ENTITIES says for a real tenant.
    every_entity = [e.name for e in ENTITIES]

    try:
        apply_file_mode()  # the demo's warehouse and logs are owner-only too
    except ConfigError as exc:
        print(f"servicetitan-pipeline demo: {exc}", file=sys.stderr)
        return 2
    started = time.monotonic()
    database = Path(args.duckdb_path).resolve()
    configs = demo_tenant_configs(
        len(DEMO_CONNECTION_NAMES), customers=args.customers, seed=args.seed
    )
    sizes = ", ".join(
        f"{name} ({config.customers:,} customers)"
        for name, config in zip(DEMO_CONNECTION_NAMES, configs, strict=True)
    )
    print(f"servicetitan-pipeline demo: a group of {len(configs)} simulated companies: {sizes}")
    home = ensure_dagster_home()
    try:
        with simulated_group(configs, database, home, by="demo") as group:
            print(
                f"  simulator ready at {group.base_url} in {time.monotonic() - started:.1f}s "
                f"(tenants {', '.join(str(t) for t in group.tenants)}, one app key)"
            )
            print(
                f"  connections: {_relative(home / 'servicetitan_connections.toml')}, "
                f"credentials: {_relative(home / 'simulator.env')}"
            )
            print("\n[1/2] First sync of every entity of both tenants in one run, then dbt build")
            first = run_sync(entities=every_entity, log_level=args.log_level)
            print_sync_outcome(first, out=sys.stdout)
            if not first.success:
                return 1

            changes = [sim.advance(hours=args.hours) for sim in group.tenants.values()]
            follow_simulated_clock(next(iter(group.tenants.values())))
            described = "; ".join(
                f"{name}: {_describe_changes(change)}"
                for name, change in zip(DEMO_CONNECTION_NAMES, changes, strict=True)
            )
            print(f"\n[2/2] Clocks moved {args.hours:g}h ({described}); incremental sync")
            second = run_sync(entities=every_entity, log_level=args.log_level)
            print_sync_outcome(second, out=sys.stdout)
    except DemoDatabaseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    print_demo_summary(
        first=first,
        second=second,
        database=database,
        total_seconds=time.monotonic() - started,
        out=sys.stdout,
    )
    return 0 if second.success else 1


def _relative(path: Path) -> Path:
    """``path`` relative to the working directory when it is below it (shorter to read)."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def _describe_changes(changes: object) -> str:
    """The simulator's advance() summary as 'n updated, n new, ...' (best effort)."""
    if not isinstance(changes, dict):
        return "data changed"
    parts = [f"{v} {k}" for k, v in changes.items() if isinstance(v, int) and v]
    return ", ".join(parts[:6]) or "data changed"
