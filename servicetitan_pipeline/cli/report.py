"""Plain-text summaries of sync runs, for the ``sync`` and ``demo`` commands."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TextIO

from servicetitan_pipeline.cli.runner import AssetOutcome, SyncOutcome
from servicetitan_pipeline.entities import ENTITIES, ENTITIES_BY_NAME

# The entity column is as wide as the longest entity name, so every row lines up.
_W = max(len("entity"), *(len(e.name) for e in ENTITIES))

_ENTITY_HEADER = (
    f"  {'entity':<{_W}} {'rows':>9} {'new':>8} {'updated':>8} {'deactiv.':>8} "
    f"{'rejected':>8} {'pages':>6} {'requests':>8} {'retries':>7} {'seconds':>8}"
)


def _is_entity(asset: AssetOutcome) -> bool:
    return asset.key.split("/", 1)[-1] in ENTITIES_BY_NAME


def _print_rows(assets: list[AssetOutcome], out: TextIO, indent: str = "  ") -> None:
    if assets:
        print(indent[2:] + _ENTITY_HEADER, file=out)
    for asset in assets:
        m = asset.metadata
        name = asset.key.split("/", 1)[1]
        print(
            f"{indent}{name:<{_W}} {m.get('dagster/row_count', 0):>9,} "
            f"{m.get('rows_inserted', 0):>8,} "
            f"{m.get('rows_updated', 0):>8,} {m.get('rows_deactivated', 0):>8,} "
            f"{m.get('rows_rejected', 0):>8,} {_count(m.get('pages')):>6} "
            f"{m.get('requests', 0):>8,} "
            f"{m.get('retries', 0):>7,} {float(m.get('duration_seconds', 0.0)):>8.2f}",
            file=out,
        )


def _count(value: object) -> str:
    """A count with thousands separators, or ``-`` when the run did not say."""
    return f"{value:,}" if isinstance(value, int) else "-"


def print_sync_outcome(outcome: SyncOutcome, *, out: TextIO) -> None:
    """One line per entity (a block per tenant when the run had several), one for dbt, then
    failures and failed checks, one line each, and which tenants failed."""
    ingested = outcome.ingestion()
    several = len(outcome.tenants) > 1
    shown_failures: set[str] = set()
    if not several:
        _print_rows(ingested, out)
    else:
        for tenant in outcome.tenants:
            entities = [a for a in tenant.ingestion() if _is_entity(a)]
            state = "OK" if tenant.success else "FAILED"
            print(f"  tenant {tenant.name}: {state}, {len(entities)} entities synced", file=out)
            _print_rows(entities, out, indent="    ")
            for failure in tenant.failures:
                print(f"    FAILED {failure}", file=out)
                shown_failures.add(failure)
        # The reports: one materialization covers every tenant of the run when all landed.
        reports: dict[str, AssetOutcome] = {}
        for asset in ingested:
            if not _is_entity(asset):
                reports.setdefault(asset.key, asset)
        for asset in reports.values():
            print(
                f"  {asset.key.split('/', 1)[1]}: "
                f"{asset.metadata.get('dagster/row_count', 0):,} rows",
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
        from servicetitan_pipeline.defs.dbt_selection import MISSING_UPSTREAM_KEY

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
        if failure not in shown_failures:
            print(f"  FAILED {failure}", file=out)
    failed_tenants = outcome.failed_tenants()
    if several and failed_tenants:
        print(
            f"  {len(failed_tenants)} of {len(outcome.tenants)} tenants FAILED: "
            + ", ".join(t.name for t in failed_tenants)
            + "; the others' data landed",
            file=out,
        )
    state = "succeeded" if outcome.success else "FAILED"
    print(f"  run {outcome.run_id[:8]} {state} in {outcome.elapsed_seconds:.1f}s", file=out)
    if outcome.log_path and not outcome.success:
        print(f"  full output: {outcome.log_path}", file=out)


def per_entity(assets: list[AssetOutcome]) -> dict[str, dict[str, int]]:
    """Entity name -> its counts summed over the tenants of the run (one materialization per
    tenant's partition, each with that tenant's own figures: ``runner.tenant_metadata``)."""
    totals: dict[str, dict[str, int]] = {}
    for asset in assets:
        counts = totals.setdefault(asset.key.split("/", 1)[1], {})
        for key in ("rows_inserted", "rows_updated", "rows_deactivated"):
            counts[key] = counts.get(key, 0) + int(asset.metadata.get(key, 0))
    return totals


def print_demo_summary(
    *,
    first: SyncOutcome,
    second: SyncOutcome,
    database: Path,
    total_seconds: float,
    out: TextIO,
) -> None:
    """The demo's closing summary: rows per tenant and what each run did, the reports, the
    group report, and example queries."""
    import duckdb

    first_counts = per_entity([a for a in first.ingestion() if _is_entity(a)])
    second_counts = per_entity([a for a in second.ingestion() if _is_entity(a)])
    with duckdb.connect(str(database), read_only=True) as con:
        tenants = (
            [
                row[0]
                for row in con.execute(
                    "select connection_name from dim_tenants order by connection_name"
                ).fetchall()
            ]
            if _has_table(con, "dim_tenants")
            else []
        )
        widths = [max(9, len(t)) for t in tenants]
        print("\nSummary: rows per tenant, and what the runs did over both", file=out)
        print(
            f"  {'entity':<{_W}} "
            + " ".join(f"{t:>{w}}" for t, w in zip(tenants, widths, strict=True))
            + f"   {'first sync':>10}   then, after the clocks moved",
            file=out,
        )
        for name, counts in first_counts.items():
            entity = ENTITIES_BY_NAME[name]
            rows = (
                dict(
                    con.execute(
                        f"select _connection, count(*) from {entity.raw_table} group by 1"
                    ).fetchall()
                )
                if _has_table(con, name, schema="raw_servicetitan")
                else {}
            )
            later = second_counts.get(name)
            changes = (
                f"+{later.get('rows_inserted', 0):,} new, {later.get('rows_updated', 0):,} "
                f"updated ({later.get('rows_deactivated', 0):,} deactivated)"
                if later
                else "not run"
            )
            print(
                f"  {name:<{_W}} "
                + " ".join(f"{rows.get(t, 0):>{w},}" for t, w in zip(tenants, widths, strict=True))
                + f"   {counts.get('rows_inserted', 0):>10,}   {changes}",
                file=out,
            )

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


def _has_table(con: Any, name: str, *, schema: str = "main") -> bool:
    found = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, name],
    ).fetchall()[0][0]
    return bool(found)


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
        "The group's month: each company and the group total, last 3 months (rpt_group_monthly)",
        "select report_month as month, connection_name as company, revenue, "
        "completed_jobs as jobs, average_ticket, ar_balance as ar from rpt_group_monthly "
        "where report_month >= (select max(report_month) from rpt_group_monthly) - interval 2 "
        "month order by month desc, is_group_total, company",
    ),
    (
        "Technician scorecard, latest month: the top 5 by revenue credited through job splits",
        "select connection_name as company, technician_name, completed_jobs as jobs, "
        "conversion_rate as conversion, close_rate, average_ticket, split_revenue, "
        "round(hours_worked, 1) as hours, revenue_per_hour from rpt_technician_scorecard "
        "where scorecard_month = (select max(scorecard_month) from rpt_technician_scorecard) "
        "order by split_revenue desc limit 5",
    ),
    (
        "Each company's month, as ServiceTitan's dashboard counts it",
        "select c.completed_month as month, c.connection_name as company, "
        "r.total_revenue as revenue, c.average_ticket, c.conversion_rate as conversion, "
        "c.close_rate, "
        "(select round(sum(booked_calls) / nullif(sum(booked_calls + unbooked_calls), 0), 4) "
        "from rpt_call_center k where k.tenant_id = c.tenant_id "
        "and date_trunc('month', k.call_date) = c.completed_month) as booking_rate "
        "from rpt_sales_conversion c join (select tenant_id, revenue_month, "
        "sum(total_revenue) as total_revenue from rpt_revenue_servicetitan group by all) r "
        "on r.tenant_id = c.tenant_id and r.revenue_month = c.completed_month "
        "where c.dimension = 'company' order by month desc, company limit 4",
    ),
    (
        "Accounts receivable aging, all customers, by company",
        "select connection_name as company, sum(current_balance) as current, "
        "sum(past_due_1_30) as d1_30, sum(past_due_31_60) as d31_60, "
        "sum(past_due_61_90) as d61_90, sum(past_due_over_90) as d90_plus, "
        "sum(open_balance) as total_open from rpt_ar_aging group by all order by company",
    ),
]
