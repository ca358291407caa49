"""Comparing our reports with ServiceTitan's, on small hand-made tables with the documented columns.

``rpt_revenue_servicetitan`` and ``rpt_technician_scorecard`` are built by other parts of the
project; here they are plain tables with the columns the shared definitions fix, so the SQL of
the comparison is tested on figures worked out by hand.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from servicetitan_pipeline.warehouse.report_comparisons import (
    REVENUE_BY_BUSINESS_UNIT,
    TECHNICIAN_SCORECARD,
    Difference,
    compare_report,
    describe,
)
from servicetitan_pipeline.warehouse.reports import (
    ReportWindow,
    ensure_report_table,
    replace_window,
    report_columns,
    typed_rows,
)

TENANT = 7
REVENUE_FIELDS = [
    {"name": "Date", "dataType": "Date"},
    {"name": "BusinessUnitId", "dataType": "Number"},
    {"name": "CompletedJobRevenue", "dataType": "Number"},
    {"name": "NonJobRevenue", "dataType": "Number"},
    {"name": "AdjustmentRevenue", "dataType": "Number"},
    {"name": "TotalRevenue", "dataType": "Number"},
]
LOADED = dt.datetime(2026, 4, 1, tzinfo=dt.UTC)


def d(day: str) -> dt.date:
    return dt.date.fromisoformat(day)


def pull(conn, name, fields, start, end, rows, *, tenant=TENANT, **types):
    columns = report_columns(fields, **types)
    ensure_report_table(conn, name, columns)
    table = typed_rows(columns, [f["name"] for f in fields], rows, report=name)
    replace_window(
        conn,
        name,
        tenant,
        ReportWindow(d(start), d(end), table, [b"{}"], "accounting", 1001, []),
        loaded_at=LOADED,
    )


@pytest.fixture
def revenue(conn):
    """Our mart for Feb and Mar 2026 and ServiceTitan's daily report from Jan 15 to Mar 31."""
    conn.execute(
        """CREATE TABLE main.rpt_revenue_servicetitan (
            tenant_id BIGINT, revenue_month DATE, business_unit_id BIGINT,
            business_unit_name VARCHAR, completed_job_revenue DECIMAL(18,2),
            non_job_revenue DECIMAL(18,2), adjustment_revenue DECIMAL(18,2),
            unmapped_revenue DECIMAL(18,2), total_revenue DECIMAL(18,2))"""
    )
    conn.execute(
        """INSERT INTO main.rpt_revenue_servicetitan VALUES
        (7, '2026-01-01', 1001, 'HVAC', 999.00, 0, 0, 0, 999.00),
        (7, '2026-02-01', 1001, 'HVAC', 300.00, 20.00, -5.00, 0, 315.00),
        (7, '2026-03-01', 1001, 'HVAC', 50.00, 0, 0, 0, 50.00),
        (7, '2026-03-01', 1002, 'Plumbing', 10.01, 0, 0, 0, 10.01),
        (8, '2026-02-01', 1001, 'HVAC', 1.00, 0, 0, 0, 1.00)"""
    )
    return conn


def pull_revenue(conn, rows):
    pull(conn, "revenue", REVENUE_FIELDS, "2026-01-15", "2026-03-31", rows)


AGREEING = [
    # January is covered only from the 15th: not compared (the mart's 999.00 is not at fault).
    ["2026-01-20", 1001, "1.00", "0", "0", "1.00"],
    # February, HVAC: 100 + 200 completed, 20 non-job, -5 adjustment = 315.00 as in the mart.
    ["2026-02-03", 1001, "100.00", "0", "0", "100.00"],
    ["2026-02-17", 1001, "200.00", "20.00", "-5.00", "215.00"],
    ["2026-03-31", 1001, "50.00", "0", "0", "50.00"],
    ["2026-03-02", 1002, "10.01", "0", "0", "10.01"],
]


def test_agreeing_figures_pass(revenue):
    pull_revenue(revenue, AGREEING)
    result = compare_report(revenue, REVENUE_BY_BUSINESS_UNIT, "revenue", TENANT)
    assert result.passed, result.differences
    assert result.months == (d("2026-02-01"), d("2026-03-01"))
    assert result.keys_compared == 3  # Feb/1001, Mar/1001, Mar/1002
    assert "agrees" in describe(result)


