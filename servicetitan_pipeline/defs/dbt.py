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

Nothing changed, nothing rebuilt: of the models that can be built, a run whose selection
includes ingestion assets rebuilds only those downstream of a raw table that changed since
their last build, those whose definition changed and those never built
(``defs.dbt_selection`` says exactly, and why not Dagster's automation conditions). The
others are not yielded (the UI shows them not materialized in the run), and an observation on
each, and one log line, say why. A run that materializes dbt models alone (no ingestion asset
in it: "Materialize" in the UI) builds every one it selects, as does run config
``build_unchanged: true``.

The analysts' copy depends on every model, and Dagster skips a step when an output it depends
on was not yielded: a run that rebuilds nothing publishes no copy (the previous one is
current), and so does, today, a run that rebuilds only some models (see defs.analysts).
"""

import contextlib
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
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
from pydantic import Field

from servicetitan_pipeline.config import duckdb_path
from servicetitan_pipeline.defs.dbt_project import (
    dbt_environment,
    dbt_project,
    invocation_target_path,
)
from servicetitan_pipeline.defs.dbt_selection import (
    MISSING_UPSTREAM_KEY,
    NOT_REBUILT_KEY,
    LastBuild,
    models_to_rebuild,
    rows_changed,
)
from servicetitan_pipeline.defs.jobs import WAREHOUSE_POOL
from servicetitan_pipeline.defs.resources import warehouse_file_errors_not_retried
from servicetitan_pipeline.entities import ENTITIES, ENTITIES_BY_NAME
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
# How many of a raw table's latest materializations are read to find its latest change: an
# hourly schedule over weeks without a change records thousands; past this many the table is
# taken as changed (one rebuild, after which its readers' last build is newer again).
CHANGE_SCAN_LIMIT = 500
# The tag Dagster records on a materialization with its asset's code version (dagster-dbt's
# hash of the model's SQL); not public API, so spelled out here.
CODE_VERSION_TAG = "dagster/code_version"


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


class DbtBuildConfig(dg.Config):
    """Run config of the dbt step (the op ``servicetitan_dbt_models``)."""

    build_unchanged: bool = Field(
        default=False,
        description="Build every selected model, also those that nothing they read changed "
        "since their last build. Default: with ingestion assets in the run, rebuild only the "
        "models downstream of what changed (and those changed or never built).",
    )


@dataclass(frozen=True)
class _Plan:
    """What the dbt step leaves out of ``dbt build``, and the observations that say why."""

    excluded: list[str]  # dbt unique ids (models and tests)
    observations: list[dg.AssetObservation]


def _model_keys(manifest: Mapping[str, Any]) -> dict[str, dg.AssetKey]:
    return {
        unique_id: translator.get_asset_key(node)
        for unique_id, node in manifest["nodes"].items()
        if node["resource_type"] == "model"
    }


def _skip_unbuildable_models(
    context: AssetExecutionContext,
    manifest: Mapping[str, Any],
    keys: Mapping[str, dg.AssetKey],
    building: set[str],
    existing: set[str],
) -> _Plan:
    """The selected models (and the tests) that read absent tables, and an observation on
    each such model; logs what is skipped and why."""
    unbuildable = missing_upstream_tables(manifest, existing=existing, building=building)
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
    return _Plan(sorted(unbuildable), observations)


_RAW_KEYS = frozenset(dg.AssetKey(entity.asset_key_path) for entity in ENTITIES)


def _run_syncs_entities(context: AssetExecutionContext) -> bool:
    """Whether the run holds ingestion assets: a sync (the job, the schedule, the CLI), not
    a materialization of dbt models alone. A run of the whole job names no selection."""
    selection = context.run.asset_selection
    return selection is None or not selection.isdisjoint(_RAW_KEYS)


def _last_builds(
    context: AssetExecutionContext, keys: Mapping[str, dg.AssetKey]
) -> dict[str, LastBuild | None]:
    """Each model's last materialization in the instance (one query for them all)."""
    records = {
        record.asset_entry.asset_key: record.asset_entry.last_materialization_record
        for record in context.instance.get_asset_records(list(keys.values()))
    }
    builds: dict[str, LastBuild | None] = {}
    for uid, key in keys.items():
        event = records.get(key)
        materialization = event.event_log_entry.asset_materialization if event else None
        builds[uid] = (
            None
            if event is None or materialization is None
            else LastBuild(event.storage_id, materialization.tags.get(CODE_VERSION_TAG))
        )
    return builds


def _latest_change_finder(
    context: AssetExecutionContext, manifest: Mapping[str, Any], since: int
) -> Callable[[str], int | None]:
    """``source id -> storage id`` of its raw table's latest materialization that changed
    rows, looking no further back than ``since`` (older changes are older than every build
    that matters). Each raw table is read once, newest first, and only when asked."""
    found: dict[str, int | None] = {}

    def latest_change(source_id: str) -> int | None:
        if source_id not in found:
            key = translator.get_asset_key(manifest["sources"][source_id])
            found[source_id] = _latest_change_of(context.instance, key, since)
        return found[source_id]

    return latest_change


def _latest_change_of(instance: dg.DagsterInstance, key: dg.AssetKey, since: int) -> int | None:
    cursor: str | None = None
    scanned = 0
    while True:
        page = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key, after_storage_id=since), limit=100, cursor=cursor
        )
        for record in page.records:
            materialization = record.event_log_entry.asset_materialization
            if materialization is None or rows_changed(materialization.metadata):
                return record.storage_id
        scanned += len(page.records)
        if not page.has_more or not page.records:
            return None
        if scanned >= CHANGE_SCAN_LIMIT:
            return page.records[-1].storage_id  # taken as changed: see CHANGE_SCAN_LIMIT
        cursor = page.cursor


