"""The writer's DuckDB session bounds: memory limit and threads, lowered and restored."""

from __future__ import annotations

from servicetitan_pipeline.warehouse import session


def test_bounded_memory_lowers_and_restores(conn):
    def limit():
        return session._size_bytes(
            conn.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
        )

    conn.execute("SET memory_limit = '4GiB'")
    with session.bounded_memory(conn, 256 * 2**20):
        assert limit() == 256 * 2**20
    assert limit() == 4 * 2**30
    # Never raises a lower limit.
    conn.execute("SET memory_limit = '100MiB'")
    with session.bounded_memory(conn, 256 * 2**20):
        assert limit() == 100 * 2**20
    assert session._size_bytes("18.8 GiB") == 18.8 * 2**30 and session._size_bytes("junk") is None


def test_writer_threads_lowers_and_restores(conn):
    def threads():
        return int(conn.execute("SELECT current_setting('threads')").fetchall()[0][0])

    conn.execute("SET threads = 4")
    with session.writer_threads(conn, 1):
        assert threads() == 1
    assert threads() == 4
    conn.execute("SET threads = 1")
    with session.writer_threads(conn, 2):
        assert threads() == 1
    assert threads() == 1
