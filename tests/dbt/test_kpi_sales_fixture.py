"""The sales marts and reports on the hand-worked world of kpi_fixtures/sales.py (tenant
3000001), every figure worked by hand in its comment. As-of date of the estimates' age:
2026-03-31 (the fixture's load date)."""

from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal
from typing import Any

import duckdb
import pytest
from dbt_test_helpers import run_dbt
from kpi_fixtures.sales import TENANT

pytestmark = pytest.mark.integration

D = Decimal
JAN = date(2026, 1, 1)
FEB = date(2026, 2, 1)


def query(warehouse: Any, sql: str) -> list[tuple[Any, ...]]:
    """``sql`` with ``?`` bound to the sales tenant, on the built fixture warehouse."""
    with duckdb.connect(str(warehouse.database), read_only=True) as con:
        return con.execute(sql, [TENANT] * sql.count("?")).fetchall()


def test_invoice_items_carry_their_account_type(fixture_warehouse):
    rows = query(
        fixture_warehouse,
        "select invoice_item_id, general_ledger_account_type, general_ledger_account_detail_type "
        "from staging.stg_servicetitan__invoice_items "
        "where tenant_id = ? and invoice_item_id in (51011, 51012, 51021, 51031) order by 1",
    )
    assert rows == [
        (51011, "Income", "Service"),
        (51012, "Liability", "OtherCurrentLiabilities"),
        (51021, None, None),  # the item names no account
        (51031, None, None),  # it names one, without its type (gl_accounts has it)
    ]


def test_fct_estimates(fixture_warehouse):
    rows = query(
        fixture_warehouse,
        "select estimate_id, job_id, surviving_customer_id, business_unit_id, job_type_id, "
        "sold_by_technician_name, estimate_status, is_active, subtotal, item_count, "
        "items_total, age_days, days_to_sell "
        "from fct_estimates where tenant_id = ? order by estimate_id",
    )
    assert rows == [
        # customer 2 was merged into 3; age = 2026-03-31 - 2026-01-10 = 21 + 28 + 31 = 80 days;
        # sold two days after it was written
        (301, 101, 3, 10, 1000, "Ana Alvarez", "Sold", True, D("1200.00"), 2, D("1200.00"), 80, 2),
        (302, 101, 3, 10, 1000, None, "Dismissed", True, D("800.00"), 1, D("800.00"), 80, None),
        # no business unit of its own: job 103's (20); 0.1 + 0.2 + 499.7 = 500.00 exactly;
        # 31 - 28 = 3 days old
        (303, 103, 3, 20, 2000, None, "Open", True, D("500.00"), 3, D("500.00"), 3, None),
        # 2026-02-20 to 2026-03-31: 8 + 31 = 39 days
        (304, 104, 3, 20, 2000, "Bob Brown", "Sold", True, D("600.00"), 1, D("600.00"), 39, 0),
        # deleted, kept and flagged; 2026-02-25 to 2026-03-31: 3 + 31 = 34 days
        (305, 105, 3, 10, 1000, None, "Open", False, D("900.00"), 1, D("900.00"), 34, None),
        # outside any job: no job type; 2025-11-01 to 2026-03-31: 29 + 31 + 31 + 28 + 31 = 150
        (306, None, 3, 20, None, None, "Open", True, D("250.00"), 1, D("250.00"), 150, None),
    ]


def test_fct_estimate_items(fixture_warehouse):
    rows = query(
        fixture_warehouse,
        "select estimate_id, item_index, estimate_item_id, business_unit_id, estimate_status, "
        "is_estimate_sold, total from fct_estimate_items "
        "where tenant_id = ? and estimate_id in (301, 303) order by estimate_id, item_index",
    )
    assert rows == [
        (301, 1, 3011, 10, "Sold", True, D("700.00")),
        (301, 2, 3012, 10, "Sold", True, D("500.00")),
        # the estimate's business unit is its job's, and so is its items'
        (303, 1, 3031, 20, "Open", False, D("0.10")),
        (303, 2, 3032, 20, "Open", False, D("0.20")),
        (303, 3, 3033, 20, "Open", False, D("499.70")),
    ]


