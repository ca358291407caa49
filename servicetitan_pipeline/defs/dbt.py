"""dbt models of ``dbt_project/`` as Dagster assets, and dbt tests as asset checks.

The ``servicetitan`` dbt source tables are the raw tables the ingestion assets write, so the
translator maps each of them onto its ingestion asset (``["servicetitan", "<entity>"]``, from
``entities.py``): the Dagster graph runs from the API to the reports without a gap.

A model can only be built once every table it reads exists or is built in the same run: the
raw tables (directly or through other models), and the models it reads that are not selected.
Syncing a few entities into a new warehouse, or materializing models from the UI before their
entities were ever synced, selects models that read tables nobody wrote yet: the dbt asset
leaves those models (and their tests) out of ``dbt build``, logs which and why, and records an
observation on each naming the missing tables, instead of failing the build.
"""

import contextlib
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    dbt_assets,
)

from servicetitan_pipeline.config import duckdb_path
from servicetitan_pipeline.defs.dbt_project import (
    dbt_environment,
    dbt_project,
    invocation_target_path,
)
from servicetitan_pipeline.defs.jobs import WAREHOUSE_POOL
from servicetitan_pipeline.defs.resources import warehouse_file_errors_not_retried
from servicetitan_pipeline.entities import ENTITIES_BY_NAME
from servicetitan_pipeline.warehouse.lake import connect_lake, lake_settings
from servicetitan_pipeline.warehouse.locking import warehouse_write_lock
from servicetitan_pipeline.warehouse.opening import (
    check_warehouse_file,
    open_warehouse,
    wait_for_other_processes,
)

# Dagster inspects the `context` annotation at definition time, so this module does not use
# `from __future__ import annotations` (it would turn the annotation into a string).

# The dbt source whose tables are the ingestion assets' raw tables.
DBT_SOURCE_NAME = "servicetitan"
# One Dagster group per dbt layer (models/<folder>/...): servicetitan_staging,
# servicetitan_intermediate, servicetitan_marts, servicetitan_reports. The raw layer is
# servicetitan_raw (the ingestion assets).
GROUP_PREFIX = "servicetitan_"
# Metadata of the observation recorded on a model left out of a build: the tables it lacks.
MISSING_UPSTREAM_KEY = "missing_upstream_tables"


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


def existing_tables(database: str) -> set[str]:
    """``schema.table`` of every table and view in the warehouse (none if there is no file);
    on a DuckLake warehouse, in the lake (``database`` is then not read)."""
    lake = lake_settings()
    if lake is not None:
        with contextlib.closing(connect_lake(lake, read_only=True)) as lake_con:
            rows = lake_con.execute(
                "select table_schema || '.' || table_name from information_schema.tables "
                "where table_catalog = current_database()"
            ).fetchall()
        return {str(name).lower() for (name,) in rows}
    if database == ":memory:" or not Path(database).exists():
        return set()
    with open_warehouse(database) as con:
        rows = con.execute(
            "select table_schema || '.' || table_name from information_schema.tables"
        ).fetchall()
    return {str(name).lower() for (name,) in rows}


def _relation(node: Mapping[str, Any]) -> str:
    """The ``schema.table`` a dbt source or model is in the warehouse."""
    return f"{node['schema']}.{node.get('identifier') or node['alias']}"


def missing_upstream_tables(
    manifest: Mapping[str, Any], *, existing: set[str], building: set[str]
) -> dict[str, list[str]]:
    """Each dbt node that cannot be built -> the absent tables it reads, sorted.

    ``building`` holds the unique ids of the models this build creates. A node cannot be built
    when a source it reads (directly or through models being built) has no raw table, or when
    a model it reads is neither being built nor in the warehouse. Such a model is reported by
    its own missing raw tables when it has some (an entity never synced), else by its name (a
    model never built). Only models being built, and tests, are in the result.
    """
    sources: Mapping[str, Mapping[str, Any]] = manifest["sources"]
    nodes: Mapping[str, Mapping[str, Any]] = manifest["nodes"]
    found: dict[str, frozenset[str]] = {}

    def absent_for(unique_id: str) -> frozenset[str]:
        if unique_id in found:
            return found[unique_id]
        node = sources.get(unique_id) or nodes.get(unique_id)
        if node is None:  # a macro or another project's node: nothing to read
            return frozenset()
        relation = _relation(node) if node["resource_type"] in ("source", "model") else ""
        exists = relation.lower() in existing
        built_elsewhere = (
            node["resource_type"] == "model"
            and unique_id not in building
            and node["config"].get("materialized") != "ephemeral"
        )
        found[unique_id] = frozenset()  # dbt's graph has no cycles; this only ends recursion
        if node["resource_type"] == "source" or (built_elsewhere and exists):
            result = frozenset() if exists else frozenset({relation})
        else:
            parents = node["depends_on"]["nodes"]
            result = frozenset().union(*(absent_for(p) for p in parents))
            if built_elsewhere:
                result = result or frozenset({relation})
        found[unique_id] = result
        return result

    return {
        uid: sorted(tables)
        for uid, node in nodes.items()
        if (uid in building or node["resource_type"] != "model") and (tables := absent_for(uid))
    }


