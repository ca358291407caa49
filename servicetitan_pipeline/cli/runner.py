"""Run the sync job in-process, exactly as the UI would, and summarise what happened.

Used by ``servicetitan-pipeline sync``, ``demo`` and ``dev`` (to seed its warehouse). The job
is the one in ``definitions.defs``: same assets, checks, resources and retry policy as a run
launched from the Dagster UI or the schedule; only the executor is Dagster's in-process one.
Every tenant by default, in one run over the range of partitions (as the schedule does), or
the tenants named: consecutive ones (in the connections file's order) in one run, others in
one run per consecutive group, dbt building in the last.
"""

from __future__ import annotations

import contextlib
import re
import sys
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import dagster as dg

from servicetitan_pipeline.config import configured_entity_selection
from servicetitan_pipeline.defs import run_logging
from servicetitan_pipeline.entities import ASSET_KEY_PREFIX, ENTITIES, get_entity

# The most characters of a failure's one-line reason (the run log has the whole error).
ONE_LINE_LIMIT = 600


@dataclass
class AssetOutcome:
    """What one asset did in a run."""

    key: str  # "servicetitan/jobs" or a dbt model's key
    status: str  # "materialized", "failed" or "skipped"
    metadata: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    partition: str | None = None  # the tenant (connection name) of a partitioned asset


@dataclass
class TenantOutcome:
    """What one tenant's part of a run did: the entities it synced, and why it failed."""

    name: str
    assets: list[AssetOutcome] = field(default_factory=list)  # its partition's materializations
    failures: list[str] = field(default_factory=list)  # the run's failure lines naming it

    @property
    def success(self) -> bool:
        return not self.failures

    def ingestion(self) -> list[AssetOutcome]:
        return [a for a in self.assets if a.key.startswith(f"{ASSET_KEY_PREFIX}/")]


@dataclass
class CheckOutcome:
    asset_key: str
    name: str
    passed: bool
    severity: str
    description: str = ""


@dataclass
class SyncOutcome:
    """The result of one run of the sync job."""

    success: bool
    run_id: str
    elapsed_seconds: float
    assets: list[AssetOutcome]
    checks: list[CheckOutcome]
    failures: list[str]  # one line per failed step: "<step>: <reason>"
    log_path: str | None = None  # the run's full output, dbt's log lines included
    # Wall time of the ingestion step (every entity of the run, synced side by side); None
    # when it did not succeed.
    ingestion_seconds: float | None = None
    # Per tenant of the run (connection name, in the file's order); empty: not partitioned.
    tenants: list[TenantOutcome] = field(default_factory=list)

    def ingestion(self) -> list[AssetOutcome]:
        """The ingestion assets' materializations (one per tenant of a partitioned asset)."""
        return [a for a in self.assets if a.key.startswith(f"{ASSET_KEY_PREFIX}/")]

    def failed_tenants(self) -> list[TenantOutcome]:
        return [t for t in self.tenants if not t.success]

    def failed_checks(self, severity: str | None = None) -> list[CheckOutcome]:
        return [
            c for c in self.checks if not c.passed and (severity is None or c.severity == severity)
        ]


def ingestion_asset_keys(entity_names: Sequence[str]) -> list[dg.AssetKey]:
    """Asset keys of the named entities, validating the names (clear error on a typo)."""
    return [dg.AssetKey(get_entity(name).asset_key_path) for name in entity_names]


def tenant_groups(known: Sequence[str], chosen: Sequence[str] | None) -> list[list[str]]:
    """``chosen`` (default: all of ``known``) as runs: consecutive partitions (in ``known``'s
    order) make one range, so one run; others one run per range.

    Raises:
        KeyError: naming a tenant that is not one of ``known``, and the known ones.
    """
    if chosen is None:
        return [list(known)]
    unknown = [name for name in chosen if name not in known]
    if unknown:
        raise KeyError(
            f"no connection named {', '.join(repr(n) for n in unknown)}; known: "
            + ", ".join(repr(n) for n in known)
        )
    wanted = set(chosen)
    groups: list[list[str]] = []
    previous = -2
    for position, name in enumerate(known):
        if name not in wanted:
            continue
        if position == previous + 1:
            groups[-1].append(name)
        else:
            groups.append([name])
        previous = position
    return groups


