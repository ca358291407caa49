"""The report list: SERVICETITAN_REPORTS_FILE, its validation, and the windows a run pulls."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from servicetitan_pipeline.config import REPORTS_FILE_ENV, ConfigError, reports_file
from servicetitan_pipeline.simulator.reporting import DEMO_REPORTS_FILE
from servicetitan_pipeline.sync.report_specs import (
    ReportSpec,
    ReportSpecError,
    load_report_specs,
    parse_report_specs,
)
from servicetitan_pipeline.sync.reports import report_windows

VALID = """
[[reports]]
name = "revenue"
category = "accounting"
report_id = 1001
parameters = { BusinessUnitIds = [1001, 1002], IncludeInactive = false }
date_parameters = { from = "From", to = "To" }
start_date = 2026-01-01
window_days = 10
lookback_days = 3
page_size = 2000
money_fields = ["TotalRevenue"]
integer_fields = ["BusinessUnitId"]
compare_with = "rpt_revenue_servicetitan"
compare_columns = { date = "invoice_day" }

[[reports]]
name = "technicians"
category = "technician"
report_id = 2001
date_parameters = { from = "DateFrom", to = "DateTo" }
start_date = "2025-06-15"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "servicetitan_reports.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_valid_list_reads_into_specs(tmp_path):
    first, second = load_report_specs(write(tmp_path, VALID))
    assert first == ReportSpec(
        name="revenue",
        category="accounting",
        report_id=1001,
        parameters={"BusinessUnitIds": [1001, 1002], "IncludeInactive": False},
        from_parameter="From",
        to_parameter="To",
        start_date=dt.date(2026, 1, 1),
        window_days=10,
        lookback_days=3,
        page_size=2000,
        money_fields=frozenset({"TotalRevenue"}),
        integer_fields=frozenset({"BusinessUnitId"}),
        compare_with="rpt_revenue_servicetitan",
        compare_columns={"date": "invoice_day"},
    )
    assert first.table_name == "report_revenue"
    # Defaults: 31-day windows, 7 days looked back, 5000 rows a page; a date given as text.
    assert (second.window_days, second.lookback_days, second.page_size) == (31, 7, 5000)
    assert second.start_date == dt.date(2025, 6, 15)
    assert first.request_parameters(dt.date(2026, 1, 1), dt.date(2026, 1, 10)) == [
        {"name": "BusinessUnitIds", "value": [1001, 1002]},
        {"name": "IncludeInactive", "value": False},
        {"name": "From", "value": "2026-01-01"},
        {"name": "To", "value": "2026-01-10"},
    ]


def test_the_demo_list_is_valid_and_names_the_simulators_two_reports():
    specs = load_report_specs(DEMO_REPORTS_FILE)
    assert {(s.category, s.report_id, s.compare_with) for s in specs} == {
        ("accounting", 1001, "rpt_revenue_servicetitan"),
        ("technician", 2001, "rpt_technician_scorecard"),
    }


BASE = {
    "name": "revenue",
    "category": "accounting",
    "report_id": 1001,
    "date_parameters": {"from": "From", "to": "To"},
    "start_date": dt.date(2026, 1, 1),
}


@pytest.mark.parametrize(
    ("change", "key", "why"),
    [
        ({"report_id": 0}, "report_id", "whole number >= 1"),
        ({"report_id": "1001"}, "report_id", "whole number >= 1"),
        ({"category": " "}, "category", "category's id"),
        ({"name": "Revenue-BU"}, "name", "lower-case"),
        ({"date_parameters": {"from": "From"}}, "date_parameters", "from ="),
        ({"date_parameters": {"from": "D", "to": "D"}}, "date_parameters", "two different"),
        ({"start_date": "January"}, "start_date", "date like 2024-01-01"),
        ({"window_days": 0}, "window_days", "whole number >= 1"),
        ({"lookback_days": -1}, "lookback_days", ">= 0"),
        ({"page_size": 30000}, "page_size", "at most 25000"),
        ({"parameters": {"From": "2026-01-01"}}, "parameters", "date parameter"),
        ({"parameters": {"Ids": {"a": 1}}}, "parameters", "string, number, boolean"),
        ({"money_fields": "TotalRevenue"}, "money_fields", "list"),
        ({"money_fields": ["A"], "integer_fields": ["A"]}, "integer_fields", "money_fields"),
        ({"compare_with": "rpt_nothing"}, "compare_with", "rpt_revenue_servicetitan"),
        ({"compare_columns": {"date": "day"}}, "compare_columns", "needs compare_with"),
        ({"windows": 3}, "windows", "not a known key"),
    ],
)
def test_a_mistake_names_the_report_and_the_key(change, key, why):
    with pytest.raises(ReportSpecError) as caught:
        parse_report_specs({"reports": [{**BASE, **change}]}, source="reports.toml")
    message = str(caught.value)
    name = change.get("name", "revenue")
    assert message.startswith(f"reports.toml: report {name!r}: ")
    assert f"'{key}'" in message
    assert why in message


