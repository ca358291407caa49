"""Report assets: one Dagster asset per report of the report list, and the comparison checks.

The list is ``servicetitan_reports.toml`` or what ``SERVICETITAN_REPORTS_FILE`` names (read
when the code location loads; no file, no report assets). Each report's asset, key
``["servicetitan", "report_<name>"]`` in the ``servicetitan_raw`` group, pulls the windows due
(``sync.reports.sync_report``) under the warehouse's write lock. A report listed with
``compare_with`` gets an asset check that compares the dbt report it names with it per month
and business unit or technician (``warehouse.report_comparisons``); the check runs after that
dbt model when the dbt project has it.
"""

# No `from __future__ import annotations`: Dagster reads the asset function's annotations
# (config class, resources) at definition time and cannot resolve them as strings.
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import dagster as dg
from dagster_duckdb import DuckDBResource
from pydantic import Field

from servicetitan_pipeline.client import ServiceTitanError
from servicetitan_pipeline.config import REPORTS_FILE_ENV, reports_file
from servicetitan_pipeline.defs.ingestion import ASSET_KINDS, INGESTION_GROUP
from servicetitan_pipeline.defs.jobs import WAREHOUSE_POOL, is_transient
from servicetitan_pipeline.defs.resources import ServiceTitanResource
from servicetitan_pipeline.sync.report_specs import ReportSpec, load_report_specs
from servicetitan_pipeline.sync.reports import ReportSyncError, ReportSyncResult, sync_report
from servicetitan_pipeline.warehouse.locking import warehouse_write_lock
from servicetitan_pipeline.warehouse.report_comparisons import (
    COMPARISONS,
    compare_report,
    describe,
)
from servicetitan_pipeline.warehouse.reports import (
    REPORT_FIELDS_TABLE,
    REPORT_PAGES_TABLE,
    REPORT_WINDOWS_TABLE,
    report_table,
)

ASSET_PREFIX = "servicetitan"


class ReportConfig(dg.Config):
    """Run config of one report asset."""

    full_refresh: bool = Field(
        default=False,
        description="Delete this tenant's stored rows of the report, then pull it again from "
        "its start_date. Default: from the window holding lookback_days before the last day "
        "stored.",
    )


def configured_report_specs() -> tuple[ReportSpec, ...]:
    """The reports of the report list (none when there is no list).

    Raises:
        ConfigError: naming ``SERVICETITAN_REPORTS_FILE``, or the report and key at fault.
    """
    path = reports_file()
    return () if path is None else load_report_specs(path)


def report_asset_key(spec: ReportSpec) -> dg.AssetKey:
    return dg.AssetKey([ASSET_PREFIX, spec.table_name])


def report_description(spec: ReportSpec) -> str:
    """The asset's description: which report, its parameters, how it is pulled and stored."""
    parameters = json.dumps(dict(spec.parameters)) if spec.parameters else "none"
    what = f"{spec.description}\n\n" if spec.description else ""
    return (
        f"{what}ServiceTitan report {spec.report_id} of category `{spec.category}` "
        f"(Reporting API, `POST /reporting/v2/tenant/{{tenant}}/report-category/"
        f"{spec.category}/reports/{spec.report_id}/data`). Static parameters: {parameters}; "
        f"date parameters `{spec.from_parameter}`..`{spec.to_parameter}` (inclusive), pulled "
        f"from {spec.start_date} in windows of {spec.window_days} days, the last "
        f"{spec.lookback_days} days pulled again on every run (ServiceTitan's figures change "
        f"after the fact); {spec.page_size} rows per page, at most 5 requests a minute.\n\n"
        f"Writes `{report_table(spec.name)}`: one row per report row, its fields typed "
        f"(snake_case columns; `{REPORT_FIELDS_TABLE}` maps them to ServiceTitan's names), "
        f"with `_tenant_id`, `_window_start`, `_window_end`, `_row_number`, `_loaded_at`. A "
        f"window pulled again replaces the stored one in one transaction; each page's JSON is "
        f"kept in `{REPORT_PAGES_TABLE}`, each window in `{REPORT_WINDOWS_TABLE}`. Run config "
        "`full_refresh: true` pulls it again from the start."
    )


def report_metadata(result: ReportSyncResult) -> dict[str, dg.MetadataValue]:
    """What a pull did, as materialization metadata."""
    windows = result.windows
    return {
        "dagster/row_count": dg.MetadataValue.int(result.row_count),
        "rows_written": dg.MetadataValue.int(result.rows_written),
        "rows_replaced": dg.MetadataValue.int(result.rows_replaced),
        "windows": dg.MetadataValue.int(len(windows)),
        "first_day": dg.MetadataValue.text(str(windows[0].start) if windows else ""),
        "last_day": dg.MetadataValue.text(str(windows[-1].end) if windows else ""),
        "pages": dg.MetadataValue.int(result.pages),
        "requests": dg.MetadataValue.int(result.requests),
        "wait_seconds": dg.MetadataValue.float(round(result.wait_seconds, 3)),
        "duration_seconds": dg.MetadataValue.float(round(result.duration_seconds, 3)),
        "full_refresh": dg.MetadataValue.bool(result.full_refresh),
        "rows_deleted_by_full_refresh": dg.MetadataValue.int(result.rows_deleted_by_full_refresh),
        "tenant_id": dg.MetadataValue.int(result.tenant_id),
    }


