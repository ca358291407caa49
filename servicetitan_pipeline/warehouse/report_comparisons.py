"""Our reports against ServiceTitan's: where a mart and a pulled report disagree, and by how much.

Two comparisons, one per dbt report whose figures ServiceTitan's Reporting API also gives:

* ``rpt_revenue_servicetitan`` (per ``revenue_month`` and ``business_unit_id``) against a
  revenue-by-business-unit report (per day and business unit);
* ``rpt_technician_scorecard`` (per ``scorecard_month`` and ``technician_id``) against a
  technician performance report (per day and technician).

The report's rows are summed to months (each measure is additive: counts and money), both
sides are read for the connection's tenant, and only the months the stored report windows
cover whole are compared (the first month when the report starts after its 1st day is left
out, and the month of the last day pulled is compared up to that day, as both sides then hold
the same days). A month and key present on one side only count as 0 on the other. Money and
counts are compared exactly, as DECIMAL(38,2).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import duckdb

from servicetitan_pipeline.warehouse.reports import (
    REPORT_WINDOWS_TABLE,
    report_table,
    stored_columns,
)
from servicetitan_pipeline.warehouse.schema import RAW_SCHEMA, TENANT_ID


@dataclass(frozen=True)
class Comparison:
    """A dbt report and the columns it is compared on.

    Attributes:
        model: the dbt model (a table of the warehouse), e.g. ``rpt_revenue_servicetitan``.
        month_column: the model's month column.
        key_column: the model's key within a month (the report's key column by default).
        measures: the columns compared (the report's columns of the same names by default).
        what: how the key reads in messages ("business unit").
    """

    model: str
    month_column: str
    key_column: str
    measures: tuple[str, ...]
    what: str


REVENUE_BY_BUSINESS_UNIT = Comparison(
    model="rpt_revenue_servicetitan",
    month_column="revenue_month",
    key_column="business_unit_id",
    measures=("completed_job_revenue", "non_job_revenue", "adjustment_revenue", "total_revenue"),
    what="business unit",
)
TECHNICIAN_SCORECARD = Comparison(
    model="rpt_technician_scorecard",
    month_column="scorecard_month",
    key_column="technician_id",
    measures=(
        "completed_jobs",
        "opportunities",
        "converted_jobs",
        "sales_opportunities",
        "sales_won",
        "split_revenue",
        "memberships_sold",
    ),
    what="technician",
)
COMPARISONS: Mapping[str, Comparison] = {
    c.model: c for c in (REVENUE_BY_BUSINESS_UNIT, TECHNICIAN_SCORECARD)
}
REPORT_DATE_COLUMN = "date"


@dataclass(frozen=True)
class Difference:
    """One measure of one month and key on which the two sides disagree."""

    month: dt.date
    key: int | None
    measure: str
    ours: Decimal
    theirs: Decimal

    @property
    def difference(self) -> Decimal:
        return self.ours - self.theirs


@dataclass(frozen=True)
class ComparisonResult:
    """The outcome of one comparison.

    ``problem`` says why nothing could be compared (a table missing, a column missing); the
    comparison then has no months and cannot pass.
    """

    comparison: Comparison
    report_table: str
    months: tuple[dt.date, ...] = ()
    keys_compared: int = 0
    differences: tuple[Difference, ...] = field(default_factory=tuple)
    problem: str | None = None

    @property
    def passed(self) -> bool:
        return self.problem is None and not self.differences

    def markdown(self, limit: int = 50) -> str:
        """The differences as a Markdown table (the first ``limit``)."""
        key = self.comparison.key_column
        lines = [
            f"| month | {key} | measure | ours | ServiceTitan | ours - ServiceTitan |",
            "| --- | ---: | --- | ---: | ---: | ---: |",
        ]
        for d in self.differences[:limit]:
            lines.append(
                f"| {d.month:%Y-%m} | {d.key if d.key is not None else '(none)'} | {d.measure} "
                f"| {d.ours} | {d.theirs} | {d.difference} |"
            )
        if len(self.differences) > limit:
            lines.append(f"| ... | | {len(self.differences) - limit} more | | | |")
        return "\n".join(lines)


def model_relation(conn: duckdb.DuckDBPyConnection, model: str) -> str | None:
    """``schema.table`` of a dbt model in the warehouse (``main`` first), ``None`` if absent."""
    rows = conn.execute(
        "SELECT table_schema FROM information_schema.tables WHERE table_name = ? "
        "AND table_schema <> ? ORDER BY table_schema <> 'main', table_schema",
        [model, RAW_SCHEMA],
    ).fetchall()
    return f'"{rows[0][0]}"."{model}"' if rows else None


def compare_report(
    conn: duckdb.DuckDBPyConnection,
    comparison: Comparison,
    report: str,
    tenant_id: int,
    *,
    columns: Mapping[str, str] | None = None,
) -> ComparisonResult:
    """Compare ``comparison.model`` with the stored rows of ``report_<report>``.

    Args:
        conn: the warehouse.
        comparison: which model, on which columns.
        report: the report's name (its table is ``report_<report>``).
        tenant_id: the tenant compared.
        columns: the report's column for a model column, where the names differ (``date``
            for the report's day; the model's key and measures otherwise match by name).
    """
    table = report_table(report)

    def not_compared(problem: str) -> ComparisonResult:
        return ComparisonResult(comparison, table, problem=problem)

    mapping = {REPORT_DATE_COLUMN: REPORT_DATE_COLUMN, **(columns or {})}

    def theirs(column: str) -> str:
        return mapping.get(column, column)

    relation = model_relation(conn, comparison.model)
    if relation is None:
        return not_compared(f"{comparison.model} is not in the warehouse (not built yet)")
    stored = stored_columns(conn, report)
    if not stored:
        return not_compared(f"{table} does not exist (the report was never pulled)")
    needed = [REPORT_DATE_COLUMN, comparison.key_column, *comparison.measures]
    missing = [theirs(c) for c in needed if theirs(c) not in stored]
    if missing:
        return not_compared(f"{table} has no column {', '.join(missing)}")
    months = _covered_months(conn, report, tenant_id)
    if not months:
        return not_compared(f"{table} holds no complete month for tenant {tenant_id}")

    def total(column: str) -> str:
        return f"CAST(coalesce(sum({column}), 0) AS DECIMAL(38, 2))"

    ours_measures = ", ".join(f"{total(_q(m))} AS {_q(m)}" for m in comparison.measures)
    their_measures = ", ".join(f"{total(_q(theirs(m)))} AS {_q(m)}" for m in comparison.measures)
    key, month = _q(comparison.key_column), _q(comparison.month_column)
    sql = f"""
        WITH ours AS (
            SELECT CAST({month} AS DATE) AS month, CAST({key} AS BIGINT) AS key, {ours_measures}
            FROM {relation}
            WHERE tenant_id = $tenant AND CAST({month} AS DATE) BETWEEN $first AND $last
            GROUP BY ALL
        ),
        theirs AS (
            SELECT CAST(date_trunc('month', {_q(theirs(REPORT_DATE_COLUMN))}) AS DATE) AS month,
                CAST({_q(theirs(comparison.key_column))} AS BIGINT) AS key, {their_measures}
            FROM {table}
            WHERE {TENANT_ID} = $tenant
                AND date_trunc('month', {_q(theirs(REPORT_DATE_COLUMN))}) BETWEEN $first AND $last
            GROUP BY ALL
        )
        SELECT coalesce(ours.month, theirs.month), coalesce(ours.key, theirs.key),
            {", ".join(f"ours.{_q(m)}, theirs.{_q(m)}" for m in comparison.measures)}
        FROM ours FULL OUTER JOIN theirs
            ON ours.month = theirs.month AND ours.key IS NOT DISTINCT FROM theirs.key
        ORDER BY 1, 2 NULLS FIRST
    """
    rows = conn.execute(
        sql, {"tenant": tenant_id, "first": months[0], "last": months[-1]}
    ).fetchall()
    differences = []
    zero = Decimal("0.00")
    for row in rows:
        for i, measure in enumerate(comparison.measures):
            ours_value = row[2 + 2 * i] if row[2 + 2 * i] is not None else zero
            their_value = row[3 + 2 * i] if row[3 + 2 * i] is not None else zero
            if ours_value != their_value:
                differences.append(Difference(row[0], row[1], measure, ours_value, their_value))
    return ComparisonResult(
        comparison,
        table,
        months=tuple(months),
        keys_compared=len(rows),
        differences=tuple(differences),
    )


def _covered_months(conn: duckdb.DuckDBPyConnection, report: str, tenant_id: int) -> list[dt.date]:
    """The first days of the months the stored windows cover from their 1st day on."""
    row = conn.execute(
        f"SELECT min(window_start), max(window_end) FROM {REPORT_WINDOWS_TABLE} "
        f"WHERE {TENANT_ID} = ? AND report = ?",
        [tenant_id, report],
    ).fetchone()
    if row is None or row[0] is None:
        return []
    first, last = row
    month = first.replace(day=1)
    if first.day != 1:
        month = _next_month(month)
    months = []
    while month <= last:
        months.append(month)
        month = _next_month(month)
    return months


def _next_month(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def _q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def describe(result: ComparisonResult) -> str:
    """One sentence on the outcome, for the check's description."""
    c = result.comparison
    if result.problem is not None:
        return f"{c.model} vs {result.report_table}: not compared: {result.problem}."
    months = result.months
    span = f"{months[0]:%Y-%m}..{months[-1]:%Y-%m}"
    if result.passed:
        return (
            f"{c.model} agrees with {result.report_table} on every {c.what} and month "
            f"({result.keys_compared} month/{c.what} pairs, {span})."
        )
    return (
        f"{c.model} differs from {result.report_table} in {len(result.differences)} figure(s) "
        f"({result.keys_compared} month/{c.what} pairs, {span})."
    )


__all__: Sequence[str] = (
    "COMPARISONS",
    "REVENUE_BY_BUSINESS_UNIT",
    "TECHNICIAN_SCORECARD",
    "Comparison",
    "ComparisonResult",
    "Difference",
    "compare_report",
    "describe",
    "model_relation",
)