def _skip_unbuildable_models(
    context: AssetExecutionContext, database: str
) -> tuple[list[str], list[dg.AssetObservation]]:
    """``--exclude`` arguments for the selected models (and the tests) that read absent
    tables, and an observation on each such model; logs what is skipped and why."""
    manifest = json.loads(dbt_project.manifest_path.read_text())
    keys = {
        unique_id: translator.get_asset_key(node)
        for unique_id, node in manifest["nodes"].items()
        if node["resource_type"] == "model"
    }
    building = {uid for uid, key in keys.items() if key in context.selected_asset_keys}
    unbuildable = missing_upstream_tables(
        manifest, existing=existing_tables(database), building=building
    )
    if not unbuildable:
        return [], []
    skipped = {
        manifest["nodes"][uid]["name"]: tables for uid, tables in unbuildable.items() if uid in keys
    }
    observations = [
        dg.AssetObservation(
            asset_key=keys[uid],
            description="not built: it reads tables that do not exist yet",
            metadata={MISSING_UPSTREAM_KEY: tables},
        )
        for uid, tables in unbuildable.items()
        if uid in keys
    ]
    if skipped:
        missing = sorted({table for tables in skipped.values() for table in tables})
        context.log.warning(
            f"dbt: {len(skipped)} selected model(s) not built, because they read tables that "
            f"do not exist yet ({', '.join(missing)}: entities never synced, or models never "
            f"built): {', '.join(sorted(skipped))}"
        )
    excluded = sorted("fqn:" + ".".join(manifest["nodes"][uid]["fqn"]) for uid in unbuildable)
    # One value: dagster-dbt passes on a single argument after --exclude.
    return ["--exclude", " ".join(excluded)], observations


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=translator,
    name="servicetitan_dbt_models",
    # dbt writes the same DuckDB file as the ingestion assets: same pool, same lock.
    pool=WAREHOUSE_POOL,
)
def servicetitan_dbt_assets(context: AssetExecutionContext, dbt: DbtCliResource) -> Iterator[Any]:
    """``dbt build`` the selected models: staging views, marts and reports, with their tests.

    Models that read a table that does not exist yet (a raw table no sync has written, a model
    never built and not selected) are left out with their tests, and an observation on each
    names the missing tables: syncing a few entities into a new warehouse builds what those
    entities allow.
    """
    # dbt must open the very file the ingestion assets wrote. settings.duckdb_path() is how the
    # DuckDB resource resolved it (absolute, against this process's working directory); hand
    # dbt that absolute path so it cannot resolve a relative one differently.
    database = duckdb_path()
    os.environ.update(dbt_environment())  # on a DuckLake, its settings resolved too
    holder = f"run {context.run.run_id[:8]}, dbt build"
    with warehouse_write_lock(database, holder=holder, on_wait=context.log.info):
        # dbt-duckdb opens the file itself: a file that can never open fails here, named and
        # not retried, instead of in dbt's words after the retry policy's minutes.
        with warehouse_file_errors_not_retried():
            check_warehouse_file(database)
            # dbt-duckdb tries the file once: a reader holding it (an analyst's shell) is
            # waited for here, named at once, instead of failing the build in DuckDB's words.
            wait_for_other_processes(database, on_wait=context.log.info)
        exclude, observations = _skip_unbuildable_models(context, database)
        yield from observations
        if observations and len(observations) == len(context.selected_asset_keys):
            return  # every selected model skipped: nothing for dbt to build
        target_path = invocation_target_path(
            dbt_project, op_name=context.op_execution_context.op.name, run_id=context.run.run_id
        )
        yield from dbt.cli(["build", *exclude], context=context, target_path=target_path).stream()


__all__ = [
    "DBT_SOURCE_NAME",
    "MISSING_UPSTREAM_KEY",
    "ServiceTitanDbtTranslator",
    "existing_tables",
    "missing_upstream_tables",
    "servicetitan_dbt_assets",
    "translator",
]
