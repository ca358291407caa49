"""The sync job, its schedule, and the rules that keep runs from stepping on each other.

Settings (environment variables, read when the code location loads):

- ``SERVICETITAN_SYNC_CRON``: cron expression of the sync schedule (default ``0 * * * *``,
  hourly at minute 0).
- ``SERVICETITAN_SYNC_TIMEZONE``: IANA timezone the cron is read in (default ``UTC``).
- ``SERVICETITAN_SYNC_SCHEDULE``: ``running`` (default) or ``stopped``: whether the schedule is
  on when the code location first loads (it can always be toggled in the UI).
"""

from __future__ import annotations

import os
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dagster as dg

SYNC_JOB_NAME = "servicetitan_sync"
SYNC_SCHEDULE_NAME = "servicetitan_sync_schedule"

# Every asset that writes the DuckDB file is in this concurrency pool. With the instance's
# `concurrency.pools.default_limit: 1` (see dagster.yaml written by `servicetitan-pipeline dev`)
# the run queue starts at most one such run at a time; the file lock in locking.py covers
# writers that do not go through the queue.
WAREHOUSE_POOL = "servicetitan_duckdb"

# Transient failures (a ServiceTitan outage longer than the client's own retries, the
# warehouse lock held past its timeout) are retried a few times with growing delays. Each retry
# resumes from the cursor committed with the last page, so nothing is fetched or written twice.
TRANSIENT_RETRY_POLICY = dg.RetryPolicy(
    max_retries=2, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)

DEFAULT_CRON = "0 * * * *"
DEFAULT_TIMEZONE = "UTC"


class ScheduleSettingsError(ValueError):
    """A schedule setting from the environment is not valid."""


def schedule_settings() -> tuple[str, str, dg.DefaultScheduleStatus]:
    """Cron, timezone and default status of the sync schedule, validated."""
    cron = os.environ.get("SERVICETITAN_SYNC_CRON", "").strip() or DEFAULT_CRON
    timezone = os.environ.get("SERVICETITAN_SYNC_TIMEZONE", "").strip() or DEFAULT_TIMEZONE
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleSettingsError(
            "SERVICETITAN_SYNC_TIMEZONE must be an IANA timezone like 'America/Chicago', "
            f"got {timezone!r}"
        ) from None
    status = os.environ.get("SERVICETITAN_SYNC_SCHEDULE", "").strip().lower() or "running"
    if status not in {"running", "stopped"}:
        raise ScheduleSettingsError(
            f"SERVICETITAN_SYNC_SCHEDULE must be 'running' or 'stopped', got {status!r}"
        )
    return cron, timezone, dg.DefaultScheduleStatus[status.upper()]


def build_sync_job() -> dg.UnresolvedAssetJobDefinition:
    """Every ServiceTitan entity, then the dbt build, in one process.

    One process because DuckDB allows one writing process per file; Dagster orders the dbt
    models after the raw assets they read.
    """
    return dg.define_asset_job(
        SYNC_JOB_NAME,
        selection=dg.AssetSelection.all(),
        description=(
            "Sync every ServiceTitan entity into DuckDB (incrementally; full refresh per asset "
            "via run config), then build the dbt staging views, marts and reports."
        ),
        executor_def=dg.in_process_executor,
        op_retry_policy=TRANSIENT_RETRY_POLICY,
        tags={"servicetitan/warehouse": "duckdb"},
    )


def build_sync_schedule(job: dg.UnresolvedAssetJobDefinition) -> dg.ScheduleDefinition:
    cron, timezone, status = schedule_settings()
    try:
        return dg.ScheduleDefinition(
            name=SYNC_SCHEDULE_NAME,
            job=job,
            cron_schedule=cron,
            execution_timezone=timezone,
            default_status=status,
            description=(
                f"Runs {SYNC_JOB_NAME} on '{cron}' ({timezone}). Change with "
                "SERVICETITAN_SYNC_CRON and SERVICETITAN_SYNC_TIMEZONE."
            ),
        )
    except dg.DagsterInvalidDefinitionError:
        raise ScheduleSettingsError(
            f"SERVICETITAN_SYNC_CRON must be a cron expression like '0 * * * *', got {cron!r}"
        ) from None


def is_transient(error: BaseException) -> bool:
    """Whether a step that failed with ``error`` is worth retrying under the retry policy.

    ServiceTitan errors that another attempt cannot fix (bad settings, a rejected client or app
    key, a missing API scope, a bad request, an answer that stayed unusable) fail at once: a
    retry would only add minutes before the same message. What may pass on its own (the client
    gave up on 429s, 5xx or dropped connections; another run held the warehouse) is retried,
    and so is anything unforeseen.
    """
    from servicetitan_pipeline.client import RetriesExhaustedError, ServiceTitanError
    from servicetitan_pipeline.warehouse.locking import WarehouseBusyError

    if isinstance(error, RetriesExhaustedError | WarehouseBusyError):
        return True
    return not isinstance(error, ServiceTitanError)