def run_sync(
    *,
    entities: Sequence[str] | None = None,
    full_refresh: bool = False,
    include_dbt: bool = True,
    instance: dg.DagsterInstance | None = None,
    log_level: str = "INFO",
    tags: dict[str, str] | None = None,
    tenants: Sequence[str] | None = None,
    progress_seconds: float | None = None,
) -> SyncOutcome:
    """Run the sync job in this process and return what it did.

    Args:
        entities: entity names to sync (default: those ``SERVICETITAN_ENTITIES`` selects,
            all unless it says otherwise). Any entity may be named, selected or not.
        full_refresh: rebuild the selected entities from scratch.
        include_dbt: also build the dbt models downstream of them.
        instance: Dagster instance to record the run in (default: an ephemeral one).
        log_level: level of the console log lines Dagster prints while the run goes.
        tags: extra run tags.
        tenants: connection names to sync (default: every connection, in one run). Names
            that are consecutive in the connections file sync in one run; otherwise one run
            per consecutive group, one after another, dbt building in the last.
        progress_seconds: how often the run log gets a progress line per entity still
            syncing (the ingestion step's ``progress_log_seconds``; default: its own).

    Raises:
        KeyError: ``tenants`` names a connection that does not exist (the known are listed).
    """
    # The deployment alone: the definitions (and dbt with them) only when a run needs them.
    from servicetitan_pipeline.defs.assembly import deployment

    groups = tenant_groups(deployment().tenants, tenants)
    outcomes = [
        _run_once(
            entities=entities,
            full_refresh=full_refresh,
            include_dbt=include_dbt and position == len(groups),
            instance=instance,
            log_level=log_level,
            tags={**(tags or {}), **_range_tags(group)},
            tenants=group,
            progress_seconds=progress_seconds,
        )
        for position, group in enumerate(groups, start=1)
    ]
    return outcomes[0] if len(outcomes) == 1 else merge_outcomes(outcomes)


def _range_tags(group: Sequence[str]) -> dict[str, str]:
    from servicetitan_pipeline.defs.tenants import partition_range_tags

    return partition_range_tags(group[0], group[-1])


def merge_outcomes(outcomes: Sequence[SyncOutcome]) -> SyncOutcome:
    """Several runs (one per group of tenants) as one outcome; the last run's id and log."""
    last = outcomes[-1]
    seconds = [o.ingestion_seconds for o in outcomes]
    return SyncOutcome(
        success=all(o.success for o in outcomes),
        run_id=last.run_id,
        elapsed_seconds=sum(o.elapsed_seconds for o in outcomes),
        assets=[a for o in outcomes for a in o.assets],
        checks=[c for o in outcomes for c in o.checks],
        failures=[f for o in outcomes for f in o.failures],
        log_path=next((o.log_path for o in reversed(outcomes) if o.log_path), None),
        ingestion_seconds=None if None in seconds else sum(s or 0.0 for s in seconds),
        tenants=[t for o in outcomes for t in o.tenants],
    )


