"""Report assets against the simulator, into a real DuckDB file: the simulator's figures exactly,
re-runs that never duplicate, look-back re-pulls that replace changed figures, and the
comparison checks wired in Dagster."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import dagster as dg
import duckdb
import pytest
from ingestion_helpers import resources

from servicetitan_pipeline.defs.reports import (
    build_report_assets,
    build_report_checks,
    report_asset_key,
)
from servicetitan_pipeline.simulator import SimulatorConfig, start_simulator
from servicetitan_pipeline.simulator.reporting import REPORTS_BY_KEY
from servicetitan_pipeline.sync.report_specs import parse_report_specs
from servicetitan_pipeline.warehouse.reports import snake_case

# Two windows of 600 days from 2024-01-01 reach the simulator's today (2026-11-01): a run costs
# one description and one page per window, within ServiceTitan's 5 requests a minute.
SPECS = parse_report_specs(
    {
        "reports": [
            {
                "name": "revenue",
                "category": "accounting",
                "report_id": 1001,
                "date_parameters": {"from": "From", "to": "To"},
                "start_date": dt.date(2024, 1, 1),
                "window_days": 600,
                "lookback_days": 10,
                "page_size": 25000,
                "integer_fields": ["BusinessUnitId"],
                "compare_with": "rpt_revenue_servicetitan",
            },
            {
                "name": "technicians",
                "category": "technician",
                "report_id": 2001,
                "date_parameters": {"from": "From", "to": "To"},
                "start_date": dt.date(2024, 1, 1),
                "window_days": 600,
                "lookback_days": 10,
                "page_size": 25000,
                "integer_fields": [
                    "TechnicianId",
                    "Opportunities",
                    "SalesOpportunities",
                    "SalesWon",
                    "MembershipsSold",
                ],
                "compare_with": "rpt_technician_scorecard",
            },
        ]
    },
    source="test",
)
ASSETS = build_report_assets(SPECS)
CHECKS = build_report_checks(SPECS)
SECOND_WINDOW = dt.date(2024, 1, 1) + dt.timedelta(days=600)


@pytest.fixture
def sim():
    # No server-side limit here: a test runs the assets several times within a minute (the
    # limit itself is tested in tests/simulator and tests/unit/client).
    config = SimulatorConfig(customers=60, seed=7, report_requests_per_minute=None)
    with start_simulator(config) as simulator:
        yield simulator


def materialize(sim, database, *, checks=False, full_refresh=False, raise_on_error=True):
    return dg.materialize(
        [*ASSETS, *(CHECKS if checks else [])],
        resources=resources(sim, database),
        run_config={"ops": {a.op.name: {"config": {"full_refresh": full_refresh}} for a in ASSETS}},
        raise_on_error=raise_on_error,
    )


def expected_rows(sim, spec, start: dt.date, end: dt.date) -> list[tuple[Any, ...]]:
    """The simulator's own computation, typed as the table stores it."""
    report = REPORTS_BY_KEY[(spec.category, spec.report_id)]
    records = {name: sim.truth(name) for name in report.reads}
    out = []
    for row in report.compute(records, start, end):
        typed: list[Any] = [dt.date.fromisoformat(row[0]), row[1], row[2]]
        for field, value in zip(report.fields[3:], row[3:], strict=True):
            money = "Revenue" in field.name
            typed.append(Decimal(repr(value)).quantize(Decimal("0.01")) if money else value)
        out.append(tuple(typed))
    return out


def stored_rows(database, spec, since: dt.date | None = None) -> list[tuple[Any, ...]]:
    """The table's rows of the simulator's tenant, in the order ServiceTitan sent them."""
    report = REPORTS_BY_KEY[(spec.category, spec.report_id)]
    columns = [snake_case(f.name) for f in report.fields]
    with duckdb.connect(str(database), read_only=True) as conn:
        return conn.execute(
            f"SELECT {', '.join(columns)} FROM raw_servicetitan.{spec.table_name} "
            "WHERE _tenant_id = ? AND date >= ? ORDER BY _window_start, _row_number",
            [SimulatorConfig().tenant_id, since or dt.date(1900, 1, 1)],
        ).fetchall()


def metadata(result, spec) -> dict[str, Any]:
    [event] = [
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key == report_asset_key(spec)
    ]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def test_reports_land_exactly_as_the_simulator_computes_them(sim, tmp_path):
    database = tmp_path / "wh.duckdb"
    result = materialize(sim, database)
    today = dt.date.fromisoformat(sim.clock[:10])
    for spec in SPECS:
        stored = stored_rows(database, spec)
        assert stored == expected_rows(sim, spec, spec.start_date, today)
        assert len(stored) > 20
        md = metadata(result, spec)
        # two windows, one page each, plus the description: 3 requests
        assert (md["windows"], md["pages"], md["requests"]) == (2, 2, 3)
        assert md["rows_written"] == md["dagster/row_count"] == len(stored)
        assert md["rows_replaced"] == 0
    with duckdb.connect(str(database), read_only=True) as conn:
        pages = conn.execute(
            "SELECT report, count(*), sum(json_array_length(payload -> '$.data')) "
            "FROM raw_servicetitan._report_pages GROUP BY report ORDER BY report"
        ).fetchall()
    assert pages == [
        ("revenue", 2, len(stored_rows(database, SPECS[0]))),
        ("technicians", 2, len(stored_rows(database, SPECS[1]))),
    ]


