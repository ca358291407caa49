"""Ingestion assets: one Dagster asset per entry of ``entities.ENTITIES``.

Each asset reads its entity from ServiceTitan page by page. Export entities commit their
pages in batches (:class:`warehouse.PageBatchWriter`: a DuckDB row group, 512 MiB or 60
seconds per transaction), each batch in ONE DuckDB transaction with the continuation token
that follows its last page; list entities write page by page (:func:`warehouse.write_page`).
While a page is being written, the next one is already being downloaded on a background
thread (the client is thread-safe), so the network and DuckDB overlap; at most three pages
are in memory at any time (one being written, one queued, one arriving), whatever the
tenant's size, and DuckDB keeps the uncommitted rows of a batch within its memory limit.

Public API (used by ``definitions.py`` and the CLI):

* :func:`build_ingestion_assets` -- the assets, keys ``["servicetitan", <entity>]``;
* :class:`IngestionConfig` -- run config of each asset (``full_refresh``, ``list_page_size``);
* :func:`ingestion_run_config` -- the run config dict for a selection of entities;
* :func:`sync_entity` -- the sync itself, without Dagster (what the asset calls).
"""

# No `from __future__ import annotations`: Dagster reads the asset function's annotations
# (config class, resources) at definition time and cannot resolve them as strings.
import gc
import logging
import queue
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import dagster as dg
import duckdb as duckdb_lib
from dagster_duckdb import DuckDBResource
from pydantic import Field

from servicetitan_pipeline import warehouse
from servicetitan_pipeline.client import (
    DEFAULT_LIST_PAGE_SIZE,
    InvalidResponseError,
    ServiceTitanClient,
    ServiceTitanError,
)
from servicetitan_pipeline.defs.jobs import WAREHOUSE_POOL, is_transient
from servicetitan_pipeline.defs.resources import ServiceTitanResource
from servicetitan_pipeline.entities import ENTITIES, Entity, SyncMode, get_entity
from servicetitan_pipeline.sync import pages as staging
from servicetitan_pipeline.warehouse.locking import warehouse_write_lock

logger = logging.getLogger(__name__)

INGESTION_GROUP = "servicetitan_raw"
ASSET_KINDS = {"api", "duckdb"}

T = TypeVar("T")


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


def ingestion_run_config(entity_names: Iterable[str], full_refresh: bool = False) -> dict:
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


# --------------------------------------------------------------------------------------------
# Prefetching pages on a background thread
# --------------------------------------------------------------------------------------------

_DONE = object()


class _Prefetcher(Iterator[T]):
    """Iterate ``source`` on a background thread, at most ``ahead`` items ahead of the consumer.

    The thread asks ``source`` for the next item only while fewer than ``ahead`` items wait
    for the consumer, so with ``ahead=1`` at most two pages are alive at any moment: the one
    being written and the one being downloaded. (A plain bounded queue would allow a third:
    one queued, one blocked on the full queue.) Pages of invoices are ~20 MB of JSON and
    several times that as Python objects, so this is what keeps peak memory flat.

    Exceptions raised by ``source`` are re-raised in the consumer at the point where the item
    would have arrived, so error handling reads as if there were no thread. ``close()`` makes
    the thread stop at its next hand-over (it cannot interrupt a request in flight; the thread
    is a daemon, so it never keeps the process alive).

    Attributes:
        wait_seconds: time the consumer spent blocked waiting for an item (i.e. for the API).
    """

    def __init__(self, source: Iterator[T], ahead: int = 1, name: str = "prefetch") -> None:
        self._queue: queue.Queue[Any] = queue.Queue()
        self._slots = threading.Semaphore(ahead)
        self._stop = threading.Event()
        self._source = source
        self.wait_seconds = 0.0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _acquire_slot(self) -> bool:
        while not self._stop.is_set():
            if self._slots.acquire(timeout=0.1):
                return True
        return False

    def _run(self) -> None:
        try:
            while self._acquire_slot():
                try:
                    item = next(self._source)
                except StopIteration:
                    self._queue.put(_DONE)
                    return
                self._queue.put(item)
        except BaseException as exc:  # handed to the consumer, re-raised there
            self._queue.put(exc)

    def __next__(self) -> T:
        started = time.monotonic()
        item = self._queue.get()
        self.wait_seconds += time.monotonic() - started
        if item is _DONE:
            self._stop.set()
            raise StopIteration
        if isinstance(item, BaseException):
            self._stop.set()
            raise item
        # The item is handed over: the thread may start downloading the next one.
        self._slots.release()
        return item

    def close(self) -> None:
        """Stop the background thread (at its next hand-over) and drop queued items."""
        self._stop.set()
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._thread.join(timeout=1.0)

    def __enter__(self) -> "_Prefetcher[T]":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# --------------------------------------------------------------------------------------------
