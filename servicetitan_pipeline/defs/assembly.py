"""How the Dagster ``Definitions`` are put together, with or without the dbt layer.

``definitions.py`` (the code location) builds them whole. ``servicetitan-pipeline sync
--no-dbt`` builds them without the dbt assets: importing ``dagster_dbt`` pulls in dbt-core
(seconds of imports) and ``@dbt_assets`` parses the manifest's models into assets, all for a
run that builds no model. That is why nothing here imports ``dagster_dbt`` or ``defs.dbt`` at
module level: :func:`build_definitions` imports them only when asked for the dbt layer.

The deployment (connections, tenants, reports, job) is read once per process
(:func:`deployment`), and each variant of the definitions is built once.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import dagster as dg

from servicetitan_pipeline.alerts import AlertSettings
from servicetitan_pipeline.client.connections import TenantConnection, configured_connections
from servicetitan_pipeline.config import (
    apply_file_mode,
    configured_entity_selection,
    refuse_credentials_redirected_by,
)
from servicetitan_pipeline.defs.alerts import build_alert_sensors, with_freshness_policy
from servicetitan_pipeline.defs.checks import build_ingestion_checks
from servicetitan_pipeline.defs.ingestion import build_ingestion_assets
from servicetitan_pipeline.defs.jobs import build_sync_job, build_sync_schedule
from servicetitan_pipeline.defs.reports import (
    build_report_assets,
    build_report_checks,
    configured_report_specs,
    dbt_model_keys,
)
from servicetitan_pipeline.defs.resources import (
    servicetitan_tenants_from_connections,
    warehouse_resource_from_env,
)
from servicetitan_pipeline.defs.run_logging import compact_console_logger
from servicetitan_pipeline.sync.report_specs import ReportSpec

__all__ = ["Deployment", "build_definitions", "deployment"]


@dataclass(frozen=True)
class Deployment:
    """What the settings say this deployment is: its tenants, reports and sync job."""

    connections: list[TenantConnection]
    tenants: list[str]
    report_specs: list[ReportSpec]
    report_assets: list[dg.AssetsDefinition]
    sync_job: dg.UnresolvedAssetJobDefinition
    alert_settings: AlertSettings
    synced_keys: list[dg.AssetKey]


@functools.cache
def deployment() -> Deployment:
    """The deployment of this process's settings, read once.

    Makes every file this process creates private (``SERVICETITAN_FILE_MODE``) and refuses a
    ``.env`` that points the URLs elsewhere while the credentials are the environment's, as
    loading the code location does.

    Raises:
        ConnectionsFileError: naming the file and key of a connections file that is not valid.
        AlertSettingsError: naming the ``SERVICETITAN_ALERT_*`` or ``SERVICETITAN_FRESHNESS_HOURS``
            setting that is not valid.
    """
    apply_file_mode()
    refuse_credentials_redirected_by()  # `dagster dev` loads ./.env itself, over the environment
    connections = configured_connections()
    tenants = [connection.name for connection in connections]
    report_specs = list(configured_report_specs())  # SERVICETITAN_REPORTS_FILE: none without
    report_assets = build_report_assets(report_specs, tenants)
    return Deployment(
        connections=connections,
        tenants=tenants,
        report_specs=report_specs,
        report_assets=report_assets,
        sync_job=build_sync_job(report_assets=report_assets),
        alert_settings=AlertSettings.from_env(),
        synced_keys=[dg.AssetKey(e.asset_key_path) for e in configured_entity_selection().entities],
    )


@functools.cache
def build_definitions(*, include_dbt: bool = True) -> dg.Definitions:
    """The definitions of :func:`deployment`: every ingestion and report asset, the job and
    its schedule, and -- with ``include_dbt`` -- the dbt models, their tests and the analysts'
    copy. Without them, a report's comparison check is not ordered after its dbt model (the
    model is not in such a run)."""
    setup = deployment()
    assets: list[dg.AssetsDefinition] = [
        # The UI shows each synced raw asset's freshness against SERVICETITAN_FRESHNESS_HOURS.
        *with_freshness_policy(
            build_ingestion_assets(tenants=setup.tenants),
            setup.synced_keys,
            setup.alert_settings.freshness_hours,
        ),
        *setup.report_assets,
    ]
    resources: dict[str, object] = {
        "servicetitan": servicetitan_tenants_from_connections(setup.connections),
        "duckdb": warehouse_resource_from_env(),
    }
    model_keys: dict[str, dg.AssetKey] = {}
    if include_dbt:
        # Imported here, not above: this is what costs a run that builds no model seconds.
        from dagster_dbt import DbtCliResource

        from servicetitan_pipeline.config import dbt_executable
        from servicetitan_pipeline.defs.analysts import build_analysts_copy_asset
        from servicetitan_pipeline.defs.dbt import servicetitan_dbt_assets
        from servicetitan_pipeline.defs.dbt_project import dbt_project

        assets += [
            servicetitan_dbt_assets,
            # Last in every run that builds dbt: the read-only copy analysts open.
            build_analysts_copy_asset(servicetitan_dbt_assets.keys),
        ]
        resources["dbt"] = DbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable())
        model_keys = dbt_model_keys(
            servicetitan_dbt_assets.keys,
            [s.compare_with for s in setup.report_specs if s.compare_with],
        )
    return dg.Definitions(
        assets=assets,
        asset_checks=[
            *build_ingestion_checks(),
            *build_report_checks(setup.report_specs, model_keys),
        ],
        jobs=[setup.sync_job],
        schedules=[build_sync_schedule(setup.sync_job, setup.tenants)],
        # None unless a webhook or an SMTP server is configured (README, "Alerts").
        sensors=build_alert_sensors(
            setup.alert_settings, connections=setup.connections, raw_asset_keys=setup.synced_keys
        ),
        resources=resources,
        # One process per run: DuckDB allows a single writing process per file.
        executor=dg.in_process_executor,
        loggers={"console": compact_console_logger},
    )
