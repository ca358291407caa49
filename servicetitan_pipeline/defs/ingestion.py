"""Ingestion assets: one Dagster asset per entry of ``entities.ENTITIES``.

One step (op ``servicetitan_ingestion``, a multi-asset that can be subset) runs the sync engine
for the selected entities, a few at a time (``sync.concurrent``), under the warehouse's write
lock, and turns what each sync did into that entity's materialization metadata.

Public API (used by ``definitions.py`` and the CLI):

* :func:`build_ingestion_assets` -- the assets, keys ``["servicetitan", <entity>]``;
* :class:`IngestionConfig` -- run config of the step (``full_refresh``,
  ``full_refresh_entities``, ``list_page_size``, ``concurrent_entities``);
* :func:`ingestion_run_config` -- the run config dict for a selection of entities.
"""

# No `from __future__ import annotations`: Dagster reads the asset function's annotations
# (config class, resources) at definition time and cannot resolve them as strings.
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import dagster as dg
from dagster_duckdb import DuckDBResource
from pydantic import Field

from servicetitan_pipeline.client import (
    DEFAULT_LIST_PAGE_SIZE,
    PermissionDeniedError,
    ServiceTitanError,
)
from servicetitan_pipeline.config import missing_scope_remedy
from servicetitan_pipeline.defs.jobs import WAREHOUSE_POOL, is_transient
from servicetitan_pipeline.defs.resources import ServiceTitanResource
from servicetitan_pipeline.entities import ENTITIES, Entity, SyncMode, get_entity
from servicetitan_pipeline.sync.concurrent import DEFAULT_WORKERS, EntitySyncs
from servicetitan_pipeline.sync.engine import SyncError, SyncResult
from servicetitan_pipeline.warehouse.locking import warehouse_write_lock
from servicetitan_pipeline.warehouse.schema import REJECTED_TABLE, TENANT_ID, RecordFields

INGESTION_GROUP = "servicetitan_raw"
ENTITY_NAMES = frozenset(e.name for e in ENTITIES)
ASSET_KINDS = {"api", "duckdb"}


SYNC_OP_NAME = "servicetitan_ingestion"