def _run_once(
    *,
    entities: Sequence[str] | None,
    full_refresh: bool,
    include_dbt: bool,
    instance: dg.DagsterInstance | None,
    log_level: str,
    tags: dict[str, str],
    tenants: Sequence[str],
    progress_seconds: float | None = None,
) -> SyncOutcome:
    # Imported here: the definitions import the client and, with dbt, dbt-core and its
    # manifest (seconds); a run that builds no model gets them without the dbt layer.
    from servicetitan_pipeline.defs.assembly import build_definitions, deployment
    from servicetitan_pipeline.defs.ingestion import SYNC_OP_NAME, ingestion_run_config
    from servicetitan_pipeline.defs.jobs import SYNC_JOB_NAME

    defs = build_definitions(include_dbt=include_dbt)
    report_assets = deployment().report_assets
    names = list(entities) if entities else list(configured_entity_selection().names)
    # The job's own selection is SERVICETITAN_ENTITIES'; a run names its assets itself, so the
    # CLI's --select may reach entities outside it (the job's graph holds every asset).
    selection = ingestion_asset_keys(names)
    if {get_entity(name).name for name in names} == {entity.name for entity in ENTITIES}:
        # A sync of every entity pulls the configured reports too (their comparison checks
        # compare them with the reports dbt builds from those entities).
        selection += [key for asset in report_assets for key in asset.keys]
    if include_dbt:
        downstream = (
            dg.AssetSelection.assets(*selection).downstream().resolve(defs.resolve_asset_graph())
        )
        selection = sorted(set(selection) | set(downstream), key=lambda k: k.to_user_string())

    job = defs.resolve_job_def(SYNC_JOB_NAME)
    run_config = dict(ingestion_run_config(names, full_refresh=full_refresh))
    if progress_seconds is not None:  # progress wiring: the run log's progress lines
        run_config["ops"][SYNC_OP_NAME]["config"]["progress_log_seconds"] = progress_seconds
    run_config["loggers"] = {"console": {"config": {"log_level": log_level}}}

    # dagster-dbt echoes every dbt log line to stdout (in the UI that is the step's compute
    # log). On a terminal that drowns the per-entity lines, so while the run goes stdout goes
    # to a log file, and the run's own console logger keeps writing to the real stdout.
    run_id = str(uuid.uuid4())
    log_path = run_log_path(run_id)
    started = time.monotonic()
    with open(log_path, "w", encoding="utf-8") as log_file:
        with (
            run_logging.console_stream(sys.stdout, log_file=log_file),
            contextlib.redirect_stdout(log_file),
        ):
            result = job.execute_in_process(
                run_config=run_config,
                instance=instance,
                asset_selection=selection,
                raise_on_error=False,
                tags=tags,
                run_id=run_id,
            )
        write_failure_details(result, log_file)
    outcome = summarise(result, time.monotonic() - started, tenants=tenants)
    # The file has the run's log lines and dbt's output; point at it only when it says something.
    if log_path.stat().st_size:
        outcome.log_path = str(log_path)
    else:
        log_path.unlink()
    return outcome


@dataclass(frozen=True)
class FailedPart:
    """One failed step (or the run itself): its label, its error, and what the step said."""

    label: str  # the step key, or "run"
    error: Any  # Dagster's SerializableErrorInfo
    # The description of the dagster.Failure the step raised, if it raised one: the asset's
    # own account (a missing API scope names the scope and the fix), not only the cause's.
    description: str | None = None


def failed_parts(result: dg.ExecuteInProcessResult) -> list[FailedPart]:
    """Each failed step, and the run when it failed itself.

    A run fails itself, with no step failed, when its resources could not be initialised: its
    error is the only place that says why (Dagster's console line says only which resources).
    When a step failed, the run's failure repeats that step's error and is left out.
    """
    parts: list[FailedPart] = []
    run_parts: list[FailedPart] = []
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data.error is not None:
            user = event.step_failure_data.user_failure_data
            description = user.description if user is not None else None
            parts.append(
                FailedPart(str(event.step_key), event.step_failure_data.error, description)
            )
        elif event.is_run_failure:
            error = getattr(event.event_specific_data, "error", None)
            if error is not None:
                run_parts.append(FailedPart("run", error))
    return parts or run_parts


