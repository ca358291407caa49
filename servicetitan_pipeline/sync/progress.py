"""How far the running syncs are: records and pages so far, rate, elapsed, and the total.

A first sync of a large tenant takes many minutes, so whoever watches it (a person at a
terminal, a CI log, the Dagster UI's run log) wants to see it move. This module is the model
only, with no I/O: the sync engine reports each page it wrote through an
:class:`EntityProgress`'s :meth:`~EntityProgress.page` (``sync_entity(on_page=...)``), worker
threads of ``sync.concurrent`` feed one :class:`SyncProgress` side by side, and renderers read
consistent snapshots (:meth:`SyncProgress.snapshot`) whenever they like:

* ``cli.progress`` draws a live display on a terminal, or plain lines when stdout is not one;
* ``defs.ingestion`` logs plain lines to the run log (:class:`ProgressLines`: at most one per
  entity every N seconds, so a run of many minutes does not flood the log).

The total is ServiceTitan's own ``totalCount`` (list endpoints, asked with ``includeTotal``);
export endpoints give none, and then no percentage is shown: no guess.

The clock is injectable (monotonic seconds), so that tests drive time themselves.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], float]

# Plain progress lines: at most one per running entity this often (seconds).
DEFAULT_LINE_SECONDS = 10.0


@dataclass(frozen=True)
class EntitySnapshot:
    """One entity of one tenant at one instant.

    ``total``: the records ServiceTitan says this pass will read (``totalCount``), None when
    it does not say (export endpoints). ``finished``: the sync ended (``failed`` tells how).
    """

    number: int  # its place in the model, in the order the syncs started (an identity)
    connection_name: str
    entity: str
    records: int
    pages: int
    total: int | None
    started_at: float  # the model's clock
    elapsed_seconds: float
    finished: bool = False
    failed: bool = False

    @property
    def rate(self) -> float:
        """Records per second since the entity started (0 before any time has passed)."""
        return self.records / self.elapsed_seconds if self.elapsed_seconds > 0 else 0.0

    @property
    def percent(self) -> int | None:
        """How much of ``total`` is read, 0-100 (records that arrived since the count was
        taken can pass it: capped); None without a total."""
        if self.total is None:
            return None
        if self.total <= 0:
            return 100
        return min(100, self.records * 100 // self.total)

    def line(self, *, with_connection: bool = True) -> str:
        """The plain line, e.g. ``north: customers: 12,000 of 20,000 records (60%), 12 pages,
        3,400 records/s, 3.5s``; a finished entity's starts ``done:`` (or ``failed after``)."""
        counted = f"{self.records:,}"
        if self.total is not None:
            counted += f" of {self.total:,}"
        counted += " records"
        if self.percent is not None and not self.finished:
            counted += f" ({self.percent}%)"
        pages = f"{self.pages:,} page" + ("" if self.pages == 1 else "s")
        figures = f"{counted}, {pages}, {self.rate:,.0f} records/s, {self.elapsed_seconds:.1f}s"
        if self.failed:
            figures = f"failed after {figures}"
        elif self.finished:
            figures = f"done: {figures}"
        who = f"{self.connection_name}: " if with_connection else ""
        return f"{who}{self.entity}: {figures}"


class EntityProgress:
    """The running count of one entity of one tenant, fed by its sync's thread.

    Created by :meth:`SyncProgress.start`; every method takes the model's lock, so a renderer
    on another thread never sees a page half counted.
    """

    def __init__(
        self, lock: threading.Lock, clock: Clock, number: int, connection_name: str, entity: str
    ) -> None:
        self._lock = lock
        self._clock = clock
        self._number = number
        self.connection_name = connection_name
        self.entity = entity
        self._started = clock()
        self._ended: float | None = None
        self._records = 0
        self._pages = 0
        self._total: int | None = None
        self._failed = False

    def page(self, records: int, total: int | None = None) -> None:
        """One more page of ``records`` records written; ``total``: ServiceTitan's
        ``totalCount`` when the page carried one (the latest is kept)."""
        with self._lock:
            self._records += records
            self._pages += 1
            if total is not None:
                self._total = total

    def finish(self, *, failed: bool = False) -> None:
        """The sync ended (its elapsed time stops here); a second call changes nothing."""
        with self._lock:
            if self._ended is None:
                self._ended = self._clock()
                self._failed = failed

    def _snapshot(self, now: float) -> EntitySnapshot:
        # Called with the lock held.
        end = self._ended if self._ended is not None else now
        return EntitySnapshot(
            number=self._number,
            connection_name=self.connection_name,
            entity=self.entity,
            records=self._records,
            pages=self._pages,
            total=self._total,
            started_at=self._started,
            elapsed_seconds=max(0.0, end - self._started),
            finished=self._ended is not None,
            failed=self._failed,
        )


