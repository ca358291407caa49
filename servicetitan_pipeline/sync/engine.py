"""The sync of one entity: ServiceTitan pages -> the raw layer, resumable at any instant.

:func:`sync_entity` brings ``raw_servicetitan.<entity>`` up to date for the client's tenant:

* **export** entities follow ServiceTitan's continuation tokens from the stored one and commit
  their pages in batches (``warehouse.batch.PageBatchWriter``: a DuckDB row group, 512 MiB or
  60 seconds per transaction), each batch in ONE DuckDB transaction with the token that
  follows its last page (:func:`_sync_export`);
* **list** entities re-read from the stored high-water ``modifiedOn`` (inclusive), commit
  rows per page and the new high-water only once a pass has completed (:func:`_sync_list`,
  which explains which high-water is safe);
* **full-list** entities (small reference lists with no ``modifiedOnOrAfter`` filter or no
  ``modifiedOn`` to follow) are read whole on every run and upserted; the cursor row only says
  when they were last read (:func:`_sync_list_full`);
* a **full refresh** first forgets the tenant's rows, cursor and rejects of the entity.

Records are keyed, ordered and marked inactive by the entity's own fields (``Entity.key``,
``modified_field``, ``active_field``: ``warehouse.schema.RecordFields``), which decide the
page decoder (``sync.pages.page_decoder``, one per entity) and the raw table's key.

While a page is being written, the next one is already being downloaded on a background
thread (``sync.prefetch``), so the network and DuckDB overlap; at most three pages are in
memory at any time (one being written, one queued, one arriving), whatever the tenant's size,
and DuckDB keeps the uncommitted rows of a batch within its memory limit. Everything the sync
asks of DuckDB goes through one ``warehouse.writer.EntityWriter``.

No Dagster here: ``defs.ingestion`` wraps this in assets, and anything else may call it.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol, TypeVar

import duckdb

from servicetitan_pipeline.client import (
    DEFAULT_LIST_PAGE_SIZE,
    InvalidResponseError,
    ServiceTitanClient,
)
from servicetitan_pipeline.client.pagination import PageDecoder
from servicetitan_pipeline.entities import Entity, SyncMode
from servicetitan_pipeline.sync.pages import gc_paused, page_decoder
from servicetitan_pipeline.sync.prefetch import Prefetcher
from servicetitan_pipeline.warehouse.schema import PreparedPage, RecordFields
from servicetitan_pipeline.warehouse.upsert import PageCounts
from servicetitan_pipeline.warehouse.writer import EntityWriter

logger = logging.getLogger(__name__)

T = TypeVar("T")

# How long the writer waits for the next export page before it commits the open batch. Pages
# arrive every second or two; past this, the API is the bottleneck and a commit costs nothing.
IDLE_COMMIT_SECONDS = 5.0

# Sent to list endpoints so that their pages carry ``totalCount``: the records the pass will
# read, which progress displays show as a total (every list endpoint the entity table uses
# takes it; tests/unit/sync/test_progress_totals.py checks the bundled OpenAPI documents).
# Export endpoints have no such count.
LIST_TOTAL_PARAMS = {"includeTotal": "true"}

# Told after each page is written: its records, and ServiceTitan's totalCount when the page
# carried one (``sync.progress.EntityProgress.page``). Called on the sync's own thread.
PageProgress = Callable[[int, int | None], None]


def _no_progress(records: int, total: int | None) -> None:
    """The default :data:`PageProgress`: nobody is watching."""


class SyncLog(Protocol):
    """Where a sync reports: a ``logging.Logger``, or Dagster's ``context.log``."""

    def info(self, msg: str, /) -> None: ...

    def debug(self, msg: str, /) -> None: ...


class SyncError(Exception):
    """A sync that cannot continue; the message names the entity and the request."""


