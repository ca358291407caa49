"""Report assets: one Dagster asset per report of the report list, and the comparison checks.

The list is ``servicetitan_reports.toml`` or what ``SERVICETITAN_REPORTS_FILE`` names (read
when the code location loads; no file, no report assets). Each report's asset, key
``["servicetitan", "report_<name>"]`` in the ``servicetitan_raw`` group, pulls the windows due
(``sync.reports.sync_report``) under the warehouse's write lock, for every tenant of the run:
partitioned like the ingestion assets (one partition per connection), each tenant through its
own client (its own token and its own 5-requests-a-minute budget). A tenant that fails fails
alone: the others' pulls land and the step's failure names it. A report listed with
``compare_with`` gets an asset check that compares the dbt report it names with it per tenant,
month and business unit or technician (``warehouse.report_comparisons``); the check runs after
that dbt model when the dbt project has it, and a failure names the tenant.
"""

# No `from __future__ import annotations`: Dagster reads the asset function's annotations
# (config class, resources) at definition time and cannot resolve them as strings.
import json
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import dagster as dg
from dagster_duckdb import DuckDBResource
from pydantic import Field

from servicetitan_pipeline.client import ServiceTitanError, SettingsError
from servicetitan_pipeline.config import REPORTS_FILE_ENV, reports_file
from servicetitan_pipeline.defs.ingestion import ASSET_KINDS, INGESTION_GROUP
from servicetitan_pipeline.defs.jobs import WAREHOUSE_POOL, is_transient, tenants_of_run
from servicetitan_pipeline.defs.resources import (
    ServiceTitanResource,
    ServiceTitanTenantsResource,
    tenant_resources,
    warehouse_write_lock_for,
)
from servicetitan_pipeline.defs.tenants import run_tenants, tenant_partitions
from servicetitan_pipeline.sync.report_specs import ReportSpec, load_report_specs
from servicetitan_pipeline.sync.reports import ReportSyncError, ReportSyncResult, sync_report
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
        # Text: an identifier, which the UI would otherwise plot over time as if a metric.
        "tenant_id": dg.MetadataValue.text(str(result.tenant_id)),
    }


def tenants_metadata(results: Mapping[str, ReportSyncResult]) -> dict[str, dg.MetadataValue]:
    """What a pull of several tenants did: the totals, and a line per tenant."""
    rows = [
        f"| {name} | {r.tenant_id} | {r.row_count} | {r.rows_written} | {len(r.windows)} "
        f"| {r.requests} |"
        for name, r in results.items()
    ]
    table = "\n".join(
        [
            "| connection | tenant_id | rows | rows_written | windows | requests |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
            *rows,
        ]
    )
    return {
        "dagster/row_count": dg.MetadataValue.int(sum(r.row_count for r in results.values())),
        "rows_written": dg.MetadataValue.int(sum(r.rows_written for r in results.values())),
        "requests": dg.MetadataValue.int(sum(r.requests for r in results.values())),
        "tenants": dg.MetadataValue.md(table),
    }


def _pull_failure(spec: ReportSpec, label: str | None, exc: Exception) -> dg.Failure:
    """A tenant's failed pull: the tenant (``label``; None: the only one), the report, the
    reason, and whether a retry can help."""
    who = f"{label}: " if label else ""
    if isinstance(exc, ReportSyncError | SettingsError):
        return dg.Failure(description=f"{who}{exc}", allow_retries=False)
    if isinstance(exc, ServiceTitanError):
        return dg.Failure(
            description=f"{who}{spec.table_name}: {exc}", allow_retries=is_transient(exc)
        )
    return dg.Failure(description=f"{who}{spec.table_name}: {type(exc).__name__}: {exc}")


def build_report_asset(
    spec: ReportSpec, tenants: Sequence[str] | None = None
) -> dg.AssetsDefinition:
    """The asset of one report (key ``["servicetitan", "report_<name>"]``).

    ``tenants``: the connection names, its partitions (as the ingestion assets'); ``None``:
    unpartitioned, pulling every tenant of the ``servicetitan`` resource (one, for a plain
    :class:`ServiceTitanResource`).
    """
    description = report_description(spec)
    key = report_asset_key(spec)
    partitioned = tenants is not None
    with warnings.catch_warnings():
        # Dagster calls the parameter backfill_policy of @asset beta; it is what makes a
        # backfill of every tenant one run (as it does for the ingestion's multi-asset).
        warnings.simplefilter("ignore", dg.BetaWarning)
        return _report_asset(spec, tenants, description, key, partitioned)