class SyncProgress:
    """Every entity sync started in this model, in the order they started; thread-safe."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._entities: list[EntityProgress] = []

    def start(self, connection_name: str, entity: str) -> EntityProgress:
        """A new entity sync begins now: its running count (a tenant's entity synced again,
        by a later run, gets a new one)."""
        with self._lock:
            number = len(self._entities)
            progress = EntityProgress(self._lock, self._clock, number, connection_name, entity)
            self._entities.append(progress)
        return progress

    def snapshot(self) -> list[EntitySnapshot]:
        """Every entity as it stands now, all taken at the same instant."""
        with self._lock:
            now = self._clock()
            return [e._snapshot(now) for e in self._entities]


class ProgressLines:
    """Plain progress lines for a log: at most one per running entity every
    ``every_seconds`` (the first that long after it started, so that the many entities that
    take a second say nothing), and, with ``finals``, one line when it ends.

    Keeps what it has said; each consumer (the run log, the CLI's plain output) has its own.
    """

    def __init__(
        self,
        progress: SyncProgress,
        *,
        every_seconds: float = DEFAULT_LINE_SECONDS,
        finals: bool = True,
        with_connection: bool = True,
    ) -> None:
        if every_seconds < 0:
            raise ValueError(f"every_seconds must be >= 0, got {every_seconds}")
        self.progress = progress
        self._every = every_seconds
        self._finals = finals
        self._with_connection = with_connection
        # Per entity sync (its snapshot's number: the same entity of a later run is another):
        # when its last line was said, and which have had their final line.
        self._said_at: dict[int, float] = {}
        self._ended: set[int] = set()

    def due(self) -> list[str]:
        """The lines to write now, in the order the entities started."""
        lines: list[str] = []
        for snap in self.progress.snapshot():
            if snap.number in self._ended:
                continue
            if snap.finished:
                self._ended.add(snap.number)
                if self._finals:
                    lines.append(snap.line(with_connection=self._with_connection))
                continue
            now = snap.started_at + snap.elapsed_seconds
            said = self._said_at.get(snap.number, snap.started_at)
            # `now > said`: with every_seconds 0, one line per change of the clock, not a
            # flood of identical lines per call.
            if now - said >= self._every and now > said:
                self._said_at[snap.number] = now
                lines.append(snap.line(with_connection=self._with_connection))
        return lines


# The model of the runs of this process, when something watches them (the CLI's display):
# the ingestion step feeds the watched one, so a run executed in-process shows its progress.
_watched: SyncProgress | None = None
_watched_lock = threading.Lock()


def watch(progress: SyncProgress | None) -> SyncProgress | None:
    """Make ``progress`` the model that :func:`run_progress` returns (``None``: none);
    returns the previous one, to be put back."""
    global _watched
    with _watched_lock:
        previous, _watched = _watched, progress
    return previous


def run_progress() -> SyncProgress:
    """The model a run's syncs feed: the watched one (:func:`watch`), else a new one."""
    with _watched_lock:
        return _watched if _watched is not None else SyncProgress()


__all__ = [
    "DEFAULT_LINE_SECONDS",
    "EntityProgress",
    "EntitySnapshot",
    "ProgressLines",
    "SyncProgress",
    "run_progress",
    "watch",
]