@dataclass
class SyncResult:
    """What one sync of one entity did."""

    entity: str
    tenant_id: int
    connection_name: str
    sync_mode: str
    full_refresh: bool
    counts: PageCounts = field(default_factory=PageCounts)
    pages: int = 0
    requests: int = 0
    retries: int = 0
    wait_seconds: float = 0.0
    bytes_received: int = 0
    duration_seconds: float = 0.0
    # Where the time went: writing DuckDB vs blocked on the API (the rest overlapped).
    write_seconds: float = 0.0
    api_wait_seconds: float = 0.0
    cursor: str | None = None
    row_count: int = 0
    deleted_by_full_refresh: int = 0

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
    conn: duckdb.DuckDBPyConnection,
    *,
    connection_name: str,
    full_refresh: bool = False,
    list_page_size: int = DEFAULT_LIST_PAGE_SIZE,
    log: SyncLog = logger,
    own_writer_bounds: bool = True,
    on_page: PageProgress | None = None,
) -> SyncResult:
    """Bring ``raw_servicetitan.<entity>`` up to date for the client's tenant.

    ``own_writer_bounds``: set DuckDB's writer bounds (memory limit, one thread) for this sync
    and restore them after. Those settings belong to the whole database, so a caller that
    syncs several entities at once on one database sets them once around all of them and
    passes ``False``.

    ``on_page``: told the records of every page once it is written (and the list endpoint's
    ``totalCount``), for a progress display; it must be quick and must not raise.

    Either way (export or list, see the module docstring) a crash at any instant leaves the
    table consistent with its cursor, and the next run ends with exactly the source's records.

    Raises:
        SyncError: the API answered something unusable (recorded in ``_rejected`` first).
        ServiceTitanError: anything else the client could not recover from.
    """
    fields = _record_fields(entity)
    on_page = on_page or _no_progress
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
    writer = EntityWriter(
        conn,
        entity=entity.name,
        tenant_id=tenant_id,
        connection_name=connection_name,
        # The server's clock bounds a plausible modifiedOn (warehouse.upsert).
        source_clock=lambda: client.server_date,
        fields=fields,
    )
    if full_refresh:
        result.deleted_by_full_refresh = writer.reset()
        log.info(
            f"{entity.name}: full refresh: deleted {result.deleted_by_full_refresh} rows and the "
            f"cursor of tenant {tenant_id}"
        )
    try:
        # The cyclic GC stays on here; it is paused only while a page is downloaded and
        # turned into columns (see _downloaded), as httpx leaves a reference cycle holding
        # each response's body.
        with writer.bounded() if own_writer_bounds else contextlib.nullcontext():
            try:
                if entity.sync_mode is SyncMode.EXPORT:
                    _sync_export(entity, client, writer, result, log, on_page)
                elif entity.sync_mode is SyncMode.LIST_FULL:
                    _sync_list_full(entity, client, writer, result, list_page_size, log, on_page)
                else:
                    _sync_list(entity, client, writer, result, list_page_size, log, on_page)
            finally:
                # Within the writer's memory and thread bounds, whatever happened: what is
                # committed is checkpointed here rather than, unbounded, at the close.
                result.write_seconds += writer.checkpoint()
    except InvalidResponseError as exc:
        # Keep the evidence (committed on its own), then fail loudly: silently skipping a page
        # would lose records, and retrying forever would hide the problem.
        writer.record_rejected_response(
            reason=f"invalid response: {exc}", body=exc.body, request=exc.request
        )
        raise SyncError(
            f"{entity.name}: ServiceTitan answered {exc.request} with a body that is not the "
            f"expected JSON, even after retries; the body is recorded in "
            f"{writer.rejected_table}. Pages before it are committed and the next run resumes "
            f"from there. Cause: {exc}"
        ) from exc
    finally:
        delta = client.stats - stats_before
        result.requests = delta.requests
        result.retries = delta.retries
        result.wait_seconds = delta.total_wait_seconds
        result.bytes_received = delta.bytes_received
        result.duration_seconds = time.monotonic() - started
    result.row_count = writer.row_count()
    return result