class IngestionConfig(dg.Config):
    """Run config of the ingestion step (the op ``servicetitan_ingestion``)."""

    full_refresh: bool = Field(
        default=False,
        description="Delete this tenant's rows, cursor and rejected records of every selected "
        "entity, then re-read them from the beginning. Default: incremental from the stored "
        "cursors.",
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
        description="How many entities are synced at once, each on its own DuckDB connection "
        "(the largest first). 1 syncs them one after another.",
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


_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def _shown(token: str) -> str:
    """A cursor for display, control characters escaped (``t2\\x00tail``): a token is opaque
    and may hold a NUL, which Dagster's Postgres event storage cannot store as text. The
    cursor itself lives, exact, in DuckDB."""
    return _CONTROL_CHARACTERS.sub(lambda m: f"\\x{ord(m[0]):02x}", token)


def materialization_metadata(result: SyncResult) -> dict[str, dg.MetadataValue]:
    """An asset's materialization metadata from what its sync did; the cursor is a
    ServiceTitan token or date, not a secret."""
    c = result.counts
    return {
        "dagster/row_count": dg.MetadataValue.int(result.row_count),
        "rows_inserted": dg.MetadataValue.int(c.inserted),
        "rows_updated": dg.MetadataValue.int(c.updated),
        "rows_deactivated": dg.MetadataValue.int(c.deactivated),
        "rows_unchanged": dg.MetadataValue.int(c.unchanged),
        "rows_rejected": dg.MetadataValue.int(c.rejected),
        "rows_implausible_modified_on": dg.MetadataValue.int(c.implausible_modified_on),
        "records_read": dg.MetadataValue.int(c.records),
        "pages": dg.MetadataValue.int(result.pages),
        "requests": dg.MetadataValue.int(result.requests),
        "retries": dg.MetadataValue.int(result.retries),
        "wait_seconds": dg.MetadataValue.float(round(result.wait_seconds, 3)),
        "bytes_received": dg.MetadataValue.int(result.bytes_received),
        "duration_seconds": dg.MetadataValue.float(round(result.duration_seconds, 3)),
        # Where the time went: writing DuckDB vs blocked on the API (the rest overlapped).
        "write_seconds": dg.MetadataValue.float(round(result.write_seconds, 3)),
        "api_wait_seconds": dg.MetadataValue.float(round(result.api_wait_seconds, 3)),
        "cursor": dg.MetadataValue.text(_shown(result.cursor or "")),
        "sync_mode": dg.MetadataValue.text(result.sync_mode),
        "full_refresh": dg.MetadataValue.bool(result.full_refresh),
        "rows_deleted_by_full_refresh": dg.MetadataValue.int(result.deleted_by_full_refresh),
        "connection": dg.MetadataValue.text(result.connection_name),
        "tenant_id": dg.MetadataValue.int(result.tenant_id),
    }


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


def _failure(entity: Entity, exc: Exception) -> dg.Failure:
    """What an entity's failed sync tells the run: its name, what went wrong, and whether a
    retry can help."""
    if isinstance(exc, SyncError):
        # An answer that stayed unusable after the client's retries: not transient.
        return dg.Failure(description=str(exc), allow_retries=is_transient(exc.__cause__ or exc))
    if isinstance(exc, PermissionDeniedError):
        # A missing API scope fails this entity alone (the others go on); no retry can grant
        # a scope, so say which one and how to do without it.
        trace = f", traceId {exc.trace_id}" if exc.trace_id else ""
        return dg.Failure(
            description=f"{entity.name}: the app lacks the API scope '{entity.scope}' "
            f"(ServiceTitan answered HTTP 403 to {exc.request}{trace}). "
            f"{missing_scope_remedy(entity)}",
            allow_retries=False,
        )
    if isinstance(exc, ServiceTitanError):
        # Bad settings, refused credentials fail at once; a source that kept answering
        # 429/5xx is worth the job's retry policy (which resumes from the committed cursors).
        return dg.Failure(description=f"{entity.name}: {exc}", allow_retries=is_transient(exc))
    return dg.Failure(description=f"{entity.name}: {type(exc).__name__}: {exc}")


def build_ingestion_assets(
    entities: Sequence[Entity] = ENTITIES,
) -> list[dg.AssetsDefinition]:
    """The ingestion assets: one asset per entity (default: every entry of ``ENTITIES``),
    keys ``["servicetitan", <entity>]``, computed by one step that syncs the selected
    entities a few at a time (``IngestionConfig.concurrent_entities``).

    Why one step: DuckDB lets one process write a file, and Dagster runs the steps of a
    process one after another; the time of a sync is mostly DuckDB compressing and writing
    payloads (``bench/README.md``), so entities written side by side on their own connections
    to the one database (different tables: no conflicts) finish sooner than one by one.
    Every entity is still its own asset, selectable alone in the UI, with its own
    materialization, metadata and checks; one that fails is named in the step's failure and
    does not stop the others.
    """
    by_key = {dg.AssetKey(e.asset_key_path): e for e in entities}

    @dg.multi_asset(
        name=SYNC_OP_NAME,
        specs=[_asset_spec(e) for e in entities],
        can_subset=True,
        pool=WAREHOUSE_POOL,
        description="Syncs the selected ServiceTitan entities into DuckDB.",
    )
    def _sync(
        context: dg.AssetExecutionContext,
        config: IngestionConfig,
        servicetitan: ServiceTitanResource,
        duckdb: DuckDBResource,
    ) -> Iterator[dg.MaterializeResult[Any]]:
        selected = [by_key[key] for key in context.selected_asset_keys if key in by_key]
        settings = servicetitan.get_settings()
        client = servicetitan.get_client()
        holder = f"run {context.run.run_id[:8]}, ServiceTitan sync"
        # The file lock covers writers outside Dagster's run queue (a shell `sync` next to the
        # UI); the DuckDB connection lives only as long as this step.
        with (
            warehouse_write_lock(duckdb.database, holder=holder, on_wait=context.log.info),
            duckdb.get_connection() as conn,
        ):
            syncs = EntitySyncs(
                conn,
                client,
                connection_name=settings.name,
                full_refresh=config.refreshed(e.name for e in selected),
                list_page_size=config.list_page_size,
                workers=config.concurrent_entities,
            )
            failures: list[tuple[Entity, dg.Failure]] = []
            for outcome in syncs.run(selected, log=context.log):
                if outcome.result is not None:
                    context.log.info(outcome.result.summary())
                    yield dg.MaterializeResult(
                        asset_key=outcome.entity.asset_key_path,
                        metadata=materialization_metadata(outcome.result),
                    )
                else:
                    assert outcome.error is not None
                    failures.append((outcome.entity, _failure(outcome.entity, outcome.error)))
                    # Said at once (the step's failure, with the whole reason, comes at its end).
                    context.log.error(
                        f"{outcome.entity.name}: failed ({type(outcome.error).__name__}); the "
                        "other entities go on"
                    )
        if failures:
            names = ", ".join(e.name for e, _ in failures)
            raise dg.Failure(
                description=(
                    f"{len(failures)} of {len(selected)} entities failed ({names}); the others "
                    "are synced.\n" + "\n".join(f.description or e.name for e, f in failures)
                ),
                # Worth the job's retry (which resumes each from its committed cursor) only
                # when every failure is transient.
                allow_retries=all(f.allow_retries for _, f in failures),
            )

    return [_sync]
