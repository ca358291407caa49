"""``servicetitan-pipeline sync`` shows progress: with stdout not a terminal (as in CI), plain
lines per entity while it syncs and when it ends, the list entity's with ServiceTitan's total;
and the Dagster run log (the UI's) has the ingestion step's own progress lines.

One CLI run, raw layer only, against a small simulated tenant whose answers take 0.3 s (about
what the real API takes per page) and whose export pages are small, so that customers take a
few pages and a second or two: long enough for lines to fall due at ``--progress-every 0``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


@pytest.fixture
def slow_simulator_env(tmp_path, cli_env_for):
    from servicetitan_pipeline.simulator import FaultConfig, SimulatorConfig, start_simulator

    config = SimulatorConfig(
        customers=60, seed=5, export_page_size=15, faults=FaultConfig(latency_seconds=0.3)
    )
    with start_simulator(config) as sim:
        yield sim, cli_env_for(sim, tmp_path)


def test_sync_prints_plain_progress_lines_and_the_run_log_has_them(
    slow_simulator_env, tmp_path, run_cli
):
    import dagster as dg

    sim, env = slow_simulator_env
    result = run_cli(
        "sync",
        "--select",
        "customers,job_types",
        "--no-dbt",
        "--progress-every",
        "0",
        env=env,
        cwd=tmp_path,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert "\x1b" not in result.stdout  # not a terminal: no live display

    customers = len(sim.truth("customers"))
    pages = -(-customers // 15)
    progress = [line for line in lines if line.startswith("e2e: customers: ")]
    assert progress[-1].startswith(f"e2e: customers: done: {customers} records, {pages} pages, "), (
        result.stdout
    )
    running = re.compile(r"e2e: customers: \d+ records, \d+ pages?, \d+ records/s, [\d.]+s")
    assert any(running.fullmatch(line) for line in progress[:-1]), result.stdout
    # A list endpoint: ServiceTitan's totalCount, asked with includeTotal.
    job_types = len(sim.truth("job_types"))
    assert any(
        line.startswith(f"e2e: job_types: done: {job_types} of {job_types} records")
        for line in lines
    ), result.stdout

    # The same lines, from the ingestion step, in the run's Dagster event log (the UI's).
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        (run,) = instance.get_runs()
        messages = [entry.user_message for entry in instance.all_logs(run.run_id)]
    stepped = [m for m in messages if re.fullmatch(r"customers: \d+ records, \d+ pages?, .*", m)]
    assert stepped, messages
    assert Path(env["SERVICETITAN_DUCKDB_PATH"]).exists()
