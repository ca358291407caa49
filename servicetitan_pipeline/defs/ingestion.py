"""Ingestion assets: one Dagster asset per entry of ``entities.ENTITIES``.

Each asset runs the sync engine (``sync.engine.sync_entity``) for its entity, under the
warehouse's write lock, and turns what the sync did into materialization metadata.

Public API (used by ``definitions.py`` and the CLI):

* :func:`build_ingestion_assets` -- the assets, keys ``["servicetitan", <entity>]``;
* :class:`IngestionConfig` -- run config of each asset (``full_refresh``, ``list_page_size``);
* :func:`ingestion_run_config` -- the run config dict for a selection of entities.
"""

# No `from __future__ import annotations`: Dagster reads the asset function's annotations
# (config class, resources) at definition time and cannot resolve them as strings.
import re
from collections.abc import Iterable, Mapping, Sequence
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
from servicetitan_pipeline.sync.engine import SyncError, SyncResult, sync_entity
from servicetitan_pipeline.warehouse.locking import warehouse_write_lock
from servicetitan_pipeline.warehouse.schema import REJECTED_TABLE, TENANT_ID, RecordFields

INGESTION_GROUP = "servicetitan_raw"
ASSET_KINDS = {"api", "duckdb"}


class IngestionConfig(dg.Config):
    """Run config of one ingestion asset."""

    full_refresh: bool = Field(
        default=False,
        description="Delete this tenant's rows, cursor and rejected records of the entity, then "
        "re-read it from the beginning. Default: incremental from the stored cursor.",
    )
    list_page_size: int = Field(
        default=DEFAULT_LIST_PAGE_SIZE,
        ge=1,
        le=5000,
        description="pageSize for list-endpoint entities (job types, campaigns); 5000 is "
        "ServiceTitan's practical maximum and costs the fewest requests.",
    )


def ingestion_op_name(entity_name: str) -> str:
    """The op name of an entity's asset (the key under ``ops`` in run config)."""
    return f"servicetitan__{get_entity(entity_name).name}"


def ingestion_run_config(entity_names: Iterable[str], full_refresh: bool = False) -> dict[str, Any]:
    """Run config for the ingestion assets of ``entity_names``.

    Example: ``ingestion_run_config(["customers"], full_refresh=True)`` ->
    ``{"ops": {"servicetitan__customers": {"config": {"full_refresh": True}}}}``.
    Unknown names raise ``KeyError`` listing the known entities.
    """
    return {
        "ops": {
            ingestion_op_name(name): {"config": {"full_refresh": bool(full_refresh)}}
            for name in entity_names
        }
    }


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


def build_ingestion_asset(entity: Entity) -> dg.AssetsDefinition:
    """The ingestion asset of one entity (key ``["servicetitan", entity.name]``)."""
    description = (
        f"{entity.description}\n\n{_how_it_syncs(entity)}\n\n{_how_it_is_stored(entity)} "
        f"Records that cannot be loaded go to `{REJECTED_TABLE}`. Run config "
        "`full_refresh: true` rebuilds it from scratch."
    )

    @dg.asset(
        key=entity.asset_key_path,
        group_name=INGESTION_GROUP,
        kinds=ASSET_KINDS,
        description=description,
        pool=WAREHOUSE_POOL,
        tags={"servicetitan/sync_mode": str(entity.sync_mode)},
        metadata={
            "raw_table": entity.raw_table,
            "sync_mode": str(entity.sync_mode),
            "api_spec": entity.spec_file,
            "record_key": ", ".join(entity.key),
            "ordered_by": entity.modified_field or "payload (no ordering field)",
            "active_flag": entity.active_field or "none",
        },
    )
    def _ingest(
        context: dg.AssetExecutionContext,
        config: IngestionConfig,
        servicetitan: ServiceTitanResource,
        duckdb: DuckDBResource,
        # [Any]: what Dagster makes of a bare MaterializeResult (it carries no value).
    ) -> dg.MaterializeResult[Any]:
        settings = servicetitan.get_settings()
        client = servicetitan.get_client()
        holder = f"run {context.run.run_id[:8]}, asset {'/'.join(entity.asset_key_path)}"
        # The file lock covers writers outside Dagster's run queue (a shell `sync` next to the
        # UI); the DuckDB connection lives only as long as this asset's step.
        with (
            warehouse_write_lock(duckdb.database, holder=holder, on_wait=context.log.info),
            duckdb.get_connection() as conn,
        ):
            try:
                result = sync_entity(
                    entity,
                    client,
                    conn,
                    connection_name=settings.name,
                    full_refresh=config.full_refresh,
                    list_page_size=config.list_page_size,
                    log=context.log,
                )
            except SyncError as exc:
                # An answer that stayed unusable after the client's retries: not transient.
                raise dg.Failure(
                    description=str(exc), allow_retries=is_transient(exc.__cause__ or exc)
                ) from exc
            except PermissionDeniedError as exc:
                # A missing API scope fails this entity alone (the job's other steps go on);
                # no retry can grant a scope, so say which one and how to do without it.
                trace = f", traceId {exc.trace_id}" if exc.trace_id else ""
                raise dg.Failure(
                    description=f"{entity.name}: the app lacks the API scope '{entity.scope}' "
                    f"(ServiceTitan answered HTTP 403 to {exc.request}{trace}). "
                    f"{missing_scope_remedy(entity)}",
                    allow_retries=False,
                ) from exc
            except ServiceTitanError as exc:
                # Bad settings, refused credentials, a missing scope fail at once; a source
                # that kept answering 429/5xx is worth the job's retry policy (which resumes
                # from the cursor committed with the last page).
                raise dg.Failure(
                    description=f"{entity.name}: {exc}", allow_retries=is_transient(exc)
                ) from exc
        context.log.info(result.summary())
        return dg.MaterializeResult(metadata=materialization_metadata(result))

    # Docstrings become UI descriptions; this one is built from the entity table.
    _ingest.__doc__ = description
    return _ingest


def build_ingestion_assets(
    entities: Sequence[Entity] = ENTITIES,
) -> list[dg.AssetsDefinition]:
    """One ingestion asset per entity (default: every entry of ``ENTITIES``)."""
    return [build_ingestion_asset(e) for e in entities]
