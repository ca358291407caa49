"""The call center and marketing marts and reports on the hand-worked fixture world
(kpi_fixtures/marketing.py, tenant 3000003), after the session's one `dbt build`. Each expected
figure carries its arithmetic; every query is filtered to the marketing tenant."""

from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal

import duckdb
import pytest
from dbt_test_helpers import run_dbt
from kpi_fixtures.marketing import TENANT

pytestmark = pytest.mark.integration

D = Decimal
JAN = date(2026, 1, 1)
FEB = date(2026, 2, 1)


def query(warehouse, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(warehouse.database), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def test_the_marketing_models_build_and_reconcile(fixture_warehouse):
    out = fixture_warehouse.build_output
    assert "ERROR=0" in out
    for test in (
        "assert_marketing_call_center_reconciles_with_fct_calls",
        "assert_marketing_roi_reconciles_with_facts",
    ):
        assert f"PASS {test}" in out


def test_lead_calls_and_booked_calls_are_decided_once_per_servicetitan_rules(fixture_warehouse):
    rows = query(
        fixture_warehouse,
        "select call_id, is_lead_call, is_booked, is_unbooked from fct_calls "
        "where tenant_id = ? order by call_id",
        [TENANT],
    )
    assert rows == [
        (1, True, True, False),  # inbound Booked
        (2, True, False, True),  # inbound Unbooked
        (3, False, False, False),  # Abandoned: no CSR, in no conversion rate
        (4, False, False, False),  # Excused
        (5, False, False, False),  # NotLead
        (6, False, False, False),  # outbound, though typed Unbooked
        (7, True, True, False),  # inbound Booked (on 1 February UTC)
        (8, False, False, False),  # deleted
        (9, False, False, False),  # unclassified (type null): false, not null
        (10, True, False, True),  # inbound Unbooked
    ]


def test_calls_carry_their_job_customer_after_merges_and_utc_date(fixture_warehouse):
    rows = query(
        fixture_warehouse,
        "select call_id, booked_job_id, surviving_customer_id, call_date, duration_seconds "
        "from fct_calls where tenant_id = ? and call_id in (1, 7, 10) order by call_id",
        [TENANT],
    )
    assert rows == [
        # the call's own job.id; 00:04:05 = 245 s
        (1, 101, 2, date(2026, 1, 10), 245),
        # no job on the call: job 102 names it as its leadCallId; 20:30 -06:00 on 31 Jan is
        # 02:30 UTC on 1 Feb; 00:06:00 = 360 s
        (7, 102, 2, date(2026, 2, 1), 360),
        # customer 1 was merged into 2; 00:01:05 = 65 s
        (10, None, 2, date(2026, 1, 12), 65),
    ]


def test_each_prospect_is_counted_once_as_a_lead(fixture_warehouse):
    leads = query(
        fixture_warehouse,
        "select lead_id, is_counted_lead from fct_leads where tenant_id = ? order by lead_id",
        [TENANT],
    )
    assert leads == [
        (6001, False),  # came from lead call 10: the call is the contact
        (6002, True),  # came from call 5, which is NotLead: a lead of its own
        (6003, True),  # converted into booking 5001: the lead is the contact
        (6004, False),  # its booking 5002 became job 101, booked by lead call 1
        (6005, False),  # deleted
    ]
    bookings = query(
        fixture_warehouse,
        "select booking_id, lead_id, is_counted_lead from fct_bookings "
        "where tenant_id = ? order by booking_id",
        [TENANT],
    )
    assert bookings == [
        (5001, 6003, False),  # lead 6003's
        (5002, 6004, False),  # lead 6004's (and job 101 is lead call 1's)
        (5003, None, True),  # only the deleted lead 6005 names it: counts by itself
        (5004, None, False),  # became job 102, booked by lead call 7
        (5005, None, True),  # dismissed, but a lead all the same
        (5006, None, False),  # deleted
    ]


def test_campaign_costs_are_daily_cost_times_the_days_of_the_month(fixture_warehouse):
    rows = query(
        fixture_warehouse,
        "select campaign_id, cost_month, days_in_month, cost_record_count, daily_cost, "
        "campaign_cost from fct_campaign_costs where tenant_id = ? order by 1, 2",
        [TENANT],
    )
    assert rows == [
        (500, JAN, 31, 1, D("12.50"), D("387.50")),  # 12.50 x 31
        (500, FEB, 28, 1, D("10.01"), D("280.28")),  # 10.01 x 28
        (600, date(2024, 2, 1), 29, 1, D("1.00"), D("29.00")),  # leap February: 1.00 x 29
        (600, FEB, 28, 1, D("0.10"), D("2.80")),  # 0.10 x 28, exact
        (700, JAN, 31, 2, D("7.50"), D("232.50")),  # two records: (5.00 + 2.50) x 31
    ]
    types = dict(
        query(
            fixture_warehouse,
            "select column_name, data_type from information_schema.columns "
            "where table_name = 'fct_campaign_costs' "
            "and column_name in ('daily_cost', 'campaign_cost')",
        )
    )
    assert types == {"daily_cost": "DECIMAL(18,2)", "campaign_cost": "DECIMAL(18,2)"}


def test_call_center_by_day_agent_and_campaign(fixture_warehouse):
    rows = query(
        fixture_warehouse,
        "select call_date, agent_name, campaign_name, total_calls, inbound_calls, "
        "outbound_calls, lead_calls, booked_calls, unbooked_calls, abandoned_calls, "
        "excused_calls, not_lead_calls, unclassified_calls, booking_rate, "
        "total_duration_seconds, lead_call_duration_seconds "
        "from rpt_call_center where tenant_id = ? "
        "order by call_date, agent_id nulls last, campaign_id nulls last",
        [TENANT],
    )
    jan10, jan12 = date(2026, 1, 10), date(2026, 1, 12)
    assert rows == [
        # calls 1 (Booked, 245 s), 2 (Unbooked, 120 s), 4 (Excused, 90 s); the deleted call 8
        # is not counted. Booking rate 1 / (1 + 1); seconds 245 + 120 + 90 = 455, leads 365
        (jan10, "Carla CSR", "Google Ads", 3, 3, 0, 2, 1, 1, 0, 1, 0, 0, 0.5, 455, 365),
        # call 9, unclassified: no lead calls, no booking rate
        (jan10, "Carla CSR", "Yard Signs", 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, None, 20, 0),
        # call 5, NotLead
        (jan10, "Dev CSR", "Google Ads", 1, 1, 0, 0, 0, 0, 0, 0, 1, 0, None, 180, 0),
        # call 6, outbound (typed Unbooked, yet not a lead call)
        (jan10, "Dev CSR", "No campaign", 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, None, 300, 0),
        # call 3, abandoned: no agent
        (jan10, "No agent", "Google Ads", 1, 1, 0, 0, 0, 0, 1, 0, 0, 0, None, 40, 0),
        # call 10, Unbooked: 0 / (0 + 1)
        (jan12, "Carla CSR", "Google Ads", 1, 1, 0, 1, 0, 1, 0, 0, 0, 0, 0.0, 65, 65),
        # call 7, on 1 February in UTC: 1 / (1 + 0)
        (FEB, "Dev CSR", "Yard Signs", 1, 1, 0, 1, 1, 0, 0, 0, 0, 0, 1.0, 360, 360),
    ]


def test_marketing_roi_by_campaign_and_month(fixture_warehouse):
    rows = query(
        fixture_warehouse,
        "select campaign_name, report_month, lead_calls, crm_leads, booking_leads, leads, "
        "booked_calls, booked_jobs, completed_jobs, converted_jobs, completed_revenue, "
        "campaign_cost, booking_rate, roi, net_roi, cost_per_lead, cost_per_lead_call "
        "from rpt_marketing_roi where tenant_id = ? order by campaign_id, report_month",
        [TENANT],
    )
    assert rows == [
        # lead calls 1, 2, 10; CRM lead 6002; booking 5005: 5 leads. Booked jobs created in
        # January: 101 and 104 (105 is deleted). Completed in January: 101, revenue
        # (108.36 - 8.26) + (0.20 - 0) = 100.30. Cost 12.50 x 31 = 387.50.
        # ROI 100.30 / 387.50 = 0.25884 -> 0.2588; net (100.30 - 387.50) / 387.50 = -0.7412;
        # per lead 387.50 / 5 = 77.50; per lead call 387.50 / 3 = 129.1666 -> 129.17
        (
            "Google Ads",
            JAN,
            3,
            1,
            1,
            5,
            1,
            2,
            1,
            1,
            D("100.30"),
            D("387.50"),
            0.3333,
            0.2588,
            -0.7412,
            D("77.50"),
            D("129.17"),
        ),
        # job 104 completed at 20:00 -05:00 on 31 January = 1 February UTC, with no invoice
        # ($0 >= the $0 threshold: converted); cost 10.01 x 28 = 280.28; ROI 0 / 280.28
        (
            "Google Ads",
            FEB,
            0,
            0,
            0,
            0,
            0,
            0,
            1,
            1,
            D("0.00"),
            D("280.28"),
            None,
            0.0,
            -1.0,
            None,
            None,
        ),
        # a cost alone, leap February 2024: 1.00 x 29
        (
            "Yard Signs",
            date(2024, 2, 1),
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            D("0.00"),
            D("29.00"),
            None,
            0.0,
            -1.0,
            None,
            None,
        ),
        # CRM lead 6003 (its booking 5001 is its own); job 103 booked (then canceled); no cost:
        # no ROI, 0.00 / 1 lead = 0.00 per lead
        (
            "Yard Signs",
            JAN,
            0,
            1,
            0,
            1,
            0,
            1,
            0,
            0,
            D("0.00"),
            D("0.00"),
            None,
            None,
            None,
            D("0.00"),
            None,
        ),
        # lead call 7 (1 Feb UTC) + booking 5003 = 2 leads (booking 5004 is call 7's job);
        # job 102 created 03:00 UTC 1 Feb and completed 10 Feb, revenue 360.83 - 27.50 =
        # 333.33; cost 0.10 x 28 = 2.80; ROI 333.33 / 2.80 = 119.04642 -> 119.0464;
        # net 330.53 / 2.80 = 118.0464; per lead 2.80 / 2 = 1.40; per lead call 2.80
        (
            "Yard Signs",
            FEB,
            1,
            0,
            1,
            2,
            1,
            1,
            1,
            1,
            D("333.33"),
            D("2.80"),
            1.0,
            119.0464,
            118.0464,
            D("1.40"),
            D("2.80"),
        ),
        # job 106 created 20 December 2025
        (
            "Radio",
            date(2025, 12, 1),
            0,
            0,
            0,
            0,
            0,
            1,
            0,
            0,
            D("0.00"),
            D("0.00"),
            None,
            None,
            None,
            None,
            None,
        ),
        # job 106 completed 3 January, $50.00 under the Install type's $100.00 sold threshold:
        # completed, not converted; cost (5.00 + 2.50) x 31 = 232.50; ROI 50 / 232.50 =
        # 0.21505 -> 0.2151; net -182.50 / 232.50 = -0.7849
        (
            "Radio",
            JAN,
            0,
            0,
            0,
            0,
            0,
            0,
            1,
            0,
            D("50.00"),
            D("232.50"),
            None,
            0.2151,
            -0.7849,
            None,
            None,
        ),
    ]


def test_marketing_money_is_exact_decimal(fixture_warehouse):
    types = dict(
        query(
            fixture_warehouse,
            "select column_name, data_type from information_schema.columns "
            "where table_name = 'rpt_marketing_roi' and column_name in "
            "('completed_revenue', 'campaign_cost', 'cost_per_lead', 'cost_per_lead_call', "
            "'roi', 'booking_rate')",
        )
    )
    assert types == {
        "completed_revenue": "DECIMAL(18,2)",
        "campaign_cost": "DECIMAL(18,2)",
        "cost_per_lead": "DECIMAL(18,2)",
        "cost_per_lead_call": "DECIMAL(18,2)",
        "roi": "DOUBLE",
        "booking_rate": "DOUBLE",
    }


def test_the_reconciliations_fail_when_a_report_does_not_add_up(fixture_warehouse, tmp_path):
    """The reconciliation tests are real tests: a cent or a call off, and they fail."""
    database = tmp_path / "warehouse.duckdb"
    shutil.copy(fixture_warehouse.database, database)
    with duckdb.connect(str(database)) as con:
        con.execute(
            "update rpt_marketing_roi set completed_revenue = completed_revenue + 0.01 "
            "where tenant_id = ? and campaign_id = 500 and report_month = ?",
            [TENANT, JAN],
        )
        # a call moved from booked to unbooked: every total still agrees but the booked count
        con.execute(
            "update rpt_call_center set booked_calls = booked_calls - 1, "
            "unbooked_calls = unbooked_calls + 1 where tenant_id = ? and call_date = ?",
            [TENANT, FEB],
        )
    result = run_dbt(
        [
            "test",
            "--select",
            "assert_marketing_roi_reconciles_with_facts",
            "assert_marketing_call_center_reconciles_with_fct_calls",
        ],
        database=database,
        target_path=tmp_path / "target",
    )
    assert result.returncode != 0
    assert "FAIL 1 assert_marketing_roi_reconciles_with_facts" in result.output
    assert "FAIL 1 assert_marketing_call_center_reconciles_with_fct_calls" in result.output
