"""dbt on the DuckLake warehouse: the same project, built in a lake, gives the same tables.

The reconciliation proof: a simulated tenant is synced into a DuckDB file with the pipeline's
own ingestion assets; its raw tables are copied into a fresh lake (catalog in a real
PostgreSQL server, Parquet files in a temporary directory); then the real dbt CLI builds the
same selection on both, the file through profiles.yml's ``dev`` target and the lake through its
``lake`` target (chosen by ``SERVICETITAN_WAREHOUSE=ducklake``, extensions loaded from their
wheels by ``warehouse/dbt_lake_plugin.py``). Every mart and report built must be equal, row for
row, and every dbt test of the selection must pass on both.

One selection, not the whole project: on this 2-core machine a whole ``dbt build`` on the lake
takes minutes (each commit creates a lake snapshot, and the next statement reloads the catalog
from PostgreSQL). The selection is the group's monthly report and AR aging with everything they
read (staging views, intermediate views, the sales, jobs, payments and customer marts) and the
tests on them: views, tables, ephemeral models, generic and singular tests.
"""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster_duckdb import DuckDBResource
from dbt.adapters.duckdb.plugins import BasePlugin
from postgres_server import LakeServer, lake_environment

from servicetitan_pipeline.config import (
    DUCKLAKE_CATALOG_ENV,
    DUCKLAKE_DATA_PATH_ENV,
    WAREHOUSE_ENV,
    ConfigError,
)
from servicetitan_pipeline.defs import ingestion
from servicetitan_pipeline.defs.resources import ServiceTitanResource
from servicetitan_pipeline.simulator import SimulatorConfig, start_simulator
from servicetitan_pipeline.warehouse.lake import LakeSettings, connect_lake

REPO = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = REPO / "dbt_project"
DBT = Path(sys.executable).parent / "dbt"
# What the selection reads: the raw tables synced (and copied into the lake).
ENTITIES = (
    "business_units",
    "campaigns",
    "customers",
    "invoice_items",
    "invoices",
    "job_types",
    "jobs",
    "payments",
)
# `cautious`: the tests of a selected model that also read an unselected one stay out.
SELECTION = ["--select", "+rpt_group_monthly", "+rpt_ar_aging", "--indirect-selection", "cautious"]
AS_OF = "2026-03-31"
# The module profiles.yml's lake target names as its dbt-duckdb plugin.
PLUGIN = "servicetitan_pipeline.warehouse.dbt_lake_plugin"
_lakes = itertools.count(1)
# A sync and two dbt builds in the module's first test: minutes on a loaded 2-core machine.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]


@dataclass(frozen=True)
class Builds:
    file: Path
    lake: LakeSettings
    file_output: str
    lake_output: str


def run_dbt(args: list[str], target: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The real dbt CLI on the project, as dagster-dbt runs it (from the project folder)."""
    return subprocess.run(
        [
            str(DBT),
            *args,
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--target-path",
            str(target),
            "--log-path",
            str(target),
        ],
        cwd=DBT_PROJECT_DIR,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("SERVICETITAN_")},
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=900,
    )


def new_lake(server: LakeServer, root: Path) -> LakeSettings:
    """An empty lake of the module's own (the ``lake`` fixture is per test)."""
    database = f"lake_dbt_{os.getpid()}_{next(_lakes)}"
    server.create_database(database)
    data = root / "lake-data"
    data.mkdir()
    return LakeSettings(catalog=server.catalog(database), data_path=f"{data}/")


def sync_simulator(database: Path) -> None:
    """The pipeline's ingestion assets: ``ENTITIES`` of a small simulated tenant, into a file."""
    with start_simulator(SimulatorConfig(customers=60, seed=2026)) as sim:
        sim.advance(hours=48)  # a few days of change: payments, merges, new jobs
        resource = ServiceTitanResource(
            name="lake-dbt",
            environment="integration",
            tenant_id=str(sim.config.tenant_id),
            client_id=sim.config.client_id,
            client_secret=sim.config.client_secret,
            app_key=sim.config.app_key,
            api_base_url=sim.base_url,
            auth_url=sim.auth_url,
        )
        result = dg.materialize(
            ingestion.build_ingestion_assets(),
            selection=[f"servicetitan/{name}" for name in ENTITIES],
            resources={"servicetitan": resource, "duckdb": DuckDBResource(database=str(database))},
            run_config=ingestion.ingestion_run_config(list(ENTITIES)),
            instance=dg.DagsterInstance.ephemeral(),
        )
    assert result.success


def copy_raw_layer(file: Path, lake: LakeSettings) -> None:
    """Every raw table of ``file`` into ``lake``, in one transaction (one lake snapshot)."""
    conn = connect_lake(lake)
    try:
        conn.execute(f"ATTACH '{file}' AS file (READ_ONLY)")
        tables = [
            str(name)
            for (name,) in conn.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = 'file' "
                "AND schema_name = 'raw_servicetitan' ORDER BY 1"
            ).fetchall()
        ]
        assert set(tables) >= set(ENTITIES), tables
        conn.execute("BEGIN TRANSACTION")
        conn.execute("CREATE SCHEMA IF NOT EXISTS lake.raw_servicetitan")
        for table in tables:
            conn.execute(
                f'CREATE TABLE lake.raw_servicetitan."{table}" AS '
                f'SELECT * FROM file.raw_servicetitan."{table}"'
            )
        conn.execute("COMMIT")
    finally:
        conn.close()


