"""`sync` with a warehouse file that can never open ends in seconds, in one line naming it
(issue #10, case 16): before, each entity took minutes of silent retries to fail."""

from __future__ import annotations

import gzip
import time
from pathlib import Path

import duckdb
import pytest


def _garbage(path: Path) -> None:
    path.write_bytes(b"this is not a database\n" * 500)


def _cut_in_half(path: Path) -> None:
    # A copy that stopped half-way: DuckDB opens it and only fails on the blocks it lacks.
    with duckdb.connect(str(path)) as conn:
        conn.execute("CREATE TABLE t AS SELECT range AS a, 'x' || range AS b FROM range(100000)")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _written_by_duckdb_2_0_1(path: Path) -> None:
    # What a user upgrading from a release on DuckDB 2.0.1 has (tests/fixtures/README.md).
    fixture = Path(__file__).parents[1] / "fixtures" / "warehouse-written-by-duckdb-2.0.1.duckdb.gz"
    path.write_bytes(gzip.decompress(fixture.read_bytes()))


@pytest.mark.parametrize(
    ("spoil", "cause"),
    [
        (_garbage, "is not a DuckDB database"),
        (_cut_in_half, "is truncated or corrupt"),
        (
            _written_by_duckdb_2_0_1,
            "was written by DuckDB 2.0.1 (storage version 999), which this release's DuckDB "
            f"{duckdb.__version__} cannot read; move it aside (mv ",
        ),
    ],
    ids=["garbage", "truncated", "duckdb-2.0.1"],
)
def test_sync_against_an_unusable_warehouse_file_fails_in_one_line_naming_it(
    simulator_env, run_cli, tmp_path, spoil, cause
):
    _, env = simulator_env
    database = tmp_path / "spoiled.duckdb"
    spoil(database)
    before = database.read_bytes()
    env["SERVICETITAN_DUCKDB_PATH"] = str(database)

    started = time.monotonic()
    result = run_cli("sync", env=env, cwd=tmp_path, timeout=60)
    elapsed = time.monotonic() - started

    assert result.returncode == 2, result.stderr
    assert elapsed < 20
    assert "Traceback" not in result.stderr + result.stdout
    errors = [line for line in result.stderr.splitlines() if not line.startswith("settings: ")]
    (error,) = errors
    assert error.startswith(f"servicetitan-pipeline sync: SERVICETITAN_DUCKDB_PATH: {database} ")
    assert cause in error and "; " in error  # the cause, then what to do
    assert result.stdout == ""  # no run started
    assert database.read_bytes() == before  # left as it was, for the user to look at