def test_sales_estimates_reference_only_their_own_tenants_records(fixture_warehouse):
    # The relationship tests of fct_estimates warn on tenant 2's reused ids; the sales
    # tenant's estimates must find every job and location they name.
    orphans = query(
        fixture_warehouse,
        "select estimates.estimate_id from fct_estimates as estimates "
        "left join fct_jobs as jobs on estimates.tenant_id = jobs.tenant_id "
        "and estimates.job_id = jobs.job_id "
        "left join dim_locations as locations on estimates.tenant_id = locations.tenant_id "
        "and estimates.location_id = locations.location_id "
        "where estimates.tenant_id = ? and ((estimates.job_id is not null and jobs.job_id is null) "
        "or locations.location_id is null)",
    )
    assert orphans == []


def test_job_outcomes(fixture_warehouse):
    rows = query(
        fixture_warehouse,
        "select job_id, invoice_subtotal, sold_threshold, is_opportunity, is_converted, "
        "is_sales_opportunity, is_sales_won from intermediate.int_job_outcomes "
        "where tenant_id = ? order by job_id",
    )
    assert rows == [
        # 350.00 (374.75 - 24.75 tax) - 30.00 credit (adjustment 5202 of its invoice) = 320.00
        # >= 100: converted; estimates 1,200 sold + 800 dismissed: sold 1,200 >= 100: won
        (101, D("320.00"), D("100.00"), True, True, True, True),
        # 80.01 < 100: an opportunity, not converted; no estimates
        (102, D("80.01"), D("100.00"), True, False, False, False),
        # No Charge, but 1,500 >= 1,000: an opportunity again, converted; its estimate is open
        (103, D("1500.00"), D("1000.00"), True, True, True, False),
        # No Charge, invoice 200 and sold estimate 600 both < 1,000: no opportunity at all
        (104, D("200.00"), D("1000.00"), False, False, False, False),
        # not completed: never an opportunity
        (105, D("400.00"), D("100.00"), False, False, False, False),
        (106, D("0.00"), D("100.00"), False, False, False, False),
        (107, D("0.00"), D("1000.00"), False, False, False, False),
        (108, D("0.00"), D("1000.00"), False, False, False, False),
        # deleted
        (109, D("0.00"), D("100.00"), False, False, False, False),
    ]


def test_revenue_as_servicetitan_counts_it(fixture_warehouse):
    rows = query(
        fixture_warehouse,
        "select revenue_month, business_unit_id, business_unit_name, completed_job_revenue, "
        "non_job_revenue, adjustment_revenue, unmapped_revenue, total_revenue "
        "from rpt_revenue_servicetitan where tenant_id = ? order by 1, 2",
    )
    assert rows == [
        # job 101 (completed Jan 10): income item 300.00, its 50.00 deposit is a Liability;
        # job 102 completed Jan 31 23:30 UTC (invoiced Feb 1): 80.01 without an account, so
        # counted and unmapped. 300.00 + 80.01 = 380.01
        (JAN, 10, "HVAC Service", D("380.01"), D("0.00"), D("0.00"), D("80.01"), D("380.01")),
        # the -30.00 credit on 5101 inherits HVAC, on its own date (Feb 10); job 105's 400.00
        # is not revenue while the job is in progress
        (FEB, 10, "HVAC Service", D("0.00"), D("0.00"), D("-30.00"), D("0.00"), D("-30.00")),
        # jobs 103 (1,500.00, Income by gl_accounts; its voided 700.00 invoice counts nowhere)
        # and 104 (200.00) = 1,700.00; the counter sale 120.00 (its deleted 999.00 item not);
        # 1,700.00 + 120.00 = 1,820.00
        (FEB, 20, "Plumbing", D("1700.00"), D("120.00"), D("0.00"), D("0.00"), D("1820.00")),
    ]