def _report_asset(
    spec: ReportSpec,
    tenants: Sequence[str] | None,
    description: str,
    key: dg.AssetKey,
    partitioned: bool,
) -> dg.AssetsDefinition:
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
        partitions_def=tenant_partitions(tenants) if tenants is not None else None,
        # A backfill of every tenant is one run, as the ingestion's.
        backfill_policy=dg.BackfillPolicy.single_run() if partitioned else None,
        # Either resource type: a tenants resource, or one connection (tests, scripts).
        required_resource_keys={"servicetitan", "duckdb"},
        output_required=False,
    )
    def _pull(
        context: dg.AssetExecutionContext, config: ReportConfig
    ) -> Iterator[dg.MaterializeResult[Any] | dg.AssetMaterialization]:
        duckdb: DuckDBResource = context.resources.duckdb
        names = list(context.partition_keys) if partitioned else None
        tenants = run_tenants(context.resources.servicetitan, names)
        holder = f"run {context.run.run_id[:8]}, asset {'/'.join(key.path)}"
        results: dict[str, ReportSyncResult] = {}
        failures: list[tuple[str, Exception, dg.Failure]] = []
        with (
            warehouse_write_lock_for(duckdb, holder=holder, on_wait=context.log.info),
            duckdb.get_connection() as conn,
        ):
            # One tenant after another: each has its own client and so its own 5-a-minute
            # budget, so none waits for another's; a pull is a couple of requests.
            for tenant in tenants:
                try:
                    if tenant.resource is None:
                        assert tenant.error is not None
                        raise tenant.error
                    result = sync_report(
                        spec,
                        tenant.resource.get_client(),
                        conn,
                        full_refresh=config.full_refresh,
                        log=context.log,
                    )
                except Exception as exc:
                    failures.append((tenant.name, exc, _pull_failure(spec, tenant.label, exc)))
                    context.log.error(
                        f"{tenant.label}: {spec.table_name} failed ({type(exc).__name__})"
                    )
                    continue
                context.log.info(f"{tenant.label}: {result.summary()}")
                results[tenant.name] = result
        if not failures or (results and not partitioned):
            # Every tenant's pull landed (recorded for each partition of the run), or, not
            # partitioned, some did: the one table changed.
            metadata = (
                report_metadata(next(iter(results.values())))
                if len(results) == 1
                else tenants_metadata(results)
            )
            yield dg.MaterializeResult(metadata=metadata)
        else:
            # Only the tenants that landed are recorded; the step then fails naming the others.
            for name, result in results.items():
                yield dg.AssetMaterialization(
                    asset_key=key,
                    partition=name,
                    metadata={
                        **report_metadata(result),
                        "connection": dg.MetadataValue.text(name),
                    },
                )
        if not failures:
            return
        if len(tenants) == 1:
            # One tenant: its failure, as a single-tenant deployment has always said it.
            ((_, error, _),) = failures
            raise _pull_failure(spec, None, error) from error
        raise dg.Failure(
            description=(
                f"{spec.table_name}: {len(failures)} of {len(tenants)} tenants failed "
                f"({', '.join(n for n, _, _ in failures)}); the others are pulled.\n"
                + "\n".join(f.description or n for n, _, f in failures)
            ),
            allow_retries=all(f.allow_retries for _, _, f in failures),
        )

    _pull.__doc__ = description
    return _pull


def _every_tenant(resource: ServiceTitanResource | ServiceTitanTenantsResource) -> list[str]:
    if isinstance(resource, ServiceTitanTenantsResource):
        return resource.names()
    return list(tenant_resources(resource))


def build_report_assets(
    specs: Iterable[ReportSpec], tenants: Sequence[str] | None = None
) -> list[dg.AssetsDefinition]:
    """One asset per report, partitioned by ``tenants`` (see :func:`build_report_asset`)."""
    return [build_report_asset(spec, tenants) for spec in specs]


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
        "windows cover whole, for each tenant of the run. The metadata lists every figure "
        "that differs and by how much, and the description names the tenants that differ.",
        required_resource_keys={"servicetitan", "duckdb"},
    )
    def _check(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        duckdb: DuckDBResource = context.resources.duckdb
        resource = context.resources.servicetitan
        names = tenants_of_run(context.run.tags, _every_tenant(resource))
        results = {}
        with duckdb.get_connection() as conn:
            for name in names:
                # Only the tenant ID is needed: a tenant whose credentials are missing is
                # compared all the same when its connection names its tenant.
                tenant_id = _tenant_id(resource, name)
                results[name] = (
                    tenant_id,
                    compare_report(
                        conn, comparison, spec.name, tenant_id, columns=spec.compare_columns
                    ),
                )
        return comparison_check_result(results)

    return _check


def _tenant_id(resource: ServiceTitanResource | ServiceTitanTenantsResource, name: str) -> int:
    if isinstance(resource, ServiceTitanTenantsResource):
        tenant_id = resource.connection(name).tenant_id
        if tenant_id is not None:
            return tenant_id
    (one,) = tenant_resources(resource, [name]).values()
    return int(one.get_settings().tenant_id)


def comparison_check_result(results: Mapping[str, tuple[int, Any]]) -> dg.AssetCheckResult:
    """One check result for every tenant's comparison: passed when all pass; the description
    names each tenant and what it found; an ERROR when any figure differs."""
    single = len(results) == 1
    lines: list[str] = []
    metadata: dict[str, Any] = {}
    differences = 0
    any_difference = False
    for name, (tenant_id, result) in results.items():
        differences += len(result.differences)
        any_difference = any_difference or bool(result.differences)
        lines.append(
            describe(result) if single else f"{name} (tenant {tenant_id}): {describe(result)}"
        )
        if result.differences:
            title = "differences" if single else f"differences {name}"
            metadata[title] = dg.MetadataValue.md(result.markdown())
        if single:
            metadata.update(
                {
                    "tenant_id": str(tenant_id),  # text: an identifier, not a metric
                    "pairs_compared": result.keys_compared,
                    "months": ", ".join(f"{m:%Y-%m}" for m in result.months),
                }
            )
    failed = [n for n, (_, r) in results.items() if not r.passed]
    metadata["differences_count"] = differences
    if not single:
        metadata["tenants"] = ", ".join(results)
        metadata["tenants_failed"] = ", ".join(failed)
    problem_only = bool(failed) and not any_difference
    return dg.AssetCheckResult(
        passed=not failed,
        severity=dg.AssetCheckSeverity.WARN if problem_only else dg.AssetCheckSeverity.ERROR,
        description="\n".join(lines)
        if single or not failed
        else f"{len(failed)} of {len(results)} tenants differ ({', '.join(failed)}):\n"
        + "\n".join(lines),
        metadata=metadata,
    )


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
