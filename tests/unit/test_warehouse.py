"""Unit tests for the raw layer writer (pure DuckDB on a temporary file)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import duckdb
import pyarrow as pa
import pytest

from servicetitan_pipeline import warehouse as wh
from servicetitan_pipeline.sync import pages as staging

T1, T2 = 1001, 2002


@pytest.fixture
def conn(tmp_path):
    c = duckdb.connect(str(tmp_path / "wh.duckdb"))
    wh.configure_connection(c)
    wh.ensure_raw_schema(c, ["customers", "invoices"])
    yield c
    c.close()


def rec(i, mod="2024-05-01T10:00:00Z", active=True, **extra):
    r = {"id": i, "modifiedOn": mod, "active": active, "name": f"c{i}"}
    r.update(extra)
    return r


def write(conn, records, *, entity="customers", tenant=T1, cursor=wh.KEEP_CURSOR):
    return wh.write_page(
        conn,
        entity=entity,
        tenant_id=tenant,
        connection_name="main",
        records=records,
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


def test_ddl_matches_contract(conn):
    cols = conn.execute(
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
        "WHERE table_schema = 'raw_servicetitan' AND table_name = 'customers' "
        "ORDER BY ordinal_position"
    ).fetchall()
    assert cols == [
        ("_tenant_id", "BIGINT", "NO"),
        ("id", "BIGINT", "NO"),
        ("modified_on", "TIMESTAMP WITH TIME ZONE", "YES"),
        ("active", "BOOLEAN", "YES"),
        ("payload", "JSON", "NO"),
        ("_connection", "VARCHAR", "NO"),
        ("_loaded_at", "TIMESTAMP WITH TIME ZONE", "NO"),
    ]
    # Idempotent.
    wh.ensure_raw_schema(conn, ["customers"])
    with pytest.raises(duckdb.ConstraintException):
        conn.execute(
            "INSERT INTO raw_servicetitan.customers VALUES (1, 1, NULL, NULL, '{}', 'c', now()),"
            " (1, 1, NULL, NULL, '{}', 'c', now())"
        )


def test_rejects_bad_entity_names(conn):
    with pytest.raises(ValueError):
        wh.ensure_entity_table(conn, 'x"; DROP TABLE y; --')


def test_insert_then_newer_replaces_and_older_does_not(conn):
    c = write(conn, [rec(1), rec(2), rec(3)], cursor="tok-1")
    assert (c.inserted, c.updated, c.unchanged, c.rejected) == (3, 0, 0, 0)
    assert wh.read_sync_state(conn, entity="customers", tenant_id=T1).cursor == "tok-1"

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
    assert wh.read_sync_state(conn, entity="customers", tenant_id=T1).cursor == "tok-2"
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
    assert wh.count_rejected(conn, entity="customers", tenant_id=T1) == 9
    assert wh.read_sync_state(conn, entity="customers", tenant_id=T1).cursor == "tok"


def test_unknown_fields_and_exact_payload_kept(conn):
    r = rec(1, extra_field={"nested": [1, 2, {"x": None}]}, balance=123.45, total="0.10")
    write(conn, [r])
    assert rows(conn)[1][2] == r


def test_tenants_do_not_collide(conn):
    write(conn, [rec(1, name="a")], tenant=T1, cursor="a")
    write(conn, [rec(1, name="b")], tenant=T2, cursor="b")
    assert rows(conn, tenant=T1)[1][2]["name"] == "a"
    assert rows(conn, tenant=T2)[1][2]["name"] == "b"
    assert wh.read_sync_state(conn, entity="customers", tenant_id=T2).cursor == "b"
    assert wh.reset_entity(conn, entity="customers", tenant_id=T1) == 1
    assert wh.count_rows(conn, entity="customers", tenant_id=T1) == 0
    assert wh.count_rows(conn, entity="customers", tenant_id=T2) == 1
    assert wh.read_sync_state(conn, entity="customers", tenant_id=T1) is None
    assert wh.read_sync_state(conn, entity="customers", tenant_id=T2).cursor == "b"


def test_page_and_cursor_are_atomic(conn, monkeypatch):
    write(conn, [rec(1)], cursor="tok-1")
    real = wh._insert_rejects

    def boom(*a, **k):
        real(*a, **k)
        raise RuntimeError("crash between rows and cursor")

    monkeypatch.setattr(wh, "_insert_rejects", boom)
    with pytest.raises(RuntimeError):
        write(conn, [rec(1, "2024-09-01T00:00:00Z", name="x"), rec(2)], cursor="tok-2")
    monkeypatch.setattr(wh, "_insert_rejects", real)
    assert set(rows(conn)) == {1}
    assert rows(conn)[1][2]["name"] == "c1"
    assert wh.read_sync_state(conn, entity="customers", tenant_id=T1).cursor == "tok-1"
    # The connection is usable afterwards (the transaction was rolled back).
    assert write(conn, [rec(2)], cursor="tok-2").inserted == 1


def test_empty_page_moves_cursor_only(conn):
    c = write(conn, [], cursor="end")
    assert c.records == 0 and c.written == 0
    assert wh.read_sync_state(conn, entity="customers", tenant_id=T1).cursor == "end"


def test_keep_cursor_leaves_state(conn):
    wh.write_sync_state(
        conn,
        entity="customers",
        tenant_id=T1,
        connection_name="main",
        cursor="2024-01-01T00:00:00Z",
        cursor_kind=wh.CURSOR_MODIFIED_ON,
    )
    write(conn, [rec(1)])
    st = wh.read_sync_state(conn, entity="customers", tenant_id=T1)
    assert (st.cursor, st.cursor_kind) == ("2024-01-01T00:00:00Z", wh.CURSOR_MODIFIED_ON)


def test_rejected_response_committed(conn):
    wh.record_rejected_response(
        conn,
        entity="jobs",
        tenant_id=T1,
        connection_name="main",
        reason="invalid JSON after retries",
        body="<html>oops",
        request="GET /jpm/v2/tenant/1001/export/jobs?from=abc",
    )
    assert conn.execute(
        "SELECT entity, payload, request FROM raw_servicetitan._rejected"
    ).fetchall() == [("jobs", "<html>oops", "GET /jpm/v2/tenant/1001/export/jobs?from=abc")]


def test_counts_accumulate():
    a = wh.PageCounts(records=2, inserted=1, updated=1)
    b = wh.PageCounts(records=3, unchanged=3, rejected=0)
    b.max_modified_on, b._max_modified_ts = "x", datetime(2024, 1, 1, tzinfo=UTC)
    a.add(b)
    assert (a.records, a.inserted, a.updated, a.unchanged, a.max_modified_on) == (5, 1, 1, 3, "x")


def test_bounded_memory_lowers_and_restores(conn):
    def limit():
        return wh._size_bytes(
            conn.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
        )

    conn.execute("SET memory_limit = '4GiB'")
    with wh.bounded_memory(conn, 256 * 2**20):
        assert limit() == 256 * 2**20
    assert limit() == 4 * 2**30
    # Never raises a lower limit.
    conn.execute("SET memory_limit = '100MiB'")
    with wh.bounded_memory(conn, 256 * 2**20):
        assert limit() == 100 * 2**20
    assert wh._size_bytes("18.8 GiB") == 18.8 * 2**30 and wh._size_bytes("junk") is None


# --------------------------------------------------------------------------------------------
# Several pages per transaction (PageBatchWriter)
# --------------------------------------------------------------------------------------------


def batch_writer(conn, **kw):
    return wh.PageBatchWriter(conn, entity="customers", tenant_id=T1, connection_name="main", **kw)


def cursor(conn, tenant=T1):
    state = wh.read_sync_state(conn, entity="customers", tenant_id=tenant)
    return state.cursor if state else None


def other_conn(conn):
    """A second connection to the same database: sees only what is committed."""
    return conn.cursor()


def test_batch_commits_by_rows_with_cursor_of_its_last_page(conn):
    reader = other_conn(conn)
    w = batch_writer(conn, max_rows=4, max_bytes=2**40, max_seconds=1e9)
    w.write([rec(1), rec(2)], "tok-1")
    # Nothing visible yet: rows and cursor are in one open transaction.
    assert w.pending_pages == 1 and cursor(reader) is None
    assert reader.execute("SELECT count(*) FROM raw_servicetitan.customers").fetchall() == [(0,)]
    w.write([rec(3), rec(4)], "tok-2")  # 4 rows: the batch ends with this page
    assert w.pending_pages == 0 and w.commits == 1
    assert cursor(reader) == "tok-2" and set(rows(reader)) == {1, 2, 3, 4}
    w.write([rec(5)], "tok-3")
    assert cursor(reader) == "tok-2" and set(rows(reader)) == {1, 2, 3, 4}
    w.commit()  # the end of a sync: whatever is pending, with its cursor
    assert cursor(reader) == "tok-3" and set(rows(reader)) == {1, 2, 3, 4, 5}
    w.commit()  # nothing open: a no-op
    assert w.commits == 2


def test_a_page_crossing_the_row_limit_is_split_at_it(conn):
    reader = other_conn(conn)
    w = batch_writer(conn, max_rows=5, max_bytes=2**40, max_seconds=1e9)
    w.write([rec(1), rec(2), rec(3)], "p1")
    counts = w.write([rec(4), rec(5), rec(6), {"name": "no id"}], "p2")
    # Rows 4-5 closed the first transaction, with p1's cursor: p2 is not wholly in it.
    assert w.commits == 1 and cursor(reader) == "p1"
    assert set(rows(reader)) == {1, 2, 3, 4, 5}
    # One page, one set of counts: 3 inserted, 1 rejected, whatever the split.
    assert (counts.records, counts.inserted, counts.rejected) == (4, 3, 1)
    w.commit()
    assert cursor(reader) == "p2" and set(rows(reader)) == {1, 2, 3, 4, 5, 6}
    assert wh.count_rejected(reader, entity="customers", tenant_id=T1) == 1


def test_a_run_killed_between_the_parts_of_a_split_page_rereads_it_exactly(conn, monkeypatch):
    w = batch_writer(conn, max_rows=4, max_bytes=2**40, max_seconds=1e9)
    w.write([rec(1), rec(2), rec(3)], "p1")
    real = wh._write_page
    calls = {"n": 0}

    def killed_on_the_tail(*a, **k):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("killed between the two parts")
        return real(*a, **k)

    monkeypatch.setattr(wh, "_write_page", killed_on_the_tail)
    with pytest.raises(KeyboardInterrupt):
        w.write([rec(4), rec(5, name="tail")], "p2")
    monkeypatch.setattr(wh, "_write_page", real)
    assert cursor(conn) == "p1" and set(rows(conn)) == {1, 2, 3, 4}
    # The next run resumes from p1: the head's row is found unchanged, the tail is new.
    with batch_writer(conn) as again:
        counts = again.write([rec(4), rec(5, name="tail")], "p2")
    assert (counts.inserted, counts.unchanged) == (1, 1)
    assert cursor(conn) == "p2" and set(rows(conn)) == {1, 2, 3, 4, 5}


def test_a_page_that_repeats_an_id_is_not_split(conn):
    # Split, the older listing of id 9 could land first and the newer one be judged "same
    # version": within a page the later listing must win, so the page stays whole.
    w = batch_writer(conn, max_rows=3, max_bytes=2**40, max_seconds=1e9)
    w.write([rec(1), rec(2)], "p1")
    w.write([rec(9, name="first"), rec(3), rec(9, name="second")], "p2")
    assert w.commits == 1 and cursor(conn) == "p2"
    assert rows(conn)[9][2]["name"] == "second"


def test_batches_of_a_first_sync_fill_whole_row_groups(conn):
    # The point of splitting: every committed batch is whole DuckDB row groups, so the final
    # checkpoint has no partial row groups to merge (decompress and compress again).
    pages = [[{"id": p * 5000 + i, "active": True} for i in range(5000)] for p in range(50)]
    with batch_writer(conn) as w:
        for n, page in enumerate(pages):
            w.write(page, f"p{n}")
    wh.checkpoint(conn)
    sizes = conn.execute(
        "SELECT row_group_id, max(count) FROM pragma_storage_info('raw_servicetitan.customers') "
        "GROUP BY ALL ORDER BY 1"
    ).fetchall()
    assert [n for _, n in sizes] == [wh.ROW_GROUP_ROWS, wh.ROW_GROUP_ROWS, 250_000 - 245_760]
    assert w.commits == 3 and cursor(conn) == "p49"


def test_batch_boundaries_by_bytes_and_by_time(conn):
    page = staging.prepare_page([rec(i, name="x" * 200) for i in range(10)])
    w = batch_writer(conn, max_rows=10**9, max_bytes=2 * page.table.nbytes, max_seconds=1e9)
    w.write(page, "b1")
    assert w.pending_pages == 1
    w.write(staging.prepare_page([rec(i, name="y" * 200) for i in range(10, 20)]), "b2")
    assert w.pending_pages == 0 and cursor(conn) == "b2"

    now = [0.0]
    w = batch_writer(conn, max_rows=10**9, max_bytes=2**40, max_seconds=30, clock=lambda: now[0])
    w.write([rec(100)], "s1")
    now[0] = 29.0
    w.write([rec(101)], "s2")
    assert w.pending_pages == 2 and cursor(conn) == "b2"
    now[0] = 30.0
    w.write([rec(102)], "s3")  # the first page written 30 s after the batch began ends it
    assert w.pending_pages == 0 and cursor(conn) == "s3"


def test_batch_duplicates_across_pages_collapse_within_one_transaction(conn):
    w = batch_writer(conn, max_rows=10**9, max_bytes=2**40, max_seconds=1e9)
    c1 = w.write([rec(1, "2024-05-01T00:00:00Z", name="old"), rec(2)], "t1")
    c2 = w.write([rec(1, "2024-06-01T00:00:00Z", name="new"), rec(2)], "t2")
    c3 = w.write([rec(1, "2024-05-15T00:00:00Z", name="older")], "t3")
    w.commit()
    assert (c1.inserted, c2.inserted, c2.updated, c2.unchanged) == (2, 0, 1, 1)
    assert (c3.updated, c3.unchanged) == (0, 1)
    assert rows(conn)[1][2]["name"] == "new" and cursor(conn) == "t3"


def test_crash_between_batches_loses_nothing_and_mid_batch_loses_only_the_batch(conn):
    w = batch_writer(conn, max_rows=2, max_bytes=2**40, max_seconds=1e9)
    w.write([rec(1), rec(2)], "t1")  # committed
    w.write([rec(3)], "t2")  # pending
    # The process dies here: the pending transaction never commits (closing the connection
    # is what a SIGKILL leaves on disk: the last commit).
    path = conn.execute("SELECT path FROM duckdb_databases() WHERE NOT internal").fetchall()
    conn.close()
    again = duckdb.connect(path[0][0])
    wh.configure_connection(again)
    try:
        assert cursor(again) == "t1" and set(rows(again)) == {1, 2}
        # The re-run resumes from t1 and re-reads the lost page: nothing lost, nothing doubled.
        w = wh.PageBatchWriter(again, entity="customers", tenant_id=T1, connection_name="main")
        with w:
            assert w.write([rec(3)], "t2").inserted == 1
            assert w.write([rec(4)], "t3").inserted == 1
        assert cursor(again) == "t3" and set(rows(again)) == {1, 2, 3, 4}
    finally:
        again.close()


def test_batch_failure_inside_a_write_rolls_back_the_whole_batch(conn, monkeypatch):
    write(conn, [rec(1)], cursor="tok-1")
    w = batch_writer(conn, max_rows=10**9, max_bytes=2**40, max_seconds=1e9)
    w.write([rec(2)], "tok-2")
    real = wh._insert_rejects

    def boom(*a, **k):
        real(*a, **k)
        raise RuntimeError("crash between rows and cursor")

    monkeypatch.setattr(wh, "_insert_rejects", boom)
    with pytest.raises(RuntimeError), w:
        w.write([rec(3)], "tok-3")
    monkeypatch.setattr(wh, "_insert_rejects", real)
    # Both pages of the batch are gone, the cursor is the last committed one.
    assert set(rows(conn)) == {1} and cursor(conn) == "tok-1"
    assert w.pending_pages == 0
    assert write(conn, [rec(2)], cursor="tok-2").inserted == 1


def test_batch_error_from_outside_commits_what_was_written(conn):
    w = batch_writer(conn, max_rows=10**9, max_bytes=2**40, max_seconds=1e9)
    with pytest.raises(ConnectionError), w:
        w.write([rec(1)], "tok-1")
        w.write([rec(2)], "tok-2")
        raise ConnectionError("the API failed while the next page was downloading")
    assert set(rows(conn)) == {1, 2} and cursor(conn) == "tok-2"


def test_batch_keep_cursor_pages_and_empty_pages(conn):
    write(conn, [rec(1)], cursor="tok-1")
    w = batch_writer(conn, max_rows=10**9, max_bytes=2**40, max_seconds=1e9)
    with w:
        w.write([rec(2)])  # KEEP_CURSOR
        w.write([])
    assert cursor(conn) == "tok-1" and set(rows(conn)) == {1, 2}
    with batch_writer(conn) as w:
        w.write([], "end")
    assert cursor(conn) == "end"


def test_payload_column_is_json_and_not_revalidated(conn):
    page = staging.prepare_page([rec(1, note='é ✓ "quoted"')])
    assert page.table.schema.field("payload").type == pa.json_(pa.large_string())
    write(conn, page)
    (typ, text) = conn.execute(
        "SELECT typeof(payload), payload->>'$.note' FROM raw_servicetitan.customers"
    ).fetchall()[0]
    assert typ == "JSON" and text == 'é ✓ "quoted"'
    assert rows(conn)[1][2] == rec(1, note='é ✓ "quoted"')


def test_open_batch_does_not_keep_written_pages_alive(conn):
    # A page registered as a view stayed referenced by DuckDB's catalog until the transaction
    # ended, i.e. a batch kept every page it had written in memory.
    import sys

    w = batch_writer(conn, max_rows=10**9, max_bytes=2**40, max_seconds=1e9)
    page = staging.prepare_page([rec(1), rec(2)])
    before = sys.getrefcount(page.table)
    w.write(page, "t1")
    w.write([rec(3)], "t2")
    after = sys.getrefcount(page.table)  # (not inside the assert: pytest keeps its operands)
    assert w.pending_pages == 2 and after == before
    w.commit()
    assert set(rows(conn)) == {1, 2, 3}


def test_writer_threads_lowers_and_restores(conn):
    def threads():
        return int(conn.execute("SELECT current_setting('threads')").fetchall()[0][0])

    conn.execute("SET threads = 4")
    with wh.writer_threads(conn, 1):
        assert threads() == 1
    assert threads() == 4
    conn.execute("SET threads = 1")
    with wh.writer_threads(conn, 2):
        assert threads() == 1
    assert threads() == 1