def write_failure_details(result: dg.ExecuteInProcessResult, out: TextIO) -> None:
    """Each failure's full error, causes and stack included (the summary has one line)."""
    for part in failed_parts(result):
        print(f"\n{part.label} failed:\n{part.error.to_string()}", file=out)


def run_log_path(run_id: str) -> Path:
    """Where a CLI run's full output (dbt's log lines included) is kept: next to the warehouse."""
    from servicetitan_pipeline.config import run_logs_directory

    return run_logs_directory() / f"run-{run_id[:8]}.log"


def summarise(
    result: dg.ExecuteInProcessResult, elapsed: float, *, tenants: Sequence[str] = ()
) -> SyncOutcome:
    """Turn an in-process run's events into a plain summary (per tenant of ``tenants``)."""
    assets: dict[tuple[str, str | None], AssetOutcome] = {}
    for event in result.get_asset_materialization_events():
        mat = event.step_materialization_data.materialization
        key = mat.asset_key.to_user_string()
        metadata = {k: _plain(v) for k, v in mat.metadata.items()}
        assets[key, mat.partition] = AssetOutcome(
            key=key,
            status="materialized",
            metadata=tenant_metadata(metadata, mat.partition),
            partition=mat.partition,
        )

    # dbt models left out of the build because tables they read do not exist yet.
    from servicetitan_pipeline.defs.dbt_selection import MISSING_UPSTREAM_KEY

    for event in result.get_asset_observation_events():
        observation = event.asset_observation_data.asset_observation
        if MISSING_UPSTREAM_KEY in observation.metadata:
            key = observation.asset_key.to_user_string()
            assets[key, None] = AssetOutcome(
                key=key,
                status="skipped",
                metadata={k: _plain(v) for k, v in observation.metadata.items()},
            )

    failures: list[str] = []
    for part in failed_parts(result):
        # The innermost cause carries the real reason when Dagster wraps a user error; a
        # dagster.Failure's description, when it has one, is the asset's account of it.
        error = part.error
        while error.cause is not None:
            error = error.cause
        if part.description and "\n" in part.description:
            # A step that failed for several reasons (the ingestion step: one line per entity
            # that failed, after a headline) gets one summary line per reason.
            failures += [
                f"{part.label}: {_one_line(line)}"
                for line in part.description.splitlines()[1:]
                if line.strip()
            ]
            continue
        reason = f"{error.cls_name}: {part.description}" if part.description else error.message
        failures.append(f"{part.label}: {_one_line(reason)}")
    failures += [
        f"{event.step_key}: failed"
        for event in result.all_events
        if event.is_step_failure and event.step_failure_data.error is None
    ]

    checks = [
        CheckOutcome(
            asset_key=ev.asset_key.to_user_string(),
            name=ev.check_name,
            passed=ev.passed,
            severity=ev.severity.value,
            description=str(ev.description or ""),
        )
        for ev in result.get_asset_check_evaluations()
    ]
    from servicetitan_pipeline.defs.ingestion import SYNC_OP_NAME

    ingestion_seconds = next(
        (
            event.step_success_data.duration_ms / 1000
            for event in result.all_events
            if event.is_step_success and event.step_key == SYNC_OP_NAME
        ),
        None,
    )
    ordered = sorted(assets.values(), key=lambda a: (a.key, _position(a.partition, tenants)))
    return SyncOutcome(
        success=result.success,
        run_id=result.run_id,
        elapsed_seconds=elapsed,
        assets=ordered,
        checks=checks,
        failures=failures,
        ingestion_seconds=ingestion_seconds,
        tenants=tenant_outcomes(tenants, ordered, failures, result.success),
    )


# A tenant's own figures in the ingestion's per-tenant table: its column -> the metadata key.
_PER_TENANT_COLUMNS = {
    "rows": "dagster/row_count",
    "inserted": "rows_inserted",
    "updated": "rows_updated",
    "deactivated": "rows_deactivated",
    "unchanged": "rows_unchanged",
    "rejected": "rows_rejected",
    "requests": "requests",
    "retries": "retries",
    "seconds": "duration_seconds",
}


