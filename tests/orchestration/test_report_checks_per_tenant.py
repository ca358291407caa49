"""A report's comparison check over several tenants: one result, passed only when every
tenant agrees, naming each tenant that differs; and which tenants a run covers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import dagster as dg

from servicetitan_pipeline.defs.jobs import tenants_of_run
from servicetitan_pipeline.defs.reports import comparison_check_result
from servicetitan_pipeline.defs.tenants import partition_range_tags
from servicetitan_pipeline.warehouse.report_comparisons import (
    COMPARISONS,
    ComparisonResult,
    Difference,
)

REVENUE = COMPARISONS["rpt_revenue_servicetitan"]
MONTH = dt.date(2026, 10, 1)


def _result(differences: tuple[Difference, ...] = (), problem: str | None = None):
    return ComparisonResult(
        comparison=REVENUE,
        report_table="raw_servicetitan.report_revenue_by_bu",
        months=() if problem else (MONTH,),
        keys_compared=0 if problem else 9,
        differences=differences,
        problem=problem,
    )


def test_every_tenant_agreeing_passes():
    check = comparison_check_result({"north": (1, _result()), "south": (2, _result())})
    assert check.passed
    assert "north (tenant 1): rpt_revenue_servicetitan agrees" in (check.description or "")
    assert "south (tenant 2): rpt_revenue_servicetitan agrees" in (check.description or "")


def test_one_tenant_differing_fails_the_check_naming_it():
    off = Difference(MONTH, 3, "total_revenue", Decimal("10.00"), Decimal("10.01"))
    check = comparison_check_result({"north": (1, _result()), "south": (2, _result((off,)))})
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert (check.description or "").startswith("1 of 2 tenants differ (south):")
    assert check.metadata["tenants_failed"].value == "south"
    assert "differences south" in check.metadata and "differences north" not in check.metadata


def test_a_tenant_not_compared_is_a_warning_naming_it():
    check = comparison_check_result(
        {"north": (1, _result()), "south": (2, _result(problem="report table missing"))}
    )
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert "south (tenant 2): rpt_revenue_servicetitan vs" in (check.description or "")


def test_a_run_covers_its_partition_its_range_or_every_tenant():
    names = ["a", "b", "c", "d"]
    assert tenants_of_run({"dagster/partition": "c"}, names) == ["c"]
    assert tenants_of_run(partition_range_tags("b", "d"), names) == ["b", "c", "d"]
    assert tenants_of_run({}, names) == names
