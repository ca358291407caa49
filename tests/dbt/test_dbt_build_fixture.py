"""A real `dbt build` on a hand-built raw layer, and the report figures computed by hand.

The records are in dbt_fixture_records.py; each expected figure below shows its arithmetic.
Tenant 1000001 unless said otherwise; as-of date for AR aging: 2026-03-31 (the load date).
"""

from __future__ import annotations

import re
import shutil
from datetime import date
from decimal import Decimal

import duckdb
import pytest
from dbt_fixture_records import OTHER_TENANT, TENANT
from dbt_test_helpers import run_dbt

pytestmark = pytest.mark.integration

D = Decimal


def query(warehouse, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(warehouse.database), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def test_build_passes_and_only_the_cross_tenant_reference_warns(fixture_warehouse):
    out = fixture_warehouse.build_output
    assert "ERROR=0" in out
    # Tenant 2's invoice names location 11, which exists only in tenant 1: the tenant-aware
    # relationship test must notice (a plain `relationships` test would find tenant 1's row).
    assert "WARN=1" in out
    assert "relationships_within_tenant_fct_invoices_location_id" in out


def test_money_is_exact(fixture_warehouse):
    # "0.10" + "0.20" is exactly 0.30 (in floating point it is 0.30000000000000004)
    [(cents,)] = query(
        fixture_warehouse,
        "select sum(total) from fct_invoice_items "
        "where tenant_id = ? and invoice_item_id in (1, 2)",
        [TENANT],
    )
    assert cents == D("0.30")
    types = dict(
        query(
            fixture_warehouse,
            "select column_name, data_type from information_schema.columns "
            "where table_name = 'fct_invoices' and column_name in ('total', 'revenue', 'balance')",
        )
    )
    assert types == {
        "total": "DECIMAL(18,2)",
        "revenue": "DECIMAL(18,2)",
        "balance": "DECIMAL(18,2)",
    }


def test_fct_invoices_keeps_every_invoice_flagged(fixture_warehouse):
    rows = query(
        fixture_warehouse,
        "select invoice_id, is_active, is_adjustment, is_revenue, total, revenue, "
        "attributed_job_id, attributed_business_unit_id, surviving_customer_id "
        "from fct_invoices where tenant_id = ? order by invoice_id",
        [TENANT],
    )
    assert [r[0] for r in rows] == [1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008]
    by_id = {r[0]: r for r in rows}
    # voided invoice: kept, but not revenue
    assert by_id[1004][1:4] == (False, False, False)
    # the credit adjustment inherits job 102, business unit 20 and (merged) customer 3
    assert by_id[1003][1:] == (True, True, True, D("-200.00"), D("-200.00"), 102, 20, 3)
    # revenue = total - tax: 108.32 - 8.02
    assert by_id[1001][5] == D("100.30")
    # the other tenant's invoice 1001 is a different invoice
    [(other_total,)] = query(
        fixture_warehouse,
        "select total from fct_invoices where tenant_id = ? and invoice_id = 1001",
        [OTHER_TENANT],
    )
    assert other_total == D("5.00")


def test_customer_names_keep_apostrophes_and_emoji(fixture_warehouse):
    [(name,)] = query(
        fixture_warehouse,
        "select customer_name from dim_customers where tenant_id = ? and customer_id = 1",
        [TENANT],
    )
    assert name == "O'Brien 🔧 Heating & Air"


def test_revenue_by_month_and_business_unit(fixture_warehouse):
    rows = query(
        fixture_warehouse,
        "select revenue_month, business_unit_name, invoice_count, adjustment_count, revenue, "
        "sales_tax, total_invoiced from rpt_revenue_by_month_business_unit "
        "where tenant_id = ? order by revenue_month, business_unit_id",
        [TENANT],
    )
    assert rows == [
        (date(2025, 11, 1), "Plumbing", 1, 0, D("75.50"), D("0.00"), D("75.50")),  # 1007
        (date(2025, 12, 1), "HVAC Service", 1, 0, D("49.00"), D("0.00"), D("49.00")),  # 1006
        # 1001 only: 1004 (999.99, same month and unit) is voided
        (date(2026, 1, 1), "HVAC Service", 1, 0, D("100.30"), D("8.02"), D("108.32")),
        (date(2026, 2, 1), "HVAC Service", 1, 0, D("250.01"), D("20.63"), D("270.64")),  # 1005
        (date(2026, 2, 1), "Plumbing", 1, 0, D("1500.00"), D("0.00"), D("1500.00")),  # 1002
        # the adjustment 1003, in its own month, under the original's business unit
        (date(2026, 3, 1), "Plumbing", 0, 1, D("-200.00"), D("0.00"), D("-200.00")),
    ]


def test_ar_aging(fixture_warehouse):
    rows = query(
        fixture_warehouse,
        "select customer_id, as_of_date, open_invoice_count, open_balance, current_balance, "
        "past_due_1_30, past_due_31_60, past_due_61_90, past_due_over_90 "
        "from rpt_ar_aging where tenant_id = ?",
        [TENANT],
    )
    assert {r[1] for r in rows} == {date(2026, 3, 31)}  # the load date of the fixture
    aging = {r[0]: (r[2], *(str(v) for v in r[3:])) for r in rows}
    assert aging == {
        #  (open invoices, open balance, current, 1-30, 31-60, 61-90, 90+)
        # 1006: 49.00 due 2025-12-31, exactly 90 days before 2026-03-31 -> 61-90
        # (1001 is paid: balance 0; 1004 is voided)
        1: (1, "49.00", "0.00", "0.00", "0.00", "49.00", "0.00"),
        # merged customer 2's invoices land on survivor 3: 1002 970.00 due 2026-02-10
        # (49 days) -> 31-60; credit 1003 -200.00 due 2026-03-05 (26 days) -> 1-30;
        # 1005 200.64 due 2026-04-09 -> current. 970.00 - 200.00 + 200.64 = 970.64
        3: (3, "970.64", "200.64", "-200.00", "970.00", "0.00", "0.00"),
        # 1007: 75.50 due 2025-11-15 (136 days) -> 90+
        4: (1, "75.50", "0.00", "0.00", "0.00", "0.00", "75.50"),
    }


@pytest.mark.parametrize(
    ("how", "args", "extra_env"),
    [
        ("dbt var", ["--vars", "{ar_as_of_date: '2026-02-15'}"], {}),
        # what a Dagster-started run uses: it passes no vars
        ("environment", [], {"SERVICETITAN_AR_AS_OF_DATE": "2026-02-15"}),
    ],
)
def test_ar_aging_as_of_date_can_be_overridden(fixture_warehouse, tmp_path, how, args, extra_env):
    database = tmp_path / "warehouse.duckdb"
    shutil.copy(fixture_warehouse.database, database)
    result = run_dbt(
        ["run", "--select", "rpt_ar_aging", *args],
        database=database,
        target_path=tmp_path / "target",
        extra_env=extra_env,
    )
    assert result.returncode == 0, result.output
    with duckdb.connect(str(database), read_only=True) as con:
        rows = con.execute(
            "select customer_id, as_of_date, current_balance, past_due_1_30, past_due_61_90, "
            "past_due_over_90 from rpt_ar_aging where tenant_id = ? order by customer_id",
            [TENANT],
        ).fetchall()
    as_of = date(2026, 2, 15)
    assert rows == [
        # 1006 due 2025-12-31: 46 days on 2026-02-15 -> 31-60 (not shown), so 61-90 is 0
        (1, as_of, D("0"), D("0"), D("0"), D("0")),
        # 1002 due 2026-02-10: 5 days -> 1-30; 1003 due 2026-03-05 and 1005: not yet due
        (3, as_of, D("0.64"), D("970.00"), D("0"), D("0")),
        # 1007 due 2025-11-15: 92 days -> 90+
        (4, as_of, D("0"), D("0"), D("0"), D("75.50")),
    ]


def test_technician_performance(fixture_warehouse):
    rows = query(
        fixture_warehouse,
        "select technician_id, technician_name, completed_month, completed_jobs, revenue, "
        "average_ticket from rpt_technician_performance where tenant_id = ? "
        "order by completed_month, technician_id nulls last",
        [TENANT],
    )
    assert rows == [
        # job 101 (sold by 100): invoice 1001 = 100.30 (voided 1004 excluded); completed
        # 2026-01-15 20:30 -05:00 = 2026-01-16 UTC
        (100, "Ana Alvarez", date(2026, 1, 1), 1, D("100.30"), D("100.30")),
        # job 102 (sold by 200): 1002 1500.00 + adjustment 1003 -200.00
        (200, "Bob Brown", date(2026, 2, 1), 1, D("1300.00"), D("1300.00")),
        # job 105 has no sold-by technician: 1005 = 250.01. Job 106 is inactive: not counted.
        (None, "Unattributed", date(2026, 2, 1), 1, D("250.01"), D("250.01")),
    ]


def test_job_funnel(fixture_warehouse):
    rows = query(
        fixture_warehouse,
        "select job_type_name, campaign_name, total_jobs, scheduled_jobs, completed_jobs, "
        "canceled_jobs, open_jobs, completion_rate, cancellation_rate, average_ticket "
        "from rpt_job_funnel where tenant_id = ? order by job_type_id, campaign_id",
        [TENANT],
    )
    assert rows == [
        # jobs 101 (Completed), 104 (Scheduled), 105 (Completed); 106 is inactive.
        # average ticket (100.30 + 250.01) / 2 = 175.155 -> 175.16 (half away from zero)
        ("AC Tune-Up", "Google Ads", 3, 1, 2, 0, 1, 0.6667, 0.0, D("175.16")),
        # jobs 102 (Completed, 1300.00), 103 (Canceled)
        ("Water Heater Install", "Referral", 2, 0, 1, 1, 0, 0.5, 0.5, D("1300.00")),
    ]


def test_customer_lifetime_value_rolls_merged_customers_into_the_survivor(fixture_warehouse):
    rows = query(
        fixture_warehouse,
        "select customer_id, merged_customer_count, invoice_count, completed_jobs, "
        "lifetime_revenue, lifetime_payments, open_balance, average_ticket "
        "from rpt_customer_lifetime_value where tenant_id = ? order by customer_id",
        [TENANT],
    )
    assert rows == [
        # 1001 (100.30) + 1006 (49.00); payments 108.32 - 10.00 refund; job 101
        (1, 0, 2, 1, D("149.30"), D("98.32"), D("49.00"), D("100.30")),
        # customer 2 merged in: 1002 (1500.00) + 1003 (-200.00) + 1005 (250.01);
        # payments 500.00 + 100.00 (300.00 voided); jobs 102 + 105:
        # average ticket (1300.00 + 250.01) / 2 = 775.005 -> 775.01
        (3, 1, 2, 2, D("1550.01"), D("600.00"), D("970.64"), D("775.01")),
        (4, 0, 1, 0, D("75.50"), D("0.00"), D("75.50"), None),
        # no history: zeros, not missing
        (5, 0, 0, 0, D("0.00"), D("0.00"), D("0.00"), None),
    ]


def test_daily_kpis(fixture_warehouse):
    rows = query(
        fixture_warehouse,
        "select kpi_date, jobs_completed, completed_job_revenue, average_ticket, "
        "revenue_invoiced, payments_collected from rpt_daily_kpis "
        "where tenant_id = ? and kpi_date in ('2026-01-16', '2026-01-20', '2026-02-10', "
        "'2026-03-05') order by kpi_date",
        [TENANT],
    )
    assert rows == [
        # job 101 completed (UTC date); payment 1 108.32
        (date(2026, 1, 16), 1, D("100.30"), D("100.30"), D("0.00"), D("108.32")),
        # the refund, netted
        (date(2026, 1, 20), 0, D("0.00"), None, D("0.00"), D("-10.00")),
        # jobs 102 (23:59:59.999Z) + 105: (1300.00 + 250.01) / 2 = 775.005 -> 775.01;
        # invoices 1002 + 1005: 1500.00 + 250.01
        (date(2026, 2, 10), 2, D("1550.01"), D("775.01"), D("1750.01"), D("0.00")),
        # the adjustment on its own date
        (date(2026, 3, 5), 0, D("0.00"), None, D("-200.00"), D("0.00")),
    ]
    # a day-by-day spine from the first activity (2025-11-15) to the last (2026-03-20)
    [(days, first, last)] = query(
        fixture_warehouse,
        "select count(*), min(kpi_date), max(kpi_date) from rpt_daily_kpis where tenant_id = ?",
        [TENANT],
    )
    assert (first, last) == (date(2025, 11, 15), date(2026, 3, 20))
    assert days == (last - first).days + 1


def test_payment_applications_one_row_per_invoice_paid(fixture_warehouse):
    rows = query(
        fixture_warehouse,
        "select payment_id, invoice_id, applied_amount from fct_payment_applications "
        "where tenant_id = ? order by payment_id, application_index",
        [TENANT],
    )
    assert rows == [
        (1, 1001, D("108.32")),
        (2, 1002, D("500.00")),
        (3, 1005, D("300.00")),
        (5, 1005, D("70.00")),
        (5, 1002, D("30.00")),
    ]


def test_items_reconciliation_fails_when_an_invoice_does_not_add_up(fixture_warehouse, tmp_path):
    """The reconciliation tests are real tests: they fail on data that does not reconcile."""
    database = tmp_path / "warehouse.duckdb"
    shutil.copy(fixture_warehouse.database, database)
    with duckdb.connect(str(database)) as con:
        # invoice 1005 now claims 2 cents more than its items (250.01) + tax (20.63), loaded
        # now, as a sync writes it (the incremental facts read what was loaded since their
        # last build)
        con.execute(
            """update raw_servicetitan.invoices
               set payload = json_merge_patch(payload, '{"total": "270.66"}'),
                   _loaded_at = now()
               where _tenant_id = ? and id = 1005""",
            [TENANT],
        )
    result = run_dbt(
        ["build", "--select", "fct_invoices", "fct_invoice_items"],
        database=database,
        target_path=tmp_path / "target",
    )
    assert result.returncode != 0
    assert "FAIL 1 assert_invoice_items_and_tax_reconcile_to_invoice_total" in result.output
    # the raw-vs-mart reconciliation still agrees: both sides read the same 270.66
    assert "FAIL 1 assert_fct_invoices_total_reconciles_with_raw" not in result.output


def test_analyst_queries_run_against_the_marts(fixture_warehouse):
    """Every SQL block of dbt_project/ANALYST_QUERIES.md runs (the README shows them)."""
    from dbt_test_helpers import DBT_PROJECT_DIR

    doc = (DBT_PROJECT_DIR / "ANALYST_QUERIES.md").read_text()
    blocks = re.findall(r"```sql\n(.*?)```", doc, re.S)
    assert len(blocks) >= 5
    with duckdb.connect(str(fixture_warehouse.database), read_only=True) as con:
        for block in blocks:
            for statement in filter(str.strip, block.split(";")):
                con.execute(statement).fetchall()