# The sync of one entity
# --------------------------------------------------------------------------------------------


class IngestionError(Exception):
    """A sync that cannot continue; the message names the entity and the request."""


@dataclass
class SyncResult:
    """What one sync of one entity did (becomes the asset's materialization metadata)."""

    entity: str
    tenant_id: int
    connection_name: str
    sync_mode: str
    full_refresh: bool
    counts: warehouse.PageCounts = field(default_factory=warehouse.PageCounts)
    pages: int = 0
    requests: int = 0
    retries: int = 0
    wait_seconds: float = 0.0
    bytes_received: int = 0
    duration_seconds: float = 0.0
    write_seconds: float = 0.0
    api_wait_seconds: float = 0.0
    cursor: str | None = None
    row_count: int = 0
    deleted_by_full_refresh: int = 0

    def metadata(self) -> dict[str, Any]:
        """Materialization metadata; the cursor is a ServiceTitan token or date, not a secret."""
        c = self.counts
        return {
            "dagster/row_count": dg.MetadataValue.int(self.row_count),
            "rows_inserted": dg.MetadataValue.int(c.inserted),
            "rows_updated": dg.MetadataValue.int(c.updated),
            "rows_deactivated": dg.MetadataValue.int(c.deactivated),
            "rows_unchanged": dg.MetadataValue.int(c.unchanged),
            "rows_rejected": dg.MetadataValue.int(c.rejected),
            "records_read": dg.MetadataValue.int(c.records),
            "pages": dg.MetadataValue.int(self.pages),
            "requests": dg.MetadataValue.int(self.requests),
            "retries": dg.MetadataValue.int(self.retries),
            "wait_seconds": dg.MetadataValue.float(round(self.wait_seconds, 3)),
            "bytes_received": dg.MetadataValue.int(self.bytes_received),
            "duration_seconds": dg.MetadataValue.float(round(self.duration_seconds, 3)),
            # Where the time went: writing DuckDB vs blocked on the API (the rest overlapped).
            "write_seconds": dg.MetadataValue.float(round(self.write_seconds, 3)),
            "api_wait_seconds": dg.MetadataValue.float(round(self.api_wait_seconds, 3)),
            "cursor": dg.MetadataValue.text(self.cursor or ""),
            "sync_mode": dg.MetadataValue.text(self.sync_mode),
            "full_refresh": dg.MetadataValue.bool(self.full_refresh),
            "rows_deleted_by_full_refresh": dg.MetadataValue.int(self.deleted_by_full_refresh),
            "connection": dg.MetadataValue.text(self.connection_name),
            "tenant_id": dg.MetadataValue.int(self.tenant_id),
        }

    def summary(self) -> str:
        """One log line."""
        c = self.counts
        return (
            f"{self.entity}: {c.records} records in {self.pages} pages "
            f"({self.requests} requests, {self.retries} retries, {self.wait_seconds:.1f}s waited) "
            f"-> {c.inserted} inserted, {c.updated} updated ({c.deactivated} deactivated), "
            f"{c.unchanged} unchanged, {c.rejected} rejected; {self.row_count} rows for tenant "
            f"{self.tenant_id}; {self.duration_seconds:.2f}s"
        )


