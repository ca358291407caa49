"""The code location: loads, validates, and wires the job and schedule to the right assets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from servicetitan_pipeline.defs.jobs import (
    SYNC_JOB_NAME,
    SYNC_SCHEDULE_NAME,
    TRANSIENT_RETRY_POLICY,
    WAREHOUSE_POOL,
    ScheduleSettingsError,
    build_sync_job,
    build_sync_schedule,
)
from servicetitan_pipeline.entities import ENTITIES

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def defs():
    from servicetitan_pipeline.defs.definitions import defs

    return defs


def test_dagster_definitions_validate_on_the_workspace():
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERVICETITAN_")}
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "dagster"),
            "definitions",
            "validate",
            "-w",
            str(REPO / "workspace.yaml"),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_one_ingestion_asset_per_entity_with_a_description(defs):
    graph = defs.resolve_asset_graph()
    for entity in ENTITIES:
        key = dg.AssetKey(entity.asset_key_path)
        assert graph.has(key), key
        node = graph.get(key)
        assert node.description and entity.description.split(":")[0] in node.description


def test_dbt_models_read_from_the_ingestion_assets(defs):
    graph = defs.resolve_asset_graph()
    for entity in ENTITIES:
        key = dg.AssetKey(entity.asset_key_path)
        downstream = {k.to_user_string() for k in graph.get(key).child_keys}
        assert any(f"stg_servicetitan__{entity.name}" in k for k in downstream), (
            entity.name,
            downstream,
        )


def test_the_sync_job_targets_every_asset_in_one_process(defs):
    job = defs.resolve_job_def(SYNC_JOB_NAME)
    graph = defs.resolve_asset_graph()
    assert job.executor_def is dg.in_process_executor or job.executor_def.name == "in_process"
    selected = job.asset_layer.selected_asset_keys
    assert selected == set(graph.get_all_asset_keys() - graph.external_asset_keys)
    assert job.op_retry_policy is not None and job.op_retry_policy.max_retries >= 1


def test_every_warehouse_writer_is_in_the_duckdb_pool(defs):
    graph = defs.resolve_asset_graph()
    for key in graph.materializable_asset_keys:
        assert WAREHOUSE_POOL in graph.get(key).pools, key


def test_the_schedule_runs_the_job_hourly_by_default(defs):
    schedule = defs.resolve_schedule_def(SYNC_SCHEDULE_NAME)
    assert schedule.job_name == SYNC_JOB_NAME
    assert schedule.cron_schedule == "0 * * * *"
    assert schedule.execution_timezone == "UTC"


def test_schedule_cron_and_timezone_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("SERVICETITAN_SYNC_CRON", "30 5 * * *")
    monkeypatch.setenv("SERVICETITAN_SYNC_TIMEZONE", "America/Chicago")
    monkeypatch.setenv("SERVICETITAN_SYNC_SCHEDULE", "stopped")
    schedule = build_sync_schedule(build_sync_job())
    assert schedule.cron_schedule == "30 5 * * *"
    assert schedule.execution_timezone == "America/Chicago"
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SERVICETITAN_SYNC_CRON", "every hour"),
        ("SERVICETITAN_SYNC_TIMEZONE", "Mars/Olympus"),
        ("SERVICETITAN_SYNC_SCHEDULE", "sometimes"),
    ],
)
def test_bad_schedule_settings_name_the_setting(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ScheduleSettingsError, match=name):
        build_sync_schedule(build_sync_job())


def test_only_transient_failures_are_worth_a_retry():
    from servicetitan_pipeline.client import (
        AuthenticationError,
        PermissionDeniedError,
        RetriesExhaustedError,
        SettingsError,
    )
    from servicetitan_pipeline.defs.jobs import is_transient
    from servicetitan_pipeline.warehouse.locking import WarehouseBusyError

    assert is_transient(RetriesExhaustedError("503 x6", attempts=6, waited_seconds=60.0))
    assert is_transient(WarehouseBusyError("held by run abc"))
    assert is_transient(OSError("connection reset"))
    assert not is_transient(AuthenticationError("invalid_client"))
    assert not is_transient(PermissionDeniedError("403: no Accounting scope"))
    assert not is_transient(SettingsError("SERVICETITAN_TENANT_ID must be a positive integer"))


def test_transient_failures_are_retried_after_30_then_60_seconds():
    # What README.md promises. Dagster asks the policy for the wait before retry n as
    # calculate_delay(n) (execution/plan/utils.py: previous_attempt_count + 1); no jitter, so
    # these are the exact waits.
    policy = TRANSIENT_RETRY_POLICY
    assert policy.max_retries == 2
    assert [policy.calculate_delay(n) for n in (1, 2)] == [30, 60]
    assert build_sync_job().op_retry_policy is policy
