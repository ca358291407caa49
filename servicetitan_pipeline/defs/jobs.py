"""The sync job, its schedule, and the rules that keep runs from stepping on each other.

The job syncs the entities ``SERVICETITAN_ENTITIES`` selects (all by default), for the tenants
a run names (its partitions: one per connection). The schedule syncs every tenant in one run
(a run over the range of partitions from the first connection to the last), so dbt builds
once, after all of them. It is configured by ``SERVICETITAN_SYNC_CRON``,
``SERVICETITAN_SYNC_TIMEZONE`` and ``SERVICETITAN_SYNC_SCHEDULE`` (all read when the code
location loads; see :mod:`servicetitan_pipeline.config` for their defaults).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)

from servicetitan_pipeline.config import (
    SYNC_CRON_ENV,
    SYNC_TIMEZONE_ENV,
    EntitySelection,
    ScheduleSettings,
    ScheduleSettingsError,
    configured_entity_selection,
    shown_value,
)

__all__ = [
    "SYNC_JOB_NAME",
    "SYNC_SCHEDULE_NAME",
    "TRANSIENT_RETRY_POLICY",
    "WAREHOUSE_POOL",
    "ScheduleSettingsError",
    "build_sync_job",
    "build_sync_schedule",
    "check_schedule_settings",
    "is_transient",
    "tenants_of_run",
]


def tenants_of_run(tags: Mapping[str, str], names: Sequence[str]) -> list[str]:
    """The tenants (of ``names``, the partitions in order) a run with ``tags`` covers: its one
    partition, its range, or every one when it names none (an unpartitioned run). For what
    has no partition keys of its own to ask (an asset check)."""
    if PARTITION_NAME_TAG in tags:
        return [tags[PARTITION_NAME_TAG]]
    start = tags.get(ASSET_PARTITION_RANGE_START_TAG)
    end = tags.get(ASSET_PARTITION_RANGE_END_TAG)
    if start in names and end in names:
        return list(names[names.index(start) : names.index(end) + 1])
    return list(names)


SYNC_JOB_NAME = "servicetitan_sync"
SYNC_SCHEDULE_NAME = "servicetitan_sync_schedule"

# Every asset that writes the DuckDB file is in this concurrency pool. With the instance's
# `concurrency.pools.default_limit: 1` (see dagster.yaml written by `servicetitan-pipeline dev`)
# the run queue starts at most one such run at a time; the file lock in locking.py covers
# writers that do not go through the queue.
WAREHOUSE_POOL = "servicetitan_duckdb"

# Transient failures (a ServiceTitan outage longer than the client's own retries, the
# warehouse lock held past its timeout) are retried twice, 30 s and then 60 s after the failure.
# Each retry resumes from the cursor committed with the last page, so nothing is fetched or
# written twice. Linear and without jitter: Dagster waits `delay * n` for retry n, while its
# EXPONENTIAL backoff waits `(2**n - 1) * delay` (30 s, 90 s) and PLUS_MINUS jitter adds up to
# `delay` either way (0-60 s, 60-120 s). Jitter spreads out many runs that failed together;
# here one run at a time holds the warehouse, so there is nothing to spread.
TRANSIENT_RETRY_POLICY = dg.RetryPolicy(max_retries=2, delay=30, backoff=dg.Backoff.LINEAR)


def build_sync_job(
    selection: EntitySelection | None = None,
    *,
    report_assets: Sequence[dg.AssetsDefinition] = (),
) -> dg.UnresolvedAssetJobDefinition:
    """The selected ServiceTitan entities, then the dbt build downstream of them, in one process.

    ``selection`` defaults to what ``SERVICETITAN_ENTITIES`` selects (every entity unless it
    says otherwise). Every entity's asset stays defined whatever the selection, so the lineage
    shows them all and one left out can still be materialised by hand; the job (and so the
    schedule) runs only the selected ones, and of the dbt models only those downstream of
    them (``defs.dbt`` skips the models whose other raw tables do not exist yet).

    The reports of the report list (``report_assets``) are pulled by every run, whatever
    the entity selection: a report is a few requests, and its comparison checks need it.

    One process because DuckDB allows one writing process per file; Dagster orders the dbt
    models after the raw assets they read.

    Raises:
        ConfigError: naming ``SERVICETITAN_ENTITIES`` when it is not a valid selection.
    """
    selection = configured_entity_selection() if selection is None else selection
    assets: dg.AssetSelection
    if selection.is_everything:
        assets = dg.AssetSelection.all()
        what = "every ServiceTitan entity"
    else:
        keys = [dg.AssetKey(entity.asset_key_path) for entity in selection.entities]
        assets = dg.AssetSelection.assets(*keys).downstream()
        if report_assets:
            assets = assets | dg.AssetSelection.assets(*report_assets)
        what = (
            f"the {len(selection.entities)} ServiceTitan entities {selection.source} selects "
            f"({selection.value})"
        )
    if report_assets:
        what += f" and its {len(report_assets)} configured report(s)"
    return dg.define_asset_job(
        SYNC_JOB_NAME,
        selection=assets,
        description=(
            f"Sync {what} into DuckDB (incrementally; full refresh via the ingestion step's run "
            "config), "
            "then build the dbt staging views, marts and reports downstream of them."
        ),
        executor_def=dg.in_process_executor,
        op_retry_policy=TRANSIENT_RETRY_POLICY,
        tags={"servicetitan/warehouse": "duckdb"},
    )


def build_sync_schedule(
    job: dg.UnresolvedAssetJobDefinition, tenants: Sequence[str] | None = None
) -> dg.ScheduleDefinition:
    """The schedule of ``job``, as configured in the environment (see :class:`ScheduleSettings`).

    ``tenants``: the partitions of the job's ingestion assets (the connection names, in the
    file's order): every tick requests ONE run over all of them, so every tenant is synced
    side by side and dbt builds once after them. ``None``: an unpartitioned job.
    """
    settings = ScheduleSettings.from_env()
    from servicetitan_pipeline.defs.tenants import partition_range_tags

    tags = partition_range_tags(tenants[0], tenants[-1]) if tenants else None

    def _every_tenant(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        return dg.RunRequest(tags=tags)

    what = f" for every tenant ({len(tenants)}) in one run" if tenants else ""
    try:
        return dg.ScheduleDefinition(
            name=SYNC_SCHEDULE_NAME,
            job=job,
            execution_fn=_every_tenant if tags else None,
            cron_schedule=settings.cron,
            execution_timezone=settings.timezone,
            default_status=(
                dg.DefaultScheduleStatus.RUNNING
                if settings.running
                else dg.DefaultScheduleStatus.STOPPED
            ),
            description=(
                f"Runs {SYNC_JOB_NAME}{what} on '{settings.cron}' ({settings.timezone}). "
                f"Change with {SYNC_CRON_ENV} and {SYNC_TIMEZONE_ENV}."
            ),
        )
    except (dg.DagsterInvalidDefinitionError, ValueError):
        raise ScheduleSettingsError(
            f"{SYNC_CRON_ENV} must be a cron expression like '0 * * * *', "
            f"got {shown_value(settings.cron)}"
        ) from None


def check_schedule_settings() -> None:
    """Validate the schedule settings as the code location will when it loads.

    Raises:
        ScheduleSettingsError: naming the bad setting.
    """
    build_sync_schedule(build_sync_job())


def is_transient(error: BaseException) -> bool:
    """Whether a step that failed with ``error`` is worth retrying under the retry policy.

    ServiceTitan errors that another attempt cannot fix (bad settings, a rejected client or app
    key, a missing API scope, a bad request, an answer that stayed unusable) and a warehouse
    file that cannot be opened (not a DuckDB database, truncated, a directory, no permission)
    fail at once: a retry would only add minutes before the same message. What may pass on its
    own (the client gave up on 429s, 5xx or dropped connections; another run or process held
    the warehouse) is retried, and so is anything unforeseen.
    """
    from servicetitan_pipeline.client import RetriesExhaustedError, ServiceTitanError
    from servicetitan_pipeline.warehouse.locking import WarehouseBusyError
    from servicetitan_pipeline.warehouse.opening import WarehouseFileError

    if isinstance(error, RetriesExhaustedError | WarehouseBusyError):
        return True
    return not isinstance(error, ServiceTitanError | WarehouseFileError)
