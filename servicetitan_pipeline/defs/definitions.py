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
directory points the URLs elsewhere while the credentials are the environment's. Every synced
raw asset carries a freshness policy of ``SERVICETITAN_FRESHNESS_HOURS``; the alert sensors
(``defs.alerts``) are defined only when ``SERVICETITAN_ALERT_WEBHOOK_URL`` or
``SERVICETITAN_ALERT_SMTP_HOST`` is set, and a bad alert setting fails the load, named.
"""

from __future__ import annotations

from servicetitan_pipeline.defs.assembly import build_definitions, deployment

# Read once per process, shared with the CLI (``defs.assembly``): a connections file that is
# not valid (ConnectionsFileError, naming the file and key) fails the load.
_deployment = deployment()
connections = _deployment.connections
tenants = _deployment.tenants
report_specs = _deployment.report_specs  # SERVICETITAN_REPORTS_FILE: none without a list
report_assets = _deployment.report_assets
sync_job = _deployment.sync_job

# Whole, the dbt layer included (a run that builds no model uses the definitions without it:
# ``build_definitions(include_dbt=False)``).
defs = build_definitions(include_dbt=True)
