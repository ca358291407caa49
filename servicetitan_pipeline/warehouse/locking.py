"""One writer at a time per DuckDB file, across runs and processes.

DuckDB allows a single writing process per database file. Dagster's run queue and concurrency
pool keep UI- and schedule-launched runs apart, but a `servicetitan-pipeline sync` started from a
shell (or a second `dagster dev`) does not go through that queue. Every step that writes the
warehouse therefore also holds an advisory lock on a sidecar file ``<database>.lock``: a second
writer waits for it (saying who holds it) and gives up with a clear error after ``timeout``
seconds, instead of failing half-way on DuckDB's own lock or corrupting anything.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from servicetitan_pipeline.config import DUCKDB_PATH_ENV

DEFAULT_LOCK_TIMEOUT_SECONDS = 30 * 60.0

logger = logging.getLogger(__name__)


class WarehouseBusyError(RuntimeError):
    """Another run kept the warehouse's write lock for longer than we were willing to wait."""


def lock_path_for(database: str | os.PathLike[str]) -> Path:
    return Path(f"{os.fspath(database)}.lock")


@contextlib.contextmanager
def warehouse_write_lock(
    database: str | os.PathLike[str],
    *,
    holder: str = "",
    timeout: float = DEFAULT_LOCK_TIMEOUT_SECONDS,
    poll_interval: float = 0.5,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """Hold the exclusive write lock of ``database`` for the duration of the block.

    Args:
        database: the DuckDB file path (":memory:" needs no lock).
        holder: who we are (e.g. "run 1a2b3c, asset servicetitan/jobs"), recorded in the lock
            file so that a waiting writer can say whom it waits for.
        timeout: seconds to wait before raising :class:`WarehouseBusyError`.
        poll_interval: seconds between attempts.
        on_wait: called once with a human-readable message when we start waiting.
    """
    if os.fspath(database) == ":memory:":
        yield
        return
    path = lock_path_for(database)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The lock lives on the open file description; the file itself is never deleted so that
    # two processes cannot end up locking different inodes.
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        announced = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                current = _read_holder(fd)
                if not announced:
                    message = (
                        f"waiting for the DuckDB write lock on {database}: another run is "
                        f"writing it ({current or 'holder unknown'})"
                    )
                    (on_wait or logger.info)(message)
                    announced = True
                if time.monotonic() >= deadline:
                    raise WarehouseBusyError(
                        f"gave up after {timeout:.0f}s waiting for the DuckDB write lock on "
                        f"{database}; it is held by {current or 'another process'}. Only one run "
                        "may write the warehouse at a time: wait for that run to finish, or "
                        f"point {DUCKDB_PATH_ENV} at another file."
                    ) from None
                time.sleep(poll_interval)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()} {holder}".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _read_holder(fd: int) -> str:
    try:
        return os.pread(fd, 500, 0).decode("utf-8", "replace").strip()
    except OSError:
        return ""
