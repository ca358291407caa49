"""A warehouse file that can never open fails the run in seconds, naming it (issue #10, case 16).

dagster-duckdb's resource retried every failed open ten times with a growing backoff, and the
job's retry policy retried each step twice more: garbage bytes at ``SERVICETITAN_DUCKDB_PATH``
took minutes per entity to fail, silently. Here the real sync job (its assets, checks and
retry policy) runs against such files with the hostile server as ServiceTitan.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from hostile_resources import hostile_resource
from hostile_server import HostileServer

from servicetitan_pipeline.cli.runner import summarise
from servicetitan_pipeline.defs.checks import build_ingestion_checks
from servicetitan_pipeline.defs.ingestion import build_ingestion_assets, ingestion_run_config
from servicetitan_pipeline.defs.jobs import SYNC_JOB_NAME, TRANSIENT_RETRY_POLICY, build_sync_job
from servicetitan_pipeline.defs.resources import WarehouseResource
from servicetitan_pipeline.entities import get_entity

# Dagster's own start-up included; the old code took minutes.
BOUND_SECONDS = 15.0


def run_sync_job(
    server: HostileServer,
    warehouse: WarehouseResource,
    names: list[str],
    instance: dg.DagsterInstance | None = None,
) -> dg.ExecuteInProcessResult:
    """The sync job of ``names`` (their assets and checks, the retry policy), in process."""
    entities = [get_entity(name) for name in names]
    defs = dg.Definitions(
        assets=build_ingestion_assets(entities),
        asset_checks=build_ingestion_checks(entities),
        jobs=[build_sync_job()],
        resources={"servicetitan": hostile_resource(server), "duckdb": warehouse},
    )
    return defs.resolve_job_def(SYNC_JOB_NAME).execute_in_process(
        run_config=ingestion_run_config(names), raise_on_error=False, instance=instance
    )


def test_garbage_at_the_warehouse_path_fails_the_run_at_once_in_one_line(
    hostile_server: Callable[..., HostileServer], tmp_path: Path
) -> None:
    server = hostile_server()
    database = tmp_path / "warehouse.duckdb"
    database.write_bytes(b"not a database, " * 1000)

    started = time.monotonic()
    result = run_sync_job(
        server, WarehouseResource(database=str(database)), ["customers", "jobs", "invoices"]
    )
    elapsed = time.monotonic() - started

    assert not result.success and elapsed < BOUND_SECONDS
    outcome = summarise(result, elapsed)
    (failure,) = outcome.failures
    assert failure == (
        f"run: WarehouseFileError: SERVICETITAN_DUCKDB_PATH: {database} is not a DuckDB "
        "database; move it aside for a new one (the next sync reads every entity again)"
    )
    assert server.api_requests() == []  # failed before any request
    assert database.read_bytes() == b"not a database, " * 1000  # left as it was


def test_a_file_spoiled_during_a_run_fails_its_step_once_without_retries(tmp_path: Path) -> None:
    # The resource's setup saw a good file; the step's own open finds garbage.
    database = tmp_path / "warehouse.duckdb"

    @dg.asset
    def writes_the_warehouse(duckdb: WarehouseResource) -> None:
        database.write_bytes(b"\x00garbage" * 600)
        with duckdb.get_connection():
            pass

    defs = dg.Definitions(
        assets=[writes_the_warehouse],
        jobs=[dg.define_asset_job("j", op_retry_policy=TRANSIENT_RETRY_POLICY)],
        resources={"duckdb": WarehouseResource(database=str(database))},
    )
    started = time.monotonic()
    run = defs.resolve_job_def("j").execute_in_process(raise_on_error=False)
    assert time.monotonic() - started < BOUND_SECONDS
    assert not run.success
    assert [
        e for e in run.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY
    ] == []
    (failure,) = summarise(run, 0).failures
    assert failure.startswith(
        f"writes_the_warehouse: WarehouseFileError: SERVICETITAN_DUCKDB_PATH: {database} is not"
    )


def test_a_step_waits_for_another_process_holding_the_file_then_syncs(
    hostile_server: Callable[..., HostileServer], tmp_path: Path
) -> None:
    server = hostile_server()
    database = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(database)).close()
    instance = dg.DagsterInstance.ephemeral()
    # A DuckDB shell with the file open for a moment, after the run's setup has looked at it.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time, duckdb\n"
            f"conn = duckdb.connect({str(database)!r})\n"
            "print('open', flush=True); time.sleep(1.5)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        started = time.monotonic()
        result = run_sync_job(
            server, WarehouseResource(database=str(database)), ["customers"], instance
        )
        elapsed = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    assert result.success, summarise(result, elapsed).failures
    assert elapsed < BOUND_SECONDS
    messages = [
        entry.user_message
        for entry in instance.all_logs(result.run_id)
        if "DuckDB's lock" in entry.user_message
    ]
    assert messages and f"PID {holder.pid}" in messages[0]
    with duckdb.connect(str(database), read_only=True) as conn:
        (rows,) = conn.execute("SELECT count(*) FROM raw_servicetitan.customers").fetchone()
    assert rows > 0


def test_the_dbt_build_on_an_unusable_file_fails_once_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A run of the dbt models alone (from the UI) needs no DuckDB resource: dbt opens the file.
    from dagster_dbt import DbtCliResource

    from servicetitan_pipeline.config import dbt_executable
    from servicetitan_pipeline.defs.dbt import servicetitan_dbt_assets
    from servicetitan_pipeline.defs.dbt_project import dbt_project

    database = tmp_path / "warehouse.duckdb"
    database.write_bytes(b"\x00garbage" * 600)
    monkeypatch.setenv("SERVICETITAN_DUCKDB_PATH", str(database))
    defs = dg.Definitions(
        assets=[servicetitan_dbt_assets],
        jobs=[dg.define_asset_job("dbt_only", op_retry_policy=TRANSIENT_RETRY_POLICY)],
        resources={"dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable())},
    )
    started = time.monotonic()
    run = defs.resolve_job_def("dbt_only").execute_in_process(raise_on_error=False)
    assert time.monotonic() - started < BOUND_SECONDS
    assert [
        e for e in run.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY
    ] == []
    (failure,) = summarise(run, 0).failures
    assert f"WarehouseFileError: SERVICETITAN_DUCKDB_PATH: {database} is not a DuckDB" in failure