def _record_fields(entity: Entity) -> RecordFields:
    """The entity's record fields, refusing a table entry the engine cannot sync (named)."""
    fields = RecordFields.of(entity)  # ValueError naming the entity for a bad key
    if entity.sync_mode is SyncMode.LIST_INCREMENTAL and fields.modified is None:
        raise ValueError(
            f"entity {entity.name}: sync mode {entity.sync_mode} follows modifiedOnOrAfter, but "
            "its records have no modified_field to follow; use SyncMode.LIST_FULL"
        )
    return fields


def _page_line(entity: Entity, result: SyncResult, c: PageCounts) -> str:
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
    are rarely reached, so dead bodies would pile up until a full collection. The response
    was born in this page, so generation 0 has it; that collection walks only the objects of
    one page.
    """
    while True:
        with gc_paused():
            page = next(pages, None)
        gc.collect(0)
        if page is None:
            return
        yield page


def _prepared_export_pages(
    client: ServiceTitanClient, entity: Entity, token: str | None
) -> Iterator[tuple[PreparedPage, str | None]]:
    """The export's pages as (staging columns, resume token).

    Each body goes straight to Arrow staging columns (``sync.pages.page_decoder``, the
    client's page decoder), so a page never exists as Python objects. Every request sends the
    entity's ``export_params``. ``resume_from``: the page's continueFrom, or the token it was
    asked with when the answer carried none (re-reading a page is harmless, losing a cursor is
    not).
    """
    pages = client.iter_export(
        entity.export_path(client.tenant_id),
        from_token=token,
        params=entity.export_params,
        decode=page_decoder(RecordFields.of(entity)),
    )
    for page in _downloaded(pages):
        yield page.data, page.resume_from


def _record_keys(prepared: PreparedPage) -> list[object]:
    """The keys of a page's loadable records -- ids, or (id, id_2) pairs for a two-field key
    -- (how the client recognises a repeated list page)."""
    table = prepared.table
    if "id_2" not in table.schema.names:
        ids: list[object] = table.column("id").to_pylist()
        return ids
    return list(zip(table.column("id").to_pylist(), table.column("id_2").to_pylist(), strict=True))


def _list_pages(
    entity: Entity, client: ServiceTitanClient, params: dict[str, str], page_size: int
) -> Iterator[tuple[PreparedPage, int | None]]:
    """The list endpoint's pages (``params`` and the paging), as (staging columns,
    ``totalCount``)."""
    decode: PageDecoder[PreparedPage] = page_decoder(RecordFields.of(entity))
    for page in _downloaded(
        client.iter_list(
            entity.list_path(client.tenant_id),
            params={**params, **LIST_TOTAL_PARAMS},
            page_size=page_size,
            decode=decode,
            page_ids=_record_keys,
        )
    ):
        yield page.data, page.total_count


def _sync_export(
    entity: Entity,
    client: ServiceTitanClient,
    writer: EntityWriter,
    result: SyncResult,
    log: SyncLog,
    on_page: PageProgress,
) -> None:
    """Follow the export's continuation tokens from the stored one; commit in batches."""
    # No stored cursor: no `from` at all, i.e. the export's beginning (every record).
    token = writer.stored_cursor()
    result.cursor = token
    # The columns are built on the download thread (see sync.pages.decode_page).
    pages = _prepared_export_pages(client, entity, token)
    batches = writer.export_batches()
    # Pages are committed in batches (see warehouse.batch.PageBatchWriter), each with the
    # token that follows its last page; leaving the block -- normally or because the API
    # failed -- commits the pages written so far with their token.
    with Prefetcher(pages, name=f"prefetch-{entity.name}") as prefetched, batches:
        # A batch waits for more pages only while they flow: when the next one is slow to
        # arrive, the pages written so far are committed with their cursor at once, so that
        # an answer trickling in (or a process killed while it does) costs none of them.
        def commit_while_idle() -> None:
            write_started = time.monotonic()
            batches.commit()
            result.write_seconds += time.monotonic() - write_started

        prefetched.on_idle(IDLE_COMMIT_SECONDS, commit_while_idle)
        for prepared, cursor in prefetched:
            write_started = time.monotonic()
            counts = batches.write(prepared, cursor)
            result.write_seconds += time.monotonic() - write_started
            result.pages += 1
            result.counts.add(counts)
            result.cursor = cursor
            log.debug(_page_line(entity, result, counts))
            on_page(counts.records, None)  # an export says nothing of its size
        write_started = time.monotonic()
        batches.commit()
        result.write_seconds += time.monotonic() - write_started
    result.api_wait_seconds = prefetched.wait_seconds