@pytest.mark.parametrize("missing", ["name", "category", "report_id", "date_parameters"])
def test_a_missing_required_key_is_named(missing):
    entry = {k: v for k, v in BASE.items() if k != missing}
    with pytest.raises(ReportSpecError, match=f"'{missing}' is required"):
        parse_report_specs({"reports": [entry]}, source="reports.toml")


def test_two_reports_with_one_name_are_refused():
    with pytest.raises(ReportSpecError, match="'name' is used by entry 1 too"):
        parse_report_specs({"reports": [BASE, {**BASE, "report_id": 7}]}, source="r.toml")


def test_a_file_that_is_not_toml_names_the_file(tmp_path):
    path = write(tmp_path, "[[reports]\nname = ")
    with pytest.raises(ReportSpecError, match="not valid TOML") as caught:
        load_report_specs(path)
    assert str(path) in str(caught.value)


def test_reports_file_setting(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert reports_file({}) is None  # no setting, no servicetitan_reports.toml here: no reports
    default = write(tmp_path, VALID)
    assert reports_file({}) == default.resolve()  # the default file in the working directory
    other = tmp_path / "elsewhere.toml"
    other.write_text("", encoding="utf-8")
    assert reports_file({REPORTS_FILE_ENV: str(other)}) == other.resolve()
    with pytest.raises(ConfigError, match=REPORTS_FILE_ENV):
        reports_file({REPORTS_FILE_ENV: str(tmp_path / "missing.toml")})
    assert load_report_specs(other) == ()  # an empty list is no reports, not an error


def spec(**overrides: object) -> ReportSpec:
    values: dict[str, object] = {
        "name": "r",
        "category": "c",
        "report_id": 1,
        "parameters": {},
        "from_parameter": "From",
        "to_parameter": "To",
        "start_date": dt.date(2026, 1, 1),
        "window_days": 10,
        "lookback_days": 3,
    }
    values.update(overrides)
    return ReportSpec(**values)  # type: ignore[arg-type]


def d(day: str) -> dt.date:
    return dt.date.fromisoformat(day)


def test_the_first_run_pulls_from_start_date_in_grid_windows_to_today():
    assert report_windows(spec(), last_end=None, today=d("2026-01-25")) == [
        (d("2026-01-01"), d("2026-01-10")),
        (d("2026-01-11"), d("2026-01-20")),
        (d("2026-01-21"), d("2026-01-25")),  # the window of today ends today
    ]


def test_a_later_run_starts_with_the_grid_window_of_the_look_back():
    # Stored up to Jan 25; 3 days back from Jan 26 is Jan 23, in the window starting Jan 21.
    assert report_windows(spec(), last_end=d("2026-01-25"), today=d("2026-02-02")) == [
        (d("2026-01-21"), d("2026-01-30")),
        (d("2026-01-31"), d("2026-02-02")),
    ]
    # Looking back across a window boundary re-pulls the window before too.
    assert report_windows(spec(lookback_days=6), last_end=d("2026-01-25"), today=d("2026-01-25"))[
        0
    ] == (d("2026-01-11"), d("2026-01-20"))


def test_nothing_to_pull_before_the_start_or_when_up_to_date_without_look_back():
    assert report_windows(spec(), last_end=None, today=d("2025-12-31")) == []
    assert (
        report_windows(spec(lookback_days=0), last_end=d("2026-01-25"), today=d("2026-01-25")) == []
    )
