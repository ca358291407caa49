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
* :func:`ingestion_run_config` -- the run config dict for a selection of entities.
"""

# No `from __future__ import annotations`: Dagster reads the asset function's annotations
# (config class, resources) at definition time and cannot resolve them as strings.
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
from dagster_duckdb import DuckDBResource
from pydantic import Field

from servicetitan_pipeline.client import (
    DEFAULT_LIST_PAGE_SIZE,
    AuthenticationError,
    PermissionDeniedError,
    ServiceTitanError,
)
from servicetitan_pipeline.config import missing_scope_remedy
from servicetitan_pipeline.defs.jobs import WAREHOUSE_POOL, is_transient
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
from servicetitan_pipeline.sync.engine import SyncError, SyncResult
from servicetitan_pipeline.warehouse.locking import warehouse_write_lock
from servicetitan_pipeline.warehouse.schema import REJECTED_TABLE, TENANT_ID, RecordFields
from servicetitan_pipeline.warehouse.upsert import PageCounts

INGESTION_GROUP = "servicetitan_raw"
ENTITY_NAMES = frozenset(e.name for e in ENTITIES)
_POSITION = {e.name: n for n, e in enumerate(ENTITIES)}
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


def _reason(entity: Entity, exc: Exception) -> tuple[str, bool]:
    """What an entity's failed sync tells the run -- what went wrong, without the tenant's
    or the entity's name (the failure line gives them) -- and whether a retry can help."""
    if isinstance(exc, SyncError):
        # An answer that stayed unusable after the client's retries: not transient.
        text = str(exc).removeprefix(f"{entity.name}: ")
        return text, is_transient(exc.__cause__ or exc)
    if isinstance(exc, PermissionDeniedError):
        # A missing API scope fails this entity alone (the others go on); no retry can grant
        # a scope, so say which one and how to do without it.
        trace = f", traceId {exc.trace_id}" if exc.trace_id else ""
        return (
            f"the app lacks the API scope '{entity.scope}' "
            f"(ServiceTitan answered HTTP 403 to {exc.request}{trace}). "
            f"{missing_scope_remedy(entity)}",
            False,
        )
    if isinstance(exc, ServiceTitanError):
        # Bad settings, refused credentials fail at once; a source that kept answering
        # 429/5xx is worth the job's retry policy (which resumes from the committed cursors).
        return str(exc), is_transient(exc)
    return f"{type(exc).__name__}: {exc}", True


def _credentials_hint(tenant: RunTenant) -> str:
    """Where this tenant's credentials are, when the connections file names the variables
    (the client's message names the single-tenant ``SERVICETITAN_*`` ones)."""
    v = tenant.credential_variables
    if not v:
        return ""
    return (
        f" This connection's client ID and secret are in {v['client_id']} and "
        f"{v['client_secret']} (app key: {v['app_key']})."
    )


def _settings_reason(tenant: RunTenant, exc: Exception) -> str:
    """A tenant's settings error without the connection's own label (the line starts with
    it): ``environment variable X (its OAuth client secret) is not set``."""
    text = str(exc)
    label = f"connection {tenant.name!r}"
    if text.startswith(label):
        rest = text[len(label) :]
        if tenant.tenant_id is not None:
            rest = rest.removeprefix(f" (tenant {tenant.tenant_id})")
        if rest.startswith(": "):
            return rest[2:]
    return text


def _in_table_order(names: Iterable[str]) -> list[str]:
    return sorted(names, key=lambda name: _POSITION.get(name, len(_POSITION)))


@dataclass
class _TenantFailures:
    """The failures of one tenant of a run, grouped by reason (a refused secret fails every
    entity of it with one reason: one line, not one per entity)."""

    label: str
    reasons: dict[str, list[str]] = field(default_factory=dict)  # reason -> entity names
    retryable: bool = True

    def add(self, entities: Iterable[str], reason: str, allow_retries: bool) -> None:
        self.reasons.setdefault(reason, []).extend(entities)
        self.retryable = self.retryable and allow_retries

    @property
    def entities(self) -> int:
        return sum(len(names) for names in self.reasons.values())

    def lines(self) -> list[str]:
        """``<connection> (tenant N): <entity>[, <entity>...]: <reason>`` per reason, the
        entities in the entity table's order."""
        return [
            f"{self.label}: {', '.join(_in_table_order(names))}: {reason}"
            for reason, names in self.reasons.items()
        ]


def _run_failure(
    failures: Mapping[str, _TenantFailures],
    tenants: Sequence[RunTenant],
    selected: int,
    partitioned: bool,
) -> dg.Failure:
    """The step's failure: which tenants failed, one line per tenant and reason (in the
    run's tenant order), and that the rest of the run landed."""
    failed = [(t.name, failures[t.name]) for t in tenants if t.name in failures]
    lines = [line for _, f in failed for line in f.lines()]
    if len(tenants) == 1:
        ((_, f),) = failed
        names = ", ".join(_in_table_order(n for names in f.reasons.values() for n in names))
        header = f"{f.entities} of {selected} entities failed ({names}); the others are synced."
    else:
        which = ", ".join(f"{name} ({f.entities} of {selected} entities)" for name, f in failed)
        recorded = " (each tenant's partition records what it synced)" if partitioned else ""
        header = (
            f"{len(failed)} of {len(tenants)} tenants failed: {which}. Everything else "
            f"landed: the other tenants' data is synced{recorded}."
        )
    return dg.Failure(
        description=header + "\n" + "\n".join(lines),
        # Worth the job's retry (which resumes each from its committed cursor) only when
        # every failure is transient.
        allow_retries=all(f.retryable for _, f in failed),
    )