def sync_entity(
    entity: Entity,
    client: ServiceTitanClient,
    conn: duckdb_lib.DuckDBPyConnection,
    *,
    connection_name: str,
    full_refresh: bool = False,
    list_page_size: int = DEFAULT_LIST_PAGE_SIZE,
    log: logging.Logger | Any = logger,
) -> SyncResult:
    """Bring ``raw_servicetitan.<entity>`` up to date for the client's tenant.

    Export entities resume from the stored continuation token and commit rows + the token
    after them in batches of pages (see :class:`warehouse.PageBatchWriter`). List-only
    entities re-read from the stored high-water ``modifiedOn`` (inclusive) and commit the new
    high-water only once a pass has completed (see :func:`_sync_list`). Either way a crash at
    any instant leaves the table consistent with its cursor, and the next run ends with
    exactly the source's records.

    Raises:
        IngestionError: the API answered something unusable (recorded in ``_rejected`` first).
        ServiceTitanError: anything else the client could not recover from.
    """
    started = time.monotonic()
    tenant_id = client.tenant_id
    stats_before = client.stats
    result = SyncResult(
        entity=entity.name,
        tenant_id=tenant_id,
        connection_name=connection_name,
        sync_mode=str(entity.sync_mode),
        full_refresh=full_refresh,
    )
    warehouse.configure_connection(conn)
    warehouse.ensure_entity_table(conn, entity.name)
    if full_refresh:
        result.deleted_by_full_refresh = warehouse.reset_entity(
            conn, entity=entity.name, tenant_id=tenant_id
        )
        log.info(
            f"{entity.name}: full refresh: deleted {result.deleted_by_full_refresh} rows and the "
            f"cursor of tenant {tenant_id}"
        )
    try:
        # The cyclic GC stays on here; it is paused only while a page is downloaded and
        # turned into columns (see _downloaded), as httpx leaves a reference cycle holding
        # each response's body.
        with warehouse.bounded_memory(conn), warehouse.writer_threads(conn):
            try:
                if entity.sync_mode is SyncMode.EXPORT:
                    _sync_export(entity, client, conn, result, log)
                else:
                    _sync_list(entity, client, conn, result, list_page_size, log)
            finally:
                # Within the writer's memory and thread bounds, whatever happened: what is
                # committed is checkpointed here rather than, unbounded, at the close.
                result.write_seconds += warehouse.checkpoint(conn)
    except InvalidResponseError as exc:
        # Keep the evidence (committed on its own), then fail loudly: silently skipping a page
        # would lose records, and retrying forever would hide the problem.
        warehouse.record_rejected_response(
            conn,
            entity=entity.name,
            tenant_id=tenant_id,
            connection_name=connection_name,
            reason=f"invalid response: {exc}",
            body=exc.body,
            request=exc.request,
        )
        raise IngestionError(
            f"{entity.name}: ServiceTitan answered {exc.request} with a body that is not the "
            f"expected JSON, even after retries; the body is recorded in "
            f"{warehouse.REJECTED_TABLE}. Pages before it are committed and the next run resumes "
            f"from there. Cause: {exc}"
        ) from exc
    finally:
        delta = client.stats - stats_before
        result.requests = delta.requests
        result.retries = delta.retries
        result.wait_seconds = delta.total_wait_seconds
        result.bytes_received = delta.bytes_received
        result.duration_seconds = time.monotonic() - started
    result.row_count = warehouse.count_rows(conn, entity=entity.name, tenant_id=tenant_id)
    return result


def _page_line(entity: Entity, result: SyncResult, c: warehouse.PageCounts) -> str:
    return (
        f"{entity.name}: page {result.pages}: {c.records} records -> {c.inserted} inserted, "
        f"{c.updated} updated, {c.unchanged} unchanged, {c.rejected} rejected"
    )


def _downloaded(pages: Iterator[T]) -> Iterator[T]:
    """``pages``, each downloaded and decoded with Python's cyclic collector paused, and the
    young garbage it left collected at once.

    Runs on the download thread. Pausing: an allocation burst (the careful path still parses
    whole pages into objects) would make the collector walk the heap for nothing. Collecting
    the youngest generation after each page: every httpx response is a reference cycle
    (response -> stream -> response) holding its body -- 18 MB for a page of invoices -- and
    the fast decoder allocates so few tracked objects that the collector's own thresholds
    were rarely reached: measured, ~17 MB of dead bodies piled up per page until a full
    collection. The response was born in this page, so generation 0 has it; that collection
    walks only the objects of one page.
    """
    while True:
        with staging.gc_paused():
            page = next(pages, None)
        gc.collect(0)
        if page is None:
            return
        yield page