def test_differences_are_listed_with_both_figures(revenue):
    rows = [list(r) for r in AGREEING]
    rows[2][3] = "0"  # ServiceTitan has no non-job revenue in February: 300 + 0 - 5 = 295
    rows[2][5] = "195.00"
    rows[4][1] = 1003  # the March 10.01 is under another business unit
    pull_revenue(revenue, rows)

    result = compare_report(revenue, REVENUE_BY_BUSINESS_UNIT, "revenue", TENANT)

    assert not result.passed
    feb, mar = d("2026-02-01"), d("2026-03-01")
    assert result.differences == (
        Difference(feb, 1001, "non_job_revenue", Decimal("20.00"), Decimal("0.00")),
        Difference(feb, 1001, "total_revenue", Decimal("315.00"), Decimal("295.00")),
        Difference(mar, 1002, "completed_job_revenue", Decimal("10.01"), Decimal("0.00")),
        Difference(mar, 1002, "total_revenue", Decimal("10.01"), Decimal("0.00")),
        Difference(mar, 1003, "completed_job_revenue", Decimal("0.00"), Decimal("10.01")),
        Difference(mar, 1003, "total_revenue", Decimal("0.00"), Decimal("10.01")),
    )
    assert result.differences[1].difference == Decimal("20.00")
    table = result.markdown()
    assert "| 2026-02 | 1001 | total_revenue | 315.00 | 295.00 | 20.00 |" in table
    assert "differs" in describe(result) and "6 figure(s)" in describe(result)


def test_only_the_connections_tenant_is_compared(revenue):
    pull_revenue(revenue, AGREEING)
    # Tenant 8's mart row (Feb 1.00) has no report rows, but tenant 8 has no windows either.
    assert compare_report(revenue, REVENUE_BY_BUSINESS_UNIT, "revenue", 8).problem is not None
    assert compare_report(revenue, REVENUE_BY_BUSINESS_UNIT, "revenue", TENANT).passed


def test_nothing_to_compare_is_said_and_does_not_pass(conn):
    result = compare_report(conn, REVENUE_BY_BUSINESS_UNIT, "revenue", TENANT)
    assert not result.passed and "rpt_revenue_servicetitan is not in the warehouse" in (
        result.problem or ""
    )
    conn.execute("CREATE TABLE main.rpt_revenue_servicetitan (tenant_id BIGINT)")
    assert "never pulled" in (
        compare_report(conn, REVENUE_BY_BUSINESS_UNIT, "revenue", 7).problem or ""
    )
    pull(conn, "revenue", REVENUE_FIELDS[:2], "2026-01-01", "2026-01-31", [])
    problem = compare_report(conn, REVENUE_BY_BUSINESS_UNIT, "revenue", 7).problem or ""
    assert "has no column completed_job_revenue" in problem


def test_the_scorecard_is_compared_per_technician_and_month_with_mapped_columns(conn):
    conn.execute(
        """CREATE TABLE main.rpt_technician_scorecard (
            tenant_id BIGINT, scorecard_month DATE, technician_id BIGINT, technician_name VARCHAR,
            completed_jobs BIGINT, opportunities BIGINT, converted_jobs BIGINT,
            conversion_rate DOUBLE, sales_opportunities BIGINT, sales_won BIGINT,
            close_rate DOUBLE, split_revenue DECIMAL(18,2), average_ticket DECIMAL(18,2),
            memberships_sold BIGINT, recalls_caused BIGINT, hours_worked DOUBLE,
            revenue_per_hour DECIMAL(18,2))"""
    )
    conn.execute(
        """INSERT INTO main.rpt_technician_scorecard VALUES
        (7, '2026-03-01', 20001, 'Ana', 3, 3, 2, 0.67, 1, 1, 1.0, 400.01, 133.34, 1, 0, 8, 50)"""
    )
    fields = [
        {"name": "Day", "dataType": "Date"},
        {"name": "TechnicianId", "dataType": "Number"},
        *(
            {"name": n, "dataType": "Number"}
            for n in (
                "CompletedJobs",
                "Opportunities",
                "ConvertedJobs",
                "SalesOpportunities",
                "SalesWon",
                "SplitRevenue",
                "MembershipsSold",
            )
        ),
    ]
    # Two days of March: 2 + 1 jobs, 2 + 1 opportunities, 1 + 1 converted, 400.00 + 0.01 revenue.
    rows = [
        ["2026-03-04", 20001, 2, 2, 1, 1, 1, "400.00", 0],
        ["2026-03-20", 20001, 1, 1, 1, 0, 0, "0.01", 1],
    ]
    pull(conn, "techs", fields, "2026-03-01", "2026-03-31", rows, integer_fields=["Opportunities"])
    result = compare_report(conn, TECHNICIAN_SCORECARD, "techs", TENANT, columns={"date": "day"})
    assert result.passed, result.differences
    assert result.keys_compared == 1

    pull(
        conn,
        "techs",
        fields,
        "2026-03-01",
        "2026-03-31",
        rows[:1],
        integer_fields=["Opportunities"],
    )
    result = compare_report(conn, TECHNICIAN_SCORECARD, "techs", TENANT, columns={"date": "day"})
    assert [(x.measure, x.ours, x.theirs) for x in result.differences] == [
        ("completed_jobs", Decimal(3), Decimal(2)),
        ("opportunities", Decimal(3), Decimal(2)),
        ("converted_jobs", Decimal(2), Decimal(1)),
        ("split_revenue", Decimal("400.01"), Decimal("400.00")),
        ("memberships_sold", Decimal(1), Decimal(0)),
    ]
