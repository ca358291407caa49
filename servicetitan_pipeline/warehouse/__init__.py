"""Raw layer writer: DDL, upsert of pages, sync state and rejected records in DuckDB.

Everything here is plain DuckDB (no Dagster, no HTTP), so it can be unit-tested on a
temporary file and reused by any caller. The contract (docs/architecture.md):

* ``raw_servicetitan.<entity>``: one row per ``(_tenant_id, id)`` holding the record's latest
  version, with the complete record as JSON in ``payload``.
* ``raw_servicetitan._sync_state``: one cursor per ``(_tenant_id, entity)``.
* ``raw_servicetitan._rejected``: records (or response bodies) that could not be loaded.

Rows and the cursor that covers them are written in ONE transaction -- one page
(:func:`write_page`) or several pages with the cursor that follows the last of them
(:class:`PageBatchWriter`, what ingestion uses for exports) -- so a process killed at any
instant leaves either both or neither: the next run resumes from the last committed cursor
and re-reads at most the uncommitted batch, whose records the upsert then recognises as
already loaded.

Version rule (the upsert): a record replaces the stored row only when its ``modifiedOn`` is
strictly newer; the same or an older ``modifiedOn`` writes nothing (re-reads and out-of-order
replays are harmless). ``modifiedOn`` is nullable on some entities (invoices); when either
side's ``modifiedOn`` is unknown the versions cannot be ordered, so the incoming record --
what the source says *now* -- replaces the stored row exactly when its content differs. That
keeps a re-run with no change at the source free of writes, and never loses a change.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from servicetitan_pipeline.entities import RAW_SCHEMA
from servicetitan_pipeline.sync.pages import PreparedPage, prepare_page

logger = logging.getLogger(__name__)

SYNC_STATE_TABLE = f"{RAW_SCHEMA}._sync_state"
REJECTED_TABLE = f"{RAW_SCHEMA}._rejected"

_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")

# Cursor kinds stored next to the cursor, so a reader knows what the string means.
CURSOR_EXPORT_TOKEN = "export_continue_from"
CURSOR_MODIFIED_ON = "modified_on_high_water"


class _Keep:
    """Sentinel type: leave the stored cursor as it is."""

    def __repr__(self) -> str:
        return "KEEP_CURSOR"


KEEP_CURSOR: Any = _Keep()


def _table(entity: str) -> str:
    """Qualified raw table name for an entity, refusing anything that is not an identifier."""
    if not _IDENTIFIER.match(entity):
        raise ValueError(f"not a valid entity/table name: {entity!r}")
    return f'{RAW_SCHEMA}."{entity}"'


# --------------------------------------------------------------------------------------------
# DDL
# --------------------------------------------------------------------------------------------


def configure_connection(conn: duckdb.DuckDBPyConnection) -> None:
    """Session settings every writer needs.

    ServiceTitan's timestamps usually carry a ``Z``, but a naive one would be read in the
    session time zone: pin it to UTC so results never depend on the machine's locale.
    """
    conn.execute("SET TimeZone = 'UTC'")


# What one writer needs: the pages in flight plus the primary-key index, which is the only
# structure that grows with the tenant (tens of bytes per row). Uncommitted rows of a batch
# (PageBatchWriter) beyond it spill to `<database>.tmp`. 160 MiB rather than 256: at 100k
# customers the sync peaked at 938 MiB of RSS with 256 against ~860 with 160, for the same
# time within noise (measured before dead httpx bodies were collected per page, which was
# most of that RSS; see ingestion._downloaded).
WRITER_MEMORY_LIMIT_BYTES = 160 * 2**20

_SIZE = re.compile(r"^\s*([0-9.]+)\s*([KMGTP]?i?B|bytes?)\s*$", re.IGNORECASE)
_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40, "P": 2**50}


def _size_bytes(text: str) -> float | None:
    """``'18.8 GiB'`` -> bytes (DuckDB prints binary units); ``None`` if not understood."""
    match = _SIZE.match(text)
    if not match:
        return None
    unit = match.group(2).upper()
    return float(match.group(1)) * _UNITS[unit[0] if unit[0] in "KMGTP" else ""]


@contextlib.contextmanager
def bounded_memory(
    conn: duckdb.DuckDBPyConnection, limit_bytes: int = WRITER_MEMORY_LIMIT_BYTES
) -> Iterator[None]:
    """Lower DuckDB's memory limit to ``limit_bytes`` for the block (never raise it).

    DuckDB's default limit is 80% of the machine's RAM, and its buffer pool keeps every block
    it writes cached up to that limit: a 100k-customer sync peaked at 1.7 GB of RSS, growing
    with the tenant. A writer touches each block once, so the cache buys nothing; with the
    limit, DuckDB evicts (and, if ever needed, spills to ``<database>.tmp``). The previous
    setting is restored afterwards, for other users of the same database in this process.
    """
    (current,) = conn.execute("SELECT current_setting('memory_limit')").fetchall()[0]
    current_bytes = _size_bytes(str(current))
    if current_bytes is not None and current_bytes <= limit_bytes:
        yield
        return
    conn.execute(f"SET memory_limit = '{limit_bytes // 2**20}MiB'")
    try:
        yield
    finally:
        conn.execute(f"SET memory_limit = '{current}'")


WRITER_THREADS = 1


@contextlib.contextmanager
def writer_threads(
    conn: duckdb.DuckDBPyConnection, threads: int = WRITER_THREADS
) -> Iterator[None]:
    """Run DuckDB with at most ``threads`` worker threads for the block (never raise it).

    The writer's statements are small scans of one page plus the compression of row groups
    at commit; on the 2-core machine they share with the download thread (and, in the
    benchmark, the simulator), DuckDB's extra workers only competed with the download
    thread: measured at 100k customers, invoice_items 8.8 s -> 7.5 s with one thread, and
    less CPU in total. The previous setting is restored afterwards.
    """
    (current,) = conn.execute("SELECT current_setting('threads')").fetchall()[0]
    if int(current) <= threads:
        yield
        return
    conn.execute(f"SET threads = {int(threads)}")
    try:
        yield
    finally:
        conn.execute(f"SET threads = {int(current)}")


def checkpoint(conn: duckdb.DuckDBPyConnection) -> float:
    """Checkpoint now (write what the WAL holds, merge partial row groups); returns seconds.

    Call it inside :func:`bounded_memory` and :func:`writer_threads`. DuckDB checkpoints when
    the last connection to a file closes anyway, but by then the writer's memory limit and
    thread cap are lifted. Before batches ended on row-group boundaries, merging their partial
    row groups there peaked at 1.6 GB of RSS for 347k invoices, against 406 MiB here; batches
    that end on time or bytes, and WAL-sized ones, still leave such work to a checkpoint.
    A failure (another transaction still open on the same database, say) is logged and left
    to the close: the data is committed either way.
    """
    started = time.monotonic()
    try:
        conn.execute("CHECKPOINT")
    except duckdb.Error as exc:
        logger.info("checkpoint deferred to the connection's close: %s", exc)
    return time.monotonic() - started


def ensure_sync_tables(conn: duckdb.DuckDBPyConnection) -> None:
    """Create the schema, ``_sync_state`` and ``_rejected`` if they do not exist (idempotent)."""
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {RAW_SCHEMA}")
    conn.execute(
        f"""
        CREATE TABLE IF NOT EXISTS {SYNC_STATE_TABLE} (
            _tenant_id  BIGINT      NOT NULL,
            entity      VARCHAR     NOT NULL,
            cursor      VARCHAR,
            cursor_kind VARCHAR,
            _connection VARCHAR     NOT NULL,
            updated_at  TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (_tenant_id, entity)
        )"""
    )
    conn.execute(
        f"""
        CREATE TABLE IF NOT EXISTS {REJECTED_TABLE} (
            _tenant_id  BIGINT      NOT NULL,
            _connection VARCHAR     NOT NULL,
            entity      VARCHAR     NOT NULL,
            reason      VARCHAR     NOT NULL,
            payload     VARCHAR,
            request     VARCHAR,
            rejected_at TIMESTAMPTZ NOT NULL
        )"""
    )


def ensure_entity_table(conn: duckdb.DuckDBPyConnection, entity: str) -> None:
    """Create ``raw_servicetitan.<entity>`` (and the sync tables) if missing (idempotent).

    ``payload`` is stored with zstd. DuckDB's automatic choice for long JSON strings (FSST or
    dictionary, decided by analysing every segment at each checkpoint) made checkpoints the
    single largest cost of a sync: measured on 5 pages of invoices, 3.05 s and a 51 MB file
    with the default against 1.48 s and 9 MB with zstd.
    """
    ensure_sync_tables(conn)
    conn.execute(
        f"""
        CREATE TABLE IF NOT EXISTS {_table(entity)} (
            _tenant_id  BIGINT      NOT NULL,
            id          BIGINT      NOT NULL,
            modified_on TIMESTAMPTZ,
            active      BOOLEAN,
            payload     JSON        NOT NULL USING COMPRESSION zstd,
            _connection VARCHAR     NOT NULL,
            _loaded_at  TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (_tenant_id, id)
        )"""
    )


def ensure_raw_schema(conn: duckdb.DuckDBPyConnection, entities: Iterable[str]) -> None:
    """Create every raw table named in ``entities`` plus the sync tables (idempotent)."""
    ensure_sync_tables(conn)
    for name in entities:
        ensure_entity_table(conn, name)


# --------------------------------------------------------------------------------------------
# Sync state
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SyncState:
    """The stored cursor of one entity for one tenant."""

    cursor: str | None
    cursor_kind: str | None
    connection: str
    updated_at: datetime


def read_sync_state(
    conn: duckdb.DuckDBPyConnection, *, entity: str, tenant_id: int
) -> SyncState | None:
    """The stored cursor for ``(tenant_id, entity)``, or ``None`` when never synced."""
    # fetchall, not fetchone: DuckDB 2 keeps a half-read result open on the connection.
    rows = conn.execute(
        f"SELECT cursor, cursor_kind, _connection, updated_at FROM {SYNC_STATE_TABLE} "
        "WHERE _tenant_id = ? AND entity = ?",
        [tenant_id, entity],
    ).fetchall()
    return SyncState(*rows[0]) if rows else None


def _sql_literal(value: str | int | None) -> str:
    """A SQL literal for an int, a string or None (standard SQL quoting: ' doubles)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise TypeError(f"no SQL literal for {type(value).__name__}")
    if isinstance(value, int):
        return str(int(value))
    if "\x00" in value:
        raise ValueError("a NUL character cannot be stored in DuckDB text")
    return "'" + value.replace("'", "''") + "'"


def _upsert_state_sql(values: str = "?, ?, ?, ?, ?, ?") -> str:
    return (
        f"INSERT INTO {SYNC_STATE_TABLE} "
        "(_tenant_id, entity, cursor, cursor_kind, _connection, updated_at) "
        f"VALUES ({values}) ON CONFLICT (_tenant_id, entity) DO UPDATE SET "
        "cursor = EXCLUDED.cursor, cursor_kind = EXCLUDED.cursor_kind, "
        "_connection = EXCLUDED._connection, updated_at = EXCLUDED.updated_at"
    )


def write_sync_state(
    conn: duckdb.DuckDBPyConnection,
    *,
    entity: str,
    tenant_id: int,
    connection_name: str,
    cursor: str | None,
    cursor_kind: str,
) -> None:
    """Store a cursor on its own (in its own transaction unless one is already open)."""
    conn.execute(
        _upsert_state_sql(),
        [tenant_id, entity, cursor, cursor_kind, connection_name, datetime.now(UTC)],
    )


# --------------------------------------------------------------------------------------------
# Rejected records
# --------------------------------------------------------------------------------------------


def _insert_rejects(
    conn: duckdb.DuckDBPyConnection,
    *,
    entity: str,
    tenant_id: int,
    connection_name: str,
    rejects: Sequence[tuple[str, str]],
    request: str | None = None,
    now: datetime,
) -> None:
    """Append (reason, payload) rows to ``_rejected``, skipping exact repeats.

    List entities re-read pages on every pass and a crash replays the last page, so the same
    bad record would otherwise be recorded again and again; one row per distinct
    (tenant, entity, reason, payload) is what a user needs to find and fix it.
    """
    if not rejects:
        return
    table = pa.table(
        {
            "reason": pa.array([r for r, _ in rejects], pa.string()),
            "payload": pa.array([p for _, p in rejects], pa.string()),
        }
    )
    conn.register("_st_rejects", table)
    try:
        conn.execute(
            f"""
            INSERT INTO {REJECTED_TABLE}
                (_tenant_id, _connection, entity, reason, payload, request, rejected_at)
            SELECT DISTINCT $tenant, $conn, $entity, r.reason, r.payload, $request, $now
            FROM _st_rejects r
            WHERE NOT EXISTS (
                SELECT 1 FROM {REJECTED_TABLE} x
                WHERE x._tenant_id = $tenant AND x.entity = $entity
                  AND x.reason = r.reason AND x.payload IS NOT DISTINCT FROM r.payload
            )""",
            {
                "tenant": tenant_id,
                "conn": connection_name,
                "entity": entity,
                "request": request,
                "now": now,
            },
        )
    finally:
        conn.unregister("_st_rejects")


def record_rejected_response(
    conn: duckdb.DuckDBPyConnection,
    *,
    entity: str,
    tenant_id: int,
    connection_name: str,
    reason: str,
    body: str | None,
    request: str | None,
) -> None:
    """Record a whole response body that could not be used (e.g. still invalid JSON after
    retries) and commit it, so the evidence survives the failure that follows."""
    ensure_sync_tables(conn)
    conn.execute("BEGIN TRANSACTION")
    try:
        _insert_rejects(
            conn,
            entity=entity,
            tenant_id=tenant_id,
            connection_name=connection_name,
            rejects=[(reason, body if body is not None else "")],
            request=request,
            now=datetime.now(UTC),
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


# --------------------------------------------------------------------------------------------
# Page upsert
# --------------------------------------------------------------------------------------------


@dataclass
class PageCounts:
    """What writing one page (or, summed, a whole run) did.

    ``inserted``: ids new for this tenant; ``updated``: stored rows replaced by a newer version
    (``deactivated`` counts the subset whose ``active`` went from true to false);
    ``unchanged``: records already stored at the same or a newer version (and in-page
    duplicates that collapsed); ``rejected``: records that could not be loaded.
    ``max_modified_on``: the page's greatest ``modifiedOn``, exactly as the API wrote it.
    """

    records: int = 0
    inserted: int = 0
    updated: int = 0
    deactivated: int = 0
    unchanged: int = 0
    rejected: int = 0
    max_modified_on: str | None = None
    _max_modified_ts: datetime | None = None
    _bad_timestamps: int = 0

    def add(self, other: PageCounts) -> None:
        """Accumulate another page's counts into this one (in place)."""
        for f in fields(self):
            if f.name in ("max_modified_on", "_max_modified_ts", "_bad_timestamps"):
                continue
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        if other._max_modified_ts is not None and (
            self._max_modified_ts is None or other._max_modified_ts > self._max_modified_ts
        ):
            self._max_modified_ts = other._max_modified_ts
            self.max_modified_on = other.max_modified_on

    @property
    def written(self) -> int:
        """Rows inserted or updated."""
        return self.inserted + self.updated


def _dedup_cte(has_duplicates: bool) -> str:
    """CTEs ``src`` (the page, timestamps parsed) and ``dedup`` (one row per id).

    In-page duplicates collapse to the newest version (the later listing on a tie: it was
    listed after). Rows whose modifiedOn DuckDB cannot read are left out here and rejected
    instead. Pages almost never repeat an id, and the two window functions are a measurable
    share of a page's cost, so they are only planned when the page does.
    """
    src = """
    src AS (
        SELECT id, modified_on_raw, active, payload,
               TRY_CAST(modified_on_raw AS TIMESTAMPTZ) AS modified_on%s
        FROM _st_page
    )""" % (",\n               row_number() OVER () AS ord" if has_duplicates else "")
    dedup = """
    dedup AS (
        SELECT id, modified_on_raw, modified_on, active, payload FROM src
        WHERE modified_on_raw IS NULL OR modified_on IS NOT NULL%s
    )""" % (
        """
        QUALIFY row_number() OVER (
            PARTITION BY id ORDER BY modified_on DESC NULLS LAST, ord DESC) = 1"""
        if has_duplicates
        else ""
    )
    return src + "," + dedup + "\n"


# The version rule, written once for the classification (``s`` = incoming, ``t`` = stored).
_NEWER = """(s.modified_on > t.modified_on OR (
        (s.modified_on IS NULL OR t.modified_on IS NULL)
        AND CAST(s.payload AS VARCHAR) <> CAST(t.payload AS VARCHAR)))"""


def write_page(
    conn: duckdb.DuckDBPyConnection,
    *,
    entity: str,
    tenant_id: int,
    connection_name: str,
    records: Sequence[Any] | PreparedPage,
    cursor: str | _Keep | None = KEEP_CURSOR,
    cursor_kind: str = CURSOR_EXPORT_TOKEN,
) -> PageCounts:
    """Upsert one page of records and (optionally) store the cursor, in ONE transaction.

    Args:
        conn: an open DuckDB connection (the raw tables must exist: :func:`ensure_entity_table`).
        entity: entity name (= raw table name).
        tenant_id: ServiceTitan tenant the records belong to; part of the key.
        connection_name: lineage, written to ``_connection``.
        records: the page's records as parsed from the API (dicts; anything else is rejected),
            or the same already passed through :func:`prepare_page`.
        cursor: the cursor that covers this page (export continuation token); ``KEEP_CURSOR``
            leaves the stored cursor untouched (list entities mid-pass).
        cursor_kind: what ``cursor`` means, stored next to it.

    Returns:
        The page's :class:`PageCounts`.

    This is a batch of one page; :class:`PageBatchWriter` commits several pages (and the
    cursor after the last of them) per transaction.
    """
    prepared = records if isinstance(records, PreparedPage) else prepare_page(records)
    finish = _finish_sql(tenant_id, entity, connection_name, cursor, cursor_kind)
    return _write_page(
        conn,
        prepared,
        entity=entity,
        tenant_id=tenant_id,
        connection_name=connection_name,
        begin=True,
        finish_sql=finish,
    )


def _finish_sql(
    tenant_id: int,
    entity: str,
    connection_name: str,
    cursor: str | _Keep | None,
    cursor_kind: str,
) -> list[str]:
    """The statements that end a transaction: the cursor upsert (unless kept), then COMMIT.

    DuckDB binds parameters only in the last statement of a multi-statement call, so the few
    values are inlined as escaped literals (see :func:`_sql_literal`).
    """
    sql: list[str] = []
    if not isinstance(cursor, _Keep):
        sql.append(
            _upsert_state_sql(
                values=", ".join(
                    _sql_literal(v)
                    for v in (tenant_id, entity, cursor, cursor_kind, connection_name)
                )
                + ", now()"
            )
        )
    sql.append("COMMIT")
    return sql


def _write_page(
    conn: duckdb.DuckDBPyConnection,
    prepared: PreparedPage,
    *,
    entity: str,
    tenant_id: int,
    connection_name: str,
    begin: bool,
    finish_sql: list[str] | None,
) -> PageCounts:
    """Write one page inside a transaction: open it first when ``begin``, end it with
    ``finish_sql`` (cursor + COMMIT) when given, else leave it open for the next page.

    On any failure the transaction -- with every page written in it so far -- is rolled
    back and the error re-raised.
    """
    table_name = _table(entity)
    counts = PageCounts(records=prepared.records)
    table = prepared.table
    rejects = list(prepared.rejects)
    now = datetime.now(UTC)
    params: dict[str, Any] = {"tenant": tenant_id, "conn": connection_name}

    # Few round trips on purpose: each `execute` releases the GIL while DuckDB works and must
    # win it back to return, and the download thread holds it for the whole parse of the next
    # page (~200 ms for 5000 invoices). With six statements per page, the writer waited for the
    # GIL more than it wrote. So: one call to (begin and) classify, one to write (and commit);
    # anything else only when the page needs it.
    # The SQL names the page `_st_page`: DuckDB finds it as this Python local (a "replacement
    # scan"). Not `conn.register`: a registered view is a catalog entry, and DuckDB keeps a
    # dropped one -- with its Arrow table -- until the transaction ends, so a batch of pages
    # kept every page of the batch alive (~17 MB each for invoices; +400 MB of RSS).
    _st_page = table  # read by DuckDB (see above)
    try:
        write_sql: list[str] = []
        if table.num_rows:
            insert_sql = _classify_page(conn, table, table_name, params, counts, begin=begin)
            if insert_sql:
                write_sql.append(insert_sql)
            if counts._bad_timestamps:
                bad = conn.execute(
                    "SELECT payload FROM _st_page WHERE modified_on_raw IS NOT NULL "
                    "AND TRY_CAST(modified_on_raw AS TIMESTAMPTZ) IS NULL"
                ).fetchall()
                rejects.extend(("modifiedOn is not a valid timestamp", p) for (p,) in bad)
        elif begin:
            conn.execute("BEGIN TRANSACTION")
        counts.rejected = len(rejects)
        counts.unchanged = counts.records - counts.rejected - counts.inserted - counts.updated
        _insert_rejects(
            conn,
            entity=entity,
            tenant_id=tenant_id,
            connection_name=connection_name,
            rejects=rejects,
            now=now,
        )
        if finish_sql:
            write_sql.extend(finish_sql)
        if write_sql:
            conn.execute(";\n".join(write_sql)).fetchall()
    except BaseException:
        # After a failed statement the transaction is aborted; ROLLBACK ends it (and is a
        # no-op error if the failure came before BEGIN), the original error is what we report.
        with contextlib.suppress(duckdb.Error):
            conn.execute("ROLLBACK")
        raise
    finally:
        del _st_page
    return counts


# DuckDB's row group: an append of at least this many rows in one transaction is written
# straight to the database file as compressed row groups ("optimistic writes"); a smaller one
# goes to the WAL and is compressed again at every checkpoint of a growing row group.
ROW_GROUP_ROWS = 122_880
# Defaults of PageBatchWriter (module attributes so that tests and callers may change them).
BATCH_MAX_ROWS = ROW_GROUP_ROWS
BATCH_MAX_BYTES = 512 * 2**20
BATCH_MAX_SECONDS = 60.0


def _distinct_ids(table: pa.Table) -> bool:
    ids = table.column("id")
    return pc.count_distinct(ids).as_py() == len(ids)


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

    Why batches: committing one ~5-20 MB page at a time made DuckDB checkpoint at almost
    every commit, each time re-compressing the whole growing row group (zstd), so the cost of
    a page grew with the table. An append of a whole row group in one transaction is
    compressed once and written straight to the file. Memory stays bounded: the Python side
    holds one page at a time, and DuckDB keeps uncommitted rows within its memory limit
    (:func:`bounded_memory`), spilling to ``<database>.tmp`` if needed.

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
        clock: Any = time.monotonic,
    ) -> None:
        _table(entity)  # validate the name up front
        self._conn = conn
        self._entity = entity
        self._tenant_id = tenant_id
        self._connection_name = connection_name
        self._cursor_kind = cursor_kind
        self.max_rows = BATCH_MAX_ROWS if max_rows is None else max_rows
        self.max_bytes = BATCH_MAX_BYTES if max_bytes is None else max_bytes
        self.max_seconds = BATCH_MAX_SECONDS if max_seconds is None else max_seconds
        self._clock = clock
        self._open = False
        self._began_at = 0.0
        self._rows = 0
        self._bytes = 0
        self._pages = 0
        self._cursor: str | _Keep | None = KEEP_CURSOR
        self.commits = 0

    @property
    def pending_pages(self) -> int:
        """Pages written in the open transaction (0 when none is open)."""
        return self._pages

    def write(
        self, records: Sequence[Any] | PreparedPage, cursor: str | _Keep | None = KEEP_CURSOR
    ) -> PageCounts:
        """Write one page; ``cursor`` is what to commit if the transaction ends after it.

        A page that would take the transaction past ``max_rows`` is split there: its head
        ends this transaction (committed with the cursor of the page before it, which the
        head does not move past), its tail begins the next one with the page's own cursor.
        Transactions then hold whole DuckDB row groups, each compressed once and written
        straight to the file; ending them a little past the boundary left a partial row
        group per batch, which DuckDB merged -- decompressing and compressing them again --
        at the final checkpoint (5.4 s for 347k invoices). A run killed between the two
        parts re-reads the page, and the upsert finds the head's rows unchanged. A page that
        repeats an id is not split (its newest listing must win within the page).
        """
        prepared = records if isinstance(records, PreparedPage) else prepare_page(records)
        room = self.max_rows - self._rows if self._open else self.max_rows
        n = prepared.table.num_rows
        if 0 < room < n and _distinct_ids(prepared.table):
            head = PreparedPage(prepared.table.slice(0, room), (), room)
            tail = PreparedPage(
                prepared.table.slice(room), prepared.rejects, prepared.records - room
            )
            counts = self._write_part(head, KEEP_CURSOR)
            counts.add(self._write_part(tail, cursor))
            return counts
        return self._write_part(prepared, cursor)

    def _write_part(self, prepared: PreparedPage, cursor: str | _Keep | None) -> PageCounts:
        begin = not self._open
        if begin:
            self._began_at = self._clock()
            self._rows = self._bytes = self._pages = 0
        if not isinstance(cursor, _Keep):
            self._cursor = cursor
        self._rows += prepared.table.num_rows
        self._bytes += prepared.table.nbytes
        self._pages += 1
        last = (
            self._rows >= self.max_rows
            or self._bytes >= self.max_bytes
            or self._clock() - self._began_at >= self.max_seconds
        )
        self._open = True
        try:
            counts = _write_page(
                self._conn,
                prepared,
                entity=self._entity,
                tenant_id=self._tenant_id,
                connection_name=self._connection_name,
                begin=begin,
                finish_sql=self._finish() if last else None,
            )
        except BaseException:
            # _write_page has rolled back; make sure, whatever raised, no half batch stays open.
            self.rollback()
            raise
        if last:
            self._reset()
            self.commits += 1
        return counts

    def _finish(self) -> list[str]:
        return _finish_sql(
            self._tenant_id, self._entity, self._connection_name, self._cursor, self._cursor_kind
        )

    def _reset(self) -> None:
        self._open = False
        self._rows = self._bytes = self._pages = 0
        self._cursor = KEEP_CURSOR

    def commit(self) -> None:
        """Commit the open transaction (rows and the last cursor), if any."""
        if not self._open:
            return
        try:
            self._conn.execute(";\n".join(self._finish())).fetchall()
        except BaseException:
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

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc is None:
            self.commit()
            return
        # The error came from outside the writer: what was written is consistent with its
        # cursor, so keep it. If even that fails, roll back and let the original error win.
        try:
            self.commit()
        except BaseException:
            self.rollback()


def _classify_page(
    conn: duckdb.DuckDBPyConnection,
    table: pa.Table,
    table_name: str,
    params: dict[str, Any],
    counts: PageCounts,
    *,
    begin: bool = True,
) -> str | None:
    """(Begin the transaction when ``begin``, then) classify the page ``table``
    (named ``_st_page`` in the SQL).

    Fills ``counts`` from one aggregate over the page LEFT JOINed to this tenant's stored rows
    (new / newer / deactivated by the version rule; only narrow stored columns are read unless
    a version is unordered, i.e. has a null modifiedOn) and returns the INSERT that writes the
    page -- a plain one when every id is new (every first sync; measurably cheaper), else
    ``INSERT ... ON CONFLICT DO UPDATE ... WHERE <same version rule>``, which finds the stored
    row through the primary-key index -- or ``None`` when nothing is to be written.
    """
    _st_page = table  # read by DuckDB as a replacement scan (see _write_page)
    ids = table.column("id")
    dedup_cte = _dedup_cte(pc.count_distinct(ids).as_py() != len(ids))
    tenant_only = {"tenant": params["tenant"]}

    def classify_sql(rule: str, stored_cols: str) -> str:
        return f"""
            WITH {dedup_cte},
            classified AS (
                SELECT s.id, s.active, s.modified_on, s.modified_on_raw,
                       t.id IS NULL AS is_new, t.active AS old_active,
                       t.id IS NOT NULL AND {rule} AS is_newer,
                       t.id IS NOT NULL
                           AND (s.modified_on IS NULL OR t.modified_on IS NULL) AS unordered
                FROM dedup s
                LEFT JOIN (SELECT {stored_cols} FROM {table_name} WHERE _tenant_id = $tenant) t
                  ON t.id = s.id
            )
            SELECT count(*) FILTER (WHERE is_new),
                   count(*) FILTER (WHERE is_newer),
                   count(*) FILTER (WHERE is_newer AND old_active AND active IS FALSE),
                   arg_max(modified_on_raw, modified_on),
                   max(modified_on),
                   (SELECT count(*) FROM src WHERE modified_on_raw IS NOT NULL
                                               AND modified_on IS NULL),
                   count(*),
                   count(*) FILTER (WHERE unordered)
            FROM classified
            """

    # Timestamps decide, reading only narrow stored columns. Only when a version on either
    # side has no modifiedOn is the page classified again comparing payloads (which needs the
    # stored payload column, the expensive one).
    row = conn.execute(
        ("BEGIN TRANSACTION;\n" if begin else "")
        + classify_sql("s.modified_on > t.modified_on", "id, active, modified_on"),
        tenant_only,
    ).fetchall()[0]
    n_unordered = row[-1]
    if n_unordered:
        row = conn.execute(
            classify_sql(_NEWER, "id, active, modified_on, payload"), tenant_only
        ).fetchall()[0]
    (
        counts.inserted,
        counts.updated,
        counts.deactivated,
        counts.max_modified_on,
        counts._max_modified_ts,
        counts._bad_timestamps,
        n_distinct,
        _,
    ) = row
    if not (counts.inserted or counts.updated):
        return None
    insert = f"""
        INSERT INTO {table_name}
            (_tenant_id, id, modified_on, active, payload, _connection, _loaded_at)
        WITH {dedup_cte}
        SELECT {_sql_literal(params["tenant"])}, id, modified_on, active, payload,
               {_sql_literal(params["conn"])}, now()
        FROM dedup
    """
    if counts.inserted == n_distinct:
        # Every id of the page is new: no conflict is possible, so no conflict clause.
        return insert
    # DuckDB names the stored row by the table name in DO UPDATE ... WHERE.
    bare = table_name.split(".", 1)[1]
    rule_on_conflict = (
        _NEWER.replace("s.", "EXCLUDED.").replace("t.", f"{bare}.")
        if n_unordered
        else f"EXCLUDED.modified_on > {bare}.modified_on"
    )
    return f"""{insert}
        ON CONFLICT (_tenant_id, id) DO UPDATE SET
            modified_on = EXCLUDED.modified_on,
            active = EXCLUDED.active,
            payload = EXCLUDED.payload,
            _connection = EXCLUDED._connection,
            _loaded_at = EXCLUDED._loaded_at
        WHERE {rule_on_conflict}
    """


# --------------------------------------------------------------------------------------------
# Full refresh and inspection
# --------------------------------------------------------------------------------------------


def reset_entity(conn: duckdb.DuckDBPyConnection, *, entity: str, tenant_id: int) -> int:
    """Forget one entity for one tenant: its rows, its cursor and its rejected records, in one
    transaction. Other tenants sharing the file are untouched. Returns the rows deleted.

    Rejected records go too: a full refresh re-reads everything, and whatever is still bad at
    the source is rejected again, so the rejects afterwards describe the current source.
    """
    ensure_entity_table(conn, entity)
    conn.execute("BEGIN TRANSACTION")
    try:
        (deleted,) = conn.execute(
            f"SELECT count(*) FROM {_table(entity)} WHERE _tenant_id = ?", [tenant_id]
        ).fetchall()[0]
        conn.execute(f"DELETE FROM {_table(entity)} WHERE _tenant_id = ?", [tenant_id])
        conn.execute(
            f"DELETE FROM {SYNC_STATE_TABLE} WHERE _tenant_id = ? AND entity = ?",
            [tenant_id, entity],
        )
        conn.execute(
            f"DELETE FROM {REJECTED_TABLE} WHERE _tenant_id = ? AND entity = ?",
            [tenant_id, entity],
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return int(deleted)


def count_rows(conn: duckdb.DuckDBPyConnection, *, entity: str, tenant_id: int) -> int:
    """Rows stored for one entity and tenant."""
    (n,) = conn.execute(
        f"SELECT count(*) FROM {_table(entity)} WHERE _tenant_id = ?", [tenant_id]
    ).fetchall()[0]
    return int(n)


def count_rejected(conn: duckdb.DuckDBPyConnection, *, entity: str, tenant_id: int) -> int:
    """Rejected records stored for one entity and tenant."""
    (n,) = conn.execute(
        f"SELECT count(*) FROM {REJECTED_TABLE} WHERE _tenant_id = ? AND entity = ?",
        [tenant_id, entity],
    ).fetchall()[0]
    return int(n)
