"""``servicetitan-pipeline sync``: the sync job, in-process, from a shell or a cron.

Same code path as a run launched from the Dagster UI (the job in ``definitions.defs``), with
the connection taken from the ``SERVICETITAN_*`` environment variables (and a ``.env`` file in
the current directory, for variables not already set). Exits non-zero when any step failed or
any ERROR-severity check failed, with one line per failure.
"""

from __future__ import annotations

import argparse
import os
import sys

from servicetitan_pipeline.entities import ENTITIES_BY_NAME


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--select",
        metavar="ENTITIES",
        help="comma-separated entities to sync (default: all): " + ",".join(ENTITIES_BY_NAME),
    )
    parser.add_argument(
        "--full-refresh",
        action="store_true",
        help="rebuild the selected entities from scratch instead of syncing incrementally",
    )
    parser.add_argument(
        "--no-dbt", action="store_true", help="sync the raw layer only; skip the dbt build"
    )
    parser.add_argument(
        "--log-level",
        default="WARNING",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="level of Dagster's run log printed while the run goes (default: WARNING)",
    )


def parse_selection(value: str | None) -> list[str] | None:
    """Entity names from ``--select``, validated (an unknown name is a clear error)."""
    if not value:
        return None
    names = [n.strip() for n in value.split(",") if n.strip()]
    unknown = [n for n in names if n not in ENTITIES_BY_NAME]
    if unknown:
        raise SystemExit(
            f"servicetitan-pipeline sync: unknown entity {', '.join(map(repr, unknown))} in "
            f"--select; known entities: {', '.join(ENTITIES_BY_NAME)}"
        )
    return names


def run(args: argparse.Namespace) -> int:
    from servicetitan_pipeline.cli.report import print_sync_outcome
    from servicetitan_pipeline.config import load_dotenv_file

    entities = parse_selection(args.select)
    load_dotenv_file()
    instance = _instance()
    try:
        from servicetitan_pipeline.cli.runner import run_sync

        outcome = run_sync(
            entities=entities,
            full_refresh=args.full_refresh,
            include_dbt=not args.no_dbt,
            instance=instance,
            log_level=args.log_level,
        )
    finally:
        if instance is not None:
            instance.dispose()
    print_sync_outcome(outcome, out=sys.stdout)
    return 0 if outcome.success and not outcome.failed_checks("ERROR") else 1


def _instance():
    """The Dagster instance of DAGSTER_HOME when set (runs then show in the UI), else ephemeral."""
    import dagster as dg

    if os.environ.get("DAGSTER_HOME"):
        os.makedirs(os.environ["DAGSTER_HOME"], exist_ok=True)
        return dg.DagsterInstance.get()
    return None
