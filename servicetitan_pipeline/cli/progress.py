"""Sync progress on the console: a live display on a terminal, plain lines in logs and CI.

``servicetitan-pipeline sync`` runs the sync job in this process; the ingestion step feeds the
watched ``sync.progress.SyncProgress`` (``sync.progress.watch``), and one of these renderers
reads it a few times a second on a thread of its own:

* :class:`LiveDisplay` (stdout is a terminal): one line per entity syncing now -- tenant,
  entity, records (of the total, with a percentage, where ServiceTitan gives one), pages,
  records/s, elapsed -- redrawn in place at most every quarter of a second, under a header
  that counts what is done. The run's own log lines are written above it (:class:`LiveStream`);
* :class:`PlainDisplay` (anything else: a log file, CI): ``sync.progress.ProgressLines``, at
  most one line per entity every N seconds and one when it ends.

:func:`showing_progress` picks one for a stream and runs it around a block.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TextIO

from servicetitan_pipeline.sync import progress as sync_progress
from servicetitan_pipeline.sync.progress import (
    DEFAULT_LINE_SECONDS,
    Clock,
    EntitySnapshot,
    ProgressLines,
    SyncProgress,
)

# A live display is redrawn at most this often (seconds): a few times a second reads as live
# and costs nothing next to a sync.
REDRAW_SECONDS = 0.25
# The most entity lines a live display shows (more than a sync runs at once by default, 8);
# the rest are counted on one line, so the display never scrolls the terminal.
MAX_LIVE_LINES = 10

_ERASE_LINE_ABOVE = "\x1b[1A\x1b[2K"  # cursor one line up, then clear that line


def _terminal_width() -> int:
    return shutil.get_terminal_size((100, 24)).columns


def _duration(seconds: float) -> str:
    """``42s``, ``3m05s``, ``1h02m``: short enough for a live line."""
    whole = int(seconds)
    if whole < 60:
        return f"{seconds:.0f}s" if seconds >= 10 else f"{seconds:.1f}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def live_line(snap: EntitySnapshot, *, with_connection: bool) -> str:
    """One entity's line of the live display (columns aligned for the usual sizes)."""
    who = f"{snap.connection_name:<16} " if with_connection else ""
    counted = f"{snap.records:>11,}"
    if snap.total is not None:
        counted += f" / {snap.total:,} ({snap.percent}%)"
    return (
        f"  {who}{snap.entity:<28} {counted}  {snap.pages:,} pg  {snap.rate:,.0f}/s  "
        f"{_duration(snap.elapsed_seconds)}"
    )


def live_frame(snapshots: Sequence[EntitySnapshot], *, width: int) -> list[str]:
    """The live display for ``snapshots``: nothing while no entity syncs; else a header and a
    line per entity syncing now, each cut to ``width`` (a wrapped line would break the
    redraw)."""
    running = [s for s in snapshots if not s.finished]
    if not running:
        return []
    done = [s for s in snapshots if s.finished]
    failed = sum(1 for s in done if s.failed)
    records = sum(s.records for s in snapshots)
    header = f"syncing: {len(running)} running, {len(done)} done"
    if failed:
        header += f" ({failed} failed)"
    header += f", {records:,} records"
    several = len({s.connection_name for s in snapshots}) > 1
    lines = [header] + [live_line(s, with_connection=several) for s in running[:MAX_LIVE_LINES]]
    if len(running) > MAX_LIVE_LINES:
        lines.append(f"  ... and {len(running) - MAX_LIVE_LINES} more")
    limit = max(width - 1, 10)
    return [line if len(line) <= limit else line[: limit - 1] + "…" for line in lines]


