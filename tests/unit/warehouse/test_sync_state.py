"""Cursors: KEEP_CURSOR leaves the stored one as it is; any text is stored exactly."""

from __future__ import annotations

from warehouse_helpers import T1, as_page, rec, write

from servicetitan_pipeline.warehouse import upsert
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


def test_a_cursor_and_a_connection_name_with_quotes_are_stored_exactly(conn):
    # The cursor upsert runs in the same call as COMMIT, where DuckDB binds no parameters: its
    # values are inlined as literals quoted by DuckDB, which must survive any text.
    odd = "it's; DROP TABLE x; -- \\ ✓"
    write(conn, [rec(1)], cursor=odd)
    st = read_sync_state(conn, entity="customers", tenant_id=T1)
    assert st.cursor == odd
    upsert.write_page(
        conn, as_page([rec(2)]), entity="customers", tenant_id=T1, connection_name=odd, cursor="c"
    )
    st = read_sync_state(conn, entity="customers", tenant_id=T1)
    assert (st.cursor, st.connection) == ("c", odd)
    assert conn.execute(
        "SELECT _connection FROM raw_servicetitan.customers WHERE id = 2"
    ).fetchall() == [(odd,)]
