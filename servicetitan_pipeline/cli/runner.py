"""Run the sync job in-process, exactly as the UI would, and summarise what happened.

Used by ``servicetitan-pipeline sync``, ``demo`` and ``dev`` (to seed its warehouse). The job
is the one in ``definitions.defs``: same assets, checks, resources and retry policy as a run
launched from the Dagster UI or the schedule; only the executor is Dagster's in-process one.
"""

from __future__ import annotations

import contextlib
import re
import sys
import time
import uuid
from collections.abc import Sequence
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

    def ingestion(self) -> list[AssetOutcome]:
        return [a for a in self.assets if a.key.startswith(f"{ASSET_KEY_PREFIX}/")]

    def failed_checks(self, severity: str | None = None) -> list[CheckOutcome]:
        return [
            c for c in self.checks if not c.passed and (severity is None or c.severity == severity)
        ]


def ingestion_asset_keys(entity_names: Sequence[str]) -> list[dg.AssetKey]:
    """Asset keys of the named entities, validating the names (clear error on a typo)."""
    return [dg.AssetKey(get_entity(name).asset_key_path) for name in entity_names]


def run_sync(
    *,
    entities: Sequence[str] | None = None,
    full_refresh: bool = False,
    include_dbt: bool = True,
    instance: dg.DagsterInstance | None = None,
    log_level: str = "INFO",
    tags: dict[str, str] | None = None,
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
    """
    # Imported here: loading the definitions imports Dagster, dbt's manifest and the client.
    from servicetitan_pipeline.defs.definitions import defs, report_assets
    from servicetitan_pipeline.defs.ingestion import ingestion_run_config
    from servicetitan_pipeline.defs.jobs import SYNC_JOB_NAME

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
    outcome = summarise(result, time.monotonic() - started)
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


def summarise(result: dg.ExecuteInProcessResult, elapsed: float) -> SyncOutcome:
    """Turn an in-process run's events into a plain summary."""
    assets: dict[str, AssetOutcome] = {}
    for event in result.get_asset_materialization_events():
        mat = event.step_materialization_data.materialization
        key = mat.asset_key.to_user_string()
        assets[key] = AssetOutcome(
            key=key,
            status="materialized",
            metadata={k: _plain(v) for k, v in mat.metadata.items()},
        )

    # dbt models left out of the build because tables they read do not exist yet.
    from servicetitan_pipeline.defs.dbt import MISSING_UPSTREAM_KEY

    for event in result.get_asset_observation_events():
        observation = event.asset_observation_data.asset_observation
        if MISSING_UPSTREAM_KEY in observation.metadata:
            key = observation.asset_key.to_user_string()
            assets[key] = AssetOutcome(
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
    return SyncOutcome(
        success=result.success,
        run_id=result.run_id,
        elapsed_seconds=elapsed,
        assets=sorted(assets.values(), key=lambda a: a.key),
        checks=checks,
        failures=failures,
        ingestion_seconds=ingestion_seconds,
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
