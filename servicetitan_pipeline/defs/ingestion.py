"""Ingestion assets: one Dagster asset per entry of ``entities.ENTITIES``.

One step (op ``servicetitan_ingestion``, a multi-asset that can be subset) runs the sync engine
for the selected entities of the run's tenants, a few at a time (``sync.concurrent``), under
the warehouse's write lock, and turns what each sync did into that entity's materialization
metadata. Partitioned by tenant (``build_ingestion_assets(tenants=...)``), a run covers one
tenant or a range of them (``context.partition_keys``), downloaded in parallel; one tenant's
failure (refused credentials, a missing variable, a missing scope) fails the step at its end,
named, after the other tenants' data landed and their partitions were recorded.

Public API (used by ``definitions.py`` and the CLI):

* :func:`build_ingestion_assets` -- the assets, keys ``["servicetitan", <entity>]``;
* :class:`IngestionConfig` -- run config of the step (``full_refresh``,
  ``full_refresh_entities``, ``list_page_size``, ``concurrent_entities``);
* :func:`ingestion_run_config` -- the run config dict for a selection of entities;
* :func:`materialization_metadata` -- an entity's metadata from one sync (from
  ``defs.ingestion_outcomes``, which holds what a run records and how it fails).
"""

# No `from __future__ import annotations`: Dagster reads the asset function's annotations
# (config class, resources) at definition time and cannot resolve them as strings.
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import dagster as dg
from dagster_duckdb import DuckDBResource
from pydantic import Field

from servicetitan_pipeline.client import (
    DEFAULT_LIST_PAGE_SIZE,
    AuthenticationError,
    ServiceTitanError,
)
from servicetitan_pipeline.defs.ingestion_outcomes import (
    TenantFailures,
    credentials_hint,
    failure_reason,
    materialization_metadata,
    materializations,
    run_failure,
    settings_reason,
)
from servicetitan_pipeline.defs.jobs import WAREHOUSE_POOL
from servicetitan_pipeline.defs.resources import warehouse_write_lock_for
from servicetitan_pipeline.defs.tenants import (
    RunTenant,
    run_tenant_names,
    run_tenants,
    tenant_partitions,
)
from servicetitan_pipeline.entities import ENTITIES, Entity, SyncMode, get_entity
from servicetitan_pipeline.sync.concurrent import (
    DEFAULT_MAX_WORKERS,
    DEFAULT_WORKERS,
    TenantSync,
    TenantSyncs,
)
from servicetitan_pipeline.sync.engine import SyncResult
from servicetitan_pipeline.sync.progress import DEFAULT_LINE_SECONDS, ProgressLines, run_progress
from servicetitan_pipeline.warehouse.schema import REJECTED_TABLE, TENANT_ID, RecordFields

__all__ = [
    "ASSET_KINDS",
    "ENTITY_NAMES",
    "INGESTION_GROUP",
    "SYNC_OP_NAME",
    "IngestionConfig",
    "build_ingestion_assets",
    "ingestion_op_name",
    "ingestion_run_config",
    "materialization_metadata",
]

INGESTION_GROUP = "servicetitan_raw"
ENTITY_NAMES = frozenset(e.name for e in ENTITIES)
ASSET_KINDS = {"api", "duckdb"}


SYNC_OP_NAME = "servicetitan_ingestion"


