"""Helpers of the warehouse's unit tests: records, pages, and what a table holds."""

from __future__ import annotations

import json
from typing import Any

from servicetitan_pipeline.sync.pages import prepare_page
from servicetitan_pipeline.warehouse import upsert
from servicetitan_pipeline.warehouse.batch import PageBatchWriter
from servicetitan_pipeline.warehouse.schema import REJECTED_TABLE, PreparedPage
from servicetitan_pipeline.warehouse.state import KEEP_CURSOR, read_sync_state

T1, T2 = 1001, 2002


def rec(i, mod="2024-05-01T10:00:00Z", active=True, **extra):
    r = {"id": i, "modifiedOn": mod, "active": active, "name": f"c{i}"}
    r.update(extra)
    return r


def as_page(records: list[Any] | PreparedPage) -> PreparedPage:
    """A list of parsed records as the writer takes them (what the sync stages)."""
    return records if isinstance(records, PreparedPage) else prepare_page(records)


def write(conn, records, *, entity="customers", tenant=T1, cursor=KEEP_CURSOR):
    return upsert.write_page(
        conn,
        as_page(records),
        entity=entity,
        tenant_id=tenant,
        connection_name="main",
        cursor=cursor,
    )


def rows(conn, entity="customers", tenant=T1):
    return {
        r[0]: (r[1], r[2], json.loads(r[3]))
        for r in conn.execute(
            f"SELECT id, modified_on, active, payload FROM raw_servicetitan.{entity} "
            "WHERE _tenant_id = ? ORDER BY id",
            [tenant],
        ).fetchall()
    }


def rejected_count(conn, *, entity: str, tenant_id: int) -> int:
    """Rejected records stored for one entity and tenant."""
    (n,) = conn.execute(
        f"SELECT count(*) FROM {REJECTED_TABLE} WHERE _tenant_id = ? AND entity = ?",
        [tenant_id, entity],
    ).fetchall()[0]
    return int(n)


class RecordsBatchWriter(PageBatchWriter):
    """A PageBatchWriter that also takes pages as lists of records (staged first)."""

    def write(self, records, cursor=KEEP_CURSOR):
        return super().write(as_page(records), cursor)


def batch_writer(conn, **kw):
    return RecordsBatchWriter(conn, entity="customers", tenant_id=T1, connection_name="main", **kw)


def cursor(conn, tenant=T1):
    state = read_sync_state(conn, entity="customers", tenant_id=tenant)
    return state.cursor if state else None


def other_conn(conn):
    """A second connection to the same database: sees only what is committed."""
    return conn.cursor()
