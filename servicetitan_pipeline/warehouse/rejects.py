"""Rejected records: what could not be loaded goes to ``raw_servicetitan._rejected``.

A record that cannot be loaded (no id, an id beyond 64 bits, a timestamp DuckDB cannot read,
...) or a whole response body that is not a page is recorded with a reason, never dropped
silently: the ``no_rejected_records`` asset check reports them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import UTC, datetime

import duckdb
import pyarrow as pa  # type: ignore[import-untyped]  # pyarrow ships no type information

from servicetitan_pipeline.warehouse.lake import is_lake_connection, retry_conflicts
from servicetitan_pipeline.warehouse.schema import REJECTED_TABLE, TENANT_ID, ensure_sync_tables


def insert_rejects(
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
                ({TENANT_ID}, _connection, entity, reason, payload, request, rejected_at)
            SELECT DISTINCT $tenant, $conn, $entity, r.reason, r.payload, $request, $now
            FROM _st_rejects r
            WHERE NOT EXISTS (
                SELECT 1 FROM {REJECTED_TABLE} x
                WHERE x.{TENANT_ID} = $tenant AND x.entity = $entity
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
    lake: bool | None = None,
) -> None:
    """Record a whole response body that could not be used (e.g. still invalid JSON after
    retries) and commit it, so the evidence survives the failure that follows. ``lake``: the
    DuckLake dialect (default: asked of ``conn``), where a commit that conflicts with another
    writer's is run again."""
    if lake is None:
        lake = is_lake_connection(conn)
    ensure_sync_tables(conn, lake=lake)

    def transaction() -> None:
        conn.execute("BEGIN TRANSACTION")
        try:
            insert_rejects(
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
            with contextlib.suppress(duckdb.Error):
                conn.execute("ROLLBACK")
            raise

    if lake:
        retry_conflicts(transaction, what=f"{entity} (tenant {tenant_id}), a rejected response")
    else:
        transaction()
