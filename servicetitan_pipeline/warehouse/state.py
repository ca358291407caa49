"""Sync state: the cursor of each ``(tenant, entity)`` in ``raw_servicetitan._sync_state``.

The cursor protocol, whole:

* A cursor is a string that tells the next sync where to resume, stored with its *kind*
  (:data:`CURSOR_EXPORT_TOKEN`, :data:`CURSOR_MODIFIED_ON` or :data:`CURSOR_FULL_LIST`) so
  that a reader knows what the string means. No row means "never synced": start from the
  beginning. A :data:`CURSOR_FULL_LIST` cursor is not where to resume (such an entity is read
  whole on every run) but when it was last read completely, by the source's clock.
* A cursor is written in the same transaction as the rows it covers (the writer ends each
  transaction with :func:`finish_sql`), so a process killed at any instant leaves rows and
  cursor consistent: the next run resumes from the last committed cursor and re-reads at most
  what was not committed, which the upsert recognises as already loaded.
* :data:`KEEP_CURSOR`, passed where a cursor is expected, means "this write does not move the
  cursor": the transaction commits its rows and leaves the stored cursor as it is. List
  entities write their pages so, and store their new high-water on its own
  (:func:`write_sync_state`) once a whole pass has completed.

*When* a cursor may move (the export and list rules) is the sync engine's business
(``sync.engine``); this module only stores and reads it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

import duckdb

from servicetitan_pipeline.warehouse.schema import (
    SYNC_STATE_LOG_TABLE,
    SYNC_STATE_TABLE,
    TENANT_ID,
    sql_literal,
)

# Cursor kinds stored next to the cursor, so a reader knows what the string means.
CURSOR_EXPORT_TOKEN = "export_continue_from"
CURSOR_MODIFIED_ON = "modified_on_high_water"
CURSOR_FULL_LIST = "full_list"


class _Keep(enum.Enum):
    """The type of :data:`KEEP_CURSOR` (an enum of one, so that type checkers narrow it)."""

    KEEP_CURSOR = enum.auto()

    def __repr__(self) -> str:
        return "KEEP_CURSOR"


KEEP_CURSOR: Final = _Keep.KEEP_CURSOR

# What a write may do to the stored cursor: set it (a string, or None: "from the beginning")
# or keep it.
CursorUpdate = str | None | _Keep


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
        f"WHERE {TENANT_ID} = ? AND entity = ?",
        [tenant_id, entity],
    ).fetchall()
    return SyncState(*rows[0]) if rows else None


def _upsert_state_sql(values: str = "?, ?, ?, ?, ?, ?", *, lake: bool = False) -> str:
    columns = f"({TENANT_ID}, entity, cursor, cursor_kind, _connection, updated_at)"
    if lake:
        # Appended: the lake's `_sync_state` is the latest row per key (schema.ensure_sync_tables).
        return f"INSERT INTO {SYNC_STATE_LOG_TABLE} {columns} VALUES ({values})"
    return (
        f"INSERT INTO {SYNC_STATE_TABLE} "
        f"{columns} "
        f"VALUES ({values}) ON CONFLICT ({TENANT_ID}, entity) DO UPDATE SET "
        "cursor = EXCLUDED.cursor, cursor_kind = EXCLUDED.cursor_kind, "
        "_connection = EXCLUDED._connection, updated_at = EXCLUDED.updated_at"
    )


def forget_state_sql(*, lake: bool) -> str:
    """The statement that forgets a ``(tenant, entity)``'s cursor (parameters: tenant ID,
    entity, and in a lake the connection name): a delete, or in a lake an appended row
    without a ``cursor_kind``, which ``_sync_state`` reads as "never synced"."""
    if lake:
        return (
            f"INSERT INTO {SYNC_STATE_LOG_TABLE} "
            f"({TENANT_ID}, entity, cursor, cursor_kind, _connection, updated_at) "
            "VALUES (?, ?, NULL, NULL, ?, now())"
        )
    return f"DELETE FROM {SYNC_STATE_TABLE} WHERE {TENANT_ID} = ? AND entity = ?"


def write_sync_state(
    conn: duckdb.DuckDBPyConnection,
    *,
    entity: str,
    tenant_id: int,
    connection_name: str,
    cursor: str | None,
    cursor_kind: str,
    lake: bool = False,
) -> None:
    """Store a cursor on its own (in its own transaction unless one is already open);
    ``lake``: the DuckLake dialect (an appended row, see ``schema.ensure_sync_tables``)."""
    conn.execute(
        _upsert_state_sql(lake=lake),
        [tenant_id, entity, cursor, cursor_kind, connection_name, datetime.now(UTC)],
    )


def finish_sql(
    *,
    tenant_id: int,
    entity: str,
    connection_name: str,
    cursor: CursorUpdate,
    cursor_kind: str,
    lake: bool = False,
) -> list[str]:
    """The statements that end a write transaction: the cursor upsert (unless
    :data:`KEEP_CURSOR`), then ``COMMIT``. ``lake``: as for :func:`write_sync_state`.

    They run in the same call as the page's INSERT (one round trip, see ``upsert``), and DuckDB
    binds parameters only in the last statement of a multi-statement call, so the few values
    are inlined as literals quoted by DuckDB (:func:`sql_literal`).
    """
    sql: list[str] = []
    if cursor is not KEEP_CURSOR:
        values = (tenant_id, entity, cursor, cursor_kind, connection_name)
        sql.append(
            _upsert_state_sql(", ".join(sql_literal(v) for v in values) + ", now()", lake=lake)
        )
    sql.append("COMMIT")
    return sql
