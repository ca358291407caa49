"""Cursors: KEEP_CURSOR leaves the stored one as it is."""

from __future__ import annotations

from warehouse_helpers import T1, rec, write

from servicetitan_pipeline.warehouse.state import (
    CURSOR_MODIFIED_ON,
    read_sync_state,
    write_sync_state,
)


def test_keep_cursor_leaves_state(conn):
    write_sync_state(
        conn,
        entity="customers",
        tenant_id=T1,
        connection_name="main",
        cursor="2024-01-01T00:00:00Z",
        cursor_kind=CURSOR_MODIFIED_ON,
    )
    write(conn, [rec(1)])
    st = read_sync_state(conn, entity="customers", tenant_id=T1)
    assert (st.cursor, st.cursor_kind) == ("2024-01-01T00:00:00Z", CURSOR_MODIFIED_ON)