def _prepared_export_pages(
    client: ServiceTitanClient, path: str, token: str | None
) -> Iterator[tuple[staging.PreparedPage, str | None]]:
    """The export's pages as (staging columns, resume token).

    Each body goes straight to Arrow staging columns (:func:`staging.decode_page`, the
    client's page decoder), so a page never exists as Python objects.
    """
    pages = client.iter_export(path, from_token=token, decode=staging.decode_page)
    for page in _downloaded(pages):
        yield page.data, page.resume_from


def _sync_export(
    entity: Entity,
    client: ServiceTitanClient,
    conn: duckdb_lib.DuckDBPyConnection,
    result: SyncResult,
    log: Any,
) -> None:
    """Follow the export's continuation tokens from the stored one; commit in batches."""
    tenant_id = client.tenant_id
    state = warehouse.read_sync_state(conn, entity=entity.name, tenant_id=tenant_id)
    # No stored cursor: no `from` at all, i.e. the export's beginning (every record).
    token = state.cursor if state else None
    result.cursor = token
    # `resume_from`: the page's continueFrom, or the token it was asked with when the answer
    # carried none (re-reading a page is harmless, losing a cursor is not). The columns are
    # built on the download thread (see staging.decode_page).
    pages = _prepared_export_pages(client, entity.export_path(tenant_id), token)
    writer = warehouse.PageBatchWriter(
        conn,
        entity=entity.name,
        tenant_id=tenant_id,
        connection_name=result.connection_name,
        cursor_kind=warehouse.CURSOR_EXPORT_TOKEN,
    )
    # Pages are committed in batches (see warehouse.PageBatchWriter), each with the token
    # that follows its last page; leaving the block -- normally or because the API failed --
    # commits the pages written so far with their token.
    with _Prefetcher(pages, name=f"prefetch-{entity.name}") as prefetched, writer:
        for prepared, cursor in prefetched:
            write_started = time.monotonic()
            counts = writer.write(prepared, cursor)
            result.write_seconds += time.monotonic() - write_started
            result.pages += 1
            result.counts.add(counts)
            result.cursor = cursor
            log.debug(_page_line(entity, result, counts))
        write_started = time.monotonic()
        writer.commit()
        result.write_seconds += time.monotonic() - write_started
    result.api_wait_seconds = prefetched.wait_seconds


def _sync_list(
    entity: Entity,
    client: ServiceTitanClient,
    conn: duckdb_lib.DuckDBPyConnection,
    result: SyncResult,
    page_size: int,
    log: Any,
) -> None:
    """One pass over the list endpoint from the stored high-water ``modifiedOn``.

    Rows are committed per page, but the new high-water only after the pass completes: list
    endpoints page by *number* over a set that can change while we read it, so a page's
    position is no promise about what earlier pages held. A crash mid-pass therefore re-runs
    the whole pass from the old high-water (re-read rows are recognised as unchanged); for
    these small dimensions that is one or two requests.

    Which high-water is safe? Not the greatest ``modifiedOn`` seen in the pass: a record on
    page 1 edited after we read page 1 gets a ``modifiedOn`` *below* that of a record edited
    even later and read on page 3, and would never be read again. What is safe is a
    timestamp that precedes every edit we may have missed. Such an edit happened after we
    fetched its page, hence after we fetched page 1, hence it carries a ``modifiedOn`` at or
    after the newest ``modifiedOn`` that page 1 showed (the server cannot have stamped a
    record in the future). So the next pass starts at the newest ``modifiedOn`` of page 1,
    inclusive (equal timestamps are re-read and the upsert finds them unchanged). This holds
    for any ordering in which records do not move to an earlier page than one already read
    (by id, or by modifiedOn in either direction: edited records move to the end or the
    start); ServiceTitan never hard-deletes, so nothing leaves the filtered set. When the
    whole entity fits in one page -- the usual case for job types and campaigns -- it is simply
    the newest ``modifiedOn`` there is.
    """
    tenant_id = client.tenant_id
    state = warehouse.read_sync_state(conn, entity=entity.name, tenant_id=tenant_id)
    high_water = state.cursor if state else None
    result.cursor = high_water
    params: dict[str, Any] = dict(entity.list_inactive_params)
    if high_water:
        params["modifiedOnOrAfter"] = high_water
    next_high_water = high_water
    pages = (
        page.data
        for page in _downloaded(
            client.iter_list(
                entity.list_path(tenant_id),
                params=params,
                page_size=page_size,
                decode=staging.decode_page,
            )
        )
    )
    with _Prefetcher(pages, name=f"prefetch-{entity.name}") as prefetched:
        for prepared in prefetched:
            write_started = time.monotonic()
            counts = warehouse.write_page(
                conn,
                entity=entity.name,
                tenant_id=tenant_id,
                connection_name=result.connection_name,
                records=prepared,
                cursor=warehouse.KEEP_CURSOR,
            )
            result.write_seconds += time.monotonic() - write_started
            result.pages += 1
            result.counts.add(counts)
            if result.pages == 1 and counts.max_modified_on is not None:
                # Every record on page 1 matched modifiedOnOrAfter >= high_water, so this
                # never moves the high-water backwards.
                next_high_water = counts.max_modified_on
            log.debug(_page_line(entity, result, counts))
    result.api_wait_seconds = prefetched.wait_seconds
    warehouse.write_sync_state(
        conn,
        entity=entity.name,
        tenant_id=tenant_id,
        connection_name=result.connection_name,
        cursor=next_high_water,
        cursor_kind=warehouse.CURSOR_MODIFIED_ON,
    )
    result.cursor = next_high_water