class IngestionConfig(dg.Config):
    """Run config of the ingestion step (the op ``servicetitan_ingestion``)."""

    full_refresh: bool = Field(
        default=False,
        description="Delete the run's tenants' rows, cursors and rejected records of every "
        "selected entity, then re-read them from the beginning. Default: incremental from the "
        "stored cursors.",
    )
    full_refresh_entities: list[str] = Field(
        default_factory=list,
        description="Entities (names, e.g. `invoices`) to fully refresh, the others of the "
        "selection staying incremental.",
    )
    list_page_size: int = Field(
        default=DEFAULT_LIST_PAGE_SIZE,
        ge=1,
        le=5000,
        description="pageSize for list-endpoint entities (job types, campaigns); 5000 is "
        "ServiceTitan's practical maximum and costs the fewest requests.",
    )
    concurrent_entities: int = Field(
        default=DEFAULT_WORKERS,
        ge=1,
        le=8,
        description="How many entities of one tenant are synced at once, each on its own "
        "DuckDB connection (the largest first). 1 syncs them one after another.",
    )
    max_concurrent_syncs: int = Field(
        default=DEFAULT_MAX_WORKERS,
        ge=1,
        le=32,
        description="How many entity syncs run at once in all, across the run's tenants "
        "(tenants take turns: every tenant starts at once). Unused by a one-tenant run.",
    )
    progress_log_seconds: float = Field(
        default=DEFAULT_LINE_SECONDS,
        ge=0,
        description="How often the run log gets a progress line (records, pages, rate, "
        "elapsed, the total where ServiceTitan gives one) per entity still syncing; 0: as "
        "often as it moves. Each entity's summary line says how it ended.",
    )

    def refreshed(self, selected: Iterable[str]) -> dict[str, bool]:
        """Entity name -> whether this run fully refreshes it (unknown names refused)."""
        unknown = [name for name in self.full_refresh_entities if name not in ENTITY_NAMES]
        if unknown:
            raise dg.Failure(
                description=f"full_refresh_entities names unknown entities: {', '.join(unknown)}"
            )
        chosen = set(self.full_refresh_entities)
        return {name: self.full_refresh or name in chosen for name in selected}


def ingestion_op_name(entity_name: str) -> str:
    """The op that syncs ``entity_name`` (the key under ``ops`` in run config): one op,
    ``servicetitan_ingestion``, syncs every entity. Unknown names raise ``KeyError`` listing the
    known entities."""
    get_entity(entity_name)
    return SYNC_OP_NAME


def ingestion_run_config(entity_names: Iterable[str], full_refresh: bool = False) -> dict[str, Any]:
    """Run config for the ingestion of ``entity_names``.

    Example: ``ingestion_run_config(["customers"], full_refresh=True)`` ->
    ``{"ops": {"servicetitan_ingestion": {"config": {"full_refresh_entities": ["customers"]}}}}``.
    Unknown names raise ``KeyError`` listing the known entities.
    """
    names = [get_entity(name).name for name in entity_names]
    config: dict[str, Any] = {"full_refresh_entities": names} if full_refresh else {}
    return {"ops": {SYNC_OP_NAME: {"config": config}}}


# --------------------------------------------------------------------------------------------
# The asset factory
# --------------------------------------------------------------------------------------------


def _query(params: Mapping[str, str]) -> str:
    return "&".join(f"{k}={v}" for k, v in params.items())


def _how_it_syncs(entity: Entity) -> str:
    """How the entity is read (its sync mode, endpoint and query), from the entity table."""
    if entity.sync_mode is SyncMode.EXPORT:
        sent = (
            f" Every request sends `{_query(entity.export_params)}`."
            if entity.export_params
            else ""
        )
        which = "active, inactive and deleted records" if entity.active_field else "every record"
        return (
            f"Synced incrementally (mode `{entity.sync_mode}`) from the export endpoint "
            f"`{entity.export_path('{tenant}')}` with ServiceTitan's continuation token "
            f"({which}).{sent} Pages are committed in batches, "
            "each in one DuckDB transaction with the token that follows it, so a run that stops "
            "anywhere resumes after the last committed batch."
        )
    inactive = (
        f" (`{_query(entity.list_inactive_params)}`, so inactive records come too)"
        if entity.list_inactive_params
        else ""
    )
    if entity.sync_mode is SyncMode.LIST_FULL:
        return (
            f"Read whole on every run (mode `{entity.sync_mode}`) from the list endpoint "
            f"`{entity.list_path('{tenant}')}`{inactive}: there is no `modifiedOnOrAfter` to "
            "follow. Records are upserted (a run with no change writes no row) and a record "
            "that stops appearing is kept, never deleted; the cursor row in `_sync_state` says "
            "when the list was last read."
        )
    return (
        f"Synced (mode `{entity.sync_mode}`) from the list endpoint "
        f"`{entity.list_path('{tenant}')}`{inactive} with `modifiedOnOrAfter` = the stored "
        f"high-water {entity.modified_field}; the new high-water is committed once a pass "
        "completes."
    )


