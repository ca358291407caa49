"""The raw layer as one entity sync sees it: :class:`EntityWriter`, the engine's one interface.

It ties the other modules together for one ``(tenant, entity)`` -- the session settings, the
table, the cursor, the pages and the rejects -- so that the sync engine asks the warehouse for
what a sync needs (resume from here, write these pages, commit this cursor) and never for
SQL-level steps. It lives in its own module because it uses all the others.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import datetime

import duckdb

from servicetitan_pipeline.warehouse import rejects, session, upsert
from servicetitan_pipeline.warehouse.batch import PageBatchWriter
from servicetitan_pipeline.warehouse.lake import is_lake_connection
from servicetitan_pipeline.warehouse.schema import (
    REJECTED_TABLE,
    PreparedPage,
    RecordFields,
    ensure_entity_table,
)
from servicetitan_pipeline.warehouse.state import (
    CURSOR_EXPORT_TOKEN,
    CURSOR_FULL_LIST,
    CURSOR_MODIFIED_ON,
    KEEP_CURSOR,
    read_sync_state,
    write_sync_state,
)
from servicetitan_pipeline.warehouse.upsert import PageCounts


class EntityWriter:
    """Writes one entity of one tenant: ``raw_servicetitan.<entity>``, its cursor, its rejects.

    Creating it pins the session's time zone and creates the tables if missing. Pages are
    written inside :meth:`bounded` (DuckDB's memory and thread caps for a writer).

    ``source_clock`` tells the source's current time (ServiceTitan's ``Date``), when known: it
    bounds a plausible ``modifiedOn`` (``upsert``). ``fields`` are the entity's record fields
    (key, ordering and active fields; default: the entity table's entry named ``entity``):
    they decide the table's key and every page's.

    Whether ``conn`` writes a DuckLake is asked once, here (``lake.is_lake_connection``), and
    decides the SQL of every write (``upsert``, ``state``): the file's keyed upserts, or the
    lake's MERGE and appended cursors, with its conflicted commits replayed.

    Attributes:
        rejected_table: where rejected records and response bodies go (for messages).
        lake: whether the warehouse is a DuckLake.
    """

    rejected_table = REJECTED_TABLE

    def __init__(
        self,
        conn: duckdb.DuckDBPyConnection,
        *,
        entity: str,
        tenant_id: int,
        connection_name: str,
        source_clock: Callable[[], datetime | None] = lambda: None,
        fields: RecordFields | None = None,
    ) -> None:
        self._conn = conn
        self._source_clock = source_clock
        self.entity = entity
        self.fields = RecordFields.for_entity_name(entity) if fields is None else fields
        self.tenant_id = tenant_id
        self.connection_name = connection_name
        self.lake = is_lake_connection(conn)
        session.configure_connection(conn)
        ensure_entity_table(conn, entity, self.fields, lake=self.lake)

    def reset(self) -> int:
        """Full refresh: forget this tenant's rows, cursor and rejects of the entity, in one
        transaction; returns the rows deleted (see ``upsert.reset_entity``)."""
        return upsert.reset_entity(
            self._conn,
            entity=self.entity,
            tenant_id=self.tenant_id,
            fields=self.fields,
            lake=self.lake,
            connection_name=self.connection_name,
        )

    def stored_cursor(self) -> str | None:
        """The committed cursor, or ``None`` when never synced (or reset)."""
        state = read_sync_state(self._conn, entity=self.entity, tenant_id=self.tenant_id)
        return state.cursor if state else None

    @contextlib.contextmanager
    def bounded(self) -> Iterator[None]:
        """DuckDB's writer bounds for the block: lower memory limit, one worker thread
        (``session.bounded_memory``, ``session.writer_threads``); restored afterwards."""
        with session.bounded_memory(self._conn), session.writer_threads(self._conn):
            yield

    def checkpoint(self) -> float:
        """Checkpoint what is committed (call it inside :meth:`bounded`); returns seconds.

        Not in a lake: there every commit has written its Parquet files already, and a
        lake's CHECKPOINT is its maintenance (merging and deleting files), which would
        conflict with every other writer; that is a job for a quiet moment."""
        return 0.0 if self.lake else session.checkpoint(self._conn)

    def export_batches(self) -> PageBatchWriter:
        """A writer of export pages in batches, each committed with the continuation token
        passed with its last page (see ``batch.PageBatchWriter``)."""
        return PageBatchWriter(
            self._conn,
            entity=self.entity,
            tenant_id=self.tenant_id,
            connection_name=self.connection_name,
            cursor_kind=CURSOR_EXPORT_TOKEN,
            source_clock=self._source_clock,
            fields=self.fields,
            lake=self.lake,
        )

    def write_page_keeping_cursor(self, page: PreparedPage) -> PageCounts:
        """Commit one page's rows without moving the cursor (a list pass, mid-way)."""
        return upsert.write_page(
            self._conn,
            page,
            entity=self.entity,
            tenant_id=self.tenant_id,
            connection_name=self.connection_name,
            cursor=KEEP_CURSOR,
            source_now=self._source_clock(),
            fields=self.fields,
            lake=self.lake,
        )

    def commit_high_water(self, high_water: str | None) -> None:
        """Store a list entity's high-water ``modifiedOn`` (once its pass has completed)."""
        write_sync_state(
            self._conn,
            entity=self.entity,
            tenant_id=self.tenant_id,
            connection_name=self.connection_name,
            cursor=high_water,
            cursor_kind=CURSOR_MODIFIED_ON,
            lake=self.lake,
        )

    def commit_full_list_read(self, read_at: datetime) -> None:
        """Store when a full-list entity was last read whole (``read_at``, the source's time),
        once its pass has completed: the cursor row says when, not where to resume."""
        write_sync_state(
            self._conn,
            entity=self.entity,
            tenant_id=self.tenant_id,
            connection_name=self.connection_name,
            cursor=read_at.isoformat(),
            cursor_kind=CURSOR_FULL_LIST,
            lake=self.lake,
        )

    def record_rejected_response(self, *, reason: str, body: str | None, request: str) -> None:
        """Record (and commit) a response body that could not be used."""
        rejects.record_rejected_response(
            self._conn,
            entity=self.entity,
            tenant_id=self.tenant_id,
            connection_name=self.connection_name,
            reason=reason,
            body=body,
            request=request,
            lake=self.lake,
        )

    def row_count(self) -> int:
        """Rows stored for this entity and tenant."""
        return upsert.count_rows(self._conn, entity=self.entity, tenant_id=self.tenant_id)