# --------------------------------------------------------------------------------------------
# The asset factory
# --------------------------------------------------------------------------------------------


def _how_it_syncs(entity: Entity) -> str:
    if entity.sync_mode is SyncMode.EXPORT:
        return (
            f"Synced incrementally from the export endpoint `{entity.export_path('{tenant}')}` "
            "with ServiceTitan's continuation token (active, inactive and deleted records). "
            "Pages are committed in batches, each in one DuckDB transaction with the token that "
            "follows it, so a run that stops anywhere resumes after the last committed batch."
        )
    inactive = "&".join(f"{k}={v}" for k, v in entity.list_inactive_params.items())
    return (
        f"Synced from the list endpoint `{entity.list_path('{tenant}')}` ({inactive}, so "
        "inactive records come too) with `modifiedOnOrAfter` = the stored high-water "
        "modifiedOn; the new high-water is committed once a pass completes."
    )


def build_ingestion_asset(entity: Entity) -> dg.AssetsDefinition:
    """The ingestion asset of one entity (key ``["servicetitan", entity.name]``)."""
    description = (
        f"{entity.description}\n\n{_how_it_syncs(entity)}\n\n"
        f"Writes `{entity.raw_table}`: one row per (_tenant_id, id) with the latest version, "
        "the complete record as JSON in `payload`, `modified_on`, `active` and lineage columns. "
        f"Records that cannot be loaded go to `{warehouse.REJECTED_TABLE}`. Run config "
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
        },
    )
    def _ingest(
        context: dg.AssetExecutionContext,
        config: IngestionConfig,
        servicetitan: ServiceTitanResource,
        duckdb: DuckDBResource,
    ) -> dg.MaterializeResult:
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
            except IngestionError as exc:
                # An answer that stayed unusable after the client's retries: not transient.
                raise dg.Failure(
                    description=str(exc), allow_retries=is_transient(exc.__cause__ or exc)
                ) from exc
            except ServiceTitanError as exc:
                # Bad settings, refused credentials, a missing scope fail at once; a source
                # that kept answering 429/5xx is worth the job's retry policy (which resumes
                # from the cursor committed with the last page).
                raise dg.Failure(
                    description=f"{entity.name}: {exc}", allow_retries=is_transient(exc)
                ) from exc
        context.log.info(result.summary())
        return dg.MaterializeResult(metadata=result.metadata())

    # Docstrings become UI descriptions; this one is built from the entity table.
    _ingest.__doc__ = description
    return _ingest


def build_ingestion_assets(
    entities: Sequence[Entity] = ENTITIES,
) -> list[dg.AssetsDefinition]:
    """One ingestion asset per entity (default: every entry of ``ENTITIES``)."""
    return [build_ingestion_asset(e) for e in entities]
