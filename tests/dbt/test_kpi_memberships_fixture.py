"""Memberships, recurring services and purchasing on the hand-worked fixture tenant.

Records in kpi_fixtures/memberships.py (tenant 3000004); every figure below shows its
arithmetic. The rows were loaded on 2026-03-31 (UTC): that is the as-of date. Gold Plan is
type 401, Silver Plan 402. Memberships (type, business unit, term, status):

    5001 Gold  North 2025-01-10 .. 2026-01-10 Expired 2026-01-10, renewed by 5002
    5002 Gold  North 2026-01-10 .. 2027-01-10 Active (the renewal)
    5003 Gold  North 2025-12-05 .. 2026-12-05 Canceled 2026-02-14
    5004 Gold  North 2026-02-01 .. 2027-02-01 Suspended 03-10, Active again 03-20
    5005 Gold  North 2025-11-20 .. (ongoing)  Suspended and reactivated 01-31, Suspended 03-15
    5006 Gold  North 2026-01-05 .. 2027-01-05 Deleted (never counted)
    5007 Silver  -   2026-03-03 .. 2027-03-03 Active
    5008 Gold  North 2025-02-01 .. 2026-02-01 Expired 2026-02-01, not renewed
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import duckdb
import pytest
from kpi_fixtures.memberships import TENANT

pytestmark = pytest.mark.integration

D = Decimal
GOLD, SILVER = 401, 402


def rows(warehouse: Any, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(warehouse.database), read_only=True) as con:
        return con.execute(sql, [TENANT, *(params or [])]).fetchall()


MEMBERSHIP_COLUMNS = (
    "active_at_start, new_memberships, renewed_memberships, canceled_memberships, "
    "expired_memberships, active_at_end, suspended_at_end, retained_memberships, retention_rate"
)


def membership_month(warehouse: Any, month: str, type_id: int) -> tuple[Any, ...]:
    [row] = rows(
        warehouse,
        f"select {MEMBERSHIP_COLUMNS} from rpt_memberships "
        "where tenant_id = ? and membership_month = ? and membership_type_id = ?",
        [date.fromisoformat(month), type_id],
    )
    return row


def test_the_build_passes(fixture_warehouse):
    assert "ERROR=0" in fixture_warehouse.build_output


def test_fct_memberships_links_renewals_both_ways_and_dates_the_ends(fixture_warehouse):
    got = {
        r[0]: r[1:]
        for r in rows(
            fixture_warehouse,
            "select membership_id, renews_membership_id, is_renewal, is_renewed, is_counted, "
            "canceled_date, expired_date, membership_type_name from fct_memberships "
            "where tenant_id = ? order by membership_id",
        )
    }
    assert got[5001] == (None, False, True, True, None, date(2026, 1, 10), "Gold Plan")
    assert got[5002] == (5001, True, False, True, None, None, "Gold Plan")
    # canceled on the status change's date (15:00 UTC on 2026-02-14)
    assert got[5003][4:6] == (date(2026, 2, 14), None)
    assert got[5006][3] is False  # Deleted: kept, never counted
    assert got[5008][4:6] == (None, date(2026, 2, 1))


def test_status_history_is_ordered_with_the_status_before_and_after(fixture_warehouse):
    got = rows(
        fixture_warehouse,
        "select change_sequence, status_before, status_after, is_latest_change, "
        "next_changed_at is null from fct_membership_status_changes "
        "where tenant_id = ? and membership_id = 5005 order by change_sequence",
    )
    assert got == [
        (1, "Active", "Suspended", False, False),
        (2, "Suspended", "Active", False, False),
        (3, "Active", "Suspended", True, True),
    ]


def test_the_month_spine_runs_from_the_first_membership_to_the_as_of_date(fixture_warehouse):
    # earliest counted start 2025-01-10 (5001) .. as-of 2026-03-31: 15 months, for both types
    [(months, first, last, measured)] = rows(
        fixture_warehouse,
        "select count(distinct membership_month), min(membership_month), max(membership_month), "
        "max(measured_on) from rpt_memberships where tenant_id = ?",
    )
    assert (months, first, last, measured) == (
        15,
        date(2025, 1, 1),
        date(2026, 3, 1),
        date(2026, 3, 31),
    )
    [(rows_count,)] = rows(
        fixture_warehouse, "select count(*) from rpt_memberships where tenant_id = ?"
    )
    assert rows_count == 30  # 15 months x 2 types


def test_january_renewal_keeps_its_member(fixture_warehouse):
    # Start (2025-12-31): 5001, 5003, 5005, 5008 active -> 4 (5006 is deleted).
    # End (2026-01-31): 5001's term ended 01-10, 5002 (its renewal) is active; 5003, 5008
    # active; 5005 was suspended and reactivated on 01-31, so active that night -> 4.
    # Retained: 5001 through 5002, 5003, 5005, 5008 -> 4/4 = 1.0.
    # New 0 (5006 deleted); renewed 1 (5002); canceled 0; expired 1 (5001 on 01-10).
    assert membership_month(fixture_warehouse, "2026-01-01", GOLD) == (
        4,
        0,
        1,
        0,
        1,
        4,
        0,
        4,
        1.0,
    )


def test_february_cancellation_and_expiry_without_renewal(fixture_warehouse):
    # Start = January's end: 5002, 5003, 5005, 5008 -> 4.
    # End (02-28): 5002, 5004 (new, from 02-01), 5005 active; 5003 canceled 02-14, 5008 ended
    # 02-01 -> 3. Retained: 5002, 5005 -> 2/4 = 0.5.
    # New 1 (5004); canceled 1 (5003); expired 1 (5008).
    assert membership_month(fixture_warehouse, "2026-02-01", GOLD) == (
        4,
        1,
        0,
        1,
        1,
        3,
        0,
        2,
        0.5,
    )


def test_march_measures_suspensions_on_the_as_of_date(fixture_warehouse):
    # Start (02-28): 5002, 5004, 5005 -> 3.
    # End (as-of 03-31): 5002 active; 5004 suspended 03-10 and active again 03-20 -> active;
    # 5005 suspended 03-15 -> suspended, not active. Active 2, suspended 1.
    # Retained 2/3 = 0.6667 (rounded to 4 places).
    assert membership_month(fixture_warehouse, "2026-03-01", GOLD) == (
        3,
        0,
        0,
        0,
        0,
        2,
        1,
        2,
        0.6667,
    )
    # Silver: 5007 sold 03-03, active at the end; none at the start -> no retention rate
    assert membership_month(fixture_warehouse, "2026-03-01", SILVER) == (
        0,
        1,
        0,
        0,
        0,
        1,
        0,
        0,
        None,
    )


def test_membership_conversion_by_month_and_business_unit(fixture_warehouse):
    got = rows(
        fixture_warehouse,
        "select conversion_month, business_unit_name, memberships_sold, opportunities, "
        "membership_conversion_rate from rpt_membership_conversion "
        "where tenant_id = ? and conversion_month >= '2026-01-01' "
        "order by conversion_month, business_unit_id nulls last",
    )
    assert got == [
        # 5004 sold in February under North; jobs 4001 and 4002 completed there: 1/2
        (date(2026, 2, 1), "North", 1, 2, 0.5),
        # March North: 4006 is an opportunity; 4003 is No Charge at $0 under its type's $100
        # sold threshold (not one); 4004 was canceled; nothing sold: 0/1
        (date(2026, 3, 1), "North", 0, 1, 0.0),
        # March South: 4005 completed, nothing sold: 0/1
        (date(2026, 3, 1), "South", 0, 1, 0.0),
        # 5007 has no business unit: sold 1, no opportunities, no rate
        (date(2026, 3, 1), "Unassigned", 1, 0, None),
    ]
    # the renewal 5002 (January) is not a sale, and the deleted 5006 is not counted
    [(january,)] = rows(
        fixture_warehouse,
        "select count(*) from rpt_membership_conversion "
        "where tenant_id = ? and conversion_month = '2026-01-01'",
    )
    assert january == 0


def test_recurring_services_due_by_month_and_type(fixture_warehouse):
    got = rows(
        fixture_warehouse,
        "select due_month, recurring_service_type_name, events_due, events_completed, "
        "events_booked_open, events_dismissed, events_overdue, events_to_do, completion_rate "
        "from rpt_recurring_services_due where tenant_id = ? "
        "order by due_month, recurring_service_type_id",
    )
    assert got == [
        # Spring tune-up in March, active events 6001..6005 (6007 inactive) -> 5 due:
        # 6001 completed (job 4006); 6002 overdue (its job 4004 was canceled, due 03-10);
        # 6003 dismissed; 6004 due on the as-of day 03-31, so to do, not overdue; 6005 overdue
        # and booked (job 4007 scheduled, due 03-15). Completed 1/5 = 0.2.
        (date(2026, 3, 1), "Spring tune-up", 5, 1, 1, 1, 2, 1, 0.2),
        # Fall tune-up: 6008 due 2026-02-28 22:00 at -05:00 = March 1 UTC, completed (4005)
        (date(2026, 3, 1), "Fall tune-up", 1, 1, 0, 0, 0, 0, 1.0),
        # 6006 due in April: to do
        (date(2026, 4, 1), "Fall tune-up", 1, 0, 0, 0, 0, 1, 0.0),
    ]


def test_purchase_order_items_are_unnested_and_exact(fixture_warehouse):
    items = rows(
        fixture_warehouse,
        "select item_index, quantity, unit_cost, total from fct_purchase_order_items "
        "where tenant_id = ? and purchase_order_id = 801 order by item_index",
    )
    assert items == [
        (1, D("1.0000"), D("0.10"), D("0.10")),
        (2, D("1.0000"), D("0.20"), D("0.20")),
        (3, D("4.0000"), D("25.00"), D("100.00")),
    ]
    orders = rows(
        fixture_warehouse,
        "select purchase_order_id, vendor_name, item_count, items_total, tax, shipping, total "
        "from fct_purchase_orders where tenant_id = ? order by purchase_order_id",
    )
    assert orders == [
        # 0.1 + 0.2 + 100.0 = 100.30 exactly; + 8.25 tax + 15.00 shipping = 123.55 = total
        (801, "Ferguson Supply", 3, D("100.30"), D("8.25"), D("15.00"), D("123.55")),
        # no items: 0.00 + 0 tax + 25.00 shipping = 25.00
        (802, "Ferguson Supply", 0, D("0.00"), D("0.00"), D("25.00"), D("25.00")),
    ]


def test_inventory_bill_carries_its_purchase_order(fixture_warehouse):
    assert rows(
        fixture_warehouse,
        "select inventory_bill_id, purchase_order_id, bill_amount, purchase_order_total, "
        "bill_month from fct_inventory_bills where tenant_id = ?",
    ) == [(901, 801, D("123.55"), D("123.55"), date(2026, 3, 1))]


def test_the_reconciliation_tests_ran_and_passed(fixture_warehouse):
    out = fixture_warehouse.build_output
    for name in (
        "assert_memberships_counts_reconcile_with_fct_memberships",
        "assert_memberships_recurring_events_reconcile_with_fct_events",
        "assert_memberships_purchase_order_items_reconcile_with_raw",
        "assert_memberships_purchase_order_totals_reconcile_with_items",
    ):
        assert any(name in line and "PASS" in line for line in out.splitlines()), name