@pytest.fixture(scope="module")
def builds(postgres_server: LakeServer, tmp_path_factory: pytest.TempPathFactory) -> Builds:
    """The simulated tenant synced into a file, copied into a lake, and dbt built on both."""
    root = tmp_path_factory.mktemp("lake_dbt")
    file = root / "warehouse.duckdb"
    sync_simulator(file)
    lake = new_lake(postgres_server, root)
    copy_raw_layer(file, lake)
    build = ["build", *SELECTION, "--vars", f"{{ar_as_of_date: '{AS_OF}'}}"]
    on_file = run_dbt(build, root / "target-file", {"SERVICETITAN_DUCKDB_PATH": str(file)})
    assert on_file.returncode == 0, on_file.stdout + on_file.stderr
    on_lake = run_dbt(build, root / "target-lake", lake_environment(lake))
    assert on_lake.returncode == 0, on_lake.stdout + on_lake.stderr
    return Builds(file, lake, on_file.stdout, on_lake.stdout)


def summary(output: str) -> dict[str, int]:
    """dbt's closing ``Done. PASS=.. WARN=.. ERROR=.. SKIP=..`` line, as numbers."""
    line = next(line for line in reversed(output.splitlines()) if "Done. PASS=" in line)
    return {key: int(value) for key, value in re.findall(r"([A-Z-]+)=(\d+)", line)}


def test_the_lake_target_builds_every_node_of_the_selection(builds: Builds) -> None:
    assert "target='lake'" in builds.lake_output
    assert "target='dev'" in builds.file_output
    lake, file = summary(builds.lake_output), summary(builds.file_output)
    assert lake == file
    assert lake["ERROR"] == 0 and lake["SKIP"] == 0
    assert lake["PASS"] > 100  # 20 models and their tests, not an empty selection


@pytest.fixture(scope="module")
def both(builds: Builds) -> Iterator[duckdb.DuckDBPyConnection]:
    """One connection seeing the lake (``lake``) and the file (``file``), both read-only."""
    conn = connect_lake(builds.lake, read_only=True)
    conn.execute(f"ATTACH '{builds.file}' AS file (READ_ONLY)")
    yield conn
    conn.close()


def built_tables(conn: duckdb.DuckDBPyConnection, database: str) -> list[str]:
    rows = conn.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = ? AND schema_name = 'main' "
        "ORDER BY 1",
        [database],
    ).fetchall()
    return [str(name) for (name,) in rows]


def test_the_lake_holds_the_same_marts_and_reports(both: duckdb.DuckDBPyConnection) -> None:
    tables = built_tables(both, "lake")
    assert tables == built_tables(both, "file")
    assert {"fct_invoices", "fct_jobs", "fct_payments", "rpt_ar_aging", "rpt_group_monthly"} <= set(
        tables
    )
    views = both.execute(
        "SELECT count(*) FROM duckdb_views() "
        "WHERE database_name = 'lake' AND schema_name = 'staging'"
    ).fetchone()
    assert views is not None and views[0] >= 9