def _md_cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def run_metadata(results: Sequence[SyncResult], failed: Sequence[str]) -> dict[str, Any]:
    """An entity's materialization metadata for a run of several tenants: the totals over
    the tenants that synced it, and a table of each tenant's own numbers (``per_tenant``).
    ``failed``: the tenants of the run that did not sync it."""
    if len(results) == 1 and not failed:
        return materialization_metadata(results[0])
    total = PageCounts()
    for r in results:
        total.add(r.counts)
    header = (
        "| connection | tenant_id | rows | inserted | updated | deactivated | unchanged | "
        "rejected | requests | retries | seconds | cursor |"
    )
    rows = [
        "| "
        + " | ".join(
            _md_cell(v)
            for v in (
                r.connection_name,
                r.tenant_id,
                r.row_count,
                r.counts.inserted,
                r.counts.updated,
                r.counts.deactivated,
                r.counts.unchanged,
                r.counts.rejected,
                r.requests,
                r.retries,
                f"{r.duration_seconds:.2f}",
                _shown(r.cursor or ""),
            )
        )
        + " |"
        for r in results
    ]
    rows += [f"| {_md_cell(name)} | | failed | | | | | | | | | |" for name in failed]
    modes = sorted({r.sync_mode for r in results})
    return {
        # Totals over the run's tenants (each tenant's own are in per_tenant).
        "dagster/row_count": dg.MetadataValue.int(sum(r.row_count for r in results)),
        "rows_inserted": dg.MetadataValue.int(total.inserted),
        "rows_updated": dg.MetadataValue.int(total.updated),
        "rows_deactivated": dg.MetadataValue.int(total.deactivated),
        "rows_unchanged": dg.MetadataValue.int(total.unchanged),
        "rows_rejected": dg.MetadataValue.int(total.rejected),
        "rows_implausible_modified_on": dg.MetadataValue.int(total.implausible_modified_on),
        "records_read": dg.MetadataValue.int(total.records),
        "pages": dg.MetadataValue.int(sum(r.pages for r in results)),
        "requests": dg.MetadataValue.int(sum(r.requests for r in results)),
        "retries": dg.MetadataValue.int(sum(r.retries for r in results)),
        "wait_seconds": dg.MetadataValue.float(round(sum(r.wait_seconds for r in results), 3)),
        "bytes_received": dg.MetadataValue.int(sum(r.bytes_received for r in results)),
        # The tenants ran side by side: the longest is what the entity took.
        "duration_seconds": dg.MetadataValue.float(
            round(max((r.duration_seconds for r in results), default=0.0), 3)
        ),
        "write_seconds": dg.MetadataValue.float(round(sum(r.write_seconds for r in results), 3)),
        "api_wait_seconds": dg.MetadataValue.float(
            round(sum(r.api_wait_seconds for r in results), 3)
        ),
        "sync_mode": dg.MetadataValue.text(", ".join(modes)),
        "full_refresh": dg.MetadataValue.bool(any(r.full_refresh for r in results)),
        "rows_deleted_by_full_refresh": dg.MetadataValue.int(
            sum(r.deleted_by_full_refresh for r in results)
        ),
        "tenants": dg.MetadataValue.int(len(results)),
        "tenants_synced": dg.MetadataValue.text(", ".join(r.connection_name for r in results)),
        "tenants_failed": dg.MetadataValue.text(", ".join(failed)),
        "per_tenant": dg.MetadataValue.md("\n".join([header, "|" + " --- |" * 12, *rows])),
    }


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
        failures: dict[str, _TenantFailures] = {}
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
            reason = _settings_reason(tenant, tenant.error)
            context.log.error(f"{tenant.label}: not synced: {reason}")
            failures[tenant.name] = _TenantFailures(tenant.label)
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
            warehouse_write_lock(duckdb.database, holder=holder, on_wait=context.log.info),
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
            for outcome in syncs.run(log=context.log) if ready else ():
                name = outcome.entity.name
                if outcome.result is not None:
                    summary = outcome.result.summary()
                    context.log.info(
                        f"{outcome.connection_name}: {summary}" if several else summary
                    )
                    results[name].append(outcome.result)
                else:
                    assert outcome.error is not None
                    reason, retry = _reason(outcome.entity, outcome.error)
                    tenant = by_name[outcome.connection_name]
                    if isinstance(outcome.error, AuthenticationError):
                        reason += _credentials_hint(tenant)
                    label = tenant.label
                    failures.setdefault(outcome.connection_name, _TenantFailures(label))
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
                    yield from _materializations(
                        outcome.entity, results[name], [t.name for t in run], partitioned
                    )
        if failures:
            raise _run_failure(failures, run, len(selected), partitioned)

    return [_sync]


def _materializations(
    entity: Entity, results: Sequence[SyncResult], run: Sequence[str], partitioned: bool
) -> Iterator[dg.MaterializeResult[Any] | dg.AssetMaterialization]:
    """What the run records for ``entity`` once every tenant of the run is done with it: one
    ``MaterializeResult`` when all synced it (or, unpartitioned, when any did: the one
    asset's table changed), else one ``AssetMaterialization`` per tenant that synced it, for
    its partition."""
    synced = {r.connection_name for r in results}
    failed = [name for name in run if name not in synced]
    if not results:
        return
    if not failed or not partitioned:
        yield dg.MaterializeResult(
            asset_key=entity.asset_key_path, metadata=run_metadata(results, failed)
        )
        return
    for result in results:
        yield dg.AssetMaterialization(
            asset_key=entity.asset_key_path,
            partition=result.connection_name,
            metadata=materialization_metadata(result),
        )
