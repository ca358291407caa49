"""`servicetitan-pipeline demo` (what `make demo` runs), end to end on a small tenant."""

from __future__ import annotations

import duckdb
import pytest

from servicetitan_pipeline.entities import ENTITIES

pytestmark = pytest.mark.e2e


# Two syncs and two dbt builds of every model: minutes on a busy 2-core machine. The limit is
# a guard against a hang, not a performance target (bench/ has those).
@pytest.mark.timeout(1200)
def test_demo_runs_both_syncs_and_prints_the_summary(tmp_path, run_cli, clean_env):
    database = tmp_path / "demo.duckdb"
    result = run_cli(
        "demo",
        "--customers",
        "150",
        "--duckdb-path",
        str(database),
        env=clean_env(),
        cwd=tmp_path,
        timeout=1100,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "[1/2]" in out and "[2/2]" in out
    for entity in ENTITIES:
        assert entity.name in out
    assert str(database) in out
    # Two simulated companies, synced in one run, each with its block.
    assert "a group of 2 simulated companies" in out
    assert out.count("tenant north-hvac: OK") == 2 and out.count("tenant south-plumbing: OK") == 2
    with duckdb.connect(str(database), read_only=True) as con:
        for entity in ENTITIES:
            per_tenant = dict(
                con.execute(
                    f"select _connection, count(*) from {entity.raw_table} group by 1"
                ).fetchall()
            )
            assert set(per_tenant) == {"north-hvac", "south-plumbing"}, entity.name
        revenue_rows = con.execute(
            "select count(*) from rpt_revenue_by_month_business_unit"
        ).fetchall()[0][0]
        companies = {
            row[0]
            for row in con.execute(
                "select connection_name from rpt_group_monthly where not is_group_total"
            ).fetchall()
        }
    assert revenue_rows > 0
    assert companies == {"north-hvac", "south-plumbing"}
    assert "rpt_group_monthly" in out and "All companies" in out
    # The demo's connections and settings files, for `check --env-file` and the UI.
    home = tmp_path / ".dagster_home"
    assert (home / "servicetitan_connections.toml").is_file()
    assert "SERVICETITAN_TENANT_2_CLIENT_SECRET=" in (home / "simulator.env").read_text()


def test_demo_refuses_to_delete_another_tenants_warehouse(tmp_path, run_cli, clean_env):
    database = tmp_path / "real.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute("create schema raw_servicetitan")
        con.execute("create table raw_servicetitan._sync_state (_tenant_id bigint, entity varchar)")
        con.execute("insert into raw_servicetitan._sync_state values (424242, 'customers')")
    result = run_cli(
        "demo",
        "--customers",
        "50",
        "--duckdb-path",
        str(database),
        env=clean_env(),
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode != 0
    assert "424242" in result.stderr and database.exists()