def _how_it_is_stored(entity: Entity) -> str:
    """How the raw table keys, orders and flags the entity's records, from the entity table."""
    fields = RecordFields.of(entity)
    key_columns = ", ".join((TENANT_ID, *fields.key_columns))
    if len(fields.key) == 1:
        keyed = f"the record's `{fields.key[0]}` in `id`"
    else:
        keyed = " and ".join(
            f"`{name}` in `{column}`"
            for name, column in zip(fields.key, fields.key_columns, strict=True)
        )
    if fields.modified is None:
        ordered = (
            "`modified_on` is NULL (the records carry no time to follow): a changed payload "
            "is what makes a version newer"
        )
    else:
        ordered = (
            f"`modified_on` holds `{fields.modified}`, and a version replaces the stored one "
            f"only when its {fields.modified} is newer"
        )
        if fields.modified != "modifiedOn":
            ordered += " (the records are immutable events)"
    flagged = (
        "`active` is NULL: the entity has no active flag"
        if fields.active is None
        else f"`active` holds `{fields.active}`"
    )
    return (
        f"Writes `{entity.raw_table}`: one row per ({key_columns}) -- {keyed} -- with the "
        f"latest version, the complete record as JSON in `payload` and lineage columns; "
        f"{ordered}; {flagged}."
    )


def _asset_spec(entity: Entity) -> dg.AssetSpec:
    """The ingestion asset of one entity (key ``["servicetitan", entity.name]``): its
    description, built from the entity table, is what the UI shows."""
    description = (
        f"{entity.description}\n\n{_how_it_syncs(entity)}\n\n{_how_it_is_stored(entity)} "
        f"Records that cannot be loaded go to `{REJECTED_TABLE}`. Run config "
        "`full_refresh: true` rebuilds it from scratch."
    )
    return dg.AssetSpec(
        key=entity.asset_key_path,
        group_name=INGESTION_GROUP,
        kinds=ASSET_KINDS,
        description=description,
        tags={"servicetitan/sync_mode": str(entity.sync_mode)},
        metadata={
            "raw_table": entity.raw_table,
            "sync_mode": str(entity.sync_mode),
            "api_spec": entity.spec_file,
            "record_key": ", ".join(entity.key),
            "ordered_by": entity.modified_field or "payload (no ordering field)",
            "active_flag": entity.active_field or "none",
        },
        # An entity that fails leaves its asset unmaterialized while the others land.
        skippable=True,
    )


def _partitioned_description(tenants: Sequence[str]) -> str:
    return (
        f"\n\nPartitioned by tenant: one partition per connection ({', '.join(tenants)}), "
        "in the connections file's order. Materialize one tenant, several or all; a run over "
        "a range of tenants (a backfill) is one run that downloads them in parallel, each "
        "with its own token, rate limit and cursors, and records a materialization for each "
        "tenant that synced the entity."
    )


