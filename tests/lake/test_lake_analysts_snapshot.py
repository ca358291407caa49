"""An analyst on the DuckLake warehouse: a read-only lake connection held open across a dbt build.

The analyst is ``servicetitan-pipeline sql`` in lake mode, in a process of its own, fed one
statement at a time on its stdin (a notebook or a shell left open). It starts a transaction and
reads a mart; meanwhile the pipeline's side adds a raw record and runs a real ``dbt build``,
which drops and recreates that mart in the lake. Both must succeed, neither waiting for the
other; the analyst's transaction must keep reading the snapshot it began on, while any new
read sees the new build; and after the analyst commits, its next statement sees the new build.

The raw layer is the dbt tests' hand-built records (``tests/dbt/dbt_fixture_records.py``),
written into a DuckDB file and copied into the lake.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from postgres_server import lake_environment
from test_lake_dbt_build import run_dbt

from servicetitan_pipeline.warehouse.lake import LakeSettings, connect_lake

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dbt"))
from dbt_fixture_records import create_raw_layer  # needs the path above

# The whole dbt build with a few minutes to spare on a loaded 2-core machine.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]
# fct_payments with what it reads, and its own tests.
SELECTION = ["--select", "+fct_payments", "--indirect-selection", "cautious"]
COUNT = "select count(*) as n from fct_payments;"


class LakeAnalyst:
    """``servicetitan-pipeline sql`` on the lake, read-only, answering one statement at a time."""

    def __init__(self, lake: LakeSettings) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "servicetitan_pipeline.cli.sql"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **lake_environment(lake), "PYTHONUNBUFFERED": "1"},
        )

    def run(self, statement: str) -> list[str]:
        """Send one statement; the lines the shell prints for it, up to its ``(N rows)``."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(statement + "\n")
        self.process.stdin.flush()
        lines: list[str] = []
        while not (lines and lines[-1].startswith("(")):
            line = self.process.stdout.readline()
            assert line, f"the analyst's shell ended: {self.finish()}"
            lines.append(line.rstrip("\n"))
        return lines

    def scalar(self, statement: str) -> int:
        """The one value of a one-row, one-column result, as the shell prints it."""
        lines = self.run(statement)
        assert len(lines) == 4 and lines[3] == "(1 row)", lines
        return int(lines[2])

    def finish(self) -> tuple[int, str]:
        """Close stdin (the shell's end of input); its exit status and stderr."""
        _, err = self.process.communicate(timeout=60)
        return self.process.returncode, err


@pytest.fixture
def built_lake(lake: LakeSettings, tmp_path: Path) -> LakeSettings:
    """The fixture's raw layer in ``lake`` and ``fct_payments`` built on it by dbt."""
    file = tmp_path / "raw.duckdb"
    create_raw_layer(str(file))
    conn = connect_lake(lake)
    try:
        conn.execute(f"ATTACH '{file}' AS file (READ_ONLY)")
        conn.execute("BEGIN TRANSACTION")
        conn.execute("CREATE SCHEMA lake.raw_servicetitan")
        for table in ("customers", "payments"):
            conn.execute(
                f"CREATE TABLE lake.raw_servicetitan.{table} AS "
                f"SELECT * FROM file.raw_servicetitan.{table}"
            )
        conn.execute("COMMIT")
    finally:
        conn.close()
    # One target folder for both builds: the second one parses partially (a full parse of the
    # project costs half a minute here).
    first = run_dbt(["build", *SELECTION], tmp_path / "target", lake_environment(lake))
    assert first.returncode == 0, first.stdout + first.stderr
    return lake


@pytest.fixture
def analyst(built_lake: LakeSettings) -> Iterator[LakeAnalyst]:
    shell = LakeAnalyst(built_lake)
    yield shell
    if shell.process.poll() is None:
        shell.process.kill()
        shell.process.wait()


def fresh_count(lake: LakeSettings) -> int:
    conn = connect_lake(lake, read_only=True)
    try:
        row = conn.execute(COUNT.rstrip(";")).fetchone()
    finally:
        conn.close()
    assert row is not None
    return int(row[0])


def test_a_reader_keeps_its_snapshot_across_a_dbt_build_and_sees_the_next_after(
    built_lake: LakeSettings, analyst: LakeAnalyst, tmp_path: Path
) -> None:
    analyst.run("BEGIN TRANSACTION;")
    before = analyst.scalar(COUNT)
    assert before > 0

    # The pipeline's side: a new payment lands in the raw layer, then dbt rebuilds the mart
    # (DROP and CREATE in the lake) while the analyst's transaction is open.
    writer = connect_lake(built_lake)
    try:
        writer.execute(
            "INSERT INTO raw_servicetitan.payments "
            # loaded now, as a sync writes it: fct_payments reads what was loaded since
            "SELECT * REPLACE (id + 1000000 AS id, now() AS _loaded_at) "
            "FROM raw_servicetitan.payments "
            "ORDER BY id LIMIT 1"
        )
    finally:
        writer.close()
    # The mart alone: the views it reads are there from the first build, and read raw live.
    second = run_dbt(
        ["build", "--select", "fct_payments", "--indirect-selection", "cautious"],
        tmp_path / "target",
        lake_environment(built_lake),
    )
    assert second.returncode == 0, second.stdout + second.stderr
    assert fresh_count(built_lake) == before + 1  # a new reader sees the new build

    assert analyst.scalar(COUNT) == before  # the open transaction: its own snapshot, whole
    analyst.run("COMMIT;")
    assert analyst.scalar(COUNT) == before + 1  # the next statement: the last snapshot
    status, err = analyst.finish()
    assert (status, err) == (0, "")
