"""Several tenants' entities synced at once into one DuckDB database.

A sync's time is mostly DuckDB compressing and writing payloads (``bench/README.md``), which
runs on the calling thread without Python's lock, and, against the real API, waiting for
ServiceTitan (each tenant has its own rate limit: 60 requests/second per app *and tenant*).
One process may write a DuckDB file; inside it, work items written side by side on their own
connections to the one database finish sooner than one after another. A work item is one
entity of one tenant. This module runs ``sync_entity`` for the items on a few worker threads
and hands each outcome back, in order of completion, to the calling thread:

* each tenant's items use that tenant's own client (``client.with_own_stats()`` views of it:
  the tenant's token, connection pool, rate limiter and retry budget; their own request
  counters, so each item's metadata counts its own requests);
* each worker has its own DuckDB connection (``conn.cursor()``: a new connection to the same
  database). Two tenants' items of the same entity write the same table at once: their rows
  differ by ``_tenant_id``, as do their ``_sync_state`` and ``_rejected`` rows, and DuckDB's
  optimistic concurrency accepts concurrent transactions that touch different rows (upserts,
  a full refresh's delete; ``tests/unit/sync/test_tenant_syncs.py`` runs them side by side);
* the raw tables are created first, on the calling thread: DuckDB refuses concurrent catalog
  changes ("write-write conflict");
* DuckDB's writer bounds (memory limit, thread count) are settings of the whole database:
  they are set once around all the workers, the memory limit scaled by their number;
* the items start largest entity first (by the rows stored, else the entity table's order),
  interleaved across tenants (the first entity of every tenant, then the second...), so every
  tenant downloads from the start and the last to finish is a small one; at most
  ``workers_per_tenant`` items of one tenant run at once (its rate limit is the bound there),
  ``max_workers`` in all;
* a tenant whose credentials are refused (or whose settings cannot work) fails once: its
  first item asks for the token while its others wait, and after an authentication or
  settings error its remaining items fail at once with that same error, without a request;
* log lines are relayed to the calling thread, which alone talks to the caller's logger
  (Dagster's ``context.log`` writes the run's event log); with several tenants each line
  starts with its connection name;
* one item's failure is its outcome: the others go on;
* with a progress model (``run(progress=...)``, ``sync.progress``), every item feeds it page
  by page from its worker, and the calling thread logs its plain lines while it waits.

In a DuckLake (``warehouse.lake``) the same workers write side by side, and so may other
processes: one writer process at a time is the DuckDB *file*'s limit (its lock), not the
lake's, whose catalog in PostgreSQL orders commits from any number of processes. What two
writers there may not do is commit changes that conflict (one deleting from a table the
other inserted into meanwhile): the writer replays such a transaction from the pages it
still holds (``batch.PageBatchWriter``), and cursors are appended, never updated, so that
different entities never conflict (``schema.ensure_sync_tables``). The checkpoint at the end
is the file's; a lake's CHECKPOINT is maintenance, not run here.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import duckdb

from servicetitan_pipeline.client import (
    DEFAULT_LIST_PAGE_SIZE,
    AuthenticationError,
    ServiceTitanClient,
    SettingsError,
)
from servicetitan_pipeline.entities import ENTITIES, Entity
from servicetitan_pipeline.sync.engine import SyncLog, SyncResult, sync_entity
from servicetitan_pipeline.sync.progress import ProgressLines, SyncProgress
from servicetitan_pipeline.warehouse import session
from servicetitan_pipeline.warehouse.lake import is_lake_connection, lake_cursor
from servicetitan_pipeline.warehouse.schema import RAW_SCHEMA, RecordFields, ensure_entity_table

DEFAULT_WORKERS = 2  # the machines this runs on have 2 cores; a third writer only queues
# One tenant's items at once: two keep its API busy while the other writes; more only share
# the tenant's rate limit.
DEFAULT_WORKERS_PER_TENANT = 2
# All items at once: workers mostly wait for the API (each tenant's own rate limit) when
# several tenants run, so more than the cores pay; each adds a DuckDB connection and its
# share of the memory limit.
DEFAULT_MAX_WORKERS = 8
_LOG_POLL_SECONDS = 0.2

# Errors that concern a tenant, not one of its entities: refused credentials, settings that
# cannot work (a URL that does not answer TLS, a host that does not exist). After the first,
# the tenant's other entities fail with it at once instead of each asking again.
TENANT_WIDE_ERRORS: tuple[type[Exception], ...] = (AuthenticationError, SettingsError)


@dataclass(frozen=True)
class EntityOutcome:
    """What became of one entity of one tenant: its result, or the exception that ended its
    sync. ``skipped``: the sync never started, its tenant having already failed with
    ``error`` (refused credentials): the same exception object as the tenant's first item's."""

    entity: Entity
    result: SyncResult | None
    error: Exception | None
    connection_name: str
    tenant_id: int
    skipped: bool = False


@dataclass(frozen=True)
class TenantSync:
    """What to sync for one tenant: its connection name, its own client, the entities, and
    which of them to fully refresh (entity name -> refresh it; absent: incremental)."""

    connection_name: str
    client: ServiceTitanClient
    entities: Sequence[Entity]
    full_refresh: Mapping[str, bool] = field(default_factory=dict)


class _RelayedLog:
    """A ``SyncLog`` for a worker thread: lines go to a queue the calling thread empties."""

    def __init__(self, lines: queue.Queue[tuple[str, str]], prefix: str = "") -> None:
        self._lines = lines
        self._prefix = prefix

    def info(self, msg: str, /) -> None:
        self._lines.put(("info", self._prefix + msg))

    def debug(self, msg: str, /) -> None:
        self._lines.put(("debug", self._prefix + msg))


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


class _Tenant:
    """A tenant while its items run: how many run now, and the error that failed it."""

    def __init__(self, sync: TenantSync, relayed: SyncLog) -> None:
        self.sync = sync
        self.tenant_id = sync.client.tenant_id
        self.log = relayed
        self.running = 0
        self.failure: Exception | None = None
        # Held while an item makes sure of the tenant's token: the first asks, the others
        # wait and then reuse it -- or see the failure and do not ask again.
        self.gate = threading.Lock()


@dataclass(frozen=True)
class _Item:
    tenant: _Tenant
    entity: Entity


class _TenantFailed(Exception):
    """Raised in a worker whose tenant failed meanwhile: the item did not start."""

    def __init__(self, failure: Exception) -> None:
        super().__init__(str(failure))
        self.failure = failure


def interleaved(tenants: Sequence[Sequence[Entity]]) -> list[tuple[int, Entity]]:
    """(tenant index, entity) work items, each tenant's entities in its own order, taken in
    turn: the first of every tenant, then the second of every tenant, and so on."""
    rounds = max((len(entities) for entities in tenants), default=0)
    return [
        (n, entities[r])
        for r in range(rounds)
        for n, entities in enumerate(tenants)
        if r < len(entities)
    ]


class TenantSyncs:
    """Syncs several tenants' entities into the database of ``conn``: at most
    ``workers_per_tenant`` items of one tenant at once, ``max_workers`` in all."""

    def __init__(
        self,
        conn: duckdb.DuckDBPyConnection,
        tenants: Sequence[TenantSync],
        *,
        list_page_size: int = DEFAULT_LIST_PAGE_SIZE,
        workers_per_tenant: int = DEFAULT_WORKERS_PER_TENANT,
        max_workers: int = DEFAULT_MAX_WORKERS,
    ) -> None:
        if workers_per_tenant < 1:
            raise ValueError(f"workers_per_tenant must be at least 1, got {workers_per_tenant}")
        if max_workers < 1:
            raise ValueError(f"max_workers must be at least 1, got {max_workers}")
        names = [t.connection_name for t in tenants]
        ids = [str(t.client.tenant_id) for t in tenants]
        for what, values in (("connection name", names), ("tenant ID", ids)):
            # Two syncs of one tenant would write the same rows at once and conflict.
            twice = sorted({v for v in values if values.count(v) > 1})
            if twice:
                raise ValueError(f"each tenant once: {what} {', '.join(twice)} given twice")
        self._conn = conn
        self._tenants = list(tenants)
        self._list_page_size = list_page_size
        self._workers_per_tenant = workers_per_tenant
        self._max_workers = max_workers
        self._lake = False  # decided when run() starts (is_lake_connection)

    def run(
        self, *, log: SyncLog, progress: ProgressLines | None = None
    ) -> Iterator[EntityOutcome]:
        """Sync every tenant's entities; yield each outcome as it completes (on the calling
        thread, which also writes every worker's log lines to ``log``).

        ``progress``: the model the items feed (``progress.progress``), and the plain
        progress lines the calling thread logs to ``log`` as they fall due."""
        everything = {e.name: e for t in self._tenants for e in t.entities}
        order = {e.name: n for n, e in enumerate(largest_first(self._conn, everything.values()))}
        if not order:
            return
        lake = self._lake = is_lake_connection(self._conn)
        for name in order:
            # Catalog changes, one at a time, before any worker starts (see the module doc).
            entity = everything[name]
            ensure_entity_table(self._conn, entity.name, RecordFields.of(entity), lake=lake)
        lines: queue.Queue[tuple[str, str]] = queue.Queue()
        several = len(self._tenants) > 1
        tenants = [
            _Tenant(t, _RelayedLog(lines, f"{t.connection_name}: " if several else ""))
            for t in self._tenants
        ]
        per_tenant = [sorted(t.entities, key=lambda e: order[e.name]) for t in self._tenants]
        pending = deque(_Item(tenants[n], entity) for n, entity in interleaved(per_tenant))
        workers = min(
            self._max_workers,
            sum(min(self._workers_per_tenant, len(entities)) for entities in per_tenant),
        )
        limit = session.WRITER_MEMORY_LIMIT_BYTES * workers
        with (
            session.bounded_memory(self._conn, limit),
            session.writer_threads(self._conn),
            ThreadPoolExecutor(workers, thread_name_prefix="entity-sync") as pool,
        ):
            running: dict[Future[SyncResult], _Item] = {}
            done: queue.Queue[Future[SyncResult]] = queue.Queue()
            while pending or running:
                # Start what the caps allow, in the interleaved order; a failed tenant's
                # items fail now, without a worker.
                for item in list(pending):
                    if item.tenant.failure is not None:
                        pending.remove(item)
                        yield self._skipped(item, item.tenant.failure)
                    elif len(running) < workers and item.tenant.running < self._workers_per_tenant:
                        pending.remove(item)
                        item.tenant.running += 1
                        model = progress.progress if progress is not None else None
                        future = pool.submit(self._sync_one, item, model)
                        running[future] = item
                        future.add_done_callback(done.put)
                if not running:
                    continue
                future = _wait(done, lines, log, progress)
                item = running.pop(future)
                item.tenant.running -= 1
                _drain(lines, log, progress)
                yield self._outcome(item, future)
            # What the workers committed, checkpointed within the bounds: each worker's own
            # checkpoint is deferred while another still writes.
            if not lake:
                session.checkpoint(self._conn)

    def _outcome(self, item: _Item, future: Future[SyncResult]) -> EntityOutcome:
        error = future.exception()
        tenant = item.tenant
        if error is None:
            return EntityOutcome(
                item.entity, future.result(), None, tenant.sync.connection_name, tenant.tenant_id
            )
        if isinstance(error, _TenantFailed):
            return self._skipped(item, error.failure)
        if isinstance(error, Exception):
            return EntityOutcome(
                item.entity, None, error, tenant.sync.connection_name, tenant.tenant_id
            )
        raise error  # KeyboardInterrupt, SystemExit: not an entity's failure

    @staticmethod
    def _skipped(item: _Item, failure: Exception) -> EntityOutcome:
        tenant = item.tenant
        return EntityOutcome(
            item.entity, None, failure, tenant.sync.connection_name, tenant.tenant_id, True
        )

    def _sync_one(self, item: _Item, progress: SyncProgress | None) -> SyncResult:
        tenant = item.tenant
        client = tenant.sync.client
        with tenant.gate:
            if tenant.failure is not None:
                raise _TenantFailed(tenant.failure)
            try:
                client.get_token()  # cached after the first item's request
            except TENANT_WIDE_ERRORS as exc:
                tenant.failure = exc
                raise
        counted = (
            progress.start(tenant.sync.connection_name, item.entity.name)
            if progress is not None
            else None
        )
        failed = True
        try:
            # A lake's cursor must be pointed at the lake (lake.lake_cursor says why).
            worker = lake_cursor(self._conn) if self._lake else self._conn.cursor()
            with worker as conn:
                result = sync_entity(
                    item.entity,
                    client.with_own_stats(),
                    conn,
                    connection_name=tenant.sync.connection_name,
                    full_refresh=tenant.sync.full_refresh.get(item.entity.name, False),
                    list_page_size=self._list_page_size,
                    log=tenant.log,
                    own_writer_bounds=False,
                    on_page=counted.page if counted is not None else None,
                )
            failed = False
            return result
        except TENANT_WIDE_ERRORS as exc:
            # Credentials refused mid-run (a renewed token): the tenant's other items stop.
            with tenant.gate:
                if tenant.failure is None:
                    tenant.failure = exc
            raise
        finally:
            if counted is not None:
                counted.finish(failed=failed)


class EntitySyncs:
    """Syncs entities of one tenant into the database of ``conn``, ``workers`` at a time
    (a :class:`TenantSyncs` of one tenant)."""

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
        tenant = TenantSync(self._connection_name, self._client, list(entities), self._full_refresh)
        syncs = TenantSyncs(
            self._conn,
            [tenant],
            list_page_size=self._list_page_size,
            workers_per_tenant=self._workers,
            max_workers=self._workers,
        )
        yield from syncs.run(log=log)


def _wait(
    done: queue.Queue[Future[SyncResult]],
    lines: queue.Queue[tuple[str, str]],
    log: SyncLog,
    progress: ProgressLines | None,
) -> Future[SyncResult]:
    """The next finished sync, relaying log lines (and progress lines) while waiting."""
    while True:
        _drain(lines, log, progress)
        try:
            return done.get(timeout=_LOG_POLL_SECONDS)
        except queue.Empty:
            continue


def _drain(
    lines: queue.Queue[tuple[str, str]], log: SyncLog, progress: ProgressLines | None
) -> None:
    for line in progress.due() if progress is not None else ():
        log.info(line)
    while True:
        try:
            level, msg = lines.get_nowait()
        except queue.Empty:
            return
        (log.debug if level == "debug" else log.info)(msg)


__all__ = [
    "DEFAULT_MAX_WORKERS",
    "DEFAULT_WORKERS",
    "DEFAULT_WORKERS_PER_TENANT",
    "TENANT_WIDE_ERRORS",
    "EntityOutcome",
    "EntitySyncs",
    "TenantSync",
    "TenantSyncs",
    "interleaved",
    "largest_first",
]
