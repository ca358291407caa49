"""``servicetitan-pipeline sql``: the analysts' copy (or any file) opened read-only, SQL run."""

from __future__ import annotations

import argparse
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from servicetitan_pipeline.cli import sql
from servicetitan_pipeline.config import ANALYSTS_DUCKDB_PATH_ENV, DUCKDB_PATH_ENV
from servicetitan_pipeline.warehouse.publish import publish_analysts_copy


@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A warehouse and its analysts' copy, found through the settings as a user's would be."""
    path = tmp_path / "servicetitan.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.execute(
            "CREATE TABLE fct_invoices AS SELECT range AS invoice_id, "
            "CASE WHEN range = 2 THEN NULL ELSE range * 10.5 END AS total, "
            "'Customer ' || range AS customer FROM range(4)"
        )
        conn.execute("CREATE SCHEMA staging")
        conn.execute("CREATE VIEW staging.stg_x AS SELECT 1 AS x")
        publish_analysts_copy(conn, tmp_path / "servicetitan_analysts.duckdb", include_staging=True)
        # The warehouse moves on after the publication: the copy does not see this row.
        conn.execute("INSERT INTO fct_invoices VALUES (99, 1, 'later')")
    monkeypatch.setenv(DUCKDB_PATH_ENV, str(path))
    monkeypatch.delenv(ANALYSTS_DUCKDB_PATH_ENV, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env
    return path


def run_sql(*argv: str, stdin: str = "") -> tuple[int, str, str]:
    """``run()`` as the command line would call it; (exit status, stdout, stderr)."""
    # As servicetitan_pipeline.cli builds it: the subcommand's name lands in `command`.
    parser = argparse.ArgumentParser()
    subcommands = parser.add_subparsers(dest="command", required=True)
    sql.add_arguments(subcommands.add_parser("sql"))
    args = parser.parse_args(["sql", *argv])
    assert args.command == "sql"
    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdin, sys.stdout, sys.stderr
    sys.stdin, sys.stdout, sys.stderr = io.StringIO(stdin), out, err
    try:
        status = sql.run(args)
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved
    return status, out.getvalue(), err.getvalue()


def test_c_prints_an_aligned_table_of_the_analysts_copy(warehouse: Path) -> None:
    status, out, err = run_sql(
        "-c", "select invoice_id, total, customer from fct_invoices order by 1"
    )
    assert (status, err) == (0, "")
    assert out.splitlines() == [
        "invoice_id | total | customer",
        "-----------+-------+-----------",
        "         0 |   0.0 | Customer 0",
        "         1 |  10.5 | Customer 1",
        "         2 |  NULL | Customer 2",
        "         3 |  31.5 | Customer 3",
        "(4 rows)",
    ]  # the copy: the row the warehouse got afterwards is not in it


def test_statements_from_stdin_through_python_m(warehouse: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "servicetitan_pipeline.cli.sql"],
        input="select count(*) as n\n  from fct_invoices;\nselect 'two' as second;\n",
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "n",
        "-",
        "4",
        "(1 row)",
        "second",
        "------",
        "two",
        "(1 row)",
    ]


def test_dot_tables_and_schema(warehouse: Path) -> None:
    status, out, err = run_sql(stdin=".tables\n.schema fct_invoices\n.quit\nselect 'after quit';\n")
    assert (status, err) == (0, "")
    # Widths aside (the exact alignment is the -c test's): the words, and the rules' shape.
    lines = [re.sub(r"-+", "-", " ".join(line.split())) for line in out.splitlines()]
    assert lines == [
        "name | rows",
        "-+-",
        "analysts_copy_publication | 1",
        "fct_invoices | 4",
        "staging.stg_x | 1",
        "(3 rows)",
        "column | type | comment",
        "-+-+-",
        "invoice_id | BIGINT | NULL",
        f"total | {lines[9].split(' | ')[1]} | NULL",
        "customer | VARCHAR | NULL",
    ]
    assert lines[9].split(" | ")[1].startswith("DECIMAL")
    status, _, err = run_sql(stdin=".schema nothing_here\n")
    assert status == 1 and "no table or view named nothing_here" in err


def test_a_bad_statement_is_a_clear_error_and_exit_1(warehouse: Path) -> None:
    status, out, err = run_sql("-c", "select * from no_such_table")
    assert status == 1 and out == ""
    assert err.startswith("error: Catalog Error: Table with name no_such_table does not exist")
    # From stdin, the first error ends the script: what follows does not run.
    status, out, err = run_sql(stdin="select nope;\nselect 'after' as a;\n")
    assert status == 1 and "after" not in out and "nope" in err


def test_warehouse_opens_it_read_only(warehouse: Path) -> None:
    status, out, _ = run_sql("--warehouse", "-c", "select count(*) as n from fct_invoices")
    assert status == 0 and out.splitlines()[2].strip() == "5"  # the warehouse itself
    status, _, err = run_sql("--warehouse", "-c", "delete from fct_invoices")
    assert status == 1 and "read-only" in err
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        assert conn.execute("select count(*) from fct_invoices").fetchone() == (5,)


def test_database_opens_any_file_read_only(warehouse: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.duckdb"
    with duckdb.connect(str(other)) as conn:
        conn.execute("create table t as select 42 as answer")
    status, out, _ = run_sql("--database", str(other), "-c", "select answer from t")
    assert status == 0 and "42" in out
    status, _, err = run_sql("--database", str(other), "-c", "create table u (i int)")
    assert status == 1 and "read-only" in err


def test_no_copy_yet_says_what_to_do(warehouse: Path, tmp_path: Path) -> None:
    (tmp_path / "servicetitan_analysts.duckdb").unlink()
    status, _, err = run_sql("-c", "select 1")
    assert status == 2
    assert "no analysts' copy at" in err and "--warehouse" in err


def test_a_warehouse_being_written_is_named(warehouse: Path) -> None:
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(warehouse)!r}); "
            "print('open', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "open"
        status, _, err = run_sql("--warehouse", "-c", "select 1")
        # The analysts' copy is not locked by the writer.
        copy_status, copy_out, _ = run_sql("-c", "select count(*) as n from fct_invoices")
    finally:
        writer.kill()
        writer.wait()
    assert status == 2 and f"PID {writer.pid} (python" in err and "analysts' copy" in err
    assert copy_status == 0 and copy_out.splitlines()[2].strip() == "4"