def _sync_list(
    entity: Entity,
    client: ServiceTitanClient,
    writer: EntityWriter,
    result: SyncResult,
    page_size: int,
    log: SyncLog,
    on_page: PageProgress,
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
    high_water = writer.stored_cursor()
    result.cursor = high_water
    params: dict[str, str] = dict(entity.list_inactive_params)
    if high_water:
        params["modifiedOnOrAfter"] = high_water
    next_high_water = high_water
    pages = _list_pages(entity, client, params, page_size)
    with Prefetcher(pages, name=f"prefetch-{entity.name}") as prefetched:
        for prepared, total in prefetched:
            write_started = time.monotonic()
            counts = writer.write_page_keeping_cursor(prepared)
            result.write_seconds += time.monotonic() - write_started
            result.pages += 1
            result.counts.add(counts)
            if result.pages == 1 and counts.max_modified_on is not None:
                # Every record on page 1 matched modifiedOnOrAfter >= high_water, so this
                # never moves the high-water backwards.
                next_high_water = counts.max_modified_on
            log.debug(_page_line(entity, result, counts))
            on_page(counts.records, total)
    result.api_wait_seconds = prefetched.wait_seconds
    writer.commit_high_water(next_high_water)
    result.cursor = next_high_water


def _sync_list_full(
    entity: Entity,
    client: ServiceTitanClient,
    writer: EntityWriter,
    result: SyncResult,
    page_size: int,
    log: SyncLog,
    on_page: PageProgress,
) -> None:
    """Read every page of the list endpoint (with ``list_inactive_params``) and upsert it.

    For small reference lists whose endpoint has no ``modifiedOnOrAfter`` filter, or whose
    records carry no ``modifiedOn`` to follow: there is no cursor to resume from, so every run
    reads the whole list, one or two requests. Rows are committed per page; a record already
    stored as read writes nothing (the upsert's version rule, by payload when there is no
    ordering field), so a run with no change at the source writes no row.

    Rows of records that stop appearing are **kept**, never deleted: ServiceTitan does not
    hard-delete, so a record missing from one read is hidden (filtered by a default the
    endpoint applies) rather than gone, and a partial answer must never cost stored data. The
    stored rows are therefore every record ever read, each at its latest version.

    Once the pass has completed, the cursor row (``state.CURSOR_FULL_LIST``) records the
    source's time of the read (ServiceTitan's ``Date`` of its last answer; this machine's
    clock when the answer had none), so the state table shows when the entity was last read.
    """
    result.cursor = writer.stored_cursor()
    pages = _list_pages(entity, client, dict(entity.list_inactive_params), page_size)
    with Prefetcher(pages, name=f"prefetch-{entity.name}") as prefetched:
        for prepared, total in prefetched:
            write_started = time.monotonic()
            counts = writer.write_page_keeping_cursor(prepared)
            result.write_seconds += time.monotonic() - write_started
            result.pages += 1
            result.counts.add(counts)
            log.debug(_page_line(entity, result, counts))
            on_page(counts.records, total)
    result.api_wait_seconds = prefetched.wait_seconds
    read_at = client.server_date or datetime.now(UTC)
    writer.commit_full_list_read(read_at)
    result.cursor = read_at.isoformat()