def test_revenue_differs_from_the_invoice_date_view_where_the_rules_differ(fixture_warehouse):
    rows = query(
        fixture_warehouse,
        "select revenue_month, business_unit_id, revenue "
        "from rpt_revenue_by_month_business_unit where tenant_id = ? order by 1, 2",
    )
    assert rows == [
        # invoice 5101 whole: 300.00 + 50.00 deposit = 350.00 (ServiceTitan's view: 300.00 + job
        # 102's 80.01 completed in January)
        (JAN, 10, D("350.00")),
        # 102's 80.01 on its invoice date + 105's 400.00 (job open) - 30.00 = 450.01
        (FEB, 10, D("450.01")),
        (FEB, 20, D("1820.00")),
    ]


def test_sales_conversion(fixture_warehouse):
    rows = query(
        fixture_warehouse,
        "select completed_month, dimension, dimension_id, dimension_name, completed_jobs, "
        "completed_revenue, average_ticket, opportunities, converted_jobs, conversion_rate, "
        "sales_opportunities, sales_won, close_rate, won_estimate_subtotal "
        "from rpt_sales_conversion where tenant_id = ? "
        "order by 1, 2, dimension_id nulls first",
    )
    january = (
        # jobs 101 and 102: 320.00 + 80.01 = 400.01; 400.01 / 2 = 200.005, half a cent rounded
        # away from zero: 200.01; 1 of 2 opportunities converted; 1 of 1 sales opportunity won
        2,
        D("400.01"),
        D("200.01"),
        2,
        1,
        0.5,
        1,
        1,
        1.0,
        D("1200.00"),
    )
    # jobs 103 and 104: 1,500.00 + 200.00 = 1,700.00, / 2 = 850.00; only 103 is an opportunity
    # (converted), and a sales opportunity (not won: its estimate is open)
    february = (2, D("1700.00"), D("850.00"), 1, 1, 1.0, 1, 0, 0.0, D("0.00"))
    # job 104 alone: no opportunity, so no rates
    unattributed = (1, D("200.00"), D("200.00"), 0, 0, None, 0, 0, None, D("0.00"))
    # job 103 alone
    bob = (1, D("1500.00"), D("1500.00"), 1, 1, 1.0, 1, 0, 0.0, D("0.00"))
    assert rows == [
        (JAN, "business_unit", 10, "HVAC Service", *january),
        (JAN, "company", None, "All business units", *january),
        (JAN, "technician", 100, "Ana Alvarez", *january),
        (FEB, "business_unit", 20, "Plumbing", *february),
        (FEB, "company", None, "All business units", *february),
        # job 104 has no sold-by technician (its estimate's seller is not the job's)
        (FEB, "technician", None, "Unattributed", *unattributed),
        (FEB, "technician", 200, "Bob Brown", *bob),
    ]


def test_estimate_pipeline(fixture_warehouse):
    rows = query(
        fixture_warehouse,
        "select business_unit_id, age_bucket, as_of_date, estimate_count, estimate_subtotal, "
        "open_count, open_subtotal, sold_count, sold_subtotal, dismissed_count, "
        "dismissed_subtotal from rpt_estimate_pipeline where tenant_id = ? "
        "order by business_unit_id, age_bucket_order",
    )
    as_of = date(2026, 3, 31)
    zero = D("0.00")
    assert rows == [
        # 301 sold 1,200 and 302 dismissed 800, both 80 days old: 2,000.00 (305 is deleted)
        (10, "61-90", as_of, 2, D("2000.00"), 0, zero, 1, D("1200.00"), 1, D("800.00")),
        (20, "0-7", as_of, 1, D("500.00"), 1, D("500.00"), 0, zero, 0, zero),  # 303, 3 days
        (20, "31-60", as_of, 1, D("600.00"), 0, zero, 1, D("600.00"), 0, zero),  # 304, 39 days
        (20, "90+", as_of, 1, D("250.00"), 1, D("250.00"), 0, zero, 0, zero),  # 306, 150 days
    ]


