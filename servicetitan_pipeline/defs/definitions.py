"""The one Dagster ``Definitions`` of servicetitan-pipeline.

Loaded by ``dagster dev -w workspace.yaml`` (and ``make dev``), by ``servicetitan-pipeline
sync`` / ``demo`` and by the tests. The ServiceTitan connections are the connections file's
(``SERVICETITAN_CONNECTIONS_FILE``, else ``servicetitan_connections.toml``), else the
single-tenant ``SERVICETITAN_*`` settings as a one-entry list; the ingestion and report assets
are partitioned by connection name (one partition per tenant, read when the code location
loads: a tenant added to the file is a partition on the next reload), and a file that is not
valid makes the code location fail to load with its message. The resource holds only the
*names* of the variables with the credentials, read when a run starts (never stored in the
run config); the DuckDB file comes from ``SERVICETITAN_DUCKDB_PATH``. Every entity has its
asset; the job and its schedule sync those ``SERVICETITAN_ENTITIES`` selects (all by
default), and every report of the report list (``SERVICETITAN_REPORTS_FILE``) has its asset,
which the job pulls too. Loading it makes every file this process creates private, as
``SERVICETITAN_FILE_MODE`` says (the code server and run workers of ``dagster dev`` load it
too), and refuses to load when the ``.env`` that ``dagster dev`` read from its working
directory points the URLs elsewhere while the credentials are the environment's.
"""

from __future__ import annotations

import dagster as dg
from dagster_dbt import DbtCliResource

from servicetitan_pipeline.client.connections import configured_connections
from servicetitan_pipeline.config import (
    apply_file_mode,
    dbt_executable,
    refuse_credentials_redirected_by,
)
from servicetitan_pipeline.defs.analysts import build_analysts_copy_asset
from servicetitan_pipeline.defs.checks import build_ingestion_checks
from servicetitan_pipeline.defs.dbt import servicetitan_dbt_assets
from servicetitan_pipeline.defs.dbt_project import dbt_project
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

apply_file_mode()
refuse_credentials_redirected_by()  # `dagster dev` loads ./.env itself, over the environment
# The connections file (ConnectionsFileError, naming the file and key, fails the load).
connections = configured_connections()
tenants = [connection.name for connection in connections]
report_specs = configured_report_specs()  # SERVICETITAN_REPORTS_FILE: none without a list
report_assets = build_report_assets(report_specs, tenants)
sync_job = build_sync_job(report_assets=report_assets)

defs = dg.Definitions(
    assets=[
        *build_ingestion_assets(tenants=tenants),
        *report_assets,
        servicetitan_dbt_assets,
        # Last in every run that builds dbt: the read-only copy analysts open (docs/analysts.md).
        build_analysts_copy_asset(servicetitan_dbt_assets.keys),
    ],
    asset_checks=[
        *build_ingestion_checks(),
        *build_report_checks(
            report_specs,
            dbt_model_keys(
                servicetitan_dbt_assets.keys,
                [s.compare_with for s in report_specs if s.compare_with],
            ),
        ),
    ],
    jobs=[sync_job],
    schedules=[build_sync_schedule(sync_job, tenants)],
    resources={
        "servicetitan": servicetitan_tenants_from_connections(connections),
        # The DuckDB file, or the DuckLake (SERVICETITAN_WAREHOUSE=ducklake).
        "duckdb": warehouse_resource_from_env(),
        "dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable()),
    },
    # One process per run: DuckDB allows a single writing process per file.
    executor=dg.in_process_executor,
    loggers={"console": compact_console_logger},
)
