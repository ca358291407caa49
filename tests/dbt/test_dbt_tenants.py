"""Several tenants in one warehouse: every mart and report names the company
(`connection_name`, one name per tenant from dim_tenants), and rpt_group_monthly adds them up.

The group's two companies are kpi_fixtures/group.py (Acme 4000001 and Bolt 4000002, the same
record ids in both, Bolt's connection renamed between its two syncs); every figure of the group
report is worked by hand below, on a warehouse holding only those two companies (the group
row adds up every tenant of the warehouse), and checked again on the shared fixture warehouse,
where the other fixture tenants must not move the companies' own rows.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dbt_fixture_records import LOADED_AT, ensure_fixture_raw_table, insert_fixture_records
from dbt_test_helpers import run_dbt
from kpi_fixtures import group

from servicetitan_pipeline.entities import ENTITIES

pytestmark = pytest.mark.integration

D = Decimal
JAN, FEB, MAR = date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)
ALL_COMPANIES = "All companies"

GROUP_COLUMNS = (
    "tenant_id, connection_name, is_group_total, report_month, invoice_count, revenue, "
    "completed_jobs, completed_job_revenue, average_ticket, payment_count, payments_collected, "
    "ar_as_of_date, ar_balance"
)

# (tenant_id, connection_name, is_group_total, month, invoices, revenue, completed jobs,
#  their revenue, average ticket, payments, collected, AR date, AR)
# fmt: off
ACME_ROWS = [
    # invoice 601 (100.00 + 8.25 tax) for job 501, paid on Jan 25 (108.25): nothing open
    (group.ACME, group.ACME_NAME, False, JAN, 1, D("100.00"), 1, D("100.00"), D("100.00"),
     1, D("108.25"), date(2026, 1, 31), D("0.00")),
    # 602 (200.00) and 603 (100.01) for jobs 502 and 503: (200.00 + 100.01) / 2 = 150.005 ->
    # 150.01; open on Feb 28: 603's 100.01 + 602's 216.50, paid only on Mar 5 (added back)
    (group.ACME, group.ACME_NAME, False, FEB, 2, D("300.01"), 2, D("300.01"), D("150.01"),
     0, D("0.00"), date(2026, 2, 28), D("316.51")),
    # 604 is voided (in no figure); the counter sale 605 (50.00 + 4.13 tax) is an invoice,
    # without a job; payment 702 (216.50) collected, 703 is inactive; open on the as-of date
    # Mar 31: 603 100.01 + 605 54.13 = 154.14
    (group.ACME, group.ACME_NAME, False, MAR, 1, D("50.00"), 0, D("0.00"), None,
     1, D("216.50"), date(2026, 3, 31), D("154.14")),
]
BOLT_ROWS = [
    # no January: Bolt's first activity is in February.
    # 601 (400.00 + 33.00 tax) for job 501, whose revenue includes March's -20.00 credit
    # (380.00); payment 701 of 420.00; open on Feb 28: 601's 0.00 + the 13.00 paid on Mar 10
    (group.BOLT, group.BOLT_NAME, False, FEB, 1, D("400.00"), 1, D("380.00"), D("380.00"),
     1, D("420.00"), date(2026, 2, 28), D("13.00")),
    # the -20.00 credit (an adjustment: revenue, not an invoice), 602 (250.00) and the $0 603
    # (not an invoice): 1 invoice, 230.00; jobs 502 (250.00) and 503 (0.00): 125.00;
    # payments 13.00 and the -50.00 refund: -37.00; open on Mar 31: 270.63 - 20.00 = 250.63
    (group.BOLT, group.BOLT_NAME, False, MAR, 1, D("230.00"), 2, D("250.00"), D("125.00"),
     2, D("-37.00"), date(2026, 3, 31), D("250.63")),
]
GROUP_ROWS = [
    (None, ALL_COMPANIES, True, JAN, 1, D("100.00"), 1, D("100.00"), D("100.00"),
     1, D("108.25"), date(2026, 1, 31), D("0.00")),
    # 680.01 / 3 jobs = 226.67 (the average of the two averages would be 265.01)
    (None, ALL_COMPANIES, True, FEB, 3, D("700.01"), 3, D("680.01"), D("226.67"),
     1, D("420.00"), date(2026, 2, 28), D("329.51")),
    (None, ALL_COMPANIES, True, MAR, 2, D("280.00"), 2, D("250.00"), D("125.00"),
     3, D("179.50"), date(2026, 3, 31), D("404.77")),
]
# fmt: on


def fetch(database: Path, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def model_names(target_path: Path, *layers: str) -> set[str]:
    """The dbt models of ``layers`` (models/<layer>/...), from the build's manifest."""
    manifest = json.loads((target_path / "manifest.json").read_text())
    return {
        node["name"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["fqn"][1] in layers
    }


@pytest.fixture(scope="module")
def group_warehouse(tmp_path_factory) -> Path:
    """A warehouse of the group's two companies only, with the group report (and the reports
    its reconciliation tests read) built and tested."""
    root = tmp_path_factory.mktemp("dbt_group")
    database = root / "warehouse.duckdb"
    with duckdb.connect(str(database)) as con:
        for entity in ENTITIES:
            ensure_fixture_raw_table(con, entity.name)
        for load in group.loads():
            for entity_name, rows in load.records.items():
                insert_fixture_records(
                    con,
                    load.tenant,
                    entity_name,
                    rows,
                    connection=load.connection,
                    loaded_at=load.loaded_at,
                )
    selection = [
        "dim_tenants",
        "+rpt_group_monthly",
        "+rpt_revenue_by_month_business_unit",
        "+rpt_daily_kpis",
        "+rpt_ar_aging",
    ]
    target = root / "target"
    built = run_dbt(["run", "--select", *selection], database=database, target_path=target)
    assert built.returncode == 0, built.output
    # the report's own tests: keys, not-nulls and both reconciliations
    tested = run_dbt(
        ["test", "--select", "rpt_group_monthly", "dim_tenants"],
        database=database,
        target_path=target,
    )
    assert tested.returncode == 0, tested.output
    assert "assert_group_monthly_totals_reconcile_with_tenant_rows" in tested.output
    assert "assert_group_monthly_reconciles_with_reports" in tested.output
    return database


def test_every_mart_and_report_names_its_tenant(fixture_warehouse):
    models = model_names(fixture_warehouse.target_path, "marts", "reports")
    assert {"dim_tenants", "fct_invoices", "rpt_ar_aging", "rpt_group_monthly"} <= models
    columns = fetch(
        fixture_warehouse.database,
        "select table_name, list(column_name order by column_index) from duckdb_columns() "
        "where schema_name = 'main' group by table_name",
    )
    by_table = dict(columns)
    for model in sorted(models):
        assert model in by_table, f"{model} is not in the warehouse"
        assert by_table[model][:2] == ["tenant_id", "connection_name"], model
        # every row's tenant is one dim_tenants knows: the name is never missing
        [(unnamed,)] = fetch(
            fixture_warehouse.database,
            f"select count(*) from main.{model} where connection_name is null",
        )
        assert unnamed == 0, model


def test_dim_tenants_lists_every_tenant_of_the_raw_layer_with_its_latest_name(fixture_warehouse):
    database = fixture_warehouse.database
    raw_tables = [
        table
        for (table,) in fetch(
            database,
            "select table_name from duckdb_tables() where schema_name = 'raw_servicetitan' "
            "and not starts_with(table_name, '_')",
        )
    ]
    loads = [
        row
        for table in raw_tables
        for row in fetch(
            database, f"select _tenant_id, _connection, _loaded_at from raw_servicetitan.{table}"
        )
    ]
    latest: dict[int, tuple[Any, str]] = {}
    for tenant, name, loaded_at in loads:
        if tenant not in latest or (loaded_at, name) > latest[tenant]:
            latest[tenant] = (loaded_at, name)
    expected = {tenant: name for tenant, (_, name) in latest.items()}
    assert group.ACME in expected and group.BOLT in expected

    tenants = fetch(
        database,
        "select tenant_id, connection_name, connection_name_count, first_loaded_at, "
        "last_loaded_at from dim_tenants",
    )
    assert {tenant: name for tenant, name, *_ in tenants} == expected
    assert len(tenants) == len(expected)  # one row per tenant
    by_tenant = {tenant: rest for tenant, *rest in tenants}
    # renamed between its two syncs: the new name, both names counted, the first sync's time
    assert by_tenant[group.BOLT] == [group.BOLT_NAME, 2, group.BOLT_FIRST_LOAD, LOADED_AT]
    assert by_tenant[group.ACME] == [group.ACME_NAME, 1, LOADED_AT, LOADED_AT]

    # Bolt's customers were loaded under the old name, and show the new one like the rest
    [(old_name_rows,)] = fetch(
        database,
        "select count(*) from raw_servicetitan.customers where _tenant_id = ? and _connection = ?",
        [group.BOLT, group.BOLT_OLD_NAME],
    )
    assert old_name_rows > 0
    for model in ("dim_customers", "fct_invoices", "rpt_group_monthly"):
        names = fetch(
            database,
            f"select distinct connection_name from main.{model} where tenant_id = ?",
            [group.BOLT],
        )
        assert names == [(group.BOLT_NAME,)], model


def test_two_companies_with_the_same_ids_never_mix(fixture_warehouse):
    database = fixture_warehouse.database
    tenants = [group.ACME, group.BOLT]
    # invoice 601 and job 501 exist in both companies, each with its own figures and name
    assert fetch(
        database,
        "select tenant_id, connection_name, total, balance, payments_applied from fct_invoices "
        "where invoice_id = 601 and tenant_id in (?, ?) order by tenant_id",
        tenants,
    ) == [
        (group.ACME, group.ACME_NAME, D("108.25"), D("0.00"), D("108.25")),
        (group.BOLT, group.BOLT_NAME, D("433.00"), D("0.00"), D("433.00")),
    ]
    # job 501's revenue: Acme's invoice; Bolt's invoice and its credit (380.00)
    assert fetch(
        database,
        "select tenant_id, revenue from fct_jobs "
        "where job_id = 501 and tenant_id in (?, ?) order by tenant_id",
        tenants,
    ) == [(group.ACME, D("100.00")), (group.BOLT, D("380.00"))]
    # customer 1 of each company owes its own invoices only
    assert fetch(
        database,
        "select tenant_id, customer_id, open_invoice_count, open_balance from rpt_ar_aging "
        "where tenant_id in (?, ?) order by tenant_id",
        tenants,
    ) == [(group.ACME, 1, 2, D("154.14")), (group.BOLT, 1, 2, D("250.63"))]


def test_group_report_by_hand(group_warehouse):
    rows = fetch(
        group_warehouse,
        f"select {GROUP_COLUMNS} from rpt_group_monthly "
        "order by report_month, is_group_total, tenant_id",
    )
    expected = sorted(ACME_ROWS + BOLT_ROWS + GROUP_ROWS, key=lambda r: (r[3], r[2], r[0] or 0))
    assert rows == expected


def test_group_report_tenant_rows_ignore_the_other_tenants(fixture_warehouse):
    """In the shared warehouse (other fixture tenants beside the group's), each company's rows
    are the same; months after March, if the other tenants reach further, are empty with the
    March AR carried over."""
    rows = fetch(
        fixture_warehouse.database,
        f"select {GROUP_COLUMNS} from rpt_group_monthly where tenant_id in (?, ?) "
        "order by tenant_id, report_month",
        [group.ACME, group.BOLT],
    )
    up_to_march = [row for row in rows if row[3] <= MAR]
    assert up_to_march == ACME_ROWS + BOLT_ROWS
    for row in rows:
        if row[3] > MAR:
            march_ar = (ACME_ROWS if row[0] == group.ACME else BOLT_ROWS)[-1][-1]
            assert row[4:8] == (0, D("0.00"), 0, D("0.00")) and row[-1] == march_ar, row
    # and a group row per month, over every tenant of the warehouse
    months = fetch(
        fixture_warehouse.database,
        "select report_month, count(*) filter (where is_group_total), "
        "count(*) filter (where not is_group_total) from rpt_group_monthly group by 1",
    )
    assert months and all(
        group_rows == 1 and tenant_rows >= 1 for _, group_rows, tenant_rows in months
    )