def test_job_cancellations(fixture_warehouse):
    rows = query(
        fixture_warehouse,
        "select outcome_month, business_unit_id, completed_jobs, canceled_jobs, closed_jobs, "
        "cancel_rate, canceled_without_log from rpt_job_cancellations "
        "where tenant_id = ? order by 1, 2",
    )
    assert rows == [
        # jobs 101 and 102 completed (109 is deleted): 0 / 2
        (JAN, 10, 2, 0, 2, 0.0, 0),
        # job 106, canceled in January and again in February: the later log dates it, 1 / 1
        (FEB, 10, 0, 1, 1, 1.0, 0),
        # 103 and 104 completed; 107 (no log: its last modification, Feb 10) and 108 (Feb 12;
        # its deleted March log does not count) canceled: 2 / (2 + 2) = 0.5
        (FEB, 20, 2, 2, 4, 0.5, 1),
    ]


def test_job_cancel_reasons(fixture_warehouse):
    rows = query(
        fixture_warehouse,
        "select canceled_month, business_unit_id, cancel_reason_id, cancel_reason_name, "
        "canceled_jobs, share_of_cancellations from rpt_job_cancel_reasons "
        "where tenant_id = ? order by 1, 2, 3 nulls first",
    )
    assert rows == [
        # job 106's latest log: reason 2 (its January log said 1)
        (FEB, 10, 2, "Found another company", 1, 1.0),
        # 107 without a log, 108 for reason 1 (its deleted log said 2): 1 / 2 each
        (FEB, 20, None, "No reason recorded", 1, 0.5),
        (FEB, 20, 1, "Customer rescheduled", 1, 0.5),
    ]


RECONCILIATIONS = (
    "assert_sales_revenue_servicetitan_reconciles",
    "assert_sales_conversion_reconciles",
    "assert_sales_estimate_pipeline_reconciles",
    "assert_sales_job_cancellations_reconcile",
)


def test_sales_reconciliation_tests_ran_and_passed(fixture_warehouse):
    for name in RECONCILIATIONS:
        assert f"PASS {name}" in fixture_warehouse.build_output, name


def test_sales_reconciliations_fail_on_a_report_that_is_a_cent_or_a_job_off(
    fixture_warehouse, tmp_path
):
    """The reconciliation tests are real tests: each fails when its report is off."""
    database = tmp_path / "warehouse.duckdb"
    shutil.copy(fixture_warehouse.database, database)
    with duckdb.connect(str(database)) as con:
        for tampering in (
            # a cent more of completed-job revenue (and of its total, so the row adds up)
            "update rpt_revenue_servicetitan set completed_job_revenue = "
            "completed_job_revenue + 0.01, total_revenue = total_revenue + 0.01 "
            "where tenant_id = ? and revenue_month = '2026-02-01' and business_unit_id = 20",
            # one converted job lost from one technician's row
            "update rpt_sales_conversion set converted_jobs = converted_jobs - 1 "
            "where tenant_id = ? and dimension = 'technician' and dimension_id = 200",
            # a sold estimate a cent dearer
            "update rpt_estimate_pipeline set sold_subtotal = sold_subtotal + 0.01, "
            "estimate_subtotal = estimate_subtotal + 0.01 "
            "where tenant_id = ? and business_unit_id = 20 and age_bucket = '31-60'",
            # one canceled job moved to another reason's month
            "update rpt_job_cancel_reasons set canceled_month = '2026-03-01' "
            "where tenant_id = ? and cancel_reason_id = 1",
        ):
            con.execute(tampering, [TENANT])
    result = run_dbt(
        ["test", "--select", *RECONCILIATIONS],
        database=database,
        target_path=tmp_path / "target",
    )
    assert result.returncode != 0
    for name in RECONCILIATIONS:
        assert f"FAIL 1 {name}" in result.output or f"FAIL 2 {name}" in result.output, name