def _skip_unchanged_models(
    context: AssetExecutionContext,
    manifest: Mapping[str, Any],
    keys: Mapping[str, dg.AssetKey],
    building: set[str],
    existing: set[str],
) -> _Plan:
    """The selected models that nothing they read changed since their last build (with
    their tests), an observation on each, and one log line saying which and why."""
    last_builds = _last_builds(context, {uid: keys[uid] for uid in building})
    code_versions = context.assets_def.code_versions_by_key
    since = min((b.storage_id for b in last_builds.values() if b is not None), default=0)
    nodes = manifest["nodes"]
    rebuild = models_to_rebuild(
        manifest,
        selected=building,
        code_versions={uid: code_versions.get(keys[uid]) for uid in building},
        last_builds=last_builds,
        last_change=_latest_change_finder(context, manifest, since),
        existing=lambda uid: _relation(nodes[uid]).lower() in existing,
    )
    unchanged = sorted(uid for uid in building if uid not in rebuild)
    names = [nodes[uid]["name"] for uid in unchanged]
    why = "nothing it reads changed since its last build"
    if unchanged:
        context.log.info(
            f"dbt: {len(unchanged)} of {len(building)} selected model(s) not rebuilt "
            f"({why}); rebuilding {len(rebuild)}"
            + (
                ": " + "; ".join(f"{nodes[u]['name']} ({r})" for u, r in rebuild.items())
                if rebuild
                else ""
            )
            + f". Not rebuilt: {', '.join(names)}"
        )
    observations = [
        dg.AssetObservation(
            asset_key=keys[uid],
            description=f"not rebuilt in this run: {why}",
            metadata={NOT_REBUILT_KEY: why},
        )
        for uid in unchanged
    ]
    return _Plan(unchanged, observations)


