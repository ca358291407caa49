"""Report tables: typed columns from a report's fields, liberal values, windows replaced whole."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from servicetitan_pipeline.warehouse.reports import (
    REPORT_FIELDS_TABLE,
    REPORT_PAGES_TABLE,
    REPORT_WINDOWS_TABLE,
    ColumnType,
    ReportValueError,
    ReportWindow,
    coerce_value,
    delete_report,
    ensure_report_table,
    last_window_end,
    replace_window,
    report_columns,
    snake_case,
    typed_rows,
)

FIELDS = [
    {"name": "Date", "label": "Date", "dataType": "Date"},
    {"name": "BusinessUnitId", "label": "BU ID", "dataType": "Number"},
    {"name": "BusinessUnitName", "label": "Business Unit", "dataType": "String"},
    {"name": "TotalRevenue", "label": "Total Revenue", "dataType": "Number"},
    {"name": "CloseRate", "label": "Close Rate", "dataType": "Number"},
    {"name": "IsActive", "label": "Active", "dataType": "Boolean"},
]
NAMES = [f["name"] for f in FIELDS]
LOADED = dt.datetime(2026, 11, 2, 6, 0, tzinfo=dt.UTC)


def test_snake_case_keeps_the_words():
    assert snake_case("CompletedJobRevenue") == "completed_job_revenue"
    assert snake_case("BusinessUnitId") == "business_unit_id"
    assert snake_case("BU Name") == "bu_name"
    assert snake_case("% Sold") == "sold"
    assert snake_case("2ndTech") == "f_2nd_tech"


def test_column_types_follow_the_data_type_and_the_field_name():
    columns = {c.field: c for c in report_columns(FIELDS)}
    assert columns["Date"].column_type is ColumnType.DATE
    assert columns["BusinessUnitId"].column_type is ColumnType.INTEGER  # ...Id: a key
    assert columns["BusinessUnitName"].column_type is ColumnType.STRING
    assert columns["TotalRevenue"].column_type is ColumnType.MONEY  # ...Revenue: money
    assert columns["CloseRate"].column_type is ColumnType.NUMBER  # a rate: DOUBLE
    assert columns["IsActive"].column_type is ColumnType.BOOLEAN
    # The report's lists win over the name.
    listed = {
        c.field: c.column_type
        for c in report_columns(FIELDS, money_fields=["CloseRate"], integer_fields=["Date"])
    }
    assert listed["CloseRate"] is ColumnType.MONEY and listed["Date"] is ColumnType.INTEGER


def test_colliding_names_get_a_suffix():
    columns = report_columns([{"name": "Total Revenue"}, {"name": "TotalRevenue"}])
    assert [c.column for c in columns] == ["total_revenue", "total_revenue_2"]


@pytest.mark.parametrize(
    ("value", "column_type", "stored"),
    [
        ("123.45", ColumnType.MONEY, Decimal("123.45")),
        (123.45, ColumnType.MONEY, Decimal("123.45")),  # a double read back exactly
        ("$1,234.50", ColumnType.MONEY, Decimal("1234.50")),
        (-7, ColumnType.MONEY, Decimal("-7.00")),
        ("12", ColumnType.INTEGER, 12),
        (12.0, ColumnType.INTEGER, 12),
        ("0.25", ColumnType.NUMBER, 0.25),
        ("true", ColumnType.BOOLEAN, True),
        (0, ColumnType.BOOLEAN, False),
        ("2026-11-01T00:00:00Z", ColumnType.DATE, dt.date(2026, 11, 1)),
        ("07:30:00", ColumnType.TIME, dt.time(7, 30)),
        (5, ColumnType.STRING, "5"),
        ("", ColumnType.MONEY, None),
        (None, ColumnType.DATE, None),
    ],
)
def test_values_are_read_liberally(value, column_type, stored):
    assert coerce_value(value, column_type) == stored


@pytest.mark.parametrize(
    ("value", "column_type"),
    [
        ("12.345", ColumnType.MONEY),  # a fraction of a cent is not money
        ("abc", ColumnType.MONEY),
        (1.5, ColumnType.INTEGER),
        (True, ColumnType.INTEGER),
        ("maybe", ColumnType.BOOLEAN),
        ("11/01/2026", ColumnType.DATE),
    ],
)
def test_values_that_do_not_fit_are_refused(value, column_type):
    with pytest.raises(ReportValueError):
        coerce_value(value, column_type)


def window(start: str, end: str, rows: list[list[object]], pages: int = 1) -> ReportWindow:
    columns = report_columns(FIELDS)
    return ReportWindow(
        start=dt.date.fromisoformat(start),
        end=dt.date.fromisoformat(end),
        rows=typed_rows(columns, NAMES, rows, report="revenue"),
        pages=[b'{"data": []}'] * pages,
        category="accounting",
        report_id=1001,
        parameters=[{"name": "From", "value": start}, {"name": "To", "value": end}],
    )


def stored(conn, tenant: int = 7) -> list[tuple[object, ...]]:
    return conn.execute(
        "SELECT _window_start, _row_number, date, business_unit_id, total_revenue "
        "FROM raw_servicetitan.report_revenue WHERE _tenant_id = ? ORDER BY date, _row_number",
        [tenant],
    ).fetchall()


def test_a_window_pulled_again_replaces_the_stored_one(conn):
    ensure_report_table(conn, "revenue", report_columns(FIELDS))
    jan = [["2026-01-05", 1001, "HVAC", "100.00", 0.5, True]]
    replace_window(conn, "revenue", 7, window("2026-01-01", "2026-01-10", jan), loaded_at=LOADED)
    replace_window(conn, "revenue", 8, window("2026-01-01", "2026-01-10", jan), loaded_at=LOADED)
    changed = [
        ["2026-01-05", 1001, "HVAC", "90.00", 0.5, True],
        ["2026-01-09", 1002, "Plumbing", "12.34", None, False],
    ]
    deleted = replace_window(
        conn, "revenue", 7, window("2026-01-01", "2026-01-10", changed, 2), loaded_at=LOADED
    )

    assert deleted == 1
    d = dt.date
    assert stored(conn) == [
        (d(2026, 1, 1), 1, d(2026, 1, 5), 1001, Decimal("90.00")),
        (d(2026, 1, 1), 2, d(2026, 1, 9), 1002, Decimal("12.34")),
    ]
    assert len(stored(conn, tenant=8)) == 1  # another tenant's window is left alone
    assert conn.execute(
        f"SELECT count(*), sum(row_count), sum(page_count) FROM {REPORT_WINDOWS_TABLE} "
        "WHERE _tenant_id = 7"
    ).fetchone() == (1, 2, 2)
    assert conn.execute(
        f"SELECT count(*) FROM {REPORT_PAGES_TABLE} WHERE _tenant_id = 7"
    ).fetchone() == (2,)
    assert last_window_end(conn, "revenue", 7) == d(2026, 1, 10)


def test_a_window_that_overlaps_stored_ones_replaces_them_all(conn):
    ensure_report_table(conn, "revenue", report_columns(FIELDS))
    for start, end, day in (
        ("2026-01-01", "2026-01-10", "2026-01-02"),
        ("2026-01-11", "2026-01-20", "2026-01-12"),
    ):
        row = [[day, 1001, "HVAC", "1.00", None, True]]
        replace_window(conn, "revenue", 7, window(start, end, row), loaded_at=LOADED)
    replace_window(
        conn,
        "revenue",
        7,
        window("2026-01-05", "2026-01-15", [["2026-01-06", 1001, "HVAC", "2.00", None, True]]),
        loaded_at=LOADED,
    )
    assert [r[2] for r in stored(conn)] == [dt.date(2026, 1, 6)]


def test_a_failed_window_changes_nothing(conn):
    ensure_report_table(conn, "revenue", report_columns(FIELDS))
    good = window("2026-01-01", "2026-01-10", [["2026-01-05", 1001, "HVAC", "100.00", 0.5, True]])
    replace_window(conn, "revenue", 7, good, loaded_at=LOADED)
    broken = window("2026-01-01", "2026-01-10", [["2026-01-06", 1001, "HVAC", "5.00", 0.1, True]])
    # A page body that is not JSON fails the insert of the pages, after the rows' delete.
    broken = ReportWindow(**{**broken.__dict__, "pages": [b"not json"]})
    with pytest.raises(Exception, match="JSON"):
        replace_window(conn, "revenue", 7, broken, loaded_at=LOADED)
    assert [r[4] for r in stored(conn)] == [Decimal("100.00")]


def test_a_bad_value_names_the_report_field_and_row():
    with pytest.raises(ReportValueError) as caught:
        typed_rows(
            report_columns(FIELDS),
            NAMES,
            [["2026-01-05", 1, "x", "1.005", 0, True]],
            report="revenue",
        )
    assert "report revenue: field 'TotalRevenue' of row 1 is '1.005'" in str(caught.value)


def test_new_fields_add_columns_and_changed_types_are_refused(conn):
    ensure_report_table(conn, "revenue", report_columns(FIELDS))
    more = [*FIELDS, {"name": "NewMetric", "label": "New", "dataType": "Number"}]
    ensure_report_table(conn, "revenue", report_columns(more))
    columns = [r[0] for r in conn.execute("DESCRIBE raw_servicetitan.report_revenue").fetchall()]
    assert "new_metric" in columns
    comment = conn.execute(
        "SELECT comment FROM duckdb_columns() WHERE table_name = 'report_revenue' "
        "AND column_name = 'total_revenue'"
    ).fetchone()
    assert comment is not None and "'TotalRevenue'" in comment[0]
    assert conn.execute(
        f"SELECT field_name, column_type FROM {REPORT_FIELDS_TABLE} "
        "WHERE column_name = 'new_metric'"
    ).fetchone() == ("NewMetric", "DOUBLE")
    changed = [{**f, "dataType": "String"} if f["name"] == "TotalRevenue" else f for f in FIELDS]
    with pytest.raises(ReportValueError, match="full_refresh"):
        ensure_report_table(conn, "revenue", report_columns(changed))


def test_delete_report_removes_only_the_tenants_rows(conn):
    ensure_report_table(conn, "revenue", report_columns(FIELDS))
    row = [["2026-01-05", 1001, "HVAC", "100.00", 0.5, True]]
    for tenant in (7, 8):
        replace_window(
            conn, "revenue", tenant, window("2026-01-01", "2026-01-10", row), loaded_at=LOADED
        )
    assert delete_report(conn, "revenue", 7) == 1
    assert stored(conn) == [] and len(stored(conn, tenant=8)) == 1
    assert last_window_end(conn, "revenue", 7) is None