def test_a_rerun_replaces_the_last_window_and_never_duplicates(sim, tmp_path):
    database = tmp_path / "wh.duckdb"
    materialize(sim, database)
    before = {spec.name: stored_rows(database, spec) for spec in SPECS}
    result = materialize(sim, database)
    for spec in SPECS:
        assert stored_rows(database, spec) == before[spec.name]
        md = metadata(result, spec)
        recent = [r for r in before[spec.name] if r[0] >= SECOND_WINDOW]
        # Ten days back from the last day is in the second window: only it is pulled again.
        assert (md["windows"], md["first_day"]) == (1, str(SECOND_WINDOW))
        assert md["rows_replaced"] == md["rows_written"] == len(recent)
        assert md["dagster/row_count"] == len(before[spec.name])


def test_a_look_back_re_pull_replaces_changed_figures(sim, tmp_path):
    database = tmp_path / "wh.duckdb"
    materialize(sim, database)
    before = {spec.name: stored_rows(database, spec) for spec in SPECS}
    sim.advance(hours=24 * 5)  # jobs complete, invoices arrive: recent figures change
    materialize(sim, database)
    today = dt.date.fromisoformat(sim.clock[:10])
    changed = 0
    for spec in SPECS:
        recent = stored_rows(database, spec, since=SECOND_WINDOW)
        assert recent == expected_rows(sim, spec, SECOND_WINDOW, today)
        old_recent = [r for r in before[spec.name] if r[0] >= SECOND_WINDOW]
        changed += recent != old_recent
        # The first window was not pulled again: its rows are the first run's.
        earlier = [r for r in stored_rows(database, spec) if r[0] < SECOND_WINDOW]
        assert earlier == [r for r in before[spec.name] if r[0] < SECOND_WINDOW]
    assert changed, "five days of the simulated tenant changed no figure: the test proves nothing"


def test_full_refresh_pulls_everything_again(sim, tmp_path):
    database = tmp_path / "wh.duckdb"
    materialize(sim, database)
    result = materialize(sim, database, full_refresh=True)
    for spec in SPECS:
        md = metadata(result, spec)
        assert md["windows"] == 2
        assert md["rows_deleted_by_full_refresh"] == md["rows_written"]
        assert len(stored_rows(database, spec)) == md["rows_written"]


def _build_marts_from_the_reports(database, *, off_by_a_cent: bool) -> None:
    """Stand-ins for the dbt reports with their documented columns, summed from the pulled
    rows (the real models are built elsewhere): the check must find them equal, or find the
    one cent added."""
    with duckdb.connect(str(database)) as conn:
        conn.execute(
            """CREATE OR REPLACE TABLE main.rpt_revenue_servicetitan AS
            SELECT _tenant_id AS tenant_id, CAST(date_trunc('month', date) AS DATE)
                AS revenue_month, business_unit_id, any_value(business_unit_name)
                AS business_unit_name, sum(completed_job_revenue) AS completed_job_revenue,
                sum(non_job_revenue) AS non_job_revenue, sum(adjustment_revenue)
                AS adjustment_revenue, sum(unmapped_revenue) AS unmapped_revenue,
                sum(total_revenue) AS total_revenue
            FROM raw_servicetitan.report_revenue GROUP BY ALL"""
        )
        conn.execute(
            """CREATE OR REPLACE TABLE main.rpt_technician_scorecard AS
            SELECT _tenant_id AS tenant_id, CAST(date_trunc('month', date) AS DATE)
                AS scorecard_month, technician_id, sum(completed_jobs) AS completed_jobs,
                sum(opportunities) AS opportunities, sum(converted_jobs) AS converted_jobs,
                sum(sales_opportunities) AS sales_opportunities, sum(sales_won) AS sales_won,
                sum(split_revenue) AS split_revenue, sum(memberships_sold) AS memberships_sold
            FROM raw_servicetitan.report_technicians GROUP BY ALL"""
        )
        if off_by_a_cent:
            conn.execute(
                "UPDATE main.rpt_revenue_servicetitan SET total_revenue = total_revenue + 0.01 "
                "WHERE revenue_month = (SELECT max(revenue_month) "
                "FROM main.rpt_revenue_servicetitan)"
            )


def check_results(result) -> dict[str, Any]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_comparison_checks_pass_when_equal_and_list_the_differences(sim, tmp_path):
    database = tmp_path / "wh.duckdb"
    result = materialize(sim, database, checks=True)
    # The dbt reports are not in this warehouse: the checks say so and do not pass.
    for evaluation in check_results(result).values():
        assert not evaluation.passed
        assert evaluation.severity == dg.AssetCheckSeverity.WARN

    _build_marts_from_the_reports(database, off_by_a_cent=False)
    result = materialize(sim, database, checks=True)
    evaluations = check_results(result)
    assert set(evaluations) == {
        "matches_rpt_revenue_servicetitan",
        "matches_rpt_technician_scorecard",
    }
    for evaluation in evaluations.values():
        assert evaluation.passed, evaluation.description
        assert evaluation.metadata["differences_count"].value == 0

    _build_marts_from_the_reports(database, off_by_a_cent=True)
    result = materialize(sim, database, checks=True, raise_on_error=False)
    revenue = check_results(result)["matches_rpt_revenue_servicetitan"]
    assert not revenue.passed and revenue.severity == dg.AssetCheckSeverity.ERROR
    count = revenue.metadata["differences_count"].value
    assert count >= 1
    table = revenue.metadata["differences"].value
    assert "| total_revenue |" in table and "| 0.01 |" in table
    assert check_results(result)["matches_rpt_technician_scorecard"].passed