def build_ingestion_assets(
    entities: Sequence[Entity] = ENTITIES,
    tenants: Sequence[str] | None = None,
) -> list[dg.AssetsDefinition]:
    """The ingestion assets: one asset per entity (default: every entry of ``ENTITIES``),
    keys ``["servicetitan", <entity>]``, computed by one step that syncs the selected
    entities of the run's tenants a few at a time (``IngestionConfig.concurrent_entities``
    per tenant, ``max_concurrent_syncs`` in all).

    ``tenants``: the connection names, one partition each (``defs.tenants.tenant_partitions``)
    with ``BackfillPolicy.single_run()``, so a backfill over tenants is one run that syncs
    them in parallel. ``None``: not partitioned; a run syncs every tenant of the
    ``servicetitan`` resource (a plain ``ServiceTitanResource`` is one tenant).

    Why one step: DuckDB lets one process write a file, and Dagster runs the steps of a
    process one after another; the time of a sync is mostly DuckDB compressing and writing
    payloads (``bench/README.md``) and waiting for each tenant's API, so entities and tenants
    written side by side on their own connections to the one database (different tables or
    different tenants' rows: no conflicts) finish sooner than one by one. Every entity is
    still its own asset, selectable alone in the UI, with its own materialization, metadata
    and checks; one that fails (or a tenant that fails) is named in the step's failure and
    does not stop the others.

    What a run records, per entity: one ``MaterializeResult`` when every tenant of the run
    synced it (for a partitioned run, Dagster records it for each partition of the run); else
    one ``AssetMaterialization`` per tenant that synced it (its partition), and the step fails
    at its end naming the failed tenants and entities.
    """
    by_key = {dg.AssetKey(e.asset_key_path): e for e in entities}
    partitions = tenant_partitions(tenants) if tenants is not None else None
    specs = [_asset_spec(e) for e in entities]
    if tenants is not None:
        extra = _partitioned_description(tenants)
        specs = [
            spec.replace_attributes(description=(spec.description or "") + extra) for spec in specs
        ]

    @dg.multi_asset(
        name=SYNC_OP_NAME,
        specs=specs,
        can_subset=True,
        pool=WAREHOUSE_POOL,
        partitions_def=partitions,
        backfill_policy=dg.BackfillPolicy.single_run() if partitions is not None else None,
        # Either resource type: one connection, or the deployment's tenants.
        required_resource_keys={"servicetitan", "duckdb"},
        description="Syncs the selected ServiceTitan entities of the run's tenants into DuckDB"
        + (" (partitioned by tenant)." if partitions is not None else "."),
    )
    def _sync(
        context: dg.AssetExecutionContext, config: IngestionConfig
    ) -> Iterator[dg.MaterializeResult[Any] | dg.AssetMaterialization]:
        selected = [by_key[key] for key in context.selected_asset_keys if key in by_key]
        partitioned = partitions is not None
        run = run_tenants(context.resources.servicetitan, run_tenant_names(context))
        failures: dict[str, TenantFailures] = {}
        ready: list[TenantSync] = []
        refreshed = config.refreshed(e.name for e in selected)
        for tenant in run:
            if tenant.resource is not None:
                try:
                    client = tenant.resource.get_client()
                except ServiceTitanError as exc:
                    tenant = RunTenant(tenant.name, tenant.tenant_id, None, exc)
                else:
                    ready.append(TenantSync(tenant.name, client, selected, refreshed))
                    continue
            assert tenant.error is not None
            # A tenant whose settings cannot work fails alone, named, before any request.
            reason = settings_reason(tenant, tenant.error)
            context.log.error(f"{tenant.label}: not synced: {reason}")
            failures[tenant.name] = TenantFailures(tenant.label)
            failures[tenant.name].add((e.name for e in selected), reason, False)
        several = len(run) > 1
        by_name = {t.name: t for t in run}
        results: dict[str, list[SyncResult]] = {e.name: [] for e in selected}
        left = dict.fromkeys(results, len(ready))
        holder = f"run {context.run.run_id[:8]}, ServiceTitan sync"
        duckdb: DuckDBResource = context.resources.duckdb
        # The file lock covers writers outside Dagster's run queue (a shell `sync` next to the
        # UI); the DuckDB connection lives only as long as this step.
        with (
            warehouse_write_lock_for(duckdb, holder=holder, on_wait=context.log.info),
            duckdb.get_connection() as conn,
        ):
            syncs = TenantSyncs(
                conn,
                ready,
                list_page_size=config.list_page_size,
                workers_per_tenant=config.concurrent_entities,
                max_workers=max(config.concurrent_entities, config.max_concurrent_syncs)
                if several
                else config.concurrent_entities,
            )
            # Long syncs say how far they are in the run log, a line per entity every few
            # seconds (the CLI's display watches the same model); the per-entity summary
            # below is each one's final line.
            progress = ProgressLines(
                run_progress(),
                every_seconds=config.progress_log_seconds,
                finals=False,
                with_connection=several,
            )
            for outcome in syncs.run(log=context.log, progress=progress) if ready else ():
                name = outcome.entity.name
                if outcome.result is not None:
                    summary = outcome.result.summary()
                    context.log.info(
                        f"{outcome.connection_name}: {summary}" if several else summary
                    )
                    results[name].append(outcome.result)
                else:
                    assert outcome.error is not None
                    reason, retry = failure_reason(outcome.entity, outcome.error)
                    tenant = by_name[outcome.connection_name]
                    if isinstance(outcome.error, AuthenticationError):
                        reason += credentials_hint(tenant)
                    label = tenant.label
                    failures.setdefault(outcome.connection_name, TenantFailures(label))
                    failures[outcome.connection_name].add([name], reason, retry)
                    if not outcome.skipped:
                        # Said at once (the step's failure, with the whole reason, comes at
                        # its end); a tenant's entities failed by its first error say nothing.
                        context.log.error(
                            f"{label}: {name}: failed ({type(outcome.error).__name__}); the "
                            "other entities and tenants go on"
                        )
                left[name] -= 1
                if left[name] == 0:
                    yield from materializations(
                        outcome.entity, results[name], [t.name for t in run], partitioned
                    )
        if failures:
            raise run_failure(failures, run, len(selected), partitioned)

    return [_sync]
