"""A reader holding the warehouse itself: the run says so at once, names it, and fails whole.

The reader is an analyst's read-only connection in another process (``analyst_process``), as a
``duckdb -readonly`` shell, DBeaver or a notebook would hold it. The run is a small Dagster job
whose asset opens the warehouse through the real ``WarehouseResource``, with a short lock wait.
"""

from __future__ import annotations

import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from analyst_process import Analyst

from servicetitan_pipeline.cli.runner import ONE_LINE_LIMIT, summarise
from servicetitan_pipeline.defs.resources import WarehouseResource
from servicetitan_pipeline.warehouse.locking import WarehouseBusyError
from servicetitan_pipeline.warehouse.opening import lock_holder, wait_for_other_processes

LOCK_WAIT_SECONDS = 3.0


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "servicetitan.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.execute("CREATE TABLE fct_orders AS SELECT range AS order_id FROM range(5)")
    return path


def test_a_run_meeting_a_reader_says_so_at_once_naming_it_and_fails_whole(
    warehouse: Path,
) -> None:
    @dg.asset
    def writes_the_warehouse(duckdb: WarehouseResource) -> None:
        with duckdb.get_connection() as conn:
            conn.execute("INSERT INTO fct_orders VALUES (99)")

    defs = dg.Definitions(
        assets=[writes_the_warehouse],
        resources={
            "duckdb": WarehouseResource(
                database=str(warehouse), lock_wait_seconds=LOCK_WAIT_SECONDS
            )
        },
    )
    instance = dg.DagsterInstance.ephemeral()
    with Analyst(warehouse) as analyst:
        started = time.time()
        result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
            raise_on_error=False, instance=instance
        )
        elapsed = time.time() - started
        logs = instance.all_logs(result.run_id)
        waits = [
            e for e in logs if "DuckDB's lock" in e.user_message and "waiting" in e.user_message
        ]
        step_start = next(
            e.timestamp
            for e in logs
            if e.dagster_event is not None
            and e.dagster_event.event_type == dg.DagsterEventType.STEP_START
        )
        assert analyst.query("SELECT count(*) FROM fct_orders") == [[5]]  # unharmed
    assert not result.success
    # Said at once: within a second or two of the step's start, not after a long back-off.
    assert waits and waits[0].timestamp - step_start < 2.0
    message = waits[0].user_message
    assert f"PID {analyst.pid}" in message
    assert "python" in message and "-c" in message  # the holder's command line
    assert "analysts' copy" in message
    assert elapsed < LOCK_WAIT_SECONDS + 20
    # The failure: whole (a sentence that ends), short enough for the CLI's one line.
    (failure,) = summarise(result, elapsed).failures
    assert failure.startswith("writes_the_warehouse: WarehouseBusyError: gave up after 3s")
    assert f"PID {analyst.pid}" in failure and failure.endswith(".")
    assert len(failure) < ONE_LINE_LIMIT and not failure.endswith("...")


def test_a_writer_that_opens_the_file_itself_waits_first_naming_the_reader(
    warehouse: Path,
) -> None:
    # dbt-duckdb opens the warehouse itself, once: the dbt step waits here first.
    told: list[str] = []
    with Analyst(warehouse) as analyst:
        started = time.monotonic()
        with pytest.raises(WarehouseBusyError, match=rf"PID {analyst.pid} \(python"):
            wait_for_other_processes(warehouse, lock_wait_seconds=0.5, on_wait=told.append)
        assert time.monotonic() - started < 5
    assert len(told) == 1 and f"PID {analyst.pid}" in told[0]
    # Once the reader is gone, it returns at once, and leaves no connection open.
    wait_for_other_processes(warehouse, lock_wait_seconds=0.5, on_wait=told.append)
    duckdb.connect(str(warehouse)).close()
    assert len(told) == 1


def test_the_holder_is_named_without_the_secrets_of_its_command_line(warehouse: Path) -> None:
    with Analyst(warehouse, "--password", "hunter2", "token=abc123", "notebook.ipynb") as analyst:
        try:
            duckdb.connect(str(warehouse))
        except duckdb.IOException as exc:
            holder = lock_holder(exc)
        else:
            raise AssertionError("the writer opened a file another process holds")
    assert holder.startswith(f"PID {analyst.pid} (python")
    assert "--password *** token=*** notebook.ipynb" in holder
    assert "hunter2" not in holder and "abc123" not in holder
    assert len(holder) < 200  # the script's long -c argument is shortened


def test_a_holder_that_cannot_be_read_is_named_by_duckdb_s_words() -> None:
    error = duckdb.IOException(
        'IO Error: Could not set lock on file "/x": Conflicting lock is held in '
        "/usr/bin/python3 (PID 999999999). However, ..."
    )
    assert lock_holder(error) == "PID 999999999 (/usr/bin/python3)"
    assert lock_holder(duckdb.IOException("something else")) == "another process"