def test_every_mart_and_report_equals_the_file_row_for_row(
    both: duckdb.DuckDBPyConnection,
) -> None:
    for table in built_tables(both, "lake"):
        columns = both.execute(
            "SELECT database_name, list(column_name || ' ' || data_type ORDER BY column_index) "
            "FROM duckdb_columns() WHERE schema_name = 'main' AND table_name = ? "
            "AND database_name IN ('lake', 'file') GROUP BY 1 ORDER BY 1",
            [table],
        ).fetchall()
        assert columns[0][1] == columns[1][1], table  # same names, order and types
        counts = both.execute(
            f'SELECT (SELECT count(*) FROM lake.main."{table}"), '
            f'(SELECT count(*) FROM file.main."{table}")'
        ).fetchone()
        assert counts is not None and counts[0] == counts[1] > 0, (table, counts)
        # EXCEPT ALL both ways: the same rows, duplicates counted.
        for left, right in (("lake", "file"), ("file", "lake")):
            extra = both.execute(
                f'SELECT count(*) FROM (SELECT * FROM {left}.main."{table}" '
                f'EXCEPT ALL SELECT * FROM {right}.main."{table}")'
            ).fetchone()
            assert extra == (0,), f"{table}: rows in {left} and not in {right}"


def test_descriptions_are_persisted_in_the_lake(both: duckdb.DuckDBPyConnection) -> None:
    for table in ("fct_invoices", "rpt_group_monthly"):
        comments = {
            database: both.execute(
                "SELECT (SELECT comment FROM duckdb_tables() WHERE database_name = $1 "
                "AND schema_name = 'main' AND table_name = $2), "
                "(SELECT list(coalesce(comment, '') ORDER BY column_index) FROM duckdb_columns() "
                "WHERE database_name = $1 AND schema_name = 'main' AND table_name = $2)",
                [database, table],
            ).fetchone()
            for database in ("lake", "file")
        }
        lake, file = comments["lake"], comments["file"]
        assert lake is not None and lake == file, table
        assert lake[0] and any(lake[1]), table  # dbt's persist_docs wrote them


def test_the_plugin_refuses_a_catalog_with_a_password_naming_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "pw-never-shown-7731"
    monkeypatch.setenv(WAREHOUSE_ENV, "ducklake")
    monkeypatch.setenv(
        DUCKLAKE_CATALOG_ENV, f"host=/nowhere dbname=lake user=pipeline password={secret}"
    )
    monkeypatch.setenv(DUCKLAKE_DATA_PATH_ENV, str(tmp_path / "data"))
    with pytest.raises(ConfigError) as raised:
        BasePlugin.create(PLUGIN)  # as dbt-duckdb creates the profile's plugins
    assert str(raised.value).startswith(f"{DUCKLAKE_CATALOG_ENV}: holds a password")
    assert secret not in str(raised.value)


def test_the_plugin_loads_the_lake_extensions_from_their_wheels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(WAREHOUSE_ENV, "ducklake")
    monkeypatch.setenv(DUCKLAKE_CATALOG_ENV, "host=/nowhere dbname=lake user=pipeline")
    monkeypatch.setenv(DUCKLAKE_DATA_PATH_ENV, str(tmp_path / "data"))
    plugin = BasePlugin.create(PLUGIN)
    # No extension may be fetched: autoinstall off, and no INSTALL ever runs.
    conn = duckdb.connect(":memory:", config={"autoinstall_known_extensions": "false"})
    try:
        plugin.configure_connection(conn)
        loaded = conn.execute(
            "SELECT extension_name FROM duckdb_extensions() WHERE loaded "
            "AND extension_name IN ('ducklake', 'postgres_scanner') ORDER BY 1"
        ).fetchall()
    finally:
        conn.close()
    assert loaded == [("ducklake",), ("postgres_scanner",)]


def test_the_plugin_is_only_for_the_lake(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(WAREHOUSE_ENV, "duckdb")
    with pytest.raises(ConfigError, match=f"^{WAREHOUSE_ENV}: dbt's lake target needs"):
        BasePlugin.create(PLUGIN)
