"""``servicetitan-pipeline sync``: the sync job, in-process, from a shell or a cron.

Same code path as a run launched from the Dagster UI (the job in ``definitions.defs``), with
the connections of the connections file (their credentials from the variables it names), or
the single-tenant ``SERVICETITAN_*`` settings without one (and a ``.env`` file in the current
directory, or ``--env-file``, for variables not already set). Every setting of every tenant
synced is validated before Dagster starts the run. Every tenant syncs in one run by default;
``--tenant NAME`` (repeatable, or comma-separated) syncs those named. The summary has a block
per tenant and says which tenants failed. Exits non-zero when any step or tenant failed or any
ERROR-severity check failed, with one line per failure; 2, with one line naming it, when a
setting, ``--tenant``, ``--select`` or ``--env-file`` is wrong. What is synced: ``--select``
when given, else ``SERVICETITAN_ENTITIES`` (all entities by default).

While entities sync, stdout shows their progress (``cli.progress``): a live display on a
terminal, else plain lines (at most one per entity every ``--progress-every`` seconds, and
one when it ends); the run log (Dagster's, in the UI) has the same lines.
"""

from __future__ import annotations

import argparse
import sys

from servicetitan_pipeline.cli.common import (
    EXIT_BAD_SETTINGS,
    SETTINGS_ERRORS,
    add_env_file_argument,
    add_select_argument,
    add_tenant_argument,
    local_dagster_instance,
    prepare_settings,
    selected_entities,
    tenant_names,
)
from servicetitan_pipeline.sync.progress import DEFAULT_LINE_SECONDS

EXIT_BAD_ARGUMENTS = EXIT_BAD_SETTINGS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``servicetitan-pipeline sync``."""
    add_tenant_argument(parser, verb="sync")
    add_select_argument(parser, verb="sync")
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
    parser.add_argument(
        "--progress-every",
        type=_seconds,
        default=DEFAULT_LINE_SECONDS,
        metavar="SECONDS",
        help="a progress line per syncing entity at most this often, in the run log and, when "
        "stdout is not a terminal (a log, CI), on stdout "
        f"(default: {DEFAULT_LINE_SECONDS:.0f}; 0: as often as it moves)",
    )
    add_env_file_argument(parser)


def _seconds(text: str) -> float:
    """A ``--progress-every`` value: seconds, 0 or more."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of seconds >= 0, got {text!r}")
    return value


def run(args: argparse.Namespace) -> int:
    """Entry point of ``servicetitan-pipeline sync``."""
    from servicetitan_pipeline.cli.progress import showing_progress
    from servicetitan_pipeline.cli.report import print_sync_outcome
    from servicetitan_pipeline.cli.runner import run_sync

    try:
        tenants = tenant_names(args.tenants)
        prepared = prepare_settings(args.env_file, warehouse=True, tenants=tenants)
        # After the settings file, which may hold SERVICETITAN_ENTITIES.
        entities = selected_entities(args.select).names
        instance = local_dagster_instance()
    except SETTINGS_ERRORS as exc:
        print(f"servicetitan-pipeline sync: {exc}", file=sys.stderr)
        return EXIT_BAD_ARGUMENTS
    # At INFO and below the run's console log already has the ingestion step's progress
    # lines: plain output would say them twice (a terminal's live display replaces nothing).
    plain = args.log_level not in ("DEBUG", "INFO")
    try:
        with showing_progress(sys.stdout, every_seconds=args.progress_every, plain=plain):
            outcome = run_sync(
                entities=entities,
                full_refresh=args.full_refresh,
                include_dbt=not args.no_dbt,
                instance=instance,
                log_level=args.log_level,
                tenants=None if tenants is None else [t.name for t in prepared],
                progress_seconds=args.progress_every,
            )
    finally:
        if instance is not None:
            instance.dispose()
    print_sync_outcome(outcome, out=sys.stdout)
    return 0 if outcome.success and not outcome.failed_checks("ERROR") else 1
