"""Several pages per transaction (PageBatchWriter): boundaries, splits, crashes."""

from __future__ import annotations

import duckdb
import pytest
from warehouse_helpers import (
    T1,
    batch_writer,
    cursor,
    other_conn,
    rec,
    rejected_count,
    rows,
    write,
)

from servicetitan_pipeline.sync.pages import prepare_page
from servicetitan_pipeline.warehouse import batch, session, upsert


def test_batch_commits_by_rows_with_cursor_of_its_last_page(conn):
    reader = other_conn(conn)
    w = batch_writer(conn, max_rows=4, max_bytes=2**40, max_seconds=1e9)
    w.write([rec(1), rec(2)], "tok-1")
    # Nothing visible yet: rows and cursor are in one open transaction.
    assert w.commits == 0 and cursor(reader) is None
    assert reader.execute("SELECT count(*) FROM raw_servicetitan.customers").fetchall() == [(0,)]
    w.write([rec(3), rec(4)], "tok-2")  # 4 rows: the batch ends with this page
    assert w.commits == 1
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
    assert rejected_count(reader, entity="customers", tenant_id=T1) == 1


def test_a_run_killed_between_the_parts_of_a_split_page_rereads_it_exactly(conn, monkeypatch):
    w = batch_writer(conn, max_rows=4, max_bytes=2**40, max_seconds=1e9)
    w.write([rec(1), rec(2), rec(3)], "p1")
    real = batch.write_in_transaction
    calls = {"n": 0}

    def killed_on_the_tail(*a, **k):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("killed between the two parts")
        return real(*a, **k)

    monkeypatch.setattr(batch, "write_in_transaction", killed_on_the_tail)
    with pytest.raises(KeyboardInterrupt):
        w.write([rec(4), rec(5, name="tail")], "p2")
    monkeypatch.setattr(batch, "write_in_transaction", real)
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
    session.checkpoint(conn)
    sizes = conn.execute(
        "SELECT row_group_id, max(count) FROM pragma_storage_info('raw_servicetitan.customers') "
        "GROUP BY ALL ORDER BY 1"
    ).fetchall()
    assert [n for _, n in sizes] == [batch.ROW_GROUP_ROWS, batch.ROW_GROUP_ROWS, 250_000 - 245_760]
    assert w.commits == 3 and cursor(conn) == "p49"


def test_batch_boundaries_by_bytes_and_by_time(conn):
    page = prepare_page([rec(i, name="x" * 200) for i in range(10)])
    w = batch_writer(conn, max_rows=10**9, max_bytes=2 * page.table.nbytes, max_seconds=1e9)
    w.write(page, "b1")
    assert w.commits == 0
    w.write(prepare_page([rec(i, name="y" * 200) for i in range(10, 20)]), "b2")
    assert w.commits == 1 and cursor(conn) == "b2"

    now = [0.0]
    w = batch_writer(conn, max_rows=10**9, max_bytes=2**40, max_seconds=30, clock=lambda: now[0])
    w.write([rec(100)], "s1")
    now[0] = 29.0
    w.write([rec(101)], "s2")
    assert w.commits == 0 and cursor(conn) == "b2"
    now[0] = 30.0
    w.write([rec(102)], "s3")  # the first page written 30 s after the batch began ends it
    assert w.commits == 1 and cursor(conn) == "s3"


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
    session.configure_connection(again)
    try:
        assert cursor(again) == "t1" and set(rows(again)) == {1, 2}
        # The re-run resumes from t1 and re-reads the lost page: nothing lost, nothing doubled.
        w = batch_writer(again)
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
    real = upsert.insert_rejects

    def boom(*a, **k):
        real(*a, **k)
        raise RuntimeError("crash between rows and cursor")

    monkeypatch.setattr(upsert, "insert_rejects", boom)
    with pytest.raises(RuntimeError), w:
        w.write([rec(3)], "tok-3")
    monkeypatch.setattr(upsert, "insert_rejects", real)
    # Both pages of the batch are gone, the cursor is the last committed one.
    assert set(rows(conn)) == {1} and cursor(conn) == "tok-1"
    w.commit()  # nothing is left open: a no-op
    assert w.commits == 0 and cursor(conn) == "tok-1"
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


def test_open_batch_does_not_keep_written_pages_alive(conn):
    # A page registered as a view stayed referenced by DuckDB's catalog until the transaction
    # ended, i.e. a batch kept every page it had written in memory.
    import sys

    w = batch_writer(conn, max_rows=10**9, max_bytes=2**40, max_seconds=1e9)
    page = prepare_page([rec(1), rec(2)])
    before = sys.getrefcount(page.table)
    w.write(page, "t1")
    w.write([rec(3)], "t2")
    after = sys.getrefcount(page.table)  # (not inside the assert: pytest keeps its operands)
    assert w.commits == 0 and after == before
    w.commit()
    assert set(rows(conn)) == {1, 2, 3}


def test_a_failed_batch_says_which_entity_and_cursor_it_rolled_back(conn, monkeypatch):
    w = batch_writer(conn, max_rows=10**9, max_bytes=2**40, max_seconds=1e9)
    w.write([rec(1)], "t2\x00tail")

    def boom(*a, **k):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(upsert, "insert_rejects", boom)
    with pytest.raises(RuntimeError) as failure:
        w.write([rec(2)], "t3")
    assert failure.value.__notes__ == [
        "customers (tenant 1001): the open transaction -- pages up to the cursor 't3' -- was "
        "rolled back; the next run resumes from the last committed cursor."
    ]
    monkeypatch.undo()
    w.write([rec(1)], "t2\x00tail")
    assert w.commits == 0
    w.commit()
    assert cursor(conn) == "t2\x00tail"  # a NUL round-trips exactly