class LiveDisplay:
    """The live display on the terminal ``stream``: :meth:`refresh` redraws it in place (at
    most every ``redraw_seconds`` unless forced), :meth:`write_above` puts other output above
    it, :meth:`close` erases it. Thread-safe."""

    def __init__(
        self,
        progress: SyncProgress,
        stream: TextIO,
        *,
        clock: Clock = time.monotonic,
        width: Callable[[], int] = _terminal_width,
        redraw_seconds: float = REDRAW_SECONDS,
    ) -> None:
        self._progress = progress
        self._stream = stream
        self._clock = clock
        self._width = width
        self._redraw_seconds = redraw_seconds
        self._lock = threading.Lock()
        self._drawn = 0  # lines of the frame on screen now
        self._drawn_at: float | None = None

    def refresh(self, *, force: bool = False) -> None:
        """Redraw the display, unless it was drawn less than ``redraw_seconds`` ago."""
        with self._lock:
            now = self._clock()
            if (
                not force
                and self._drawn_at is not None
                and now - self._drawn_at < self._redraw_seconds
            ):
                return
            frame = live_frame(self._progress.snapshot(), width=self._width())
            self._stream.write(self._erase() + "".join(f"{line}\n" for line in frame))
            self._stream.flush()
            self._drawn = len(frame)
            self._drawn_at = now

    def write_above(self, text: str) -> None:
        """Write ``text`` where the display was; the display comes back below it at the next
        refresh (drawing it at once would split a line written in several pieces)."""
        with self._lock:
            self._stream.write(self._erase() + text)
            self._stream.flush()
            self._drawn = 0
            self._drawn_at = None  # the next refresh draws at once

    def close(self) -> None:
        """Erase the display (the run's summary follows)."""
        with self._lock:
            self._stream.write(self._erase())
            self._stream.flush()
            self._drawn = 0

    def _erase(self) -> str:
        return _ERASE_LINE_ABOVE * self._drawn


class LiveStream(io.TextIOBase):
    """A text stream that writes above a :class:`LiveDisplay` (the run's console log lines,
    while the display is on the same terminal)."""

    def __init__(self, display: LiveDisplay, terminal: TextIO) -> None:
        super().__init__()
        self._display = display
        self._terminal = terminal

    def write(self, text: str) -> int:
        self._display.write_above(text)
        return len(text)

    def flush(self) -> None:
        self._terminal.flush()

    def isatty(self) -> bool:
        return True

    def writable(self) -> bool:
        return True


class PlainDisplay:
    """Plain progress lines on ``stream`` (``ProgressLines``: at most one per entity every
    ``every_seconds``, and one when it ends)."""

    def __init__(
        self,
        progress: SyncProgress,
        stream: TextIO,
        *,
        every_seconds: float = DEFAULT_LINE_SECONDS,
    ) -> None:
        self._lines = ProgressLines(progress, every_seconds=every_seconds)
        self._stream = stream

    def refresh(self, *, force: bool = False) -> None:
        """Write the lines due now (``force`` changes nothing: lines are due or not)."""
        lines = self._lines.due()
        if lines:
            self._stream.write("".join(f"{line}\n" for line in lines))
            self._stream.flush()

    def close(self) -> None:
        """Write the last lines due (the final lines of the last entities); nothing to
        erase: the lines stay in the log."""
        self.refresh()


class _Ticker:
    """Calls ``refresh`` every ``seconds`` on a daemon thread until :meth:`stop`."""

    def __init__(self, refresh: Callable[[], None], seconds: float) -> None:
        self._refresh = refresh
        self._seconds = seconds
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sync-progress", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stopped.wait(self._seconds):
            self._refresh()


@contextlib.contextmanager
def showing_progress(
    stream: TextIO, *, every_seconds: float = DEFAULT_LINE_SECONDS, plain: bool = True
) -> Iterator[SyncProgress]:
    """Show the progress of the syncs this process runs in the block on ``stream``.

    A terminal gets the live display, and ``sys.stdout`` writes above it meanwhile (the run's
    console log is pinned to ``sys.stdout`` as the run starts). Anything else gets plain
    lines, at most one per entity every ``every_seconds``, unless ``plain`` is false (the
    run's console log already shows the ingestion step's own progress lines). Yields the
    model the runs feed.
    """
    model = SyncProgress()
    display: LiveDisplay | PlainDisplay | None
    redirect: contextlib.AbstractContextManager[object] = contextlib.nullcontext()
    if stream.isatty():
        live = LiveDisplay(model, stream)
        display = live
        redirect = contextlib.redirect_stdout(LiveStream(live, stream))
    else:
        display = PlainDisplay(model, stream, every_seconds=every_seconds) if plain else None
    previous = sync_progress.watch(model)
    ticker = (
        _Ticker(display.refresh, min(REDRAW_SECONDS, every_seconds or REDRAW_SECONDS))
        if display is not None
        else None
    )
    try:
        with redirect:
            if ticker is not None:
                ticker.start()
            try:
                yield model
            finally:
                if ticker is not None:
                    ticker.stop()
    finally:
        sync_progress.watch(previous)
        if display is not None:
            display.close()


__all__ = [
    "MAX_LIVE_LINES",
    "REDRAW_SECONDS",
    "LiveDisplay",
    "LiveStream",
    "PlainDisplay",
    "live_frame",
    "live_line",
    "showing_progress",
]
