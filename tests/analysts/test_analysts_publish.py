"""``warehouse.publish``: what the analysts' copy holds, and how it replaces the previous one."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from analyst_process import Analyst

from servicetitan_pipeline.config import (
    ANALYSTS_DUCKDB_PATH_ENV,
    ConfigError,
    analysts_duckdb_path,
)
from servicetitan_pipeline.warehouse.publish import (
    PUBLICATION_TABLE,
    publish_analysts_copy,
    temporary_path_for,
)


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A warehouse with what dbt builds: marts and reports in main, staging views, and the raw
    and intermediate layers analysts do not get."""
    conn = duckdb.connect(str(tmp_path / "servicetitan.duckdb"))
    conn.execute(
        "CREATE SCHEMA raw_servicetitan; CREATE SCHEMA staging; CREATE SCHEMA intermediate"
    )
    conn.execute("CREATE TABLE raw_servicetitan.jobs AS SELECT range AS id FROM range(30)")
    conn.execute("CREATE VIEW staging.stg_jobs AS SELECT id AS job_id FROM raw_servicetitan.jobs")
    conn.execute("CREATE VIEW intermediate.int_jobs AS SELECT job_id FROM staging.stg_jobs")
    conn.execute(
        "CREATE TABLE fct_jobs AS SELECT job_id, 'Job ''' || job_id || '''' AS name, "
        "job_id * 1.5 AS amount FROM intermediate.int_jobs"
    )
    conn.execute("COMMENT ON TABLE fct_jobs IS 'Jobs, one row per job; the analyst''s table.'")
    conn.execute("COMMENT ON COLUMN fct_jobs.amount IS 'In dollars.'")
    conn.execute("CREATE VIEW rpt_jobs AS SELECT count(*) AS jobs FROM fct_jobs")
    yield conn
    conn.close()


def test_the_copy_holds_the_marts_reports_and_staging_as_tables_with_their_descriptions(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    target = tmp_path / "servicetitan_analysts.duckdb"
    copy = publish_analysts_copy(warehouse, target, include_staging=True)

    assert copy.path == target
    assert copy.rows == {"main.fct_jobs": 30, "main.rpt_jobs": 1, "staging.stg_jobs": 30}
    assert copy.bytes == target.stat().st_size and copy.seconds > 0
    with duckdb.connect(str(target), read_only=True) as conn:
        relations = conn.execute(
            "SELECT schema_name || '.' || table_name FROM duckdb_tables() ORDER BY 1"
        ).fetchall()
        assert relations == [
            ("main.analysts_copy_publication",),
            ("main.fct_jobs",),
            ("main.rpt_jobs",),  # a view in the warehouse, a table here: its sources are not
            ("staging.stg_jobs",),
        ]
        assert conn.execute(
            "SELECT count(*) FROM duckdb_views() WHERE NOT internal"
        ).fetchone() == (0,)
        assert conn.execute("SELECT sum(amount), max(name) FROM fct_jobs").fetchone() == (
            warehouse.execute("SELECT sum(amount), max(name) FROM fct_jobs").fetchone()
        )
        assert conn.execute(
            "SELECT comment FROM duckdb_tables() WHERE table_name = 'fct_jobs'"
        ).fetchone() == ("Jobs, one row per job; the analyst's table.",)
        assert conn.execute(
            "SELECT comment FROM duckdb_columns() WHERE table_name = 'fct_jobs' "
            "AND column_name = 'amount'"
        ).fetchone() == ("In dollars.",)
        (relations_count, total_rows) = conn.execute(
            f"SELECT relations, total_rows FROM {PUBLICATION_TABLE}"
        ).fetchone() or (None, None)
        assert (relations_count, total_rows) == (3, 61)
    # Read-only on disk; nothing left beside it; the warehouse connection is as it was.
    assert not stat.S_IMODE(target.stat().st_mode) & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    # (The warehouse's own .wal may be there: its connection is still open.)
    assert {p.name for p in tmp_path.iterdir()} - {"servicetitan.duckdb.wal"} == {
        "servicetitan.duckdb",
        "servicetitan_analysts.duckdb",
    }
    assert [
        d
        for (d,) in warehouse.execute(
            "SELECT database_name FROM duckdb_databases() WHERE NOT internal"
        ).fetchall()
    ] == ["servicetitan"]


def test_by_default_only_the_marts_and_reports_are_copied(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    copy = publish_analysts_copy(warehouse, tmp_path / "a.duckdb")
    assert sorted(copy.rows) == ["main.fct_jobs", "main.rpt_jobs"]


def test_a_new_copy_replaces_the_old_under_an_open_reader(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    target = tmp_path / "servicetitan_analysts.duckdb"
    publish_analysts_copy(warehouse, target)
    with Analyst(target) as analyst:
        warehouse.execute("INSERT INTO fct_jobs SELECT 100, 'x', 1")
        publish_analysts_copy(warehouse, target)
        assert analyst.query("SELECT count(*) FROM fct_jobs") == [[30]]
        with Analyst(target) as newcomer:
            assert newcomer.query("SELECT count(*) FROM fct_jobs") == [[31]]


def test_a_failed_copy_leaves_the_previous_one_and_no_temporary_file(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    target = tmp_path / "servicetitan_analysts.duckdb"
    publish_analysts_copy(warehouse, target)
    before = (target.stat().st_ino, target.read_bytes())
    # A view whose source is gone fails when it is copied.
    warehouse.execute("CREATE TABLE gone AS SELECT 1 AS x")
    warehouse.execute("CREATE VIEW rpt_broken AS SELECT x FROM gone")
    warehouse.execute("DROP TABLE gone")
    with pytest.raises(duckdb.Error, match="gone"):
        publish_analysts_copy(warehouse, target)
    assert (target.stat().st_ino, target.read_bytes()) == before
    assert not temporary_path_for(target).exists()
    assert not Path(f"{temporary_path_for(target)}.wal").exists()
    # And a killed publication's leftover does not stop the next one.
    warehouse.execute("DROP VIEW rpt_broken")
    temporary_path_for(target).write_bytes(b"half a copy")
    assert publish_analysts_copy(warehouse, target).rows["main.fct_jobs"] == 30


def test_the_copy_s_path_is_beside_the_warehouse_unless_set(tmp_path: Path) -> None:
    warehouse = tmp_path / "data" / "servicetitan.duckdb"
    assert analysts_duckdb_path(warehouse, environ={}) == str(
        tmp_path / "data" / "servicetitan_analysts.duckdb"
    )
    elsewhere = tmp_path / "shared.duckdb"
    assert analysts_duckdb_path(
        warehouse, environ={ANALYSTS_DUCKDB_PATH_ENV: str(elsewhere)}
    ) == str(elsewhere)
    with pytest.raises(ConfigError, match=ANALYSTS_DUCKDB_PATH_ENV):
        analysts_duckdb_path(warehouse, environ={ANALYSTS_DUCKDB_PATH_ENV: str(tmp_path)})
    with pytest.raises(ConfigError, match=ANALYSTS_DUCKDB_PATH_ENV):
        analysts_duckdb_path(
            warehouse, environ={ANALYSTS_DUCKDB_PATH_ENV: str(tmp_path / "no" / "x.duckdb")}
        )