def _exclude_arguments(manifest: Mapping[str, Any], excluded: Iterable[str]) -> list[str]:
    """``--exclude`` of these dbt nodes, by fqn, as ONE value: dagster-dbt passes on a
    single argument after ``--exclude``."""
    fqns = sorted({"fqn:" + ".".join(manifest["nodes"][uid]["fqn"]) for uid in excluded})
    return ["--exclude", " ".join(fqns)] if fqns else []


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=translator,
    name="servicetitan_dbt_models",
    # dbt writes the same DuckDB file as the ingestion assets: same pool, same lock.
    pool=WAREHOUSE_POOL,
)
def servicetitan_dbt_assets(
    context: AssetExecutionContext, dbt: DbtCliResource, config: DbtBuildConfig
) -> Iterator[Any]:
    """``dbt build`` the selected models that need it: staging views, marts and reports,
    with their tests.

    Models that read a table that does not exist yet (a raw table no sync has written, a model
    never built and not selected) are left out with their tests, and an observation on each
    names the missing tables: syncing a few entities into a new warehouse builds what those
    entities allow. In a run that syncs entities, models that nothing they read changed since
    their last build are left out too (an observation on each says so); a run that changed
    nothing runs no dbt at all. Run config ``build_unchanged: true`` builds them anyway.
    """
    # dbt must open the very file the ingestion assets wrote. settings.duckdb_path() is how the
    # DuckDB resource resolved it (absolute, against this process's working directory); hand
    # dbt that absolute path so it cannot resolve a relative one differently.
    database = duckdb_path()
    os.environ.update(dbt_environment())  # on a DuckLake, its settings resolved too
    holder = f"run {context.run.run_id[:8]}, dbt build"
    on_file = lake_settings() is None
    # A DuckLake orders its writers itself (snapshot isolation): the file's one-writer lock
    # and its checks are the file's alone.
    lock = warehouse_write_lock(database, holder=holder, on_wait=context.log.info)
    with lock if on_file else contextlib.nullcontext():
        if on_file:
            # dbt-duckdb opens the file itself: a file that can never open fails here, named
            # and not retried, instead of in dbt's words after the retry policy's minutes.
            with warehouse_file_errors_not_retried():
                check_warehouse_file(database)
                # dbt-duckdb tries the file once: a reader holding it (an analyst's shell) is
                # waited for here, named at once, instead of failing the build in DuckDB's
                # words.
                wait_for_other_processes(database, on_wait=context.log.info)
        manifest = json.loads(dbt_project.manifest_path.read_text())
        keys = _model_keys(manifest)
        building = {uid for uid, key in keys.items() if key in context.selected_asset_keys}
        existing = existing_tables(database)
        plans = [_skip_unbuildable_models(context, manifest, keys, building, existing)]
        buildable = building - set(plans[0].excluded)
        if buildable and _run_syncs_entities(context) and not config.build_unchanged:
            plans.append(_skip_unchanged_models(context, manifest, keys, buildable, existing))
        for plan in plans:
            yield from plan.observations
        exclude = _exclude_arguments(manifest, [uid for plan in plans for uid in plan.excluded])
        if sum(len(plan.observations) for plan in plans) == len(context.selected_asset_keys):
            return  # every selected model left out: nothing for dbt to build
        target_path = invocation_target_path(
            dbt_project, op_name=context.op_execution_context.op.name, run_id=context.run.run_id
        )
        # Row counts (tables; views are not counted) and column types on every model's
        # materialization, as the raw assets have. dagster-dbt reads them through an in-process
        # dbt-duckdb adapter, read-only, after dbt has exited (DuckDB: one writer); no column
        # lineage: it would parse every model's SQL with sqlglot and read its parents' columns
        # again, for a graph the asset lineage already shows.
        events = dbt.cli(["build", *exclude], context=context, target_path=target_path).stream()
        if _manifest_names_the_warehouse(manifest, database):
            events = events.fetch_row_counts().fetch_column_metadata(with_column_lineage=False)
        else:
            context.log.info(
                "dbt: no row counts or column types on the models this run: the warehouse "
                f"file {database} is not the one the dbt project was parsed for (its tables "
                "are named by that file's name); they return once the project is parsed again"
            )
        try:
            yield from events
        finally:
            _close_metadata_connection()
        if any(plan.excluded for plan in plans):
            # Dagster skips the analysts' copy's step, which depends on every model: publish
            # it here, now that the build succeeded (defs/analysts.py says why).
            from servicetitan_pipeline.defs.analysts import publish_after_partial_build

            copy = publish_after_partial_build(
                database,
                run_config=context.run.run_config,
                run_selection=context.run.asset_selection,
                log=context.log.info,
            )
            if copy is not None:
                yield copy


def _manifest_names_the_warehouse(manifest: Mapping[str, Any], database: str) -> bool:
    """Whether the manifest's models live in ``database``'s catalog: dagster-dbt reads the
    metadata by the manifest's fully qualified names, and DuckDB names a file's catalog after
    the file (a DuckLake's is ``lake`` in the manifest and in the run alike)."""
    if lake_settings() is not None:
        return True
    catalogs = {
        str(node.get("database") or "")
        for node in manifest["nodes"].values()
        if node.get("resource_type") == "model"
    }
    return catalogs == {Path(database).stem}


def _close_metadata_connection() -> None:
    """Close the read-only DuckDB connection the metadata was read on.

    dbt-duckdb keeps its database open for the life of the process (``keep_open``), in a
    class attribute; left open, it would make every later read-write connection of this
    process to the warehouse fail (DuckDB: "different configuration than existing
    connections"), and the steps after dbt (the analysts' copy, the report checks) run here.
    """
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    manager: Any = DuckDBConnectionManager  # its _ENV is typed as always None
    with manager._LOCK:
        environment, manager._ENV = manager._ENV, None
    if environment is not None:
        environment.close()


__all__ = [
    "DBT_SOURCE_NAME",
    "MISSING_UPSTREAM_KEY",
    "NOT_REBUILT_KEY",
    "DbtBuildConfig",
    "ServiceTitanDbtTranslator",
    "existing_tables",
    "missing_upstream_tables",
    "servicetitan_dbt_assets",
    "translator",
]
