"""DuckDB session settings of a writer: time zone, memory and thread bounds, the checkpoint.

Measurements behind the bounds are in bench/README.md.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Iterator

import duckdb

logger = logging.getLogger(__name__)


def configure_connection(conn: duckdb.DuckDBPyConnection) -> None:
    """Session settings every writer needs.

    ServiceTitan's timestamps usually carry a ``Z``, but a naive one would be read in the
    session time zone: pin it to UTC so results never depend on the machine's locale.
    """
    conn.execute("SET TimeZone = 'UTC'")


# What one writer needs: the pages in flight plus the primary-key index, which is the only
# structure that grows with the tenant (tens of bytes per row). Uncommitted rows of a batch
# (PageBatchWriter) beyond it spill to `<database>.tmp`. A larger limit bought no time and
# only raised the peak RSS.
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
    it writes cached up to that limit, so a writer's RSS grew with the tenant. A writer
    touches each block once, so the cache buys nothing; with the limit, DuckDB evicts (and, if
    ever needed, spills to ``<database>.tmp``). The previous setting is restored afterwards,
    for other users of the same database in this process.
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
    at commit; on a 2-core machine they share with the download thread, DuckDB's extra
    workers only compete with the download thread (more CPU in total, no less time). The
    previous setting is restored afterwards.
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
    thread cap are lifted, and merging partial row groups unbounded costs far more memory.
    Batches that end on a row group leave no such work; batches that end on time or bytes,
    and WAL-sized ones, still do. A failure (another transaction still open on the same
    database, say) is logged and left to the close: the data is committed either way.
    """
    started = time.monotonic()
    try:
        conn.execute("CHECKPOINT")
    except duckdb.Error as exc:
        logger.info("checkpoint deferred to the connection's close: %s", exc)
    return time.monotonic() - started
