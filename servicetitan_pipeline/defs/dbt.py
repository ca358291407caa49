"""dbt models of ``dbt_project/`` as Dagster assets, and dbt tests as asset checks.

The ``servicetitan`` dbt source tables are the raw tables the ingestion assets write, so the
translator maps each of them onto its ingestion asset (``["servicetitan", "<entity>"]``, from
``entities.py``): the Dagster graph runs from the API to the reports without a gap.
"""

import os
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    dbt_assets,
)

from servicetitan_pipeline.config import DUCKDB_PATH_ENV, duckdb_path
from servicetitan_pipeline.defs.dbt_project import dbt_project
from servicetitan_pipeline.defs.jobs import WAREHOUSE_POOL
from servicetitan_pipeline.entities import ENTITIES_BY_NAME
from servicetitan_pipeline.warehouse.locking import warehouse_write_lock

# Dagster inspects the `context` annotation at definition time, so this module does not use
# `from __future__ import annotations` (it would turn the annotation into a string).

# The dbt source whose tables are the ingestion assets' raw tables.
DBT_SOURCE_NAME = "servicetitan"
# One Dagster group per dbt layer (models/<folder>/...): servicetitan_staging,
# servicetitan_intermediate, servicetitan_marts, servicetitan_reports. The raw layer is
# servicetitan_raw (the ingestion assets).
GROUP_PREFIX = "servicetitan_"


class ServiceTitanDbtTranslator(DagsterDbtTranslator):
    """Maps the ``servicetitan`` source onto the ingestion assets and groups models by layer."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if (
            dbt_resource_props["resource_type"] == "source"
            and dbt_resource_props["source_name"] == DBT_SOURCE_NAME
        ):
            table = dbt_resource_props["name"]
            entity = ENTITIES_BY_NAME.get(table)
            if entity is None:
                # A source table without an ingestion asset would show up as a dangling
                # external asset and never be materialized: fail at load time instead.
                raise ValueError(
                    f"dbt source {DBT_SOURCE_NAME}.{table} has no entity in entities.ENTITIES; "
                    "add the entity (it creates the ingestion asset) or remove the source table"
                )
            return dg.AssetKey(entity.asset_key_path)
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "model":
            # fqn: [project, <layer folder>, ..., model name]
            fqn = dbt_resource_props["fqn"]
            if len(fqn) > 2:
                return f"{GROUP_PREFIX}{fqn[1]}"
        return super().get_group_name(dbt_resource_props)


translator = ServiceTitanDbtTranslator(
    # dbt tests on models become Dagster asset checks (the default, spelled out because the
    # reconciliation tests are what make the reports trustworthy).
    settings=DagsterDbtTranslatorSettings(enable_asset_checks=True),
)


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=translator,
    name="servicetitan_dbt_models",
    # dbt writes the same DuckDB file as the ingestion assets: same pool, same lock.
    pool=WAREHOUSE_POOL,
)
def servicetitan_dbt_assets(context: AssetExecutionContext, dbt: DbtCliResource):
    """``dbt build`` the selected models: staging views, marts and reports, with their tests."""
    # dbt must open the very file the ingestion assets wrote. settings.duckdb_path() is how the
    # DuckDB resource resolved it (absolute, against this process's working directory); hand
    # dbt that absolute path so it cannot resolve a relative one differently.
    database = duckdb_path()
    os.environ[DUCKDB_PATH_ENV] = database
    holder = f"run {context.run.run_id[:8]}, dbt build"
    with warehouse_write_lock(database, holder=holder, on_wait=context.log.info):
        yield from dbt.cli(["build"], context=context).stream()


__all__ = [
    "DBT_SOURCE_NAME",
    "ServiceTitanDbtTranslator",
    "servicetitan_dbt_assets",
    "translator",
]