def build_report_asset(spec: ReportSpec) -> dg.AssetsDefinition:
    """The asset of one report (key ``["servicetitan", "report_<name>"]``)."""
    description = report_description(spec)
    key = report_asset_key(spec)

    @dg.asset(
        key=key,
        group_name=INGESTION_GROUP,
        kinds=ASSET_KINDS,
        description=description,
        pool=WAREHOUSE_POOL,
        tags={"servicetitan/source": "reporting-api"},
        metadata={
            "raw_table": report_table(spec.name),
            "report_category": spec.category,
            "report_id": spec.report_id,
            "window_days": spec.window_days,
            "lookback_days": spec.lookback_days,
        },
    )
    def _pull(
        context: dg.AssetExecutionContext,
        config: ReportConfig,
        servicetitan: ServiceTitanResource,
        duckdb: DuckDBResource,
    ) -> dg.MaterializeResult[Any]:
        client = servicetitan.get_client()
        holder = f"run {context.run.run_id[:8]}, asset {'/'.join(key.path)}"
        with (
            warehouse_write_lock(duckdb.database, holder=holder, on_wait=context.log.info),
            duckdb.get_connection() as conn,
        ):
            try:
                result = sync_report(
                    spec, client, conn, full_refresh=config.full_refresh, log=context.log
                )
            except ReportSyncError as exc:
                raise dg.Failure(description=str(exc), allow_retries=False) from exc
            except ServiceTitanError as exc:
                raise dg.Failure(
                    description=f"{spec.table_name}: {exc}", allow_retries=is_transient(exc)
                ) from exc
        context.log.info(result.summary())
        return dg.MaterializeResult(metadata=report_metadata(result))

    _pull.__doc__ = description
    return _pull


def build_report_assets(specs: Iterable[ReportSpec]) -> list[dg.AssetsDefinition]:
    """One asset per report."""
    return [build_report_asset(spec) for spec in specs]


def comparison_check_name(spec: ReportSpec) -> str:
    return f"matches_{spec.compare_with}"


def build_report_comparison_check(
    spec: ReportSpec, model_key: dg.AssetKey | None = None
) -> dg.AssetChecksDefinition:
    """The check of a report listed with ``compare_with``: our model vs ServiceTitan's figures.

    ``model_key``: the dbt model's asset key, so that the check runs after the model is built;
    ``None`` when the dbt project does not have it (yet): the check then says so.
    """
    if spec.compare_with is None:
        raise ValueError(f"report {spec.name} has no compare_with")
    comparison = COMPARISONS[spec.compare_with]

    @dg.asset_check(
        asset=report_asset_key(spec),
        name=comparison_check_name(spec),
        additional_deps=[model_key] if model_key is not None else None,
        blocking=False,
        description=f"{comparison.model} agrees to the cent with ServiceTitan's report "
        f"{spec.category}/{spec.report_id} ({report_table(spec.name)}), per month and "
        f"{comparison.what}, on {', '.join(comparison.measures)}: the months the stored "
        "windows cover whole, for the connection's tenant. The metadata lists every figure "
        "that differs and by how much.",
    )
    def _check(servicetitan: ServiceTitanResource, duckdb: DuckDBResource) -> dg.AssetCheckResult:
        tenant_id = int(servicetitan.get_settings().tenant_id)
        with duckdb.get_connection() as conn:
            result = compare_report(
                conn, comparison, spec.name, tenant_id, columns=spec.compare_columns
            )
        metadata: dict[str, Any] = {
            "tenant_id": tenant_id,
            "differences_count": len(result.differences),
            "pairs_compared": result.keys_compared,
            "months": ", ".join(f"{m:%Y-%m}" for m in result.months),
        }
        if result.differences:
            metadata["differences"] = dg.MetadataValue.md(result.markdown())
        return dg.AssetCheckResult(
            passed=result.passed,
            severity=(
                dg.AssetCheckSeverity.WARN
                if result.problem is not None
                else dg.AssetCheckSeverity.ERROR
            ),
            description=describe(result),
            metadata=metadata,
        )

    return _check


def build_report_checks(
    specs: Iterable[ReportSpec], model_keys: Mapping[str, dg.AssetKey] | None = None
) -> list[dg.AssetChecksDefinition]:
    """The comparison checks of the reports listed with ``compare_with``."""
    keys = model_keys or {}
    return [
        build_report_comparison_check(spec, keys.get(spec.compare_with))
        for spec in specs
        if spec.compare_with is not None
    ]


def dbt_model_keys(keys: Iterable[dg.AssetKey], models: Sequence[str]) -> dict[str, dg.AssetKey]:
    """The asset key of each of ``models`` among the dbt assets' ``keys`` (absent: left out)."""
    wanted = set(models)
    return {key.path[-1]: key for key in keys if key.path and key.path[-1] in wanted}


__all__ = [
    "REPORTS_FILE_ENV",
    "ReportConfig",
    "build_report_asset",
    "build_report_assets",
    "build_report_checks",
    "configured_report_specs",
    "dbt_model_keys",
    "report_asset_key",
]
