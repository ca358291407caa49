"""The upsert of pages: the version rule, rejects, tenants, atomicity of rows and cursor."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pyarrow as pa
import pytest
from warehouse_helpers import T1, T2, rec, rejected_count, rows, write

from servicetitan_pipeline.sync.pages import prepare_page
from servicetitan_pipeline.warehouse import upsert
from servicetitan_pipeline.warehouse.state import read_sync_state
from servicetitan_pipeline.warehouse.upsert import PageCounts


def test_insert_then_newer_replaces_and_older_does_not(conn):
    c = write(conn, [rec(1), rec(2), rec(3)], cursor="tok-1")
    assert (c.inserted, c.updated, c.unchanged, c.rejected) == (3, 0, 0, 0)
    assert read_sync_state(conn, entity="customers", tenant_id=T1).cursor == "tok-1"

    c = write(
        conn,
        [
            rec(1, "2024-05-02T10:00:00Z", name="new"),  # newer: replaces
            rec(2, "2024-05-01T10:00:00Z", name="same-ts"),  # same: no write
            rec(3, "2024-04-01T10:00:00Z", name="older"),  # older: no write
            rec(4),
        ],
        cursor="tok-2",
    )
    assert (c.inserted, c.updated, c.unchanged) == (1, 1, 2)
    got = rows(conn)
    assert got[1][2]["name"] == "new"
    assert got[1][0] == datetime(2024, 5, 2, 10, tzinfo=UTC)
    assert got[2][2]["name"] == "c2"
    assert got[3][2]["name"] == "c3"
    assert read_sync_state(conn, entity="customers", tenant_id=T1).cursor == "tok-2"
    assert c.max_modified_on == "2024-05-02T10:00:00Z"


def test_rerun_writes_nothing(conn):
    page = [rec(i, f"2024-05-0{1 + i % 5}T10:00:00Z") for i in range(50)]
    write(conn, page)
    (loaded_before,) = conn.execute(
        "SELECT max(_loaded_at) FROM raw_servicetitan.customers"
    ).fetchall()[0]
    c = write(conn, page)
    assert (c.inserted, c.updated, c.unchanged) == (0, 0, 50)
    (loaded_after,) = conn.execute(
        "SELECT max(_loaded_at) FROM raw_servicetitan.customers"
    ).fetchall()[0]
    assert loaded_after == loaded_before


def test_duplicates_in_page_collapse_to_newest(conn):
    c = write(
        conn,
        [
            rec(7, "2024-05-03T00:00:00Z", name="newest"),
            rec(7, "2024-05-01T00:00:00Z", name="old"),
            rec(7, "2024-05-02T00:00:00Z", name="mid"),
            rec(8, "2024-05-01T00:00:00Z", name="first"),
            rec(8, "2024-05-01T00:00:00Z", name="second"),
        ],
    )
    assert (c.records, c.inserted, c.unchanged) == (5, 2, 3)
    got = rows(conn)
    assert got[7][2]["name"] == "newest"
    # Same version listed twice: the later listing wins.
    assert got[8][2]["name"] == "second"


def test_deactivation_counted(conn):
    write(conn, [rec(1), rec(2), rec(3, active=False)])
    c = write(
        conn,
        [
            rec(1, "2024-06-01T00:00:00Z", active=False, mergedToId=2),
            rec(2, "2024-06-01T00:00:00Z", active=True),
            rec(3, "2024-06-01T00:00:00Z", active=False),
        ],
    )
    assert (c.updated, c.deactivated) == (3, 1)
    got = rows(conn)
    assert got[1][1] is False and got[1][2]["mergedToId"] == 2


def test_null_modified_on_policy(conn):
    # Invoices may omit modifiedOn: unordered versions are replaced only when content differs.
    write(conn, [rec(1, None, total="10.00"), rec(2, None, total="5.00")], entity="invoices")
    c = write(conn, [rec(1, None, total="10.00"), rec(2, None, total="6.00")], entity="invoices")
    assert (c.inserted, c.updated, c.unchanged) == (0, 1, 1)
    got = rows(conn, "invoices")
    assert got[2][2]["total"] == "6.00" and got[2][0] is None
    # A dated version replaces an undated one; an undated identical one then changes nothing.
    c = write(conn, [rec(1, "2024-05-01T00:00:00Z", total="10.00")], entity="invoices")
    assert c.updated == 1
    c = write(conn, [rec(1, "2024-05-01T00:00:00Z", total="10.00")], entity="invoices")
    assert c.unchanged == 1
    # Within a page, a dated version beats an undated one.
    c = write(
        conn,
        [rec(3, "2024-05-01T00:00:00Z", total="1"), rec(3, None, total="2")],
        entity="invoices",
    )
    assert rows(conn, "invoices")[3][2]["total"] == "1"


def test_an_id_beyond_int64_in_an_otherwise_clean_page_is_rejected_not_dropped(conn):
    # Every id is a Python int, so the page takes the fast column path until the int64
    # conversion overflows; the record-by-record path must then reject just that record.
    c = write(conn, [rec(1), {**rec(3), "id": 2**63}, rec(2)], cursor="tok")
    assert (c.records, c.inserted, c.rejected) == (3, 2, 1)
    reasons = conn.execute("SELECT reason FROM raw_servicetitan._rejected").fetchall()
    assert reasons == [("id is not a 64-bit integer",)]


def test_rejected_records_recorded_not_dropped(conn):
    page = [
        rec(1),
        {"name": "no id"},
        {"id": None, "name": "null id"},
        {"id": "12", "name": "string id"},
        {"id": True, "name": "bool id"},
        {"id": 1.5},
        {"id": 2**70},
        "not an object",
        rec(9, "not a date"),
        rec(10, 12345),
        rec(2),
    ]
    c = write(conn, page, cursor="tok")
    assert (c.records, c.inserted, c.rejected, c.unchanged) == (11, 2, 9, 0)
    rej = conn.execute(
        "SELECT _tenant_id, _connection, entity, reason, payload, rejected_at "
        "FROM raw_servicetitan._rejected ORDER BY reason, payload"
    ).fetchall()
    assert len(rej) == 9
    assert {r[3] for r in rej} == {
        "record has no id",
        "id is not a 64-bit integer",
        "record is not a JSON object",
        "modifiedOn is not a valid timestamp",
        "modifiedOn is not a timestamp string",
    }
    assert all(r[0] == T1 and r[1] == "main" and r[2] == "customers" for r in rej)
    assert any(json.loads(r[4]) == {"name": "no id"} for r in rej)
    # Re-reading the same bad page does not pile up duplicate rejects.
    write(conn, page)
    assert rejected_count(conn, entity="customers", tenant_id=T1) == 9
    assert read_sync_state(conn, entity="customers", tenant_id=T1).cursor == "tok"


def test_unknown_fields_and_exact_payload_kept(conn):
    r = rec(1, extra_field={"nested": [1, 2, {"x": None}]}, balance=123.45, total="0.10")
    write(conn, [r])
    assert rows(conn)[1][2] == r


def test_tenants_do_not_collide(conn):
    write(conn, [rec(1, name="a")], tenant=T1, cursor="a")
    write(conn, [rec(1, name="b")], tenant=T2, cursor="b")
    assert rows(conn, tenant=T1)[1][2]["name"] == "a"
    assert rows(conn, tenant=T2)[1][2]["name"] == "b"
    assert read_sync_state(conn, entity="customers", tenant_id=T2).cursor == "b"
    assert upsert.reset_entity(conn, entity="customers", tenant_id=T1) == 1
    assert upsert.count_rows(conn, entity="customers", tenant_id=T1) == 0
    assert upsert.count_rows(conn, entity="customers", tenant_id=T2) == 1
    assert read_sync_state(conn, entity="customers", tenant_id=T1) is None
    assert read_sync_state(conn, entity="customers", tenant_id=T2).cursor == "b"


def test_page_and_cursor_are_atomic(conn, monkeypatch):
    write(conn, [rec(1)], cursor="tok-1")
    real = upsert.insert_rejects

    def boom(*a, **k):
        real(*a, **k)
        raise RuntimeError("crash between rows and cursor")

    monkeypatch.setattr(upsert, "insert_rejects", boom)
    with pytest.raises(RuntimeError):
        write(conn, [rec(1, "2024-09-01T00:00:00Z", name="x"), rec(2)], cursor="tok-2")
    monkeypatch.setattr(upsert, "insert_rejects", real)
    assert set(rows(conn)) == {1}
    assert rows(conn)[1][2]["name"] == "c1"
    assert read_sync_state(conn, entity="customers", tenant_id=T1).cursor == "tok-1"
    # The connection is usable afterwards (the transaction was rolled back).
    assert write(conn, [rec(2)], cursor="tok-2").inserted == 1


def test_empty_page_moves_cursor_only(conn):
    c = write(conn, [], cursor="end")
    assert c.records == 0 and c.written == 0
    assert read_sync_state(conn, entity="customers", tenant_id=T1).cursor == "end"


def test_counts_accumulate():
    a = PageCounts(records=2, inserted=1, updated=1)
    b = PageCounts(records=3, unchanged=3, rejected=0)
    b.max_modified_on, b._max_modified_ts = "x", datetime(2024, 1, 1, tzinfo=UTC)
    a.add(b)
    assert (a.records, a.inserted, a.updated, a.unchanged, a.max_modified_on) == (5, 1, 1, 3, "x")


def test_payload_column_is_json_and_not_revalidated(conn):
    page = prepare_page([rec(1, note='é ✓ "quoted"')])
    assert page.table.schema.field("payload").type == pa.json_(pa.large_string())
    write(conn, page)
    (typ, text) = conn.execute(
        "SELECT typeof(payload), payload->>'$.note' FROM raw_servicetitan.customers"
    ).fetchall()[0]
    assert typ == "JSON" and text == 'é ✓ "quoted"'
    assert rows(conn)[1][2] == rec(1, note='é ✓ "quoted"')