def tenant_metadata(metadata: dict[str, Any], partition: str | None) -> dict[str, Any]:
    """The metadata of ``partition``'s materialization with that tenant's own figures.

    One materialization that covered several tenants (every one synced the entity) is
    recorded for each of their partitions with the run's totals, and each tenant's own
    numbers in its ``per_tenant`` table (Markdown); those replace the totals here, so that a
    tenant's block shows its own rows. Anything else is returned as it is.
    """
    table = metadata.get("per_tenant")
    if partition is None or not isinstance(table, str):
        return metadata
    lines = [line.strip() for line in table.splitlines() if line.strip().startswith("|")]
    if len(lines) < 3:
        return metadata
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    for line in lines[2:]:
        cells = [cell.strip().replace("\\|", "|") for cell in line.strip("|").split(" | ")]
        if len(cells) != len(header) or cells[0] != partition:
            continue
        own = dict(metadata)
        for column, value in zip(header, cells, strict=True):
            key = _PER_TENANT_COLUMNS.get(column)
            if key is not None:
                own[key] = _number(value)
        own.pop("pages", None)  # not in the table: the run's total would mislead
        return own
    return metadata


def _number(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return 0


def _position(partition: str | None, tenants: Sequence[str]) -> int:
    return tenants.index(partition) if partition in tenants else -1


def tenant_outcomes(
    tenants: Sequence[str],
    assets: Iterable[AssetOutcome],
    failures: Sequence[str],
    run_succeeded: bool,
) -> list[TenantOutcome]:
    """Per tenant: its partition's materializations and the failure lines that name it.

    A failure line names its tenant (the ingestion and report steps say ``north (tenant 1):
    ...`` or ``north: ...``); a failure of the run itself or of the ingestion step that names
    no tenant (the run's resources, the warehouse) is every tenant's.
    """
    outcomes = {name: TenantOutcome(name) for name in tenants}
    for asset in assets:
        if asset.partition in outcomes:
            outcomes[asset.partition].assets.append(asset)
    shared: list[str] = []
    for line in failures:
        named = [n for n in tenants if _names_tenant(line, n)]
        for name in named:
            outcomes[name].failures.append(line)
        if not named and line.startswith(_TENANT_WIDE_PARTS):
            shared.append(line)
    if not run_succeeded and shared:
        # The run (its resources, the warehouse) or the ingestion step as a whole failed,
        # naming no tenant: every tenant of the run failed with it.
        for outcome in outcomes.values():
            if not outcome.failures:
                outcome.failures.extend(shared)
    return list(outcomes.values())


# Failures of these parts that name no tenant are every tenant's (a dbt model's are not).
_TENANT_WIDE_PARTS = ("run: ", "servicetitan_ingestion: ")


def _names_tenant(line: str, name: str) -> bool:
    """Whether a failure line names the tenant ``name``: its reason starts with the tenant's
    label (``north (tenant 1000001): ...``, ``north: ...``) or it quotes the name."""
    _, _, reason = line.partition(": ")
    return f"'{name}'" in line or any(
        reason.startswith(f"{name}{after}") for after in (": ", " (tenant ")
    )


def _plain(value: Any) -> Any:
    """A metadata value as a plain Python value (MetadataValue wrappers unwrapped)."""
    return getattr(value, "value", value)


def _one_line(message: str) -> str:
    text = " ".join(str(message).split())
    # "servicetitan_pipeline.client.errors.AuthenticationError: ..." -> "AuthenticationError: ..."
    text = re.sub(r"^(?:[A-Za-z_][\w]*\.)+(?=[A-Za-z_]\w*: )", "", text)
    # Long enough for a missing scope's message, with its fix, to be read in full.
    return text if len(text) <= ONE_LINE_LIMIT else text[: ONE_LINE_LIMIT - 3] + "..."
