"""The analysts' copy as a Dagster asset: published last in every run that builds the models.

``warehouse/publish.py`` does the copy; this module places it in the graph. The asset depends
on every dbt model, so Dagster runs it once, after the dbt build, in the same run, and only
when that build succeeded (a failed upstream step stops it): analysts see each successful
run's marts and reports, never a half-built state.

Dagster skips a step when an output it depends on was not emitted, and the dbt step leaves
models out: those that read tables no sync has written yet, and those that nothing they read
changed since their last build. So when the dbt step leaves a model out and builds others, it
publishes the copy itself, last, once its build succeeded (:func:`publish_after_partial_build`),
and this asset's step is skipped; when it leaves every model out, nothing changed and the copy
stays as it is. (A fan-in over the models, which Dagster skips only when every source is
missing, cannot be built: each model's input already gathers its blocking dbt tests, and
Dagster's plan refuses a fan-in of such inputs.)

On a DuckLake warehouse (``SERVICETITAN_WAREHOUSE=ducklake``) the asset copies nothing and says
why in its metadata: analysts attach the lake read-only, and a reader's snapshot never blocks a
run (``publish.lake_needs_no_copy``). It stays in the graph so that the same definitions serve
both warehouses.
"""

# Dagster inspects the `context` annotation at definition time, so this module does not use
# `from __future__ import annotations` (it would turn the annotation into a string).

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

from servicetitan_pipeline.config import ANALYSTS_DUCKDB_PATH_ENV, analysts_duckdb_path
from servicetitan_pipeline.defs.jobs import WAREHOUSE_POOL
from servicetitan_pipeline.warehouse.locking import warehouse_write_lock
from servicetitan_pipeline.warehouse.opening import open_warehouse
from servicetitan_pipeline.warehouse.publish import lake_needs_no_copy, publish_analysts_copy

__all__ = [
    "ANALYSTS_COPY_KEY",
    "AnalystsCopyConfig",
    "analysts_copy_metadata",
    "build_analysts_copy_asset",
    "lake_metadata",
    "publish_after_partial_build",
]

ANALYSTS_COPY_KEY = dg.AssetKey(["warehouse", "analysts_copy"])

_DESCRIPTION = (
    "The analysts' copy: every table of the marts and reports (and, when the run's config "
    "says include_staging, the staging views as tables) copied into a read-only DuckDB file "
    "beside the warehouse, "
    f"<warehouse>_analysts.duckdb ({ANALYSTS_DUCKDB_PATH_ENV} overrides), after each "
    "successful dbt build. It is written to a temporary file and renamed over the previous "
    "copy, so an analyst's open connection keeps reading the previous copy and a new one "
    "sees this one; no analyst ever holds the warehouse, so no run waits for one. "
    "On a DuckLake warehouse it copies nothing (analysts attach the lake read-only). "
    "See docs/analysts.md."
)


def analysts_copy_metadata(
    path: Path, rows: dict[str, int], size: int, seconds: float
) -> dict[str, Any]:
    """The materialization's metadata: where, what, how big, how long."""
    return {
        "path": dg.MetadataValue.path(str(path)),
        "tables": len(rows),
        "rows": sum(rows.values()),
        "bytes": size,
        "seconds": round(seconds, 3),
        "rows_by_table": dg.MetadataValue.json(rows),
    }


def lake_metadata(reason: str) -> dict[str, Any]:
    """The materialization's metadata on a DuckLake warehouse: no copy, and why."""
    return {"published": False, "reason": reason}


class AnalystsCopyConfig(dg.Config):
    """What the analysts' copy holds beyond the marts and reports."""

    include_staging: bool = Field(
        default=False,
        description="Also copy dbt's staging views, as tables. Off by default: they are "
        "computed from the raw JSON as they are copied, about four times the CPU of the "
        "marts and reports together (docs/analysts.md).",
    )


def build_analysts_copy_asset(dbt_keys: Iterable[dg.AssetKey]) -> dg.AssetsDefinition:
    """The asset ``["warehouse", "analysts_copy"]``, downstream of every key in ``dbt_keys``
    (the dbt models' asset keys: ``servicetitan_dbt_assets.keys``).

    It reads the ``duckdb`` resource (a ``WarehouseResource``) and holds the warehouse's write
    lock while it copies, like every writer (the copy is attached to the writer's connection).
    """
    keys = sorted(set(dbt_keys), key=lambda k: k.to_user_string())

    @dg.asset(
        key=ANALYSTS_COPY_KEY,
        deps=keys,
        required_resource_keys={"duckdb"},
        pool=WAREHOUSE_POOL,
        group_name="warehouse",
        description=_DESCRIPTION,
        kinds={"duckdb"},
    )
    def _analysts_copy(
        context: dg.AssetExecutionContext, config: AnalystsCopyConfig
    ) -> dg.MaterializeResult[None]:
        duckdb = context.resources.duckdb
        database = str(duckdb.database)
        holder = f"run {context.run.run_id[:8]}, analysts' copy"
        with warehouse_write_lock(database, holder=holder, on_wait=context.log.info):
            metadata = _publish(
                database, duckdb.get_connection, config.include_staging, context.log.info
            )
        return dg.MaterializeResult(metadata=metadata)

    _analysts_copy.__doc__ = _DESCRIPTION
    return _analysts_copy


def _publish(
    database: str,
    connect: Callable[[], Any],
    include_staging: bool,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """Publish the copy of ``database`` (the caller holds its write lock) through a
    connection from ``connect``; the materialization's metadata."""
    no_copy = lake_needs_no_copy()
    if no_copy is not None:
        log(f"analysts' copy: {no_copy}")
        return lake_metadata(no_copy)
    with connect() as conn:
        copy = publish_analysts_copy(
            conn, analysts_duckdb_path(database), include_staging=include_staging
        )
    log(
        f"analysts' copy: {len(copy.rows)} tables, {copy.total_rows} rows, "
        f"{copy.bytes / 2**20:.1f} MiB in {copy.seconds:.1f}s -> {copy.path}"
    )
    return analysts_copy_metadata(copy.path, copy.rows, copy.bytes, copy.seconds)


def publish_after_partial_build(
    database: str,
    *,
    run_config: Mapping[str, Any],
    run_selection: Iterable[dg.AssetKey] | None,
    log: Callable[[str], None],
) -> dg.AssetMaterialization | None:
    """The copy, published by a dbt step that left some selected models out (so Dagster
    skips this module's asset step): call it after the build succeeded, holding the
    warehouse's write lock. ``None`` when the run does not include the copy.

    The copy's ``include_staging`` is the run config's for the asset, as in its own step.
    """
    if run_selection is not None and ANALYSTS_COPY_KEY not in set(run_selection):
        return None
    op_config = run_config.get("ops", {}).get(ANALYSTS_COPY_KEY.to_python_identifier(), {})
    include_staging = bool(op_config.get("config", {}).get("include_staging", False))
    metadata = _publish(database, lambda: open_warehouse(database), include_staging, log)
    return dg.AssetMaterialization(
        asset_key=ANALYSTS_COPY_KEY,
        description="Published by the dbt step, which left out models whose inputs did not "
        "change (or were never synced): the copy's own step is skipped in such a run.",
        metadata=metadata,
    )
