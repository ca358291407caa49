"""Several pages per transaction: :class:`PageBatchWriter`, what export syncs write with."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from datetime import datetime
from types import TracebackType

import duckdb

from servicetitan_pipeline.warehouse.lake import is_transaction_conflict, retry_conflicts
from servicetitan_pipeline.warehouse.schema import PreparedPage, RecordFields, raw_table
from servicetitan_pipeline.warehouse.state import (
    CURSOR_EXPORT_TOKEN,
    KEEP_CURSOR,
    CursorUpdate,
    finish_sql,
)
from servicetitan_pipeline.warehouse.upsert import PageCounts, distinct_keys, write_in_transaction

# DuckDB's row group: an append of at least this many rows in one transaction is written
# straight to the database file as compressed row groups ("optimistic writes"); a smaller one
# goes to the WAL and is compressed again at every checkpoint of a growing row group.
ROW_GROUP_ROWS = 122_880
# Defaults of PageBatchWriter (module attributes so that tests and callers may change them).
BATCH_MAX_ROWS = ROW_GROUP_ROWS
BATCH_MAX_BYTES = 512 * 2**20
BATCH_MAX_SECONDS = 60.0
# In a lake a batch is held in memory until it commits, to be replayed if its commit conflicts
# with another writer's, and a long transaction is more likely to meet one: smaller batches.
LAKE_BATCH_MAX_BYTES = 64 * 2**20
LAKE_BATCH_MAX_SECONDS = 10.0


class PageBatchWriter:
    """Write pages in transactions of several pages, each committed with the cursor that
    follows its last page.

    A transaction ends at ``max_rows`` staged rows (the page that crosses it is split, see
    :meth:`write`), after the page that brings it to ``max_bytes`` of staging columns, after
    the first page written ``max_seconds`` or more after it began, and on :meth:`commit` /
    leaving the ``with`` block normally. The cursor committed is always the one passed with
    the last page wholly in the transaction, so rows and cursor stay atomic: a process killed
    at any instant loses at most the uncommitted pages, which the next run re-reads from the
    committed cursor.

    Why batches: committing one ~5-20 MB page at a time makes DuckDB checkpoint at almost
    every commit, each time re-compressing the whole growing row group (zstd), so the cost of
    a page grows with the table. An append of a whole row group in one transaction is
    compressed once and written straight to the file. Memory stays bounded: the Python side
    holds one page at a time, and DuckDB keeps uncommitted rows within its memory limit
    (``session.bounded_memory``), spilling to ``<database>.tmp`` if needed.

    In a lake (``lake``), the pages of the open transaction are kept until it commits: a
    commit that conflicts with another writer's (DuckLake commits optimistically) is
    replayed whole -- every page, then the same cursor -- from them, in a new transaction
    (``lake.retry_conflicts``: bounded, jittered, one log line per retry). The counts are
    the first try's: the other writer wrote other tenants' rows, so the replay classifies
    this tenant's rows alike.

    Leaving the ``with`` block on an exception raised *outside* the writer (the API failed,
    the run was interrupted) commits the pages written so far with their cursor -- they are
    complete and consistent, and the next run resumes after them; a failure *inside* a write
    has already rolled the whole transaction back.
    """

    def __init__(
        self,
        conn: duckdb.DuckDBPyConnection,
        *,
        entity: str,
        tenant_id: int,
        connection_name: str,
        cursor_kind: str = CURSOR_EXPORT_TOKEN,
        max_rows: int | None = None,
        max_bytes: int | None = None,
        max_seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        source_clock: Callable[[], datetime | None] = lambda: None,
        fields: RecordFields | None = None,
        lake: bool = False,
    ) -> None:
        raw_table(entity)  # validate the name up front
        # The entity's key decides where a page may be split and which rows are one record.
        self._fields = RecordFields.for_entity_name(entity) if fields is None else fields
        self._conn = conn
        self._entity = entity
        self._tenant_id = tenant_id
        self._connection_name = connection_name
        self._cursor_kind = cursor_kind
        self.max_rows = BATCH_MAX_ROWS if max_rows is None else max_rows
        self._lake = lake
        self.max_bytes = (
            (LAKE_BATCH_MAX_BYTES if lake else BATCH_MAX_BYTES) if max_bytes is None else max_bytes
        )
        self.max_seconds = (
            (LAKE_BATCH_MAX_SECONDS if lake else BATCH_MAX_SECONDS)
            if max_seconds is None
            else max_seconds
        )
        self._parts: list[PreparedPage] = []  # the open transaction's pages (lake only)
        self._clock = clock
        self._source_clock = source_clock  # the source's now, for plausible timestamps
        self._open = False
        self._began_at = 0.0
        self._rows = 0
        self._bytes = 0
        self._cursor: CursorUpdate = KEEP_CURSOR
        self.commits = 0  # transactions committed so far

    def write(self, prepared: PreparedPage, cursor: CursorUpdate = KEEP_CURSOR) -> PageCounts:
        """Write one page; ``cursor`` is what to commit if the transaction ends after it.

        A page that would take the transaction past ``max_rows`` is split there: its head
        ends this transaction (committed with the cursor of the page before it, which the
        head does not move past), its tail begins the next one with the page's own cursor.
        Transactions then hold whole DuckDB row groups, each compressed once and written
        straight to the file; ending them a little past the boundary left a partial row
        group per batch, which DuckDB merged -- decompressing and compressing them again --
        at the final checkpoint. A run killed between the two
        parts re-reads the page, and the upsert finds the head's rows unchanged. A page that
        repeats a key (``id``, or ``(id, id_2)`` for a two-field key) is not split (its newest
        listing must win within the page).
        """
        room = self.max_rows - self._rows if self._open else self.max_rows
        n = prepared.table.num_rows
        if 0 < room < n and distinct_keys(prepared.table, self._fields.key_columns) == n:
            head = PreparedPage(prepared.table.slice(0, room), (), room)
            tail = PreparedPage(
                prepared.table.slice(room), prepared.rejects, prepared.records - room
            )
            counts = self._write_part(head, KEEP_CURSOR)
            counts.add(self._write_part(tail, cursor))
            return counts
        return self._write_part(prepared, cursor)

    def _write_part(self, prepared: PreparedPage, cursor: CursorUpdate) -> PageCounts:
        begin = not self._open
        if begin:
            self._began_at = self._clock()
            self._rows = self._bytes = 0
        if cursor is not KEEP_CURSOR:
            self._cursor = cursor
        self._rows += prepared.table.num_rows
        self._bytes += prepared.table.nbytes
        last = (
            self._rows >= self.max_rows
            or self._bytes >= self.max_bytes
            or self._clock() - self._began_at >= self.max_seconds
        )
        self._open = True
        if self._lake:
            self._parts.append(prepared)
        try:
            try:
                counts = self._write_one(prepared, begin=begin, last=last)
            except duckdb.Error as exc:
                if not (self._lake and last and is_transaction_conflict(exc)):
                    raise
                counts = self._replay(already_failed=1)
        except BaseException as exc:
            # write_in_transaction has rolled back; make sure, whatever raised, no half batch
            # stays open.
            self._explain(exc)
            self.rollback()
            raise
        if last:
            self._reset()
            self.commits += 1
        return counts

    def _write_one(self, prepared: PreparedPage, *, begin: bool, last: bool) -> PageCounts:
        return write_in_transaction(
            self._conn,
            prepared,
            entity=self._entity,
            tenant_id=self._tenant_id,
            connection_name=self._connection_name,
            begin=begin,
            commit_sql=self._finish() if last else None,
            source_now=self._source_clock(),
            fields=self._fields,
            lake=self._lake,
        )

    def _replay(self, *, already_failed: int) -> PageCounts:
        """Write the open transaction's pages again in a new one and commit it with the
        cursor, until it commits (a lake's conflicted commit); the last page's counts."""
        parts = list(self._parts)

        def transaction() -> PageCounts:
            counts = PageCounts()
            for n, part in enumerate(parts):
                counts = self._write_one(part, begin=n == 0, last=n == len(parts) - 1)
            if not parts:  # nothing staged: the cursor alone
                self._conn.execute(";\n".join(["BEGIN TRANSACTION", *self._finish()]))
            return counts

        cursor = "none yet" if self._cursor is KEEP_CURSOR else repr(self._cursor)
        return retry_conflicts(
            transaction,
            what=f"{self._entity} (tenant {self._tenant_id}), {len(parts)} page(s) up to "
            f"the cursor {cursor}",
            already_failed=already_failed,
        )

    def _finish(self) -> list[str]:
        return finish_sql(
            tenant_id=self._tenant_id,
            entity=self._entity,
            connection_name=self._connection_name,
            cursor=self._cursor,
            cursor_kind=self._cursor_kind,
            lake=self._lake,
        )

    def _explain(self, exc: BaseException) -> None:
        """Say, on an error about to propagate, which entity and cursor it concerns (the cursor
        escaped: a token is opaque and may hold anything, a NUL included)."""
        if isinstance(exc, Exception):
            cursor = "none yet" if self._cursor is KEEP_CURSOR else repr(self._cursor)
            exc.add_note(
                f"{self._entity} (tenant {self._tenant_id}): the open transaction -- pages up "
                f"to the cursor {cursor} -- was rolled back; the next run resumes from the "
                "last committed cursor."
            )

    def _reset(self) -> None:
        self._parts = []
        self._open = False
        self._rows = self._bytes = 0
        self._cursor = KEEP_CURSOR

    def commit(self) -> None:
        """Commit the open transaction (rows and the last cursor), if any."""
        if not self._open:
            return
        try:
            try:
                self._conn.execute(";\n".join(self._finish())).fetchall()
            except duckdb.Error as exc:
                if not (self._lake and is_transaction_conflict(exc)):
                    raise
                self._replay(already_failed=1)
        except BaseException as exc:
            self._explain(exc)
            with contextlib.suppress(duckdb.Error):
                self._conn.execute("ROLLBACK")
            self._reset()
            raise
        self._reset()
        self.commits += 1

    def rollback(self) -> None:
        """Abandon the open transaction, if any."""
        if self._open:
            with contextlib.suppress(duckdb.Error):
                self._conn.execute("ROLLBACK")
            self._reset()

    def __enter__(self) -> PageBatchWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.commit()
            return
        # The error came from outside the writer: what was written is consistent with its
        # cursor, so keep it. If even that fails, roll back and let the original error win.
        try:
            self.commit()
        except BaseException:
            self.rollback()
