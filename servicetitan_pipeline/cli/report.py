"""Plain-text summaries of sync runs, for the ``sync`` and ``demo`` commands."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from servicetitan_pipeline.cli.runner import SyncOutcome
from servicetitan_pipeline.entities import ENTITIES

# The entity column is as wide as the longest entity name, so every row lines up.
_W = max(len("entity"), *(len(e.name) for e in ENTITIES))

_ENTITY_HEADER = (
    f"  {'entity':<{_W}} {'rows':>9} {'new':>8} {'updated':>8} {'deactiv.':>8} "
    f"{'rejected':>8} {'pages':>6} {'requests':>8} {'retries':>7} {'seconds':>8}"
)


def print_sync_outcome(outcome: SyncOutcome, *, out: TextIO) -> None:
    """One line per entity, one for dbt, then failures and failed checks, one line each."""
    ingested = outcome.ingestion()
    if ingested:
        print(_ENTITY_HEADER, file=out)
    for asset in ingested:
        m = asset.metadata
        name = asset.key.split("/", 1)[1]
        print(
            f"  {name:<{_W}} {m.get('dagster/row_count', 0):>9,} {m.get('rows_inserted', 0):>8,} "
            f"{m.get('rows_updated', 0):>8,} {m.get('rows_deactivated', 0):>8,} "
            f"{m.get('rows_rejected', 0):>8,} {m.get('pages', 0):>6,} {m.get('requests', 0):>8,} "
            f"{m.get('retries', 0):>7,} {float(m.get('duration_seconds', 0.0)):>8.2f}",
            file=out,
        )
    models = [a for a in outcome.assets if a not in ingested and a.status == "materialized"]
    dbt_checks = [c for c in outcome.checks if not c.asset_key.startswith("servicetitan/")]
    if models:
        failed = [c for c in dbt_checks if not c.passed]
        print(
            f"  dbt build: {len(models)} models built, {len(dbt_checks) - len(failed)}/"
            f"{len(dbt_checks)} tests passed",
            file=out,
        )
    skipped = [a for a in outcome.assets if a.status == "skipped"]
    if skipped:
        from servicetitan_pipeline.defs.dbt import MISSING_UPSTREAM_KEY

        missing = sorted({t for a in skipped for t in a.metadata.get(MISSING_UPSTREAM_KEY, [])})
        print(
            f"  dbt build: {len(skipped)} models skipped, they read tables that do not exist yet: "
            f"{', '.join(missing)}",
            file=out,
        )
    for check in outcome.failed_checks():
        print(
            f"  check {check.severity.lower()}: {check.asset_key} {check.name}: "
            f"{check.description}".rstrip(": "),
            file=out,
        )
    for failure in outcome.failures:
        print(f"  FAILED {failure}", file=out)
    state = "succeeded" if outcome.success else "FAILED"
    print(f"  run {outcome.run_id[:8]} {state} in {outcome.elapsed_seconds:.1f}s", file=out)
    if outcome.log_path and not outcome.success:
        print(f"  full output: {outcome.log_path}", file=out)


def print_demo_summary(
    *,
    first: SyncOutcome,
    second: SyncOutcome,
    database: Path,
    total_seconds: float,
    out: TextIO,
) -> None:
    """The demo's closing summary: what each run did, the reports, and two queries."""
    import duckdb

    print("\nSummary", file=out)
    print(
        f"  {'entity':<{_W}} {'rows':>9}   {'first sync':>10}   then, after the clock moved",
        file=out,
    )
    second_by_key = {a.key: a for a in second.ingestion()}
    for asset in first.ingestion():
        later = second_by_key.get(asset.key)
        m2 = later.metadata if later else {}
        rows = m2.get("dagster/row_count", asset.metadata.get("dagster/row_count", 0))
        changes = (
            f"+{m2.get('rows_inserted', 0):,} new, {m2.get('rows_updated', 0):,} updated "
            f"({m2.get('rows_deactivated', 0):,} deactivated)"
            if later
            else "not run"
        )
        print(
            f"  {asset.key.split('/', 1)[1]:<{_W}} {rows:>9,}   "
            f"{asset.metadata.get('rows_inserted', 0):>10,}   {changes}",
            file=out,
        )

    with duckdb.connect(str(database), read_only=True) as con:
        reports = [
            row[0]
            for row in con.execute(
                "select table_name from information_schema.tables "
                "where table_schema = 'main' and table_name like 'rpt_%' order by 1"
            ).fetchall()
        ]
        print("\n  report                                  rows", file=out)
        for name in reports:
            n = con.execute(f'select count(*) from main."{name}"').fetchall()[0][0]
            print(f"  {name:<38} {n:>6,}", file=out)

        print(
            f"\n  first run {first.elapsed_seconds:.1f}s ({_ingestion_seconds(first):.1f}s of it "
            f"syncing entities, the rest dbt build and Dagster), incremental run "
            f"{second.elapsed_seconds:.1f}s ({_ingestion_seconds(second):.1f}s syncing); "
            f"demo total {total_seconds:.1f}s",
            file=out,
        )
        print(f"  DuckDB file: {database}", file=out)
        for title, sql in EXAMPLE_QUERIES:
            print(f"\n  -- {title}\n  {sql}", file=out)
            relation = con.sql(sql)
            for line in str(relation).splitlines():
                print(f"  {line}", file=out)


def _ingestion_seconds(outcome: SyncOutcome) -> float:
    """The ingestion step's wall time; entities sync side by side, so their own durations
    add up to more. Failing that (the step failed), the longest entity's."""
    if outcome.ingestion_seconds is not None:
        return outcome.ingestion_seconds
    return max(
        (float(a.metadata.get("duration_seconds", 0.0)) for a in outcome.ingestion()), default=0.0
    )


EXAMPLE_QUERIES: list[tuple[str, str]] = [
    (
        "Revenue by month, all business units, last 6 months",
        "select revenue_month, sum(invoice_count) as invoices, sum(revenue) as revenue "
        "from rpt_revenue_by_month_business_unit group by revenue_month "
        "order by revenue_month desc limit 6",
    ),
    (
        "Technician scorecard, latest month: the top 5 by revenue credited through job splits",
        "select technician_name, completed_jobs as jobs, conversion_rate as conversion, "
        "close_rate, average_ticket, split_revenue, round(hours_worked, 1) as hours, "
        "revenue_per_hour from rpt_technician_scorecard "
        "where scorecard_month = (select max(scorecard_month) from rpt_technician_scorecard) "
        "order by split_revenue desc limit 5",
    ),
    (
        "The company's month, as ServiceTitan's dashboard counts it",
        "select c.completed_month as month, r.total_revenue as revenue, c.average_ticket, "
        "c.conversion_rate as conversion, c.close_rate, "
        "(select round(sum(booked_calls) / nullif(sum(booked_calls + unbooked_calls), 0), 4) "
        "from rpt_call_center where date_trunc('month', call_date) = c.completed_month) "
        "as booking_rate "
        "from rpt_sales_conversion c join (select revenue_month, sum(total_revenue) as "
        "total_revenue from rpt_revenue_servicetitan group by 1) r "
        "on r.revenue_month = c.completed_month where c.dimension = 'company' "
        "order by month desc limit 3",
    ),
    (
        "Accounts receivable aging, all customers",
        "select sum(current_balance) as current, sum(past_due_1_30) as d1_30, "
        "sum(past_due_31_60) as d31_60, sum(past_due_61_90) as d61_90, "
        "sum(past_due_over_90) as d90_plus, sum(open_balance) as total_open from rpt_ar_aging",
    ),
]
