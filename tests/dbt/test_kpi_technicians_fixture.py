"""The payroll marts, the technician scorecard and the labour cost share on the hand-worked
technicians tenant (kpi_fixtures/technicians.py), every figure with its arithmetic.

Jobs of tenant 3000002 (subtotal = the job's invoice, no tax):
  101 HVAC, Service ($0 threshold), completed 2026-02-10, $100.01, splits Ana 66.67 / Bob 33.33,
      a dismissed estimate without a seller
  102 HVAC, Service, completed 2026-02-12, $250.00, no splits, sold by Bob; its sold $250
      estimate was sold by Ana
  103 Plumbing, Install ($500 threshold), completed 2026-03-01 03:00 UTC, $10.00, splits Ana /
      Bob / Cy 33.33 / 33.33 / 33.34, an open $900 estimate without a seller
  104 HVAC, Service, completed 2026-03-05, $75.25, splits Bob 50 / Ana 50 (Cy's 100 inactive)
  105 HVAC, Install, completed 2026-03-10, $0, No Charge, sold by Cy, a recall of 101
  106 canceled, split to Ana; 107 completed 2026-02-25, $40.00, no split and no sold-by
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import duckdb
import pytest
from kpi_fixtures.technicians import ANA, BOB, CY, TENANT

pytestmark = pytest.mark.integration

D = Decimal
FEB_2025, FEB, MAR = date(2025, 2, 1), date(2026, 2, 1), date(2026, 3, 1)


def query(warehouse, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse.database), read_only=True) as con:
        return con.execute(sql, [TENANT]).fetchall()


def test_job_splits_share_each_subtotal_to_the_cent(fixture_warehouse):
    rows = query(
        fixture_warehouse,
        "select job_id, technician_id, credited_subtotal, business_unit_id, completed_month "
        "from fct_job_splits where tenant_id = ? order by job_id, technician_id",
    )
    assert rows == [
        # 10001 cents x 66.67% = 6667.67 -> 6667, x 33.33% = 3333.33 -> 3333; the cent left
        # over goes to the larger remainder (.67, Ana's)
        (101, ANA[0], D("66.68"), 10, FEB),
        (101, BOB[0], D("33.33"), 10, FEB),
        # 1000 cents x 33.33% = 333.3 (twice), x 33.34% = 333.4: the cent goes to Cy's .4
        (103, ANA[0], D("3.33"), 20, MAR),
        (103, BOB[0], D("3.33"), 20, MAR),
        (103, CY[0], D("3.34"), 20, MAR),
        # 7525 cents x 50% = 3762.5 each: a tie, the cent to the lower technician id (Ana);
        # Cy's inactive split is not a split
        (104, ANA[0], D("37.63"), 10, MAR),
        (104, BOB[0], D("37.62"), 10, MAR),
        # a canceled job's split stays in the mart (its job has no revenue to share)
        (106, ANA[0], D("0.00"), 10, None),
    ]


def test_job_timesheets_hours_on_the_job(fixture_warehouse):
    rows = query(
        fixture_warehouse,
        # whole seconds here: the fixture's times have none of the fractions the type keeps
        "select job_timesheet_id, worked_microseconds // 1000000, hours_on_job, work_month, "
        "is_counted_as_worked from fct_job_timesheets where tenant_id = ? order by 1",
    )
    assert rows == [
        (1, 9000, D("2.5000"), FEB, True),  # 13:00 -> 15:30
        (2, 6300, D("1.7500"), FEB, True),  # 13:15 -> 15:00
        (3, 4800, D("1.3333"), FEB, True),  # 09:00 -> 10:20
        (4, 7200, D("2.0000"), FEB, True),  # 28 Feb 23:00 -> 1 Mar 01:00: February's
        (5, None, None, None, False),  # dispatched, not arrived
        (6, None, None, FEB, False),  # done an hour before arrival: no hours, not negative
    ]


def test_appointment_assignments_and_employees(fixture_warehouse):
    assignments = query(
        fixture_warehouse,
        "select appointment_assignment_id, technician_id, assignment_status, is_active, "
        "business_unit_id, appointment_date from fct_appointment_assignments "
        "where tenant_id = ? order by 1",
    )
    assert assignments == [
        (1, ANA[0], "Done", True, 10, date(2026, 1, 15)),
        (2, BOB[0], "Done", True, 10, date(2026, 1, 15)),
        (3, CY[0], "Scheduled", False, 10, date(2026, 1, 15)),
    ]
    employees = query(
        fixture_warehouse,
        "select employee_id, employee_name, business_unit_name from dim_employees "
        "where tenant_id = ?",
    )
    assert employees == [(40, "Olga Office", "Plumbing")]


def test_gross_pay_items_business_unit_and_labour_cost(fixture_warehouse):
    rows = query(
        fixture_warehouse,
        "select gross_pay_item_id, business_unit_id, business_unit_source, labour_cost, "
        "pay_month from fct_gross_pay_items where tenant_id = ? order by 1",
    )
    assert rows == [
        (1, 10, "job", D("80.00"), FEB),  # job 101's business unit
        (2, 10, "job", D("25.50"), FEB),
        (3, 20, "item business unit name", D("1000.00"), FEB),  # "Plumbing", no job
        (4, 10, "job", D("0.00"), FEB),  # a reimbursement is not pay
        (5, 10, "employee", D("0.00"), FEB),  # inactive; Bob's home business unit
        (6, 20, "employee", D("0.10"), FEB),  # "Nowhere" is no business unit: Cy's home
        (7, 20, "employee", D("0.20"), FEB),
    ]
    adjustments = query(
        fixture_warehouse,
        "select payroll_adjustment_id, business_unit_id, business_unit_source, labour_cost "
        "from fct_payroll_adjustments where tenant_id = ? order by 1",
    )
    assert adjustments == [
        (1, 10, "invoice", D("50.00")),  # on invoice 1101 (HVAC)
        (2, 10, "employee", D("0.00")),  # an advance: deducted from later gross pay
        (3, 20, "employee", D("100.00")),  # Olga's monthly bonus, her business unit
    ]


SCORECARD_COLUMNS = (
    "scorecard_month, technician_id, technician_name, completed_jobs, opportunities, "
    "converted_jobs, conversion_rate, sales_opportunities, sales_won, close_rate, "
    "split_revenue, average_ticket, memberships_sold, recalls_caused, hours_worked, "
    "revenue_per_hour"
)


def test_technician_scorecard(fixture_warehouse):
    rows = query(
        fixture_warehouse,
        f"select {SCORECARD_COLUMNS} from rpt_technician_scorecard where tenant_id = ? "
        "order by scorecard_month, technician_id",
    )
    assert rows == [
        # membership 7001, sold by Ana, started 2025-02-03 (7002 renews it: not a sale)
        (FEB_2025, *ANA, 0, 0, 0, None, 0, 0, None, D("0.00"), None, 1, 0, D("0"), None),
        # Ana, February: job 101 (converted: $100.01 >= $0) -> 1 / 1 / 1; sales: 101 (no
        # seller, stays with its technicians) and 102 (Ana sold its estimate, won) -> 1 / 2;
        # revenue 66.68, ticket 66.68 / 1; membership 7003 (7004 deleted, 7005 sold by an
        # office employee); hours 9000 + 7200 s = 4.5 h; 66.68 x 3600 / 16200 = 14.8177 -> 14.82
        (FEB, *ANA, 1, 1, 1, 1.0, 2, 1, 0.5, D("66.68"), D("66.68"), 1, 0, D("4.5"), D("14.82")),
        # Bob, February: 101 (split) and 102 (sold by, no splits) -> 2 / 2 / 2; sales: 101
        # only (102's sale is Ana's) -> 0 / 1; revenue 33.33 + 250.00 = 283.33, ticket
        # 141.665 -> 141.67; hours 6300 + 4800 s = 3.0833 h; 283.33 x 3600 / 11100 = 91.8908
        (
            FEB,
            *BOB,
            2,
            2,
            2,
            1.0,
            1,
            0,
            0.0,
            D("283.33"),
            D("141.67"),
            0,
            0,
            D("3.0833"),
            D("91.89"),
        ),
        # Ana, March: 103 ($10 < $500: not converted) and 104 (converted) -> 2 / 2 / 1; sales:
        # 103's open estimate, no seller -> 0 / 1; revenue 3.33 + 37.63 = 40.96, ticket 20.48;
        # recall 105 of job 101 counts against 101's technicians
        (MAR, *ANA, 2, 2, 1, 0.5, 1, 0, 0.0, D("40.96"), D("20.48"), 0, 1, D("0"), None),
        # Bob, March: as Ana; revenue 3.33 + 37.62 = 40.95, ticket 20.475 -> 20.48
        (MAR, *BOB, 2, 2, 1, 0.5, 1, 0, 0.0, D("40.95"), D("20.48"), 0, 1, D("0"), None),
        # Cy, March: 103 (split) and 105 (sold by; No Charge and $0 < $500: no opportunity)
        # -> 2 completed, 1 opportunity, 0 converted; sales 103 -> 0 / 1; revenue 3.34,
        # ticket 1.67; sent to the recall, but the recall is not his
        (MAR, *CY, 2, 1, 0, 0.0, 1, 0, 0.0, D("3.34"), D("1.67"), 0, 0, D("0"), None),
    ]


def test_scorecard_split_revenue_adds_up_to_the_credited_jobs(fixture_warehouse):
    [(february, march)] = query(
        fixture_warehouse,
        "select sum(split_revenue) filter (where scorecard_month = '2026-02-01'), "
        "sum(split_revenue) filter (where scorecard_month = '2026-03-01') "
        "from rpt_technician_scorecard where tenant_id = ?",
    )
    # February: 101 (100.01) + 102 (250.00); job 107 ($40, nobody's) is not in it
    assert february == D("350.01")
    # March: 103 (10.00) + 104 (75.25) + 105 (0)
    assert march == D("85.25")


def test_labour_cost_share(fixture_warehouse):
    rows = query(
        fixture_warehouse,
        "select report_month, business_unit_id, gross_pay, payroll_adjustments, labour_cost, "
        "revenue, labour_cost_share from rpt_labour_cost_share where tenant_id = ? "
        "order by 1, 2",
    )
    assert rows == [
        # HVAC, February: pay 80.00 + 25.50 = 105.50 (not the reimbursement, not the inactive
        # item), adjustments 50.00 (not the advance) -> 155.50; revenue 100.01 + 250.00 + 40.00
        # = 390.01 (invoice dates); 155.50 / 390.01 = 0.39871 -> 0.3987
        (FEB, 10, D("105.50"), D("50.00"), D("155.50"), D("390.01"), 0.3987),
        # Plumbing, February: 1000.00 + 0.10 + 0.20 = 1000.30 exactly, + 100.00; no revenue
        (FEB, 20, D("1000.30"), D("100.00"), D("1100.30"), D("0.00"), None),
        # March: revenue only (invoice 1104 HVAC 75.25, invoice 1103 Plumbing 10.00)
        (MAR, 10, D("0.00"), D("0.00"), D("0.00"), D("75.25"), 0.0),
        (MAR, 20, D("0.00"), D("0.00"), D("0.00"), D("10.00"), 0.0),
    ]


def test_reconciliation_tests_ran_and_passed(fixture_warehouse):
    out = fixture_warehouse.build_output
    for name in (
        "assert_technicians_split_revenue_reconciles_with_completed_jobs",
        "assert_technicians_hours_reconcile_with_timesheets",
        "assert_technicians_labour_cost_reconciles_with_gross_pay",
    ):
        assert any(name in line and "PASS" in line for line in out.splitlines()), name
