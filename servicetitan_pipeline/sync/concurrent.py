"""Several entities synced at once into one DuckDB database.

A sync's time is mostly DuckDB compressing and writing payloads (``bench/README.md``), which
runs on the calling thread without Python's lock. One process may write a DuckDB file, and
inside it each entity has its own table, cursor row and transactions, so entities written side
by side on their own connections to the one database never conflict and finish sooner than
one after another. This module runs ``sync_entity`` for a list of entities on a few worker
threads and hands each outcome back, in order of completion, to the calling thread:

* each worker has its own DuckDB connection (``conn.cursor()``: a new connection to the same
  database) and its own view of the client (shared token, connection pool and rate limiter;
  its own request counters, so each entity's metadata counts its own requests);
* the raw tables are created first, on the calling thread: DuckDB refuses concurrent catalog
  changes ("write-write conflict");
* DuckDB's writer bounds (memory limit, thread count) are settings of the whole database:
  they are set once around all the workers, the memory limit scaled by their number;
* the largest entities (by the rows stored, else the entity table's order) start first, so
  the last to finish is a small one;
* log lines are relayed to the calling thread, which alone talks to the caller's logger
  (Dagster's ``context.log`` writes the run's event log);
* one entity's failure is its outcome: the others go on.
"""

from __future__ import annotations

import queue
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import duckdb

from servicetitan_pipeline.client import DEFAULT_LIST_PAGE_SIZE, ServiceTitanClient
from servicetitan_pipeline.entities import ENTITIES, Entity
from servicetitan_pipeline.sync.engine import SyncLog, SyncResult, sync_entity
from servicetitan_pipeline.warehouse import session
from servicetitan_pipeline.warehouse.schema import RAW_SCHEMA, RecordFields, ensure_entity_table

DEFAULT_WORKERS = 2  # the machines this runs on have 2 cores; a third writer only queues
_LOG_POLL_SECONDS = 0.2


@dataclass(frozen=True)
class EntityOutcome:
    """What became of one entity: its result, or the exception that ended its sync."""

    entity: Entity
    result: SyncResult | None
    error: Exception | None


class _RelayedLog:
    """A ``SyncLog`` for a worker thread: lines go to a queue the calling thread empties."""

    def __init__(self, lines: queue.Queue[tuple[str, str]]) -> None:
        self._lines = lines

    def info(self, msg: str, /) -> None:
        self._lines.put(("info", msg))

    def debug(self, msg: str, /) -> None:
        self._lines.put(("debug", msg))


def largest_first(conn: duckdb.DuckDBPyConnection, entities: Iterable[Entity]) -> list[Entity]:
    """``entities`` in the order to start them: the most rows stored first (DuckDB's own
    estimate, free to read; the best guess of the work an entity brings), ties -- every
    entity on a first sync -- in the entity table's order, which lists the largest entities
    of a tenant (customers, jobs, invoices...) early."""
    stored = dict(
        conn.execute(
            "SELECT table_name, estimated_size FROM duckdb_tables() WHERE schema_name = ?",
            [RAW_SCHEMA],
        ).fetchall()
    )
    position = {entity.name: n for n, entity in enumerate(ENTITIES)}
    return sorted(
        entities,
        key=lambda e: (-int(stored.get(e.name) or 0), position.get(e.name, len(position))),
    )


class EntitySyncs:
    """Syncs entities into the database of ``conn``, ``workers`` at a time."""

    def __init__(
        self,
        conn: duckdb.DuckDBPyConnection,
        client: ServiceTitanClient,
        *,
        connection_name: str,
        full_refresh: Mapping[str, bool] | None = None,
        list_page_size: int = DEFAULT_LIST_PAGE_SIZE,
        workers: int = DEFAULT_WORKERS,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self._conn = conn
        self._client = client
        self._connection_name = connection_name
        self._full_refresh = dict(full_refresh or {})  # entity name -> refresh it; else not
        self._list_page_size = list_page_size
        self._workers = workers

    def run(self, entities: Iterable[Entity], *, log: SyncLog) -> Iterator[EntityOutcome]:
        """Sync ``entities``; yield each outcome as it completes (on the calling thread, which
        also writes every worker's log lines to ``log``)."""
        ordered = largest_first(self._conn, entities)
        if not ordered:
            return
        for entity in ordered:
            # Catalog changes, one at a time, before any worker starts (see the module doc).
            ensure_entity_table(self._conn, entity.name, RecordFields.of(entity))
        workers = min(self._workers, len(ordered))
        lines: queue.Queue[tuple[str, str]] = queue.Queue()
        relayed = _RelayedLog(lines)
        limit = session.WRITER_MEMORY_LIMIT_BYTES * workers
        with (
            session.bounded_memory(self._conn, limit),
            session.writer_threads(self._conn),
            ThreadPoolExecutor(workers, thread_name_prefix="entity-sync") as pool,
        ):
            futures: dict[Future[SyncResult], Entity] = {
                pool.submit(self._sync_one, entity, relayed): entity for entity in ordered
            }
            done: queue.Queue[Future[SyncResult]] = queue.Queue()
            for future in futures:
                future.add_done_callback(done.put)
            for _ in range(len(futures)):
                future = _wait(done, lines, log)
                entity = futures[future]
                _drain(lines, log)
                error = future.exception()
                if error is None:
                    yield EntityOutcome(entity, future.result(), None)
                elif isinstance(error, Exception):
                    yield EntityOutcome(entity, None, error)
                else:  # KeyboardInterrupt, SystemExit: not an entity's failure
                    raise error
            # What the workers committed, checkpointed within the bounds: each worker's own
            # checkpoint is deferred while another still writes.
            session.checkpoint(self._conn)

    def _sync_one(self, entity: Entity, log: SyncLog) -> SyncResult:
        with self._conn.cursor() as conn:
            return sync_entity(
                entity,
                self._client.with_own_stats(),
                conn,
                connection_name=self._connection_name,
                full_refresh=self._full_refresh.get(entity.name, False),
                list_page_size=self._list_page_size,
                log=log,
                own_writer_bounds=False,
            )


def _wait(
    done: queue.Queue[Future[SyncResult]], lines: queue.Queue[tuple[str, str]], log: SyncLog
) -> Future[SyncResult]:
    """The next finished sync, relaying log lines while waiting."""
    while True:
        _drain(lines, log)
        try:
            return done.get(timeout=_LOG_POLL_SECONDS)
        except queue.Empty:
            continue


def _drain(lines: queue.Queue[tuple[str, str]], log: SyncLog) -> None:
    while True:
        try:
            level, msg = lines.get_nowait()
        except queue.Empty:
            return
        (log.debug if level == "debug" else log.info)(msg)


__all__ = ["DEFAULT_WORKERS", "EntityOutcome", "EntitySyncs", "largest_first"]
